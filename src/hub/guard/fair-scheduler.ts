/**
 * A global cap on concurrent warehouse queries with a bounded, fair wait queue.
 *
 * Under the cap a call starts at once. At the cap it waits in its session's own FIFO; when a slot frees,
 * the scheduler serves sessions round-robin (the session served goes to the back of the rotation), so
 * while two sessions both have waiters their grant counts never differ by more than one, however many
 * calls either one queued. While other sessions are connected (`othersPresent`), no session runs more than
 * `maxConcurrent − 1` calls at once (when the cap is above one): one slot is always left to the others, so a session that fills the warehouse with long
 * statements cannot make another session's call — even a catalog look-up — wait for one of them to end.
 * Its further calls wait in its queue while a slot is free. A call that cannot be queued (total or per-session bound reached) is refused
 * at once with HUB_BUSY and an estimated retry time; nothing is ever left hanging.
 *
 * Calls may run on several pools (backends) that share the hub-wide cap: each pool also runs at most its own
 * `capacity` (a Snowflake pool's connections, DuckDB's statement slots), and while others are present a session
 * runs at most all but one of a pool's slots too. A call is granted only when the hub, its pool and its session all
 * have room, so a waiter never holds a hub slot while its pool is full (no call idles on a slot another pool could
 * use), and a session's waiter for a full pool does not hold up its own or others' calls to a pool with room:
 * freed slots go, in the rotation, to the first session with a call that may start, and to that session's earliest
 * such call (FIFO per session and pool).
 *
 * Contract for callers: once `schedule` resolves, the caller owns a slot and must call `release()`
 * exactly when the query ends (try/finally). Release is idempotent. A waiter whose signal aborts leaves
 * the queue and rejects; it never holds a slot.
 */
import { SnowmuxError } from '../../errors.js';
import { systemClock, type Clock } from './clock.js';
import { cancellationError } from './failure-kind.js';

export interface FairSchedulerOptions {
  /** Warehouse queries allowed to run at once across all sessions. */
  maxConcurrent: number;
  /** Calls allowed to wait, across all sessions. 0 = refuse whenever the cap is reached. */
  maxQueued: number;
  /** Calls one session may have waiting. Default: no per-session bound beyond maxQueued. */
  maxQueuedPerSession?: number | undefined;
  clock?: Clock | undefined;
  /** Service time assumed before any call has finished, for retry estimates. Default 1000 ms. */
  initialServiceMs?: number | undefined;
  /** How many recent service times the retry estimate averages. Default 32. */
  serviceSamples?: number | undefined;
  /**
   * Whether other sessions are there to keep a slot for (their editors are connected): a lone editor may use
   * every slot. Default: always.
   */
  othersPresent?: (() => boolean) | undefined;
}

/** A held slot. */
export interface Release {
  readonly sessionKey: string;
  /** Time spent in the queue before the slot was granted (0 when it started at once). */
  readonly waitMs: number;
  /** Clock time at which the slot was granted. */
  readonly startedAt: number;
  readonly released: boolean;
  /** Frees the slot; later calls do nothing. */
  release(): void;
}

/**
 * One backend's part of the hub's slots (FairScheduler.addPool): at most `capacity` of its calls run at once,
 * within the hub-wide cap.
 */
export interface SchedulerPool {
  readonly name: string;
  readonly capacity: number;
}

/** A pool's use, which only its scheduler changes. */
class PoolState implements SchedulerPool {
  running = 0;
  queued = 0;
  readonly runningBySession = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly capacity: number,
  ) {}
}

export interface SchedulerPoolSnapshot {
  name: string;
  /** The most of its calls that run at once: its backend's capacity, within the hub-wide cap. */
  maxConcurrent: number;
  running: number;
  queued: number;
}

export interface SchedulerSessionSnapshot {
  sessionKey: string;
  running: number;
  queued: number;
}

export interface SchedulerSnapshot {
  maxConcurrent: number;
  maxQueued: number;
  maxQueuedPerSession: number | null;
  running: number;
  queued: number;
  /** Mean of recent slot hold times, the basis of retry-after estimates. */
  avgServiceMs: number;
  /** Sessions with a running or waiting call, sorted by key. */
  sessions: SchedulerSessionSnapshot[];
  /** The pools added (addPool), in the order they were added. */
  pools: SchedulerPoolSnapshot[];
  totals: { granted: number; queued: number; refused: number; cancelled: number };
}

interface Waiter {
  readonly sessionKey: string;
  readonly pool: PoolState;
  readonly enqueuedAt: number;
  readonly resolve: (release: Release) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

const MIN_RETRY_AFTER_MS = 50;
const MAX_RETRY_AFTER_MS = 30_000;

export class FairScheduler {
  readonly #maxConcurrent: number;
  readonly #maxRunningPerSession: number;
  readonly #othersPresent: () => boolean;
  readonly #maxQueued: number;
  readonly #maxQueuedPerSession: number | undefined;
  readonly #clock: Clock;
  readonly #initialServiceMs: number;
  readonly #serviceSamples: number;
  readonly #serviceTimes: number[] = [];
  #serviceCursor = 0;

  #running = 0;
  #queued = 0;
  /** Sessions with waiters, in rotation order: the first key is served next. */
  readonly #queues = new Map<string, Waiter[]>();
  readonly #runningBySession = new Map<string, number>();
  /** Calls scheduled with no pool share only the hub-wide cap. */
  readonly #anyPool: PoolState;
  readonly #pools = new Map<SchedulerPool, PoolState>();
  readonly #totals = { granted: 0, queued: 0, refused: 0, cancelled: 0 };
  #closedWith: SnowmuxError | undefined;

  constructor(options: FairSchedulerOptions) {
    this.#maxConcurrent = positiveInteger(options.maxConcurrent, 'maxConcurrent');
    this.#maxRunningPerSession = Math.max(1, this.#maxConcurrent - 1);
    this.#othersPresent = options.othersPresent ?? (() => true);
    this.#maxQueued = nonNegativeInteger(options.maxQueued, 'maxQueued');
    this.#maxQueuedPerSession =
      options.maxQueuedPerSession === undefined ? undefined : positiveInteger(options.maxQueuedPerSession, 'maxQueuedPerSession');
    this.#clock = options.clock ?? systemClock;
    this.#initialServiceMs = options.initialServiceMs ?? 1000;
    this.#serviceSamples = positiveInteger(options.serviceSamples ?? 32, 'serviceSamples');
    this.#anyPool = new PoolState('', this.#maxConcurrent);
  }

  /** A pool whose calls run at most `capacity` at once (and never more than the hub-wide cap). */
  addPool(name: string, capacity: number): SchedulerPool {
    const pool = new PoolState(name, Math.min(this.#maxConcurrent, positiveInteger(capacity, 'capacity')));
    this.#pools.set(pool, pool);
    return pool;
  }

  /** Resolves with a held slot, at once or after waiting; rejects with HUB_BUSY, QUERY_CANCELLED or HUB_SHUTTING_DOWN. */
  schedule(sessionKey: string, signal?: AbortSignal, of?: SchedulerPool): Promise<Release> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const pool = of === undefined ? this.#anyPool : this.#pools.get(of);
    if (pool === undefined) return Promise.reject(new RangeError(`pool "${of!.name}" was not added to this scheduler`));
    if (signal?.aborted) {
      this.#totals.cancelled++;
      return Promise.reject(cancellationError(signal, 'The query'));
    }
    const now = this.#clock.now();
    // Waiters only ever wait while they may not start (#pump hands a free slot to any that may), so a call that
    // may start, with no earlier call of its session waiting for the same pool, passes no one.
    if (this.#mayStart(sessionKey, pool) && !this.#queues.get(sessionKey)?.some((w) => w.pool === pool)) {
      return Promise.resolve(this.#grant(sessionKey, pool, now, now));
    }
    const busy = this.#refusal(sessionKey);
    if (busy) {
      this.#totals.refused++;
      return Promise.reject(busy);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        sessionKey,
        pool,
        enqueuedAt: now,
        resolve,
        reject,
        signal,
        onAbort: () => this.#abandon(waiter),
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      let queue = this.#queues.get(sessionKey);
      if (!queue) {
        queue = [];
        this.#queues.set(sessionKey, queue);
      }
      queue.push(waiter);
      this.#queued++;
      pool.queued++;
      this.#totals.queued++;
    });
  }

  /** How long a refused caller should wait: about the time for one running query to finish. */
  estimateRetryAfterMs(): number {
    const estimate = Math.ceil(this.#avgServiceMs() / this.#maxConcurrent);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, estimate));
  }

  /** A pool's calls running and waiting now. */
  poolSnapshot(of: SchedulerPool): SchedulerPoolSnapshot {
    const pool = this.#pools.get(of) ?? this.#anyPool;
    return { name: pool.name, maxConcurrent: pool.capacity, running: pool.running, queued: pool.queued };
  }

  snapshot(): SchedulerSnapshot {
    const keys = new Set([...this.#runningBySession.keys(), ...this.#queues.keys()]);
    const sessions = [...keys].sort().map((sessionKey) => ({
      sessionKey,
      running: this.#runningBySession.get(sessionKey) ?? 0,
      queued: this.#queues.get(sessionKey)?.length ?? 0,
    }));
    return {
      maxConcurrent: this.#maxConcurrent,
      maxQueued: this.#maxQueued,
      maxQueuedPerSession: this.#maxQueuedPerSession ?? null,
      running: this.#running,
      queued: this.#queued,
      avgServiceMs: Math.round(this.#avgServiceMs()),
      sessions,
      pools: [...this.#pools.keys()].map((p) => this.poolSnapshot(p)),
      totals: { ...this.#totals },
    };
  }

  /**
   * Refuses every waiting call and every later one (hub shutdown). Slots already granted stay valid
   * until released.
   */
  close(): void {
    if (this.#closedWith) return;
    this.#closedWith = new SnowmuxError(
      'HUB_SHUTTING_DOWN',
      'The hub is shutting down, so this query was not started. Retry in a moment; the editor reconnects to the next hub.',
    );
    for (const queue of this.#queues.values()) {
      for (const waiter of queue) {
        waiter.signal?.removeEventListener('abort', waiter.onAbort);
        waiter.reject(this.#closedWith);
      }
    }
    this.#queues.clear();
    this.#queued = 0;
    for (const pool of [this.#anyPool, ...this.#pools.values()]) pool.queued = 0;
  }

  #refusal(sessionKey: string): SnowmuxError | undefined {
    const retryAfterMs = this.estimateRetryAfterMs();
    const details = { retryAfterMs, running: this.#running, queued: this.#queued };
    if (this.#queued >= this.#maxQueued) {
      return new SnowmuxError(
        'HUB_BUSY',
        `The hub is busy: ${count(this.#running, 'query', 'queries')} running and ${this.#queued} waiting. Retry after ~${retryAfterMs} ms.`,
        { details: { ...details, reason: 'queue_full' } },
      );
    }
    const sessionQueued = this.#queues.get(sessionKey)?.length ?? 0;
    if (this.#maxQueuedPerSession !== undefined && sessionQueued >= this.#maxQueuedPerSession) {
      return new SnowmuxError(
        'HUB_BUSY',
        `The hub is busy: this session already has ${sessionQueued} queries waiting (the limit per session), ` +
          `with ${count(this.#running, 'query', 'queries')} running and ${this.#queued} waiting in all. ` +
          `Retry after ~${retryAfterMs} ms, or wait for your earlier queries to finish.`,
        { details: { ...details, sessionQueued, reason: 'session_queue_full' } },
      );
    }
    return undefined;
  }

  #grant(sessionKey: string, pool: PoolState, enqueuedAt: number, now: number): Release {
    this.#running++;
    pool.running++;
    increment(this.#runningBySession, sessionKey);
    increment(pool.runningBySession, sessionKey);
    this.#totals.granted++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#running--;
      pool.running--;
      decrement(this.#runningBySession, sessionKey);
      decrement(pool.runningBySession, sessionKey);
      this.#recordServiceTime(this.#clock.now() - now);
      this.#pump();
    };
    return {
      sessionKey,
      waitMs: now - enqueuedAt,
      startedAt: now,
      get released() {
        return released;
      },
      release,
    };
  }

  /**
   * Whether the session may start one more call on the pool now: the hub and the pool have a free slot, and,
   * while other editors are connected, the session runs fewer than all but one of the hub's slots and of the pool's.
   */
  #mayStart(sessionKey: string, pool: PoolState, othersPresent = this.#othersPresent()): boolean {
    if (this.#running >= this.#maxConcurrent || pool.running >= pool.capacity) return false;
    if (!othersPresent) return true;
    return (
      (this.#runningBySession.get(sessionKey) ?? 0) < this.#maxRunningPerSession &&
      (pool.runningBySession.get(sessionKey) ?? 0) < Math.max(1, pool.capacity - 1)
    );
  }

  /**
   * Hands free slots to waiters, one session at a time in rotation: each session's earliest call that may start
   * (skipping sessions at their share and calls whose pool is full).
   */
  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#queued > 0) {
      let next: { sessionKey: string; queue: Waiter[]; index: number } | undefined;
      const others = this.#othersPresent();
      for (const [sessionKey, queue] of this.#queues) {
        const index = queue.findIndex((w) => this.#mayStart(sessionKey, w.pool, others));
        if (index >= 0) {
          next = { sessionKey, queue, index };
          break;
        }
      }
      if (next === undefined) return;
      const { sessionKey, queue, index } = next;
      const [waiter] = queue.splice(index, 1);
      this.#queues.delete(sessionKey);
      // Back of the rotation if it still has waiters.
      if (queue.length > 0) this.#queues.set(sessionKey, queue);
      if (!waiter) continue;
      this.#queued--;
      waiter.pool.queued--;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#grant(sessionKey, waiter.pool, waiter.enqueuedAt, this.#clock.now()));
    }
  }

  #abandon(waiter: Waiter): void {
    const queue = this.#queues.get(waiter.sessionKey);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return; // already granted or closed
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(waiter.sessionKey);
    this.#queued--;
    waiter.pool.queued--;
    this.#totals.cancelled++;
    waiter.reject(cancellationError(waiter.signal, 'The queued query'));
  }

  #recordServiceTime(ms: number): void {
    const sample = Math.max(0, ms);
    if (this.#serviceTimes.length < this.#serviceSamples) {
      this.#serviceTimes.push(sample);
    } else {
      this.#serviceTimes[this.#serviceCursor] = sample;
      this.#serviceCursor = (this.#serviceCursor + 1) % this.#serviceSamples;
    }
  }

  #avgServiceMs(): number {
    if (this.#serviceTimes.length === 0) return this.#initialServiceMs;
    return this.#serviceTimes.reduce((sum, x) => sum + x, 0) / this.#serviceTimes.length;
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}
