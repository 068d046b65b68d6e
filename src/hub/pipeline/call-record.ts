/** The one way a CallRecord is made: who called (from the session), plus what happened. */
import type { CallRecord } from '../observe/call-record.js';
import type { Session } from '../session/session.js';
import { shownText } from '../../shown-text.js';

/** Longest JSON-RPC id a call record, a call's log lines and its span keep (then "…"). */
export const MAX_RECORDED_REQUEST_ID = 64;

/**
 * A request's id as the hub keeps and shows it: the id is the client's, of any length (a 4 MB one per call
 * filled status's recent calls until `snowmux status` timed out, and every log line of the call), so it is
 * cut and escaped once, where the call enters the pipeline. The JSON-RPC answer still carries the id whole.
 */
export function recordedRequestId(id: string): string {
  return shownText(id, MAX_RECORDED_REQUEST_ID);
}

type Happened = Omit<CallRecord, 'at' | 'sessionId' | 'identity' | 'client' | 'clientInfo' | 'tool' | 'requestId'>;

export function callRecord(session: Session, tool: string, requestId: string, happened: Happened): CallRecord {
  return {
    at: new Date().toISOString(),
    sessionId: session.id,
    identity: session.facts.identity.name,
    client: session.clientLabel,
    clientInfo: session.client ?? { name: 'unknown', version: '' },
    tool,
    requestId,
    ...happened,
  };
}

/**
 * A call's arguments as its record keeps them (`request`): all of them, less the one that is the SQL the
 * record already holds in `sql`. What the SQL alone does not say is what ran — a team tool's bind values
 * (its SQL is the template with `?`), the database and schema an unqualified `execute_query` was resolved
 * in, its row limit. Undefined when nothing is left, so the common `{query}` call costs nothing more.
 */
export function argumentsBesideSql(args: Record<string, unknown>, sql: string | null): Record<string, unknown> | undefined {
  // A call with no arguments at all (list_databases) has no request either: docs/audit.md says the member
  // is absent when there are none, and `{}` told a reader of the log nothing.
  const kept = Object.entries(args).filter(([, value]) => sql === null || value !== sql);
  // fromEntries, not assignment: a "__proto__" key from the client stays an ordinary member.
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

/** The CallRecord of a call refused before any tool body ran (unknown tool, invalid arguments). */
export function refusedCallRecord(session: Session, tool: string, requestId: string, errorCode: string, args: Record<string, unknown>, toolUnverified = false): CallRecord {
  return callRecord(session, tool, requestId, {
    ...(toolUnverified ? { toolUnverified: true as const } : {}),
    outcome: 'refused',
    errorCode,
    ms: 0,
    queueWaitMs: 0,
    runMs: 0,
    rows: null,
    bytes: 0,
    queryId: null,
    sql: null,
    request: args,
    profile: null,
  });
}
