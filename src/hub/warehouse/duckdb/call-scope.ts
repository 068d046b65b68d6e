import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../../../errors.js';
import type { QueryProgress } from '../types.js';

/**
 * One warehouse call on its own, fresh DuckDB connection: nothing a call does (USE, SET, temp objects)
 * can leak into another, and interrupting it touches no one else.
 *
 * Aborts (the call's signal) and timeouts interrupt the connection and reject at once; the statement
 * winds down in the background and the connection is closed only after it has, never under it.
 */

export interface CallScopeOptions {
  signal: AbortSignal;
  timeoutMs?: number | undefined;
  onProgress?: ((progress: QueryProgress) => void) | undefined;
  progressIntervalMs: number;
}

/** Re-interrupt at this pace until the statement stops: an interrupt that lands between statements is otherwise lost. */
const REINTERRUPT_MS = 25;

interface ActiveCall {
  connection: DuckDBConnection | undefined;
  settled: Promise<unknown>;
}

export class CallTracker {
  private readonly active = new Set<ActiveCall>();

  get size(): number {
    return this.active.size;
  }

  /** Resolves once no call holds a connection (calls started meanwhile are waited for too). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active].map((call) => call.settled));
  }

  /** Interrupts every running call and waits until each has let go of its connection. */
  async drain(): Promise<void> {
    const calls = [...this.active];
    for (const call of calls) safeInterrupt(call.connection);
    await Promise.allSettled(calls.map((call) => call.settled));
  }

  async run<T>(instance: DuckDBInstance, options: CallScopeOptions, work: (connection: DuckDBConnection, scope: CallState) => Promise<T>): Promise<T> {
    const { signal } = options;
    if (signal.aborted) throw cancellationError(signal);
    const started = performance.now();
    const state = new CallState();
    const call: ActiveCall = { connection: undefined, settled: Promise.resolve() };
    let stopCause: SnowmuxError | undefined;
    let reinterrupt: NodeJS.Timeout | undefined;
    let rejectEarly: (err: SnowmuxError) => void = () => {};
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    early.catch(() => {});

    const stop = (cause: SnowmuxError): void => {
      if (stopCause !== undefined) return;
      stopCause = cause;
      state.stopped = true;
      safeInterrupt(call.connection);
      reinterrupt = setInterval(() => safeInterrupt(call.connection), REINTERRUPT_MS);
      reinterrupt.unref();
      rejectEarly(cause);
    };
    const onAbort = (): void => stop(cancellationError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    const timeout =
      options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0
        ? setTimeout(() => stop(timeoutError(options.timeoutMs as number)), options.timeoutMs)
        : undefined;
    const progress =
      options.onProgress !== undefined
        ? setInterval(() => reportProgress(call.connection, started, options.onProgress), options.progressIntervalMs)
        : undefined;
    progress?.unref();

    const inner = (async () => {
      try {
        call.connection = await instance.connect();
        if (stopCause !== undefined) throw stopCause;
        return await work(call.connection, state);
      } finally {
        if (timeout !== undefined) clearTimeout(timeout);
        if (progress !== undefined) clearInterval(progress);
        if (reinterrupt !== undefined) clearInterval(reinterrupt);
        signal.removeEventListener('abort', onAbort);
        state.dispose();
        try {
          call.connection?.closeSync();
        } catch {
          // The connection is gone either way.
        }
        call.connection = undefined;
      }
    })();
    call.settled = inner.then(
      () => this.active.delete(call),
      () => this.active.delete(call),
    );
    this.active.add(call);

    try {
      return await Promise.race([inner, early]);
    } catch (err) {
      throw stopCause ?? toWarehouseError(err);
    }
  }
}

/** Per-call state the work function can consult and extend. */
export class CallState {
  /** Set once the call was cancelled or timed out: stop reading. */
  stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];

  /** A timer cleared automatically when the call ends. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
  }
}

/** DuckDB errors raised by user SQL become SQL_ERROR with DuckDB's own message; ours pass through. */
export function toWarehouseError(err: unknown): SnowmuxError {
  if (isSnowmuxError(err)) return err;
  // The node bindings prefix some engine errors with the step that failed; the engine's text is what helps.
  const message =
    errorMessage(err)
      .replace(/^(Failed to extract statements|Failure running pending result task): /, '')
      .trim() || 'DuckDB reported an error without a message.';
  const kind = /^([A-Za-z ]+) Error:/.exec(message)?.[1];
  return new SnowmuxError('SQL_ERROR', message, { cause: err, details: { engine: 'duckdb', ...(kind ? { errorType: kind } : {}) } });
}

export function cancellationError(signal: AbortSignal): SnowmuxError {
  // The hub may abort with its own typed reason (shutdown, a hub-side deadline); keep it.
  if (isSnowmuxError(signal.reason)) return signal.reason;
  return new SnowmuxError('QUERY_CANCELLED', 'The query was cancelled (the request was cancelled or the client disconnected). Run it again if you still need the result.');
}

function timeoutError(timeoutMs: number): SnowmuxError {
  const seconds = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 100) / 10} s` : `${timeoutMs} ms`;
  return new SnowmuxError(
    'QUERY_TIMEOUT',
    `The query ran longer than the ${seconds} statement timeout and was cancelled. Narrow it (filters, LIMIT) or raise the timeout.`,
    { details: { timeoutMs } },
  );
}

function safeInterrupt(connection: DuckDBConnection | undefined): void {
  try {
    connection?.interrupt();
  } catch {
    // Already closed.
  }
}

function reportProgress(connection: DuckDBConnection | undefined, started: number, onProgress: CallScopeOptions['onProgress']): void {
  const elapsedMs = Math.round(performance.now() - started);
  let message = `Running for ${Math.round(elapsedMs / 1000)} s`;
  try {
    const percentage = connection?.progress.percentage ?? -1;
    if (percentage >= 0) message += ` (about ${Math.round(percentage)}% done)`;
  } catch {
    // Progress is best effort.
  }
  try {
    onProgress?.({ phase: 'running', elapsedMs, message });
  } catch {
    // A failing listener must not fail the query.
  }
}
