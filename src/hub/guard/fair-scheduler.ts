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
  totals: { granted: number; queued: number; refused: number; cancelled: number };
}

interface Waiter {
  readonly sessionKey: string;
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
  }

  /** Resolves with a held slot, at once or after waiting; rejects with HUB_BUSY, QUERY_CANCELLED or HUB_SHUTTING_DOWN. */
  schedule(sessionKey: string, signal?: AbortSignal): Promise<Release> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    if (signal?.aborted) {
      this.#totals.cancelled++;
      return Promise.reject(cancellationError(signal, 'The query'));
    }
    const now = this.#clock.now();
    // Waiters only ever wait while the slots are taken or their session holds its share (#pump hands a
    // free slot to any other), so a call that fits both starts at once without passing anyone.
    if (this.#running < this.#maxConcurrent && this.#mayRun(sessionKey)) {
      return Promise.resolve(this.#grant(sessionKey, now, now));
    }
    const busy = this.#refusal(sessionKey);
    if (busy) {
      this.#totals.refused++;
      return Promise.reject(busy);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        sessionKey,
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
      this.#totals.queued++;
    });
  }

  /** How long a refused caller should wait: about the time for one running query to finish. */
  estimateRetryAfterMs(): number {
    const estimate = Math.ceil(this.#avgServiceMs() / this.#maxConcurrent);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, estimate));
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

  #grant(sessionKey: string, enqueuedAt: number, now: number): Release {
    this.#running++;
    this.#runningBySession.set(sessionKey, (this.#runningBySession.get(sessionKey) ?? 0) + 1);
    this.#totals.granted++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#running--;
      const left = (this.#runningBySession.get(sessionKey) ?? 1) - 1;
      if (left > 0) this.#runningBySession.set(sessionKey, left);
      else this.#runningBySession.delete(sessionKey);
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

  /** Whether the session may start one more call: it runs fewer than its share and has no earlier waiter. */
  #mayRun(sessionKey: string): boolean {
    return (this.#runningBySession.get(sessionKey) ?? 0) < this.#sessionCap() && !this.#queues.has(sessionKey);
  }

  /** The most calls one session runs at once: all slots but one while other editors are connected. */
  #sessionCap(): number {
    return this.#othersPresent() ? this.#maxRunningPerSession : this.#maxConcurrent;
  }

  /** Hands free slots to waiters, one session at a time in rotation, skipping sessions at their share. */
  #pump(): void {
    while (this.#running < this.#maxConcurrent && this.#queued > 0) {
      let next: [string, Waiter[]] | undefined;
      for (const entry of this.#queues) {
        if ((this.#runningBySession.get(entry[0]) ?? 0) < this.#sessionCap()) {
          next = entry;
          break;
        }
      }
      if (next === undefined) return;
      const [sessionKey, queue] = next;
      const waiter = queue.shift();
      this.#queues.delete(sessionKey);
      // Back of the rotation if it still has waiters.
      if (queue.length > 0) this.#queues.set(sessionKey, queue);
      if (!waiter) continue;
      this.#queued--;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#grant(sessionKey, waiter.enqueuedAt, this.#clock.now()));
    }
  }

  #abandon(waiter: Waiter): void {
    const queue = this.#queues.get(waiter.sessionKey);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return; // already granted or closed
    queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(waiter.sessionKey);
    this.#queued--;
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
