/**
 * Each identity's recent SQL calls through the hub, for the `query_history` tool: what ran, when, how it
 * ended, how long it took, what it returned and was estimated to scan, and its warehouse query id. Only
 * calls that carried SQL are kept (metadata listings are not queries), after the secret scrubber, with
 * bounded memory: the last `perIdentity` calls of the `identities` most recently active identities.
 */
import { LRUCache } from 'lru-cache';
import type { CallRecord, CallSink } from './call-record.js';

export type HistoryEntry = Pick<CallRecord, 'at' | 'tool' | 'sql' | 'outcome' | 'errorCode' | 'ms' | 'queueWaitMs' | 'rows' | 'bytes' | 'queryId' | 'profile' | 'scanEstimate' | 'sessionId' | 'client' | 'traceId'>;

export class QueryHistory implements CallSink {
  private readonly byIdentity: LRUCache<string, HistoryEntry[]>;

  constructor(private readonly perIdentity = 200, identities = 1_000) {
    this.byIdentity = new LRUCache({ max: identities });
  }

  record(call: CallRecord): void {
    if (call.sql === null) return;
    let list = this.byIdentity.get(call.identity);
    if (!list) {
      list = [];
      this.byIdentity.set(call.identity, list);
    }
    const { at, tool, sql, outcome, errorCode, ms, queueWaitMs, rows, bytes, queryId, profile, scanEstimate, sessionId, client, traceId } = call;
    list.push({ at, tool, sql, outcome, errorCode, ms, queueWaitMs, rows, bytes, queryId, profile, scanEstimate, sessionId, client, traceId });
    if (list.length > this.perIdentity) list.splice(0, list.length - this.perIdentity);
  }

  /** This identity's calls, newest first. */
  of(identity: string, limit: number): HistoryEntry[] {
    return [...(this.byIdentity.get(identity) ?? [])].reverse().slice(0, limit);
  }
}
