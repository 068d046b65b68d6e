/**
 * Retries with exponential backoff and full jitter, for transient infrastructure failures of read-only
 * statements only.
 *
 * Read-only is the caller's declaration and is required at every call site (`readOnly: false` means
 * exactly one attempt): re-running a write after an ambiguous network failure could apply it twice, and
 * only the caller (which has the classified statement) knows. Bounds: at most `retries` extra attempts,
 * and no new attempt starts once it would begin later than `totalBudgetMs` after the first one began —
 * so the hub's own per-call timeout, not snowflake-sdk's ~90–120 s retry loops, decides how long a user
 * waits. Each attempt itself is bounded by the caller's signal (the hub's timeout aborts it).
 */
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { cancellationError, isTransientFailure } from './failure-kind.js';

export interface RetryOptions {
  /** Required: false → no retries at all. */
  readOnly: boolean;
  /** Extra attempts after the first. Default 2. */
  retries?: number | undefined;
  /** Backoff cap for the first retry; doubles each retry. Default 100 ms. */
  baseMs?: number | undefined;
  /** Largest backoff cap. Default 2000 ms. */
  maxMs?: number | undefined;
  /** No attempt starts later than this after the first attempt started. Default 10 000 ms. */
  totalBudgetMs?: number | undefined;
  /** Default: isTransientFailure (infrastructure, not auth, not the hub's timeout, not cancellation). */
  isRetryable?: ((err: unknown, attempt: number) => boolean) | undefined;
  clock?: Clock | undefined;
  /** Returns [0, 1). Default Math.random. */
  random?: (() => number) | undefined;
  /** Aborting stops at once: a pending backoff is cut short and no further attempt starts. */
  signal?: AbortSignal | undefined;
  /** Told before each backoff (for logs and metrics). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

export interface RetryInfo {
  /** The attempt that just failed (1-based). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/**
 * Runs `fn` (given its 1-based attempt number) until it succeeds, fails with a non-retryable error, or
 * the count or time budget is spent; then rethrows the last error unchanged.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const retries = options.readOnly ? nonNegative(options.retries ?? 2, 'retries') : 0;
  const baseMs = nonNegative(options.baseMs ?? 100, 'baseMs');
  const maxMs = nonNegative(options.maxMs ?? 2000, 'maxMs');
  const totalBudgetMs = nonNegative(options.totalBudgetMs ?? 10_000, 'totalBudgetMs');
  const isRetryable = options.isRetryable ?? ((err: unknown) => isTransientFailure(err));
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const { signal } = options;

  // The time budget is a duration: measured on the monotonic clock, a wall-clock step neither spends nor refills it.
  const elapsedNow = (): number => clock.monotonic?.() ?? clock.now();
  const startedAt = elapsedNow();
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw cancellationError(signal, 'The query');
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw err;
      if (attempt > retries || !isRetryable(err, attempt)) throw err;
      const delayMs = backoffDelay(attempt, baseMs, maxMs, random);
      if (elapsedNow() + delayMs - startedAt > totalBudgetMs) throw err;
      options.onRetry?.({ attempt, delayMs, error: err });
      await sleep(clock, delayMs, signal);
    }
  }
}

/** Full jitter: uniform in [0, min(maxMs, baseMs · 2^(attempt−1))), whole milliseconds. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * cap);
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: TimerHandle | undefined;
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(cancellationError(signal, 'The query'));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  return value;
}
