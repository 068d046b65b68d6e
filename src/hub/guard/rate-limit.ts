/**
 * Per-identity token buckets: each identity may burst up to `capacity` calls, then gets
 * `refillPerSecond` more per second. Memory stays bounded: buckets are kept in least-recently-used
 * order, a bucket that has refilled completely is forgotten (a fresh bucket is identical, so nothing is
 * lost), and past `maxIdentities` the least recently used bucket is dropped even if not yet full.
 */
import { SnowmuxError } from '../../errors.js';
import { systemClock, type Clock } from './clock.js';

export interface BucketLimit {
  /** Largest burst; at least 1. */
  capacity: number;
  /** Tokens added per second; > 0. */
  refillPerSecond: number;
}

export interface RateLimiterOptions {
  /** The limit for identities that `limitFor` does not override. */
  limit: BucketLimit;
  /** Per-identity limits (from the identity's role). Called on every take, so config reloads apply at once. */
  limitFor?: ((identity: string) => BucketLimit | undefined) | undefined;
  clock?: Clock | undefined;
  /** Hard bound on remembered identities. Default 10 000. */
  maxIdentities?: number | undefined;
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

export interface RateLimitSnapshotEntry {
  identity: string;
  /** Tokens available now (fractional while refilling). */
  tokens: number;
  capacity: number;
  refillPerSecond: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

// Float refill math can land a hair below a whole token at exactly the promised retry time.
const EPSILON = 1e-6;

export class RateLimiter {
  readonly #defaultLimit: BucketLimit;
  readonly #limitFor: ((identity: string) => BucketLimit | undefined) | undefined;
  readonly #clock: Clock;
  readonly #maxIdentities: number;
  /** Insertion order = least recently used first. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    assertLimit(options.limit, 'limit');
    this.#defaultLimit = { ...options.limit };
    this.#limitFor = options.limitFor;
    this.#clock = options.clock ?? systemClock;
    this.#maxIdentities = options.maxIdentities ?? 10_000;
    if (!Number.isInteger(this.#maxIdentities) || this.#maxIdentities < 1) {
      throw new RangeError(`maxIdentities must be a positive integer, got ${String(options.maxIdentities)}`);
    }
  }

  /** Takes `n` tokens for `identity` if it has them; otherwise says how long until it will. */
  tryTake(identity: string, n = 1): TakeResult {
    const limit = this.#limit(identity);
    if (!Number.isFinite(n) || n <= 0 || n > limit.capacity) {
      throw new RangeError(`Cannot take ${n} tokens from a bucket of capacity ${limit.capacity}`);
    }
    const now = this.#elapsedNow();
    const bucket = this.#refilled(identity, limit, now);
    // Re-insert so the map stays in least-recently-used order.
    this.#buckets.delete(identity);
    this.#buckets.set(identity, bucket);

    let result: TakeResult;
    if (bucket.tokens + EPSILON >= n) {
      bucket.tokens = Math.max(0, bucket.tokens - n);
      result = { ok: true, remaining: bucket.tokens };
    } else {
      // Trim float noise (1.0000000000000009 ms is 1 ms); the EPSILON above makes the promised time hold.
      const exactMs = ((n - bucket.tokens) / limit.refillPerSecond) * 1000;
      result = { ok: false, retryAfterMs: Math.max(1, Math.ceil(exactMs - 1e-6)) };
    }
    this.#forgetIdle(now);
    return result;
  }

  /**
   * Hands `from`'s bucket, as it is, to `to` (which then refills at its own limit from the time `from` was last
   * used): the bucket of a holder that continues under another key. Nothing happens when `from` has no bucket or
   * `to` already has one.
   */
  move(from: string, to: string): void {
    const bucket = this.#buckets.get(from);
    if (bucket === undefined || this.#buckets.has(to)) return;
    this.#buckets.delete(from);
    this.#buckets.set(to, bucket);
  }

  /** Puts back `n` tokens taken from `holder`'s bucket for a call that did not go ahead (never above its capacity). */
  giveBack(holder: string, n = 1): void {
    const bucket = this.#buckets.get(holder);
    if (bucket !== undefined) bucket.tokens = Math.min(this.#limit(holder).capacity, bucket.tokens + n);
  }

  /** The holders that have a bucket now (least recently used first). */
  holders(): string[] {
    return [...this.#buckets.keys()];
  }

  /** Drops a holder's bucket (nobody's calls take from it any more). */
  forget(holder: string): void {
    this.#buckets.delete(holder);
  }

  /** Current buckets for status, sorted by identity. Identities not listed have a full bucket. */
  snapshot(): RateLimitSnapshotEntry[] {
    const now = this.#elapsedNow();
    const entries: RateLimitSnapshotEntry[] = [];
    for (const identity of this.#buckets.keys()) {
      const limit = this.#limit(identity);
      const bucket = this.#refilled(identity, limit, now);
      entries.push({
        identity,
        tokens: Math.round(bucket.tokens * 1000) / 1000,
        capacity: limit.capacity,
        refillPerSecond: limit.refillPerSecond,
      });
    }
    return entries.sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  /** Buckets currently remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  #limit(identity: string): BucketLimit {
    const override = this.#limitFor?.(identity);
    if (override === undefined) return this.#defaultLimit;
    assertLimit(override, `limit for "${identity}"`);
    return override;
  }

  /** The identity's bucket with refill applied up to `now` (and clamped to a possibly lowered capacity). */
  /**
   * Refill is a matter of elapsed time: on the clock's monotonic time, so a wall clock stepped forward does not
   * refill every bucket at once, nor one stepped back stop refilling.
   */
  #elapsedNow(): number {
    return this.#clock.monotonic?.() ?? this.#clock.now();
  }

  #refilled(identity: string, limit: BucketLimit, now: number): Bucket {
    const bucket = this.#buckets.get(identity) ?? { tokens: limit.capacity, updatedAt: now };
    const elapsedMs = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(limit.capacity, bucket.tokens + (elapsedMs * limit.refillPerSecond) / 1000);
    // The time of this refill, even if earlier than the last one: a wall clock stepped back must not leave the
    // bucket waiting (without refill) until the clock has caught up again. Time counted twice is capped.
    bucket.updatedAt = now;
    return bucket;
  }

  #forgetIdle(now: number): void {
    // Oldest first: stop at the first bucket still refilling (amortised O(1) per take).
    for (const [identity, bucket] of this.#buckets) {
      const limit = this.#limit(identity);
      const tokensNow = bucket.tokens + (Math.max(0, now - bucket.updatedAt) * limit.refillPerSecond) / 1000;
      if (tokensNow + EPSILON < limit.capacity) break;
      this.#buckets.delete(identity);
    }
    // Identity flood: drop least recently used even though not yet full (that identity starts fresh).
    for (const identity of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxIdentities) break;
      this.#buckets.delete(identity);
    }
  }
}

/**
 * The refusal a tool call gets when its identity's bucket is empty. `sessions` above 1: the bucket is shared
 * by that many editors, and the refusal says so (the caller may not have spent it itself).
 */
export function rateLimitedError(identity: string, limit: BucketLimit, retryAfterMs: number, shared?: { role: string; sessions: number; rule?: string }): SnowmuxError {
  const by = shared && shared.sessions > 1
    ? ` This budget (role "${shared.role}") is shared by ${shared.sessions} open editors of "${identity}"; the others' calls spent it.`
    : '';
  // The rule that refused, as config.toml spells it, so a caller who needs more knows what the operator would raise.
  const rule = shared?.rule === undefined ? '' : ` The limit is ${shared.rule} (role "${shared.role}"); to call more often, ask the hub's operator to raise it.`;
  return new SnowmuxError(
    'RATE_LIMITED',
    `Rate limit reached for "${identity}" (bursts of ${limit.capacity} call${limit.capacity === 1 ? '' : 's'}, then ${describeRate(limit.refillPerSecond)}).${by} ` +
      `Retry after ~${describeWait(retryAfterMs)}.${rule}`,
    { details: { rule: 'rate', identity, retryAfterMs, capacity: limit.capacity, refillPerSecond: limit.refillPerSecond, ...(shared ? { role: shared.role, sessions: shared.sessions } : {}) } },
  );
}

/**
 * The refill rate in the largest unit that keeps it at least one: a `per_second` of 1/86400 is "1 per day",
 * not "0.04 per hour" rounded to "0 per hour"; below one a day it says how many days one call takes.
 */
export function describeRate(perSecond: number): string {
  const round = (x: number): number => Math.round(x * 100) / 100;
  const units: Array<[string, number]> = [['second', 1], ['minute', 60], ['hour', 3600], ['day', 86400]];
  for (const [unit, seconds] of units) {
    if (perSecond * seconds >= 1) return `${round(perSecond * seconds)} per ${unit}`;
  }
  return `1 every ${round(1 / (perSecond * 86400))} days`;
}

/** A wait in ms as a person reads it: milliseconds below 10 s (what retries act on), else s, min, h or days. */
export function describeWait(ms: number): string {
  if (ms < 10_000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function assertLimit(limit: BucketLimit, what: string): void {
  if (!Number.isFinite(limit.capacity) || limit.capacity < 1) {
    throw new RangeError(`${what}: capacity must be a finite number >= 1, got ${String(limit.capacity)}`);
  }
  if (!Number.isFinite(limit.refillPerSecond) || limit.refillPerSecond <= 0) {
    throw new RangeError(`${what}: refillPerSecond must be a finite number > 0, got ${String(limit.refillPerSecond)}`);
  }
}
