/**
 * This replica's own share of each identity's team-wide quota windows: what it counted in Redis, or would
 * have while Redis was unreachable. Redis holds each replica's share in its own fields, so writing the
 * share again after Redis restarted empty, or after a spell on local limits (each field raised to the
 * share, never lowered: see QUOTA_SEED_SCRIPT), restores the team's usage without counting anything twice.
 *
 * It mirrors what the Redis scripts do with this replica's fields: a call counts in every window length the
 * holder has in Redis (not only those of the rules in force), and a window length new to the holder starts
 * from the most this replica counted in the windows kept that lie within it (see QUOTA_WINDOW_LUA). The share
 * written back after a loss then holds the usage a `window` change carried over, too.
 */
import { windowStartOf, type QuotaUsage } from '../guard/quota.js';

interface Share {
  /** The holder's Redis key prefix (`<namespace>:quota:<holder>`). */
  prefix: string;
  windowMs: number;
  windowStart: number;
  /** When the window ends (epoch ms): the share is dropped after it. */
  endsAt: number;
  usage: Required<QuotaUsage>;
}

const METRICS = ['queries', 'rows', 'bytes', 'scanBytes'] as const;

/** A window's Redis key: the holder's prefix, the window length, the window's start. */
export function quotaWindowKey(prefix: string, windowMs: number, at: number): string {
  return `${prefix}:${windowMs}:${windowStartOf(at, windowMs)}`;
}

export class QuotaShare {
  readonly #shares = new Map<string, Share>();
  /** The window lengths each holder counts in, as Redis last said (its rules' and those kept from earlier rules). */
  readonly #lengths = new Map<string, Set<number>>();

  /** Notes the window lengths Redis counts the holder's calls in. */
  noteLengths(prefix: string, lengths: Iterable<number>): void {
    let known = this.#lengths.get(prefix);
    if (!known) this.#lengths.set(prefix, (known = new Set()));
    for (const w of lengths) known.add(w);
  }

  /** `windowsMs` with every other window length the holder is known to count in. */
  lengthsOf(prefix: string, windowsMs: Iterable<number>): number[] {
    return [...new Set([...windowsMs, ...(this.#lengths.get(prefix) ?? [])])];
  }

  /**
   * Adds `usage` to the shares of the holder's windows of each length in `windowsMs` that contain `at`. The
   * windows new to the share start (from those within them) before any is added to, as in Redis: a call counts
   * once in each.
   */
  add(prefix: string, windowsMs: Iterable<number>, at: number, usage: QuotaUsage, now = Date.now()): void {
    const shares = [...new Set(windowsMs)].map((windowMs) => this.#window(prefix, windowMs, at, now));
    for (const share of shares) {
      if (!share) continue;
      share.usage.queries += usage.queries;
      share.usage.rows += usage.rows;
      share.usage.bytes += usage.bytes;
      share.usage.scanBytes += Math.round(usage.scanBytes ?? 0);
    }
  }

  /** The share of the holder's window of length `windowMs` containing `at`, started if new; undefined once it ended. */
  #window(prefix: string, windowMs: number, at: number, now: number): Share | undefined {
    const windowStart = windowStartOf(at, windowMs);
    const endsAt = windowStart + windowMs;
    if (endsAt <= now) return undefined;
    const key = quotaWindowKey(prefix, windowMs, at);
    let share = this.#shares.get(key);
    if (!share) {
      // Windows that ended go when a new one starts: not on every call.
      this.#prune(now);
      share = { prefix, windowMs, windowStart, endsAt, usage: { queries: 0, rows: 0, bytes: 0, scanBytes: 0 } };
      // As the Redis script does with this replica's fields: a new window starts from the windows within it.
      for (const other of this.#shares.values()) {
        if (other.prefix !== prefix || other.windowMs === windowMs || other.windowStart < windowStart || other.endsAt > endsAt) continue;
        for (const m of METRICS) share.usage[m] = Math.max(share.usage[m], other.usage[m]);
      }
      this.#shares.set(key, share);
    }
    return share;
  }

  /** The shares of windows still open, by Redis key, with how long each window has left. */
  open(now = Date.now()): { key: string; prefix: string; windowMs: number }[] {
    this.#prune(now);
    return [...this.#shares].map(([key, share]) => ({ key, prefix: share.prefix, windowMs: share.windowMs }));
  }

  /** One window's share as it is now (undefined once the window has ended). */
  of(key: string, now = Date.now()): { leftMs: number; usage: Required<QuotaUsage> } | undefined {
    const share = this.#shares.get(key);
    return share && share.endsAt > now ? { leftMs: share.endsAt - now, usage: { ...share.usage } } : undefined;
  }

  #prune(now: number): void {
    for (const [key, share] of this.#shares) if (share.endsAt <= now) this.#shares.delete(key);
  }
}
