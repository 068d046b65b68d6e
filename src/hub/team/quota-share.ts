/**
 * This replica's own share of each identity's team-wide quota windows: what it counted in Redis, or would
 * have while Redis was unreachable. Redis holds each replica's share in its own fields, so writing the
 * share again after Redis restarted empty, or after a spell on local limits (each field raised to the
 * share, never lowered: see QUOTA_SEED_SCRIPT), restores the team's usage without counting anything twice.
 */
import type { QuotaUsage } from '../guard/quota.js';

interface Share {
  /** When the window ends (epoch ms): the share is dropped after it. */
  endsAt: number;
  usage: Required<QuotaUsage>;
}

export class QuotaShare {
  readonly #shares = new Map<string, Share>();

  /** Adds `usage` to the share kept under the window's Redis key. */
  add(key: string, endsAt: number, usage: QuotaUsage, now = Date.now()): void {
    if (endsAt <= now) return;
    let share = this.#shares.get(key);
    if (!share) {
      // Windows that ended go when a new one starts: not on every call.
      this.#prune(now);
      share = { endsAt, usage: { queries: 0, rows: 0, bytes: 0, scanBytes: 0 } };
      this.#shares.set(key, share);
    }
    share.usage.queries += usage.queries;
    share.usage.rows += usage.rows;
    share.usage.bytes += usage.bytes;
    share.usage.scanBytes += Math.round(usage.scanBytes ?? 0);
  }

  /** The shares of windows still open, by Redis key, with how long each window has left. */
  open(now = Date.now()): { key: string; leftMs: number; usage: Required<QuotaUsage> }[] {
    this.#prune(now);
    return [...this.#shares].map(([key, share]) => ({ key, leftMs: share.endsAt - now, usage: { ...share.usage } }));
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
