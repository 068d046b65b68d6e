/** The one way a CallRecord is made: who called (from the session), plus what happened. */
import type { CallRecord } from '../observe/call-record.js';
import type { Session } from '../session/session.js';

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
