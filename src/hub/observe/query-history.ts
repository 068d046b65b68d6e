/**
 * Each identity's recent SQL calls through the hub, for the `query_history` tool: what ran, when, how it
 * ended, how long it took, what it returned and was estimated to scan, and its warehouse query id. Only
 * calls that carried SQL are kept (metadata listings are not queries), after the secret scrubber, with
 * bounded memory: the last `perIdentity` calls of the `identities` most recently active identities.
 */
import { LRUCache } from 'lru-cache';
import type { CallRecord, CallSink } from './call-record.js';

export type HistoryEntry = Pick<CallRecord, 'identity' | 'role' | 'at' | 'tool' | 'sql' | 'callerView' | 'outcome' | 'errorCode' | 'mayHaveRun' | 'ms' | 'queueWaitMs' | 'rows' | 'bytes' | 'queryId' | 'profile' | 'scanEstimate' | 'sessionId' | 'client' | 'traceId'>;

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
    // callerView: shown to the call's identity alone (see CallRecord.callerView).
    const { identity, role, at, tool, sql, callerView, outcome, errorCode, mayHaveRun, ms, queueWaitMs, rows, bytes, queryId, profile, scanEstimate, sessionId, client, traceId } = call;
    list.push({ identity, role, at, tool, sql, callerView, outcome, errorCode, ...(mayHaveRun ? { mayHaveRun } : {}), ms, queueWaitMs, rows, bytes, queryId, profile, scanEstimate, sessionId, client, traceId });
    if (list.length > this.perIdentity) list.splice(0, list.length - this.perIdentity);
  }

  /** Every kept identity's calls, newest first (for roles that may see them all). */
  all(limit: number): HistoryEntry[] {
    const merged: HistoryEntry[] = [];
    for (const list of this.byIdentity.values()) merged.push(...list.slice(-limit));
    return merged.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, limit);
  }

  /** This identity's calls, newest first; with `role`, only those made under that role. */
  of(identity: string, limit: number, role?: string): HistoryEntry[] {
    const list = [...(this.byIdentity.get(identity) ?? [])].reverse();
    return (role === undefined ? list : list.filter((c) => c.role === role)).slice(0, limit);
  }
}
