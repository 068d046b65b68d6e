/**
 * One circuit breaker per warehouse profile, built on opossum.
 *
 * It trips only on infrastructure failures (see failure-kind.ts): opossum's `errorFilter` lets a user's
 * SQL error or a cancellation through to the caller untouched without counting it as a failure. It opens
 * when, within the rolling window, at least `volumeThreshold` calls were made and more than
 * `errorThresholdPercentage` % of them failed with infrastructure errors; while open, calls fail fast
 * with WAREHOUSE_CIRCUIT_OPEN (the action is not run); after `resetTimeoutMs` one probe is let through
 * (half-open) — the hub's own cheap statement when `probe` is given, started at once by the breaker itself
 * (an idle hub would otherwise stay half-open until someone called), calls that come meanwhile waiting for
 * its answer with their deadlines paused; else the first call that comes —: success closes the breaker, an
 * infrastructure failure re-opens it (and the next half-open probes again).
 *
 * Opossum facts this relies on (opossum 9.x):
 *  - A filtered error is recorded as a *success* (the warehouse answered), so user errors dilute the
 *    error rate and a half-open probe that ends in a user error (or a cancellation) closes the breaker.
 *  - Calls rejected while open still count as `fires` in the rolling window.
 *  - Half-open admits exactly one probe; other calls are rejected until it settles.
 *  - The reset timer is opossum's own real (unref'd) setTimeout; `nextAttemptAt` is computed with the
 *    injected clock's monotonic time (the wall-clock time shown is now plus what is left) and matches it
 *    when that clock is the system clock.
 *  - The rolling window is rotated here, lazily from the injected clock (opossum's
 *    `rotateBucketController`), instead of by opossum's interval timers; snapshots are disabled.
 *  - `timeout: false`: the hub's own timeouts abort calls (an aborted call then classifies by its error).
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { SnowmuxError } from '../../errors.js';
import { systemClock, type Clock } from './clock.js';
import { classifyFailure, type FailureKind } from './failure-kind.js';

/** A failure share above any short of every call (one failure fewer in a million calls). */
const ALL_BUT_EVERY_CALL = 99.9999;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface WarehouseBreakerOptions {
  /** Warehouse profile name, for messages and status. */
  profile: string;
  /** Backend name used in messages. Default "Snowflake". */
  backend?: string | undefined;
  /** Minimum calls in the window before the breaker may open. Default 5. */
  volumeThreshold?: number | undefined;
  /** Open when the infrastructure-failure rate in the window exceeds this. Default 50. */
  errorThresholdPercentage?: number | undefined;
  /** Length of the rolling window. Default 10 000 ms. */
  rollingWindowMs?: number | undefined;
  /** Buckets the window is divided into. Default 10. */
  rollingBuckets?: number | undefined;
  /** Time open before a half-open probe. Default 30 000 ms. */
  resetTimeoutMs?: number | undefined;
  clock?: Clock | undefined;
  classify?: ((err: unknown) => FailureKind) | undefined;
  /**
   * The half-open probe: a cheap statement of the hub's own (`SELECT 1`). Without it the probe is the first
   * call that comes, and a slow one (an analytic query of minutes) kept every other call refused for its
   * whole run although the warehouse had answered at once. With it, the breaker runs the probe by itself
   * as it turns half-open, and a call that comes meanwhile waits for it, then runs with the breaker closed.
   * Resolves when the warehouse answered.
   */
  probe?: (() => Promise<unknown>) | undefined;
}

export interface BreakerTransition {
  profile: string;
  from: BreakerState;
  to: BreakerState;
  /** Clock time of the transition. */
  at: number;
  /** Infrastructure failures in the rolling window at the time. */
  failures: number;
  /** When opening: the time a probe will be allowed. */
  nextAttemptAt: number | null;
}

export interface BreakerSnapshot {
  profile: string;
  state: BreakerState;
  /** Infrastructure failures in the current rolling window. */
  failures: number;
  /** Calls in the current rolling window (including fast-failed ones). */
  calls: number;
  /** Infrastructure failures since start. */
  totalFailures: number;
  opensCount: number;
  halfOpensCount: number;
  closesCount: number;
  /** Calls failed fast since start. */
  rejectedCount: number;
  /** While open: when a probe will be allowed (clock ms). */
  nextAttemptAt: number | null;
  lastFailure: { at: number; message: string; code: string | null } | null;
}

export interface WarehouseBreakerEvents {
  transition: [BreakerTransition];
}

type Action = () => Promise<unknown>;

export class WarehouseBreaker extends EventEmitter<WarehouseBreakerEvents> {
  readonly profile: string;
  readonly #backend: string;
  readonly #clock: Clock;
  readonly #classify: (err: unknown) => FailureKind;
  readonly #resetTimeoutMs: number;
  readonly #rollingWindowMs: number;
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #rotator = new EventEmitter();
  #rotatedAt: number;
  readonly #breaker: CircuitBreaker<[Action], unknown>;
  readonly #probe: (() => Promise<unknown>) | undefined;
  /** The half-open probe in flight (settles, never rejects, once opossum has closed or re-opened the breaker). */
  #probing: Promise<void> | null = null;

  #state: BreakerState = 'closed';
  #openedFailures = 0;
  /** When (on the monotonic clock, #elapsed) opossum's reset timer half-opens the breaker; null unless open. */
  #reopensAt: number | null = null;
  #totalFailures = 0;
  #opens = 0;
  #halfOpens = 0;
  #closes = 0;
  #rejected = 0;
  #lastFailure: BreakerSnapshot['lastFailure'] = null;

  constructor(options: WarehouseBreakerOptions) {
    super();
    this.profile = options.profile;
    this.#backend = options.backend ?? 'Snowflake';
    this.#clock = options.clock ?? systemClock;
    this.#classify = options.classify ?? classifyFailure;
    this.#resetTimeoutMs = positive(options.resetTimeoutMs ?? 30_000, 'resetTimeoutMs');
    this.#rollingWindowMs = positive(options.rollingWindowMs ?? 10_000, 'rollingWindowMs');
    this.#buckets = positive(options.rollingBuckets ?? 10, 'rollingBuckets');
    this.#bucketMs = this.#rollingWindowMs / this.#buckets;
    this.#rotatedAt = this.#elapsed();
    this.#probe = options.probe;

    this.#breaker = new CircuitBreaker<[Action], unknown>((action: Action) => action(), {
      name: `warehouse:${options.profile}`,
      timeout: false,
      resetTimeout: this.#resetTimeoutMs,
      rollingCountTimeout: this.#rollingWindowMs,
      rollingCountBuckets: this.#buckets,
      volumeThreshold: options.volumeThreshold ?? 5,
      // Opossum opens when the failed share is more than the threshold, so 100 would never open: it means
      // "when every call failed", just above the highest share short of all.
      errorThresholdPercentage: Math.min(options.errorThresholdPercentage ?? 50, ALL_BUT_EVERY_CALL),
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.#rotator,
      // Runs right before opossum counts an error and decides whether to open: bring the window up to date.
      errorFilter: (err: unknown) => {
        this.#rotateDue();
        return this.#classify(err) !== 'infrastructure';
      },
    });

    this.#breaker.on('failure', (err: unknown) => {
      this.#totalFailures++;
      this.#lastFailure = {
        at: this.#clock.now(),
        message: err instanceof Error ? err.message : String(err),
        code: errorCode(err),
      };
    });
    this.#breaker.on('reject', () => {
      this.#rejected++;
    });
    this.#breaker.on('open', () => {
      this.#opens++;
      this.#openedFailures = this.#breaker.stats.failures;
      // Opossum half-opens on a real timer, which runs on elapsed time: so does this deadline.
      this.#reopensAt = this.#elapsed() + this.#resetTimeoutMs;
      this.#transition('open');
    });
    this.#breaker.on('halfOpen', () => {
      this.#halfOpens++;
      this.#reopensAt = null;
      this.#transition('half-open');
      this.#probeNow();
    });
    this.#breaker.on('close', () => {
      this.#closes++;
      this.#reopensAt = null;
      this.#transition('closed');
    });
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Runs `fn` under the breaker. Resolves or rejects exactly as `fn` does, except while open (or while a
   * half-open probe is in flight), when it rejects at once with WAREHOUSE_CIRCUIT_OPEN without running it.
   * `pauseDeadline`, when given, stops the caller's own deadline while it waits for the probe (and returns
   * the function that restarts it): the probe is the hub's work, and with a slow warehouse it ate the call's
   * time and ended the call in QUERY_TIMEOUT.
   */
  async run<T>(fn: () => Promise<T>, pauseDeadline?: () => () => void): Promise<T> {
    this.#rotateDue();
    try {
      // The hub's half-open probe is running: wait for its answer, then run as any call — under a closed
      // breaker, or refused fast with the time of the next try when it re-opened.
      if (this.#probing !== null) {
        const resume = pauseDeadline?.();
        try {
          await this.#probing;
        } finally {
          resume?.();
        }
      }
      return (await this.#breaker.fire(fn)) as T;
    } catch (err) {
      throw this.#translate(err);
    }
  }


  /**
   * Half-open: the hub's own probe, started now rather than by the next call. An idle hub otherwise stayed
   * half-open (its breaker alert firing) for as long as nobody called, however long the warehouse had been
   * back. Opossum admits it as the single probe of this half-open.
   */
  #probeNow(): void {
    if (this.#probe === undefined || !this.#breaker.halfOpen || !this.#breaker.pendingClose) return;
    // Its failure re-opens the breaker (opossum counts it) and is nobody's answer: swallowed here.
    const probing = this.#breaker.fire(this.#probe).then(
      () => {},
      () => {},
    );
    this.#probing = probing;
    void probing.finally(() => {
      if (this.#probing === probing) this.#probing = null;
    });
  }

  snapshot(): BreakerSnapshot {
    this.#rotateDue();
    const stats = this.#breaker.stats;
    return {
      profile: this.profile,
      state: this.#state,
      failures: stats.failures,
      calls: stats.fires,
      totalFailures: this.#totalFailures,
      opensCount: this.#opens,
      halfOpensCount: this.#halfOpens,
      closesCount: this.#closes,
      rejectedCount: this.#rejected,
      nextAttemptAt: this.#nextAttemptAt(),
      lastFailure: this.#lastFailure,
    };
  }

  /** Stops opossum's reset timer; later calls reject with WAREHOUSE_CLOSED. */
  shutdown(): void {
    this.#breaker.shutdown();
  }

  #transition(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.emit('transition', {
      profile: this.profile,
      from,
      to,
      at: this.#clock.now(),
      failures: this.#breaker.stats.failures,
      nextAttemptAt: this.#nextAttemptAt(),
    });
  }

  /**
   * When the breaker tries again, as a wall-clock time: now plus what is left of the reset timeout on the
   * monotonic clock. Kept as a wall-clock time, it was off by the size of any step of the wall clock since
   * the breaker opened (a -3 h step said "in 10802 s" of a breaker that half-opened 2 s later).
   */
  #nextAttemptAt(): number | null {
    if (this.#reopensAt === null) return null;
    return this.#clock.now() + Math.max(0, this.#reopensAt - this.#elapsed());
  }

  #elapsed(): number {
    return this.#clock.monotonic?.() ?? this.#clock.now();
  }

  /** Advances opossum's rolling window by the whole buckets that have elapsed on our clock. */
  #rotateDue(): void {
    // Elapsed time, not the wall clock's: one stepped back (NTP, a resumed VM) would freeze the window for as
    // long as the step (old failures kept, and the breaker opened on them), one stepped forward empty it.
    const now = this.#elapsed();
    const due = Math.floor((now - this.#rotatedAt) / this.#bucketMs);
    if (due <= 0) return;
    for (let i = 0; i < Math.min(due, this.#buckets); i++) this.#rotator.emit('rotate');
    this.#rotatedAt += due * this.#bucketMs;
  }

  #translate(err: unknown): unknown {
    if (!(err instanceof Error) || !CircuitBreaker.isOurError(err)) return err;
    const code = errorCode(err);
    if (code === 'EOPENBREAKER') return this.#openError();
    if (code === 'ESHUTDOWN') {
      return new SnowmuxError('WAREHOUSE_CLOSED', `${this.#backend} profile "${this.profile}" has been closed (the hub is shutting down). Retry in a moment.`);
    }
    return err;
  }

  #openError(): SnowmuxError {
    const now = this.#clock.now();
    const windowS = Math.round(this.#rollingWindowMs / 1000);
    const failing = `${this.#backend} profile "${this.profile}" is failing (${this.#openedFailures} infrastructure ${
      this.#openedFailures === 1 ? 'error' : 'errors'
    } in ${windowS} s)`;
    const nextAttemptAt = this.#nextAttemptAt();
    if (this.#state === 'open' && nextAttemptAt !== null) {
      const retryAt = Math.max(nextAttemptAt, now);
      const inS = Math.max(1, Math.ceil((retryAt - now) / 1000));
      return new SnowmuxError(
        'WAREHOUSE_CIRCUIT_OPEN',
        `${failing}; calls are paused until ${localTime(retryAt)} (in ${inS} s). Check the warehouse/network; snowmux retries automatically.`,
        { details: { profile: this.profile, state: this.#state, retryAt: new Date(retryAt).toISOString(), retryAfterMs: retryAt - now, infrastructure: true } },
      );
    }
    // Half-open with the single probe in flight.
    const retryAt = now + 1000;
    return new SnowmuxError(
      'WAREHOUSE_CIRCUIT_OPEN',
      `${failing}; a probe query is checking whether it is back, and other calls are paused until it answers. Retry in a few seconds.`,
      { details: { profile: this.profile, state: this.#state, retryAt: new Date(retryAt).toISOString(), retryAfterMs: 1000, infrastructure: true } },
    );
  }
}

function localTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function errorCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : null;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${String(value)}`);
  return value;
}
