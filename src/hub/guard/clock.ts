/**
 * Time, injected. Every limit and resilience primitive in the guard reads time only through a Clock, so
 * tests drive rate limits, quota windows, queue waits and retry backoff with a ManualClock instead of
 * sleeping.
 */
import { timerDelay } from '../../timer-delay.js';

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Milliseconds on a clock that never steps (any origin), for measuring durations: the wall clock can be
   * stepped back or forward (NTP, a resumed VM). Absent: `now()` is used.
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, timerDelay(ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in due order (ties in creation order), each with
 * `now()` equal to its due time, including timers scheduled by other timers within the advanced span.
 * `advance` moves both clocks (and timers); `stepWall` moves only the wall clock, as NTP or a resumed VM
 * steps it: `monotonic()` and the timers go on undisturbed.
 */
export class ManualClock implements Clock {
  /** The monotonic time, on which timers are due; the wall clock is it plus #wallOffset. */
  #now: number;
  #wallOffset = 0;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();

  /** Starts at 2026-11-21T14:00:00Z unless told otherwise: a fixed, readable instant for messages. */
  constructor(startMs: number = Date.UTC(2026, 10, 21, 14, 0, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now + this.#wallOffset;
  }

  monotonic(): number {
    return this.#now;
  }

  /** Steps the wall clock by `ms` (negative: back), leaving monotonic time and timers where they are. */
  stepWall(ms: number): void {
    this.#wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#timers.set(id, { id, at: this.#now + delay, fn });
    return { manualTimerId: id };
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'object' && handle !== null && 'manualTimerId' in handle) {
      this.#timers.delete((handle as { manualTimerId: number }).manualTimerId);
    }
  }

  /** Timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** Due time of the next timer, if any (on the wall clock). */
  nextTimerAt(): number | undefined {
    const at = this.#nextDue(Number.POSITIVE_INFINITY)?.at;
    return at === undefined ? undefined : at + this.#wallOffset;
  }

  /** Moves time forward synchronously, firing due timers. Promise callbacks run after this returns. */
  advance(ms: number): void {
    const target = this.#now + Math.max(0, ms);
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#fire(timer);
    }
    this.#now = target;
  }

  /**
   * Like advance, but lets the event loop turn after each timer so promise chains it resolves (a retry
   * loop's next attempt, say) can run and schedule further timers inside the same span.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    await settle();
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#fire(timer);
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #fire(timer: ManualTimer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }

  #nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at <= limit && (best === undefined || timer.at < best.at || (timer.at === best.at && timer.id < best.id))) {
        best = timer;
      }
    }
    return best;
  }
}

/** One macrotask turn: every pending promise reaction has run by the time it resolves. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A small seeded PRNG (mulberry32) returning floats in [0, 1). For injecting reproducible jitter and for
 * seeded property tests; never for anything security-related.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
