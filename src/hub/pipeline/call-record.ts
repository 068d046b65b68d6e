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

/** The CallRecord of a call refused before any tool body ran (unknown tool, invalid arguments). */
export function refusedCallRecord(session: Session, tool: string, requestId: string, errorCode: string, args: Record<string, unknown>): CallRecord {
  return callRecord(session, tool, requestId, {
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
