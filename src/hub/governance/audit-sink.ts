/**
 * Writes one audit record per finished tool call, and one before each statement that may change data runs
 * (`write_started`). Appends are queued by the log (it serialises and hash-chains them); a write failure is
 * logged and counted, and what it does to calls is `[audit] on_failure`'s: under "refuse" (the default) a
 * call whose record could not be written is answered with AUDIT_UNAVAILABLE instead of its result, and new
 * calls are refused while the log fails (`unavailable()`, read by the audit-gate stage); under "serve" calls
 * are answered unrecorded. A write whose `write_started` record could not be written never runs, either way.
 */
import { SnowmuxError } from '../../errors.js';
import type { AuditLog, AppendResult } from '../audit/audit-log.js';
import type { Logger } from '../observe/logger.js';
import type { CallRecord, CallSink, SinkTrouble } from '../observe/call-record.js';

export type AuditOnFailure = 'refuse' | 'serve';

export class AuditSink implements CallSink {
  /** Told how long each record took to be written (by the log's durability policy): for metrics. */
  observeWrite: ((seconds: number) => void) | undefined;
  private readonly onFailure: AuditOnFailure;

  /** `replica`: a team hub replica's id, written into every record (each replica keeps its own chain). */
  constructor(private readonly log: AuditLog, private readonly logger: Logger, private readonly replica?: string, options: { onFailure?: AuditOnFailure } = {}) {
    this.onFailure = options.onFailure ?? 'refuse';
  }

  /**
   * Returns a promise when the call's answer should wait for its record: always under on_failure "refuse"
   * (it rejects with AUDIT_UNAVAILABLE when the record could not be written), else when the log holds answers
   * (AuditLog.holdsAnswers).
   */
  record(call: CallRecord): Promise<void> | undefined {
    const written = this.append('tool_call', call);
    if (this.onFailure === 'refuse') {
      return written.then((r) => {
        if (!r.ok) throw this.unwrittenError(r.error, 'the record of this call could not be written, so its answer is withheld');
      });
    }
    return this.log.holdsAnswers ? written.then(() => undefined) : undefined;
  }

  /**
   * A `write_started` record, resolved once it is written (in the file, to the kernel: a crash of the hub
   * after the statement ran keeps it; a power loss keeps what the fsync policy kept). Rejects with
   * AUDIT_UNAVAILABLE when it could not be written, whatever on_failure says: the statement is not sent.
   */
  async recordStarted(call: CallRecord): Promise<void> {
    const r = await this.append('write_started', call);
    if (!r.ok) throw this.unwrittenError(r.error, 'the write_started record of this statement could not be written, so the statement was not sent (a write never runs unrecorded)');
  }

  /** While records fail: the error a new call gets, and whether it must be refused (on_failure "refuse"). */
  unavailable(): SinkTrouble | undefined {
    const failing = this.log.failingNow;
    if (!failing) return undefined;
    return {
      refuse: this.onFailure === 'refuse',
      since: failing.since,
      code: failing.code,
      error: new SnowmuxError(
        'AUDIT_UNAVAILABLE',
        `Audit records cannot be written to ${this.log.directory} since ${failing.since} (${failing.code}: ${failing.message}), and the hub does not serve calls it cannot record ([audit] on_failure = "refuse"): this call was refused before it reached a warehouse. Free space on the disk holding ${this.log.directory}, or fix its permissions or mount; the hub serves again by itself once a record is written (it tries every few seconds). \`snowmux status\` shows the failure.`,
        { details: { auditDir: this.log.directory, cause: failing.code } },
      ),
    };
  }

  private unwrittenError(error: SnowmuxError, what: string): SnowmuxError {
    if (error.code === 'AUDIT_CLOSED' || error.code === 'AUDIT_BAD_ENTRY') {
      // Not the disk: the hub is stopping (or another hub took the log over; the next hub records the call),
      // or an entry that could not be serialised (a bug, its message says so).
      const next = error.code === 'AUDIT_CLOSED' ? ' Call again: the next hub serves it.' : '';
      return new SnowmuxError('AUDIT_UNAVAILABLE', `${error.message} So ${what}.${next}`, { cause: error, details: { auditDir: this.log.directory, cause: error.code } });
    }
    return new SnowmuxError(
      'AUDIT_UNAVAILABLE',
      `Audit records cannot be written to ${this.log.directory} (${error.code}: ${error.message}): ${what}. Free space on the disk holding ${this.log.directory}, or fix its permissions or mount, then call again; \`snowmux status\` shows the failure.`,
      { cause: error, details: { auditDir: this.log.directory, cause: error.code } },
    );
  }

  private append(kind: 'tool_call' | 'write_started', call: CallRecord): Promise<AppendResult> {
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
        return r;
      });
  }
}

/**
 * A call record's facts beyond the common fields: when a held-back record happened, a write that may have
 * run, and for a refusal the rule that refused it and the role it was judged under (the error code alone
 * did not say which rule: `read-only` or `session-state`, which deny pattern, whose rate).
 */
function auditDetail(call: CallRecord): { detail?: Record<string, unknown> } {
  const refusal = call.rule === undefined ? {} : { rule: call.rule, ...(call.role === undefined ? {} : { role: call.role }) };
  if (call.heldFrom === undefined && call.mayHaveRun === undefined && call.rule === undefined) return {};
  return { detail: { ...(call.heldFrom === undefined ? {} : { heldFrom: call.heldFrom }), ...(call.mayHaveRun ? { mayHaveRun: true } : {}), ...refusal } };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
