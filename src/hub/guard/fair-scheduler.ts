/**
 * A global cap on concurrent warehouse queries with a bounded, fair wait queue.
 *
 * Under the cap a call starts at once. At the cap it waits in its session's own FIFO; when a slot frees,
 * the scheduler serves identities (users, keys) round-robin, and each identity's sessions round-robin in
 * turn (the one served goes to the back of its rotation). So while two identities both have waiters their
 * grant counts never differ by more than one, however many sessions or calls either one has queued — a user
 * who opens ten editors does not get ten turns to another's one — and within an identity, so do its sessions'. While other sessions are connected (`othersPresent`), no session runs more than
 * `maxConcurrent − 1` calls at once (when the cap is above one): one slot is always left to the others, so a session that fills the warehouse with long
 * statements cannot make another session's call — even a catalog look-up — wait for one of them to end.
 * Its further calls wait in its queue while a slot is free. The same holds per identity (`otherIdentitiesPresent`): one
 * user's several sessions together run at most all but one slot while another user is there, so opening more sessions
 * does not take the last slot either.
 *
 * The wait queue is bounded in all (`maxQueued`) and per session (`maxQueuedPerSession`). A full queue refuses only an
 * identity that holds at least its share of it (`maxQueued` divided among the identities waiting, the caller included):
 * the call of one below its share is queued in place of the newest waiter of the identity holding the most, which
 * is refused. So one identity, however many sessions it opens, cannot fill the queue against a user with nothing
 * queued. Every refusal is HUB_BUSY at once with an estimated retry time; nothing is ever left hanging.
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
import { systemClock, type Clock, type TimerHandle } from './clock.js';
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
  /**
   * Whether sessions of identities other than `identity` are there (asked only while `othersPresent`): while they
   * are, the identity's sessions together keep a slot for them. Default: always.
   */
  otherIdentitiesPresent?: ((identity: string) => boolean) | undefined;
  /**
   * In how many ms who is present may change with no event to say so (an HTTP session that only goes quiet
   * stops counting then), or undefined when nothing will: a call held back for a kept slot is looked at again
   * then instead of waiting for some running query to end.
   */
  presenceChangesInMs?: (() => number | undefined) | undefined;
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
  readonly runningByIdentity = new Map<string, number>();
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
  readonly identity: string;
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
  readonly #otherIdentitiesPresent: (identity: string) => boolean;
  readonly #maxQueued: number;
  readonly #maxQueuedPerSession: number | undefined;
  readonly #clock: Clock;
  readonly #presenceChangesInMs: () => number | undefined;
  /** The one pending look again at held-back calls when presence may have changed (see presenceChangesInMs). */
  #presenceTimer: TimerHandle | undefined;
  readonly #initialServiceMs: number;
  readonly #serviceSamples: number;
  readonly #serviceTimes: number[] = [];
  #serviceCursor = 0;

  #running = 0;
  #queued = 0;
  /** Sessions with waiters, in rotation order: of an identity's sessions, the first here is served next. */
  readonly #queues = new Map<string, Waiter[]>();
  /** Identities with waiters, in rotation order: the first with a call that may start is served next. */
  readonly #identityTurns = new Set<string>();
  readonly #runningBySession = new Map<string, number>();
  readonly #runningByIdentity = new Map<string, number>();
  readonly #queuedByIdentity = new Map<string, number>();
  /** Calls scheduled with no pool share only the hub-wide cap. */
  readonly #anyPool: PoolState;
  readonly #pools = new Map<SchedulerPool, PoolState>();
  /** Pools removed while a late call may still name them: it runs (or waits) on them, they are no longer listed. */
  readonly #removed = new WeakSet<PoolState>();
  readonly #totals = { granted: 0, queued: 0, refused: 0, cancelled: 0 };
  #closedWith: SnowmuxError | undefined;

  constructor(options: FairSchedulerOptions) {
    this.#maxConcurrent = positiveInteger(options.maxConcurrent, 'maxConcurrent');
    this.#maxRunningPerSession = Math.max(1, this.#maxConcurrent - 1);
    this.#othersPresent = options.othersPresent ?? (() => true);
    this.#presenceChangesInMs = options.presenceChangesInMs ?? (() => undefined);
    this.#otherIdentitiesPresent = options.otherIdentitiesPresent ?? (() => true);
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

  /**
   * Forgets a pool whose warehouse was retired (its settings superseded), so a hub whose credentials rotate
   * does not list one idle pool per rotation. Calls holding or waiting for its slots keep them, and a late call
   * that still names it is scheduled on it as before.
   */
  removePool(of: SchedulerPool): void {
    const pool = this.#pools.get(of);
    if (pool === undefined) return;
    this.#pools.delete(of);
    this.#removed.add(pool);
  }

  /**
   * Resolves with a held slot, at once or after waiting; rejects with HUB_BUSY, QUERY_CANCELLED or HUB_SHUTTING_DOWN.
   * `identity` is whose session it is (its sessions share the identity's part of the slots and of the queue);
   * by default each session is an identity of its own.
   */
  schedule(sessionKey: string, signal?: AbortSignal, of?: SchedulerPool, identity = sessionKey): Promise<Release> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const pool = this.#poolOf(of);
    if (pool === undefined) return Promise.reject(new RangeError(`pool "${of!.name}" was not added to this scheduler`));
    if (signal?.aborted) {
      this.#totals.cancelled++;
      return Promise.reject(cancellationError(signal, 'The query'));
    }
    const now = this.#monotonic();
    // Waiters only ever wait while they may not start (#pump hands a free slot to any that may), so a call that
    // may start, with no earlier call of its session waiting for the same pool, passes no one.
    if (this.#mayStart(sessionKey, identity, pool) && !this.#queues.get(sessionKey)?.some((w) => w.pool === pool)) {
      return Promise.resolve(this.#grant(sessionKey, identity, pool, now, now));
    }
    const busy = this.#refusal(sessionKey, identity, pool);
    if (busy) {
      this.#totals.refused++;
      return Promise.reject(busy);
    }
    if (this.#queued >= this.#maxQueued) this.#evictForRoom(identity);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        sessionKey,
        identity,
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
      increment(this.#queuedByIdentity, identity);
      this.#identityTurns.add(identity);
      pool.queued++;
      this.#totals.queued++;
      // A slot is free, so this call waits for one kept for someone present: look again when that may change.
      if (this.#running < this.#maxConcurrent) this.#lookAgainWhenPresenceMayChange();
    });
  }

  /**
   * The slot `schedule` would grant at once, granted now; undefined when the call would wait or be refused (then
   * `schedule` it). Lets a caller arm what only a wait needs (timers, combined signals) only when it waits.
   */
  startNow(sessionKey: string, of?: SchedulerPool, identity = sessionKey): Release | undefined {
    if (this.#closedWith) return undefined;
    const pool = this.#poolOf(of);
    if (pool === undefined || !this.#mayStart(sessionKey, identity, pool) || this.#queues.get(sessionKey)?.some((w) => w.pool === pool)) return undefined;
    const now = this.#monotonic();
    return this.#grant(sessionKey, identity, pool, now, now);
  }

  #poolOf(of: SchedulerPool | undefined): PoolState | undefined {
    if (of === undefined) return this.#anyPool;
    return this.#pools.get(of) ?? (this.#removed.has(of as PoolState) ? (of as PoolState) : undefined);
  }

  /**
   * How long a refused caller should wait: about the time for one running query to finish on the pool it asked for
   * (a pool runs at most its capacity, which may be fewer than the hub's slots).
   */
  estimateRetryAfterMs(of?: SchedulerPool): number {
    const slots = (of === undefined ? undefined : this.#pools.get(of))?.capacity ?? this.#maxConcurrent;
    const estimate = Math.ceil(this.#avgServiceMs() / slots);
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
   * Who is present changed (an editor left): a call held back to keep a slot for the others may start now. The
   * queue is otherwise served only when a slot frees, so without this the kept slot stayed idle, and such a call
   * waited for one of its own session's running queries to end (minutes, for a long one), with a slot free.
   */
  presenceChanged(): void {
    if (!this.#closedWith) this.#pump();
  }

  /**
   * Refuses every waiting call and every later one (hub shutdown). Slots already granted stay valid
   * until released.
   */
  close(): void {
    if (this.#closedWith) return;
    if (this.#presenceTimer !== undefined) this.#clock.clearTimeout(this.#presenceTimer);
    this.#presenceTimer = undefined;
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
    this.#queuedByIdentity.clear();
    this.#identityTurns.clear();
    this.#queued = 0;
    for (const pool of [this.#anyPool, ...this.#pools.values()]) pool.queued = 0;
  }

  /**
   * Why a call that must wait cannot queue, if it cannot: a full queue in which its identity holds its share or more
   * (one below its share is queued in place of a waiter of the largest holder, #evictForRoom), or its session's bound.
   */
  #refusal(sessionKey: string, identity: string, pool: PoolState): SnowmuxError | undefined {
    const retryAfterMs = this.estimateRetryAfterMs(pool);
    const details = { retryAfterMs, running: this.#running, queued: this.#queued };
    const own = this.#queuedByIdentity.get(identity) ?? 0;
    if (this.#queued >= this.#maxQueued && own >= this.#queueShare(identity)) {
      const yours = own === 0 ? '' : `, ${own} of them yours (a share of ${this.#queueShare(identity)} each while ${count(this.#queuedIdentities(identity), 'user waits', 'users wait')})`;
      return new SnowmuxError(
        'HUB_BUSY',
        `The hub is busy: ${count(this.#running, 'query', 'queries')} running and ${this.#queued} waiting${yours}. Retry after ~${retryAfterMs} ms.`,
        { details: { ...details, identityQueued: own, reason: 'queue_full' } },
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

  /** The identities with waiters, the caller's counted whether it has any or not. */
  #queuedIdentities(identity: string): number {
    return this.#queuedByIdentity.size + (this.#queuedByIdentity.has(identity) ? 0 : 1);
  }

  /** The places of a full queue an identity may hold: an equal part for each identity waiting, the caller's included. */
  #queueShare(identity: string): number {
    return Math.floor(this.#maxQueued / this.#queuedIdentities(identity));
  }

  /**
   * Makes a place in the full queue for a call of `identity`, which holds less than its share: the newest waiter of
   * the identity holding the most (more than its share, since the places add up to maxQueued), from that identity's
   * session with the most waiting, is refused HUB_BUSY.
   */
  #evictForRoom(identity: string): void {
    let largest: { identity: string; queued: number } | undefined;
    for (const [holder, queued] of this.#queuedByIdentity) {
      if (holder !== identity && (largest === undefined || queued > largest.queued)) largest = { identity: holder, queued };
    }
    if (largest === undefined) return;
    let from: Waiter[] | undefined;
    for (const queue of this.#queues.values()) {
      if (queue[0]?.identity === largest.identity && (from === undefined || queue.length > from.length)) from = queue;
    }
    const waiter = from?.[from.length - 1];
    if (waiter === undefined) return;
    this.#dequeue(waiter);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#totals.refused++;
    const retryAfterMs = this.estimateRetryAfterMs(waiter.pool);
    waiter.reject(
      new SnowmuxError(
        'HUB_BUSY',
        `The hub is busy: its queue is full and this user's calls held ${largest.queued} of its ${this.#maxQueued} places, more than an equal share ` +
          `while ${count(this.#queuedIdentities(identity), 'user waits', 'users wait')}, so this call left the queue to another user's. ` +
          `Retry after ~${retryAfterMs} ms, or send fewer calls at once.`,
        { details: { retryAfterMs, running: this.#running, queued: this.#queued, identityQueued: largest.queued - 1, reason: 'queue_share' } },
      ),
    );
  }

  #lookAgainWhenPresenceMayChange(): void {
    if (this.#presenceTimer !== undefined) return;
    const ms = this.#presenceChangesInMs();
    if (ms === undefined) return;
    this.#presenceTimer = this.#clock.setTimeout(() => {
      this.#presenceTimer = undefined;
      this.presenceChanged();
    }, Math.max(1, ms));
    // Never what keeps a stopping hub alive: close() clears it too.
    (this.#presenceTimer as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Takes a waiter out of its session's queue and the counts (not out of the rotation order of the others). */
  #dequeue(waiter: Waiter): boolean {
    const queue = this.#queues.get(waiter.sessionKey);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return false;
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(waiter.sessionKey);
    this.#unqueue(waiter);
    return true;
  }

  /** Waits and service times are durations: on the clock's monotonic time, so a wall-clock step never skews them. */
  #monotonic(): number {
    return this.#clock.monotonic?.() ?? this.#clock.now();
  }

  /** `enqueuedAt` and `now` are monotonic (see #monotonic). */
  #grant(sessionKey: string, identity: string, pool: PoolState, enqueuedAt: number, now: number): Release {
    this.#running++;
    pool.running++;
    increment(this.#runningBySession, sessionKey);
    increment(pool.runningBySession, sessionKey);
    increment(this.#runningByIdentity, identity);
    increment(pool.runningByIdentity, identity);
    this.#totals.granted++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#running--;
      pool.running--;
      decrement(this.#runningBySession, sessionKey);
      decrement(pool.runningBySession, sessionKey);
      decrement(this.#runningByIdentity, identity);
      decrement(pool.runningByIdentity, identity);
      this.#recordServiceTime(this.#monotonic() - now);
      this.#pump();
    };
    return {
      sessionKey,
      waitMs: now - enqueuedAt,
      startedAt: this.#clock.now(),
      get released() {
        return released;
      },
      release,
    };
  }

  /**
   * Whether the session may start one more call on the pool now: the hub and the pool have a free slot, and,
   * while other editors are connected, the session runs fewer than all but one of the hub's slots and of the pool's;
   * so does its identity, all its sessions together, while another identity's editors are connected.
   */
  #mayStart(sessionKey: string, identity: string, pool: PoolState, others = this.#presence()): boolean {
    if (this.#running >= this.#maxConcurrent || pool.running >= pool.capacity) return false;
    if (!others.sessions) return true;
    const poolShare = Math.max(1, pool.capacity - 1);
    if ((this.#runningBySession.get(sessionKey) ?? 0) >= this.#maxRunningPerSession || (pool.runningBySession.get(sessionKey) ?? 0) >= poolShare) return false;
    // Below the identity's part, who else is there need not be asked (a walk over the sessions, on every call).
    if ((this.#runningByIdentity.get(identity) ?? 0) < this.#maxRunningPerSession && (pool.runningByIdentity.get(identity) ?? 0) < poolShare) return true;
    return !others.identities(identity);
  }

  /** Who else is there to keep a slot for, asked once per decision (each identity at most once). */
  #presence(): { sessions: boolean; identities: (identity: string) => boolean } {
    const sessions = this.#othersPresent();
    const seen = new Map<string, boolean>();
    return {
      sessions,
      identities: (identity) => {
        let present = seen.get(identity);
        if (present === undefined) {
          present = this.#otherIdentitiesPresent(identity);
          seen.set(identity, present);
        }
        return present;
      },
    };
  }

  /**
   * Hands free slots to waiters: to the first identity in rotation with a call that may start, from its first
   * session in rotation with one, that session's earliest such call (skipping sessions and identities at their
   * share and calls whose pool is full). The identity and the session served go to the back of their rotations.
   */
  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#queued > 0) {
      const others = this.#presence();
      // Each identity's first session, in the sessions' rotation, with a call that may start: one pass over the waiters.
      const firstOf = new Map<string, { sessionKey: string; queue: Waiter[]; index: number }>();
      for (const [sessionKey, queue] of this.#queues) {
        const identity = queue[0]?.identity;
        if (identity === undefined || firstOf.has(identity)) continue;
        const index = queue.findIndex((w) => this.#mayStart(sessionKey, w.identity, w.pool, others));
        if (index >= 0) firstOf.set(identity, { sessionKey, queue, index });
      }
      let next: { sessionKey: string; queue: Waiter[]; index: number } | undefined;
      for (const identity of this.#identityTurns) {
        next = firstOf.get(identity);
        if (next !== undefined) break;
      }
      if (next === undefined) {
        // Slots are free and every waiter is held back for someone present: look again when that may change.
        this.#lookAgainWhenPresenceMayChange();
        return;
      }
      const { sessionKey, queue, index } = next;
      const [waiter] = queue.splice(index, 1);
      this.#queues.delete(sessionKey);
      // Back of the rotation if it still has waiters.
      if (queue.length > 0) this.#queues.set(sessionKey, queue);
      if (!waiter) continue;
      this.#identityTurns.delete(waiter.identity);
      this.#unqueue(waiter);
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#grant(sessionKey, waiter.identity, waiter.pool, waiter.enqueuedAt, this.#monotonic()));
    }
  }

  /** Counts a waiter out of the queue (taken from its session's FIFO by the caller); its identity keeps its turn while it has others waiting, at the back if it was just served. */
  #unqueue(waiter: Waiter): void {
    this.#queued--;
    decrement(this.#queuedByIdentity, waiter.identity);
    if (this.#queuedByIdentity.has(waiter.identity)) this.#identityTurns.add(waiter.identity);
    else this.#identityTurns.delete(waiter.identity);
    waiter.pool.queued--;
  }

  #abandon(waiter: Waiter): void {
    if (!this.#dequeue(waiter)) return; // already granted, refused or closed
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
