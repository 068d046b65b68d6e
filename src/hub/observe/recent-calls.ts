/** The last N tool calls, for `snowmux status`. Fixed memory: a ring buffer. */
import type { CallRecord, CallSink, SinkTrouble } from './call-record.js';

export class RecentCalls implements CallSink {
  private readonly ring: CallRecord[] = [];
  private next = 0;
  totals = { calls: 0, errors: 0, refused: 0, cancelled: 0 };

  constructor(private readonly capacity = 50) {}

  record(call: CallRecord): void {
    this.totals.calls += 1;
    if (call.outcome === 'error') this.totals.errors += 1;
    if (call.outcome === 'refused') this.totals.refused += 1;
    if (call.outcome === 'cancelled') this.totals.cancelled += 1;
    if (this.ring.length < this.capacity) this.ring.push(call);
    else this.ring[this.next] = call;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  list(limit = this.capacity): CallRecord[] {
    const ordered = this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.reverse().slice(0, limit);
  }
}

/** Fans one call record out to several sinks (recent list, audit, metrics). */
export class CallSinks implements CallSink {
  /** `prepare` runs once per call before any sink sees it (secret scrubbing: status shows what audit keeps). */
  constructor(private readonly sinks: CallSink[], private readonly prepare?: (call: CallRecord) => CallRecord) {}
  record(raw: CallRecord): Promise<void> | undefined {
    const call = this.prepare ? this.prepare(raw) : raw;
    let held: Promise<void>[] | undefined;
    for (const sink of this.sinks) {
      try {
        const wait = sink.record(call);
        if (wait) (held ??= []).push(wait);
      } catch {
        /* one sink failing must not hide the call from the others */
      }
    }
    return held && Promise.all(held).then(() => undefined);
  }

  /** Rejects when a sink could not keep its trace (the audit log): the statement is then not sent. */
  async recordStarted(raw: CallRecord): Promise<void> {
    const call = this.prepare ? this.prepare(raw) : raw;
    const settled = await Promise.allSettled(this.sinks.map((sink) => sink.recordStarted?.(call)));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** The first sink's trouble, one that refuses calls first. */
  unavailable(): SinkTrouble | undefined {
    let found: SinkTrouble | undefined;
    for (const sink of this.sinks) {
      const trouble = sink.unavailable?.();
      if (trouble?.refuse) return trouble;
      found ??= trouble;
    }
    return found;
  }
}
