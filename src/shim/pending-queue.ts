/**
 * Editor messages the shim holds while no hub takes them (starting, restarting, refusing), in arrival
 * order, bounded both in number and in bytes: an editor that keeps writing while no hub answers cannot
 * grow the shim beyond `maxBytes` (plus one message when the queue is empty, so any accepted message can
 * wait). Re-sends after a lost link go in front and are always taken: they were already held.
 */
export interface Held {
  line: Buffer;
  /** When the editor sent it, on the monotonic clock (performance.now(): the per-message reconnect deadline). */
  at: number;
}

export class PendingQueue<T extends Held> {
  private items: T[] = [];
  private held = 0;

  constructor(private readonly maxCount: number, private readonly maxBytes: number) {}

  get length(): number {
    return this.items.length;
  }

  /** Bytes of the messages held. */
  get bytes(): number {
    return this.held;
  }

  /** Why `line` cannot join the queue ('count' or 'bytes'), or null when it can. */
  refusal(line: Buffer): 'count' | 'bytes' | null {
    if (this.items.length >= this.maxCount) return 'count';
    if (this.items.length > 0 && this.held + line.length > this.maxBytes) return 'bytes';
    return null;
  }

  push(item: T): void {
    this.items.push(item);
    this.held += item.line.length;
  }

  unshift(item: T): void {
    this.items.unshift(item);
    this.held += item.line.length;
  }

  /** Drops the message carried by this very buffer (a request cancelled before any hub saw it). */
  removeLine(line: Buffer): void {
    const i = this.items.findIndex((p) => p.line === line);
    if (i < 0) return;
    this.held -= line.length;
    this.items.splice(i, 1);
  }

  takeAll(): T[] {
    const items = this.items;
    this.items = [];
    this.held = 0;
    return items;
  }

  /** Takes the messages that arrived at or before `cutoff`. */
  takeArrivedBy(cutoff: number): T[] {
    const expired = this.items.filter((p) => p.at <= cutoff);
    if (expired.length === 0) return expired;
    this.items = this.items.filter((p) => p.at > cutoff);
    this.held = this.items.reduce((sum, p) => sum + p.line.length, 0);
    return expired;
  }

  oldestAt(): number | undefined {
    let oldest: number | undefined;
    for (const p of this.items) if (oldest === undefined || p.at < oldest) oldest = p.at;
    return oldest;
  }
}
