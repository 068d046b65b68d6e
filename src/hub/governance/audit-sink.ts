/**
 * Writes one audit record per finished tool call, and one before each statement that may change data runs
 * (`write_started`). Appends are queued by the log (it serialises and hash-chains them); a write failure is
 * logged and counted, never thrown into the call path.
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
    const written = this.append('tool_call', call);
    return this.log.holdsAnswers ? written : undefined;
  }

  /**
   * A `write_started` record, resolved once it is written (in the file, to the kernel: a crash of the hub
   * after the statement ran keeps it; a power loss keeps what the fsync policy kept). A failed write is
   * logged, as for any record, and does not stop the statement.
   */
  recordStarted(call: CallRecord): Promise<void> {
    return this.append('write_started', call);
  }

  private append(kind: 'tool_call' | 'write_started', call: CallRecord): Promise<void> {
    const handed = performance.now();
    const started = kind === 'write_started';
    return this.log
      .append({
        kind,
        ...(this.replica === undefined ? {} : { replica: this.replica }),
        identity: call.identity,
        sessionId: call.sessionId,
        client: call.clientInfo,
        tool: call.tool,
        sql: call.sql ?? undefined,
        sqlTruncated: call.sql ? call.sqlTruncated : undefined,
        request: call.request,
        requestTruncated: call.requestTruncated,
        queryId: call.queryId ?? undefined,
        queueWaitMs: round(call.queueWaitMs),
        runMs: round(call.runMs),
        rows: call.rows ?? 0,
        bytes: call.bytes,
        outcome: started ? 'started' : call.outcome,
        errorCode: started ? undefined : (call.errorCode ?? undefined),
        profile: call.profile ?? undefined,
        scanEstimate: call.scanEstimate,
        traceId: call.traceId,
        ...auditDetail(call),
      })
      .then((r) => {
        // `reason`, not a second `msg`: log readers keep one msg, and the cause (ENOSPC…) was lost.
        if (!r.ok) this.logger.error({ code: r.error.code, reason: r.error.message }, 'audit write failed');
        else this.observeWrite?.((performance.now() - handed) / 1000);
      });
  }
}

/** A call record's facts beyond the common fields: when a held-back record happened, a write that may have run. */
function auditDetail(call: CallRecord): { detail?: Record<string, unknown> } {
  if (call.heldFrom === undefined && call.mayHaveRun === undefined) return {};
  return { detail: { ...(call.heldFrom === undefined ? {} : { heldFrom: call.heldFrom }), ...(call.mayHaveRun ? { mayHaveRun: true } : {}) } };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
