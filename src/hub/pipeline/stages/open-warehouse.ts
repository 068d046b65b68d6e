/**
 * Statement stage: opens the session's warehouse — the first pool and login for a Snowflake profile —
 * only now, after every rule that can refuse the call without one has passed.
 *
 * The call stops waiting for the open at its cancel or its deadline: a login can take minutes (an SSO waiting
 * for a person, a login the driver retries for 30 s), and the call was answered only once it ended, past the
 * call's timeout, and a cancelled call stayed running meanwhile. The open itself goes on: it is shared by
 * every call to that warehouse, and the next call finds it done.
 */
import { cancellationError } from '../../guard/failure-kind.js';
import type { Warehouse } from '../../warehouse/types.js';
import { signalOf, type StatementStage } from '../statement.js';

export const openWarehouse: StatementStage = {
  name: 'open-warehouse',
  async run(st, next) {
    // Timed: an open that takes the call's time (a slow login) is named when the call times out.
    const { meter } = st.scope;
    const started = performance.now();
    meter.openingSince = started;
    try {
      st.warehouse = await untilStopped(st.scope.target.open(), signalOf(st.op));
    } finally {
      meter.openingSince = undefined;
      meter.openMs = (meter.openMs ?? 0) + (performance.now() - started);
    }
    return next();
  },
};

/** The open, or the call's stop (its abort reason) if that comes first; an open left behind is not awaited. */
function untilStopped(opening: Promise<Warehouse>, signal: AbortSignal): Promise<Warehouse> {
  if (signal.aborted) {
    opening.catch(() => {});
    return Promise.reject(cancellationError(signal, 'The call'));
  }
  return new Promise<Warehouse>((resolve, reject) => {
    const onAbort = (): void => {
      opening.catch(() => {});
      reject(cancellationError(signal, 'The call'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    opening.then(
      (w) => {
        signal.removeEventListener('abort', onAbort);
        resolve(w);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
