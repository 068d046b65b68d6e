/**
 * A team hub's central copy of its audit records: each replica ships every record it writes (its own
 * hash-chained files stay the record of truth) to one Redis stream — `XADD <key> MAXLEN ~ <max> * replica
 * <id> seq <n> record <json>` — so one consumer (a SIEM forwarder, `XREADGROUP`) or `snowmux audit verify
 * --redis` sees the whole team, in order per replica, without reaching every replica's disk.
 *
 * Why a Redis stream: the replicas already share Redis; a stream is ordered, replayable by consumer groups,
 * trimmed by length, and costs one pipelined round trip per batch. Shipping never blocks or fails a call:
 * records are batched off the call path, and while Redis is unreachable they are dropped from the copy
 * and the next batch begins with a `gap` entry naming the seqs the stream does not have (so a verifier
 * tells "not shipped" from "removed").
 */
import { Redis } from 'ioredis';
import type { ShippedEntry } from '../audit/stream-chain.js';
import type { Logger } from '../observe/logger.js';

/** Records waiting for Redis beyond this are dropped from the copy (the files keep them). */
const MAX_PENDING = 10_000;
const BATCH = 500;

export interface AuditStreamStats {
  key: string;
  shipped: number;
  /** Records not in the stream (Redis unreachable or refused): each one is covered by a gap entry. */
  dropped: number;
  pending: number;
  lastError: string | null;
}

/** The part of an ioredis client the shipper uses. */
type StreamClient = Pick<Redis, 'pipeline'>;

export class AuditStreamShipper {
  private queue: { seq: number; line: string }[] = [];
  /** Dropped seqs not yet acknowledged in the stream. */
  private gap: { from: number; to: number; reason: string } | undefined;
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private shipped = 0;
  private dropped = 0;
  private lastError: string | null = null;

  constructor(
    private readonly redis: StreamClient,
    private readonly key: string,
    private readonly max: number,
    private readonly replica: string,
    private readonly connected: () => boolean,
    private readonly logger: Logger,
    /** Resolves on the first connection: until then records wait (a replica's first records, hub_start). */
    private readonly firstConnection?: Promise<void>,
  ) {
    void firstConnection?.then(() => {
      this.everConnected = true;
      void this.flush();
    });
  }

  private everConnected = false;

  ship(record: { seq: number; line: string }): void {
    this.queue.push(record);
    if (this.queue.length > MAX_PENDING) this.drop(this.queue.splice(0, this.queue.length - MAX_PENDING), 'too many records waiting for Redis');
    if (this.scheduled) return;
    this.scheduled = true;
    // Batch what the calls of this turn wrote; never on the call's own path.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  stats(): AuditStreamStats {
    return { key: this.key, shipped: this.shipped, dropped: this.dropped, pending: this.queue.length, lastError: this.lastError };
  }

  /** Ships what is queued (on stop), waiting at most `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (!this.connected() && this.firstConnection && !this.everConnected) return; // shipped on the first connection
      const batch = this.queue.splice(0, BATCH);
      if (!this.connected()) {
        this.drop(batch, 'Redis unreachable');
        continue;
      }
      const pipeline = this.redis.pipeline();
      const gap = this.gap;
      if (gap) pipeline.xadd(this.key, 'MAXLEN', '~', this.max, '*', 'replica', this.replica, 'gap', `${gap.from}-${gap.to}`, 'reason', gap.reason);
      for (const r of batch) pipeline.xadd(this.key, 'MAXLEN', '~', this.max, '*', 'replica', this.replica, 'seq', String(r.seq), 'record', r.line);
      try {
        const results = (await pipeline.exec()) ?? [];
        const failed = results.findIndex(([err]) => err);
        if (failed >= 0) throw results[failed]![0];
        if (gap === this.gap) this.gap = undefined;
        this.shipped += batch.length;
      } catch (err) {
        this.drop(batch, `Redis refused: ${(err as Error).message}`);
      }
    }
  }

  private drop(records: { seq: number }[], reason: string): void {
    if (records.length === 0) return;
    if (this.lastError !== reason) this.logger.warn({ reason, key: this.key }, 'audit records not shipped to the team stream (the replica keeps them in its own log)');
    this.lastError = reason;
    this.dropped += records.length;
    const from = Math.min(this.gap?.from ?? Number.POSITIVE_INFINITY, records[0]!.seq);
    const to = Math.max(this.gap?.to ?? 0, records[records.length - 1]!.seq);
    this.gap = { from, to, reason };
  }
}

/** Every entry of the stream, oldest first, read in pages (for `snowmux audit verify --redis`). */
export async function readAuditStream(url: string, key: string): Promise<ShippedEntry[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: () => null });
  // What Redis said (a refused password, say): the command itself only learns that the connection closed.
  let refused: Error | undefined;
  redis.on('error', (err: Error) => (refused = err));
  try {
    try {
      await redis.connect();
    } catch (err) {
      throw refused ?? err;
    }
    const entries: ShippedEntry[] = [];
    let start = '-';
    for (;;) {
      const page = await redis.xrange(key, start, '+', 'COUNT', 1000);
      for (const [id, pairs] of page) {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) fields[pairs[i]!] = pairs[i + 1]!;
        entries.push({ id, fields });
      }
      if (page.length < 1000) return entries;
      start = `(${page[page.length - 1]![0]}`;
    }
  } finally {
    redis.disconnect();
  }
}
