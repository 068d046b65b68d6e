/**
 * Call stage, outermost: every call ends in exactly one CallRecord (status's recent list, the audit
 * log, metrics), whatever stage refused it or however it failed. A failure becomes the tool result
 * that says what happened and what to do next; so does a record the audit log could not write, under
 * `[audit] on_failure = "refuse"` (the sink's promise rejects): a call answered is a call recorded.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { argumentsBesideSql, callRecord } from '../call-record.js';
import { SnowmuxError, errorMessage } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

export const audit: CallStage = {
  name: 'audit',
  async run(call, next) {
    let result: CallToolResult;
    try {
      result = call.settleResult(await next());
    } catch (err) {
      result = call.fail(err);
    }
    const ms = performance.now() - call.started;
    if (call.env.logger.isLevelEnabled('debug')) call.logger.debug({ outcome: call.outcome, ms: Math.round(ms * 1000) / 1000 }, 'tool call done');
    const { meter } = call;
    // Every sink (status, audit, metrics, events) gets the record now; the audit file write it queues is
    // hash-chained in order, off the call path — unless the audit log holds answers (fsync = "always", or
    // a writer that fell behind): then the answer waits for its own record.
    const span = call.trace?.span.child('audit');
    const held = call.env.sink.record(
      callRecord(call.session, call.tool, call.request.id, {
        outcome: call.outcome,
        errorCode: call.errorCode,
        ...(call.rule === undefined ? {} : { rule: call.rule }),
        ...(call.mayHaveRun ? { mayHaveRun: true } : {}),
        ms,
        queueWaitMs: meter.queueWaitMs,
        ...(meter.queued ? { queued: true as const } : {}),
        runMs: meter.runMs,
        rows: meter.rows,
        bytes: meter.bytes,
        queryId: meter.queryId ?? null,
        sql: call.sql,
        request: argumentsBesideSql(call.args, call.sql),
        profile: meter.profile ?? null,
        ...(call.role ? { role: call.role.name } : {}),
        ...(meter.scanEstimate ? { scanEstimate: meter.scanEstimate } : {}),
        ...(call.traceId === undefined ? {} : { traceId: call.traceId }),
      }),
    );
    if (held) {
      try {
        await held;
      } catch (err) {
        // The call's own record could not be written (on_failure = "refuse"): its answer is withheld. An
        // error result stays as it is (it hands out nothing), told by its own code.
        if (!result.isError) result = call.fail(call.meter.writeSent === true ? sentAnyway(err) : err);
      }
    }
    span?.end();
    return result;
  },
};

/** A write was sent before its call's record failed: the client must not take the error for "nothing ran". */
function sentAnyway(err: unknown): SnowmuxError {
  const code = err instanceof SnowmuxError ? err.code : 'AUDIT_UNAVAILABLE';
  return new SnowmuxError(code, `${errorMessage(err)} The call's statement was sent (its write_started record is in the log) and may have changed data: check query_history before running it again.`, { cause: err, details: { mayHaveRun: true } });
}
