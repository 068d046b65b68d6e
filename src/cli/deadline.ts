/**
 * How a CLI command waits on the network: always to an answer or an error, never to nothing.
 *
 * `AbortSignal.timeout` cannot promise that in a short-lived process. Its timer is unref'd, and Node 20's
 * fetch never settles when the peer accepts the connection and closes it before reading the request
 * (a port-forward or docker-proxy with no backend, a proxy that drops the connection): nothing is left to
 * keep the event loop alive, and the command exits 0 before it printed its verdict. This deadline's timer
 * is ref'd, so the process lives until the operation ends or the deadline fails it.
 */

/** The error a missed deadline rejects with: named like `AbortSignal.timeout`'s, so callers can tell it apart. */
export function deadlineError(ms: number): DOMException {
  return new DOMException(`no answer within ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}`, 'TimeoutError');
}

/**
 * Runs `operation` with a signal that aborts after `ms` (read the whole body inside it: a body can stall
 * too), and rejects with `deadlineError(ms)` then even if the operation ignores its signal.
 */
export async function withDeadline<T>(ms: number, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const missed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = deadlineError(ms);
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([operation(controller.signal), missed]);
  } finally {
    clearTimeout(timer);
  }
}
