/**
 * Writes one audit record per finished tool call. Appends are queued by the log (it serialises and
 * hash-chains them); a write failure is logged and counted, never thrown into the call path.
 */
import type { AuditLog } from '../audit/audit-log.js';
import type { Logger } from '../observe/logger.js';
import type { CallRecord, CallSink } from '../observe/call-record.js';

export class AuditSink implements CallSink {
  /** `replica`: a team hub replica's id, written into every record (each replica keeps its own chain). */
  /** Told how long each record took to be written (by the log's durability policy): for metrics. */
  observeWrite: ((seconds: number) => void) | undefined;

  constructor(private readonly log: AuditLog, private readonly logger: Logger, private readonly replica?: string) {}

  /** Returns a promise when the call's answer should wait for its record (AuditLog.holdsAnswers). */
  record(call: CallRecord): Promise<void> | undefined {
    const handed = performance.now();
    const written = this.log
      .append({
        kind: 'tool_call',
        ...(this.replica === undefined ? {} : { replica: this.replica }),
        identity: call.identity,
        sessionId: call.sessionId,
        client: call.clientInfo,
        tool: call.tool,
        sql: call.sql ?? undefined,
        sqlTruncated: call.sql ? call.sqlTruncated : undefined,
        request: call.sql ? undefined : call.request,
        requestTruncated: call.sql ? undefined : call.requestTruncated,
        queryId: call.queryId ?? undefined,
        queueWaitMs: round(call.queueWaitMs),
        runMs: round(call.runMs),
        rows: call.rows ?? 0,
        bytes: call.bytes,
        outcome: call.outcome,
        errorCode: call.errorCode ?? undefined,
        profile: call.profile ?? undefined,
        scanEstimate: call.scanEstimate,
        traceId: call.traceId,
        ...(call.heldFrom === undefined ? {} : { detail: { heldFrom: call.heldFrom } }),
      })
      .then((r) => {
        // `reason`, not a second `msg`: log readers keep one msg, and the cause (ENOSPC…) was lost.
        if (!r.ok) this.logger.error({ code: r.error.code, reason: r.error.message }, 'audit write failed');
        else this.observeWrite?.((performance.now() - handed) / 1000);
      });
    return this.log.holdsAnswers ? written : undefined;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
