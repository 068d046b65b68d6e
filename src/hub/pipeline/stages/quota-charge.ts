/**
 * Statement stage: charges the call's query to its identity's quota (team-wide, atomically, on a team
 * hub), once per call. It sits after every stage that refuses by a rule (SQL and object policy, the row
 * cap, names, the queue, the team slot, the cost guard): a call any of them refuses never held any of the
 * budget, so refused calls running at the same time cannot make another call of the identity read as over
 * its quota. The quota call stage refused already-spent budgets before any login; this is where a call
 * that raced others to the last unit learns it lost. Only operations that carry SQL are charged (a listing
 * or a page of an earlier result is not a query).
 *
 * It also holds a query or a page of an earlier result to the `rows` and `bytes` budgets left: those are
 * counted only once the call ends, so without a cap one call under budget could return the role's whole
 * max_rows and max_result_bytes past it. The answer's caps are lowered to what is left, and a result that
 * cap cut says so (QueryResult.quotaCut). Calls running at once each get what was left when they started.
 */
import { SnowmuxError } from '../../../errors.js';
import { describeLimit, describeWindow, type QuotaRoom } from '../../guard/quota.js';
import type { QueryResult } from '../../warehouse/types.js';
import { sqlOf, type OperationResult, type Statement, type StatementStage } from '../statement.js';

export const quotaCharge: StatementStage = {
  name: 'quota-charge',
  async run(st, next) {
    if (sqlOf(st.op)) {
      const { governance, identity, role, meter } = st.scope;
      const refusal = await governance.chargeQuota(identity, role, meter);
      if (refusal) throw refusal;
    }
    return withinQuotaRoom(st, next);
  },
};

type Budget = 'rows' | 'bytes';

/** Runs a query or page with its row and byte caps lowered to the quota left; a result they cut says so. */
async function withinQuotaRoom(st: Statement, next: () => Promise<OperationResult>): Promise<OperationResult> {
  const op = st.op;
  // A tool's own look-ups are not received by the caller and not counted (accounting), so not capped either.
  if ((op.kind !== 'query' && op.kind !== 'fetch') || st.scope.metered === false) return next();
  const { governance, identity, role, meter } = st.scope;
  const room = governance.quotaRoom(identity, role, meter);
  const rows = op.kind === 'query' ? op.options.maxRows : op.page.limit;
  const bytes = op.kind === 'query' ? op.options.maxBytes : op.page.maxBytes;
  const cut: Partial<Record<Budget, QuotaRoom>> = {};
  if (room.rows !== undefined && room.rows.left < rows) cut.rows = room.rows;
  if (room.bytes !== undefined && (bytes === undefined || room.bytes.left < bytes)) cut.bytes = room.bytes;
  if (cut.rows === undefined && cut.bytes === undefined) return next();
  for (const budget of ['rows', 'bytes'] as const) {
    const spent = cut[budget];
    if (spent !== undefined && spent.left === 0) throw quotaSpent(identity, role.name, budget, spent);
  }
  const maxRows = cut.rows?.left ?? rows;
  const maxBytes = cut.bytes?.left ?? bytes;
  st.op = op.kind === 'query' ? { ...op, options: { ...op.options, maxRows, maxBytes } } : { ...op, page: { ...op.page, limit: maxRows, ...(maxBytes === undefined ? {} : { maxBytes }) } };
  const result = (await next()) as QueryResult;
  if (!result.truncated) return result;
  // Which cap cut: the reader says whether rows or bytes ran out first.
  const by: Budget | undefined = result.truncatedBy === 'bytes' ? (cut.bytes ? 'bytes' : undefined) : cut.rows && result.rowCount >= maxRows ? 'rows' : undefined;
  const budget = by === undefined ? undefined : cut[by];
  if (by === undefined || budget === undefined) return result;
  return { ...result, quotaCut: { metric: by, left: budget.left, limit: budget.limit, windowMs: budget.windowMs, resetsAt: isoSeconds(budget.resetsAt) } };
}

/** The refusal for a call whose own earlier statements used up what was left of a budget. */
function quotaSpent(identity: string, role: string, metric: Budget, room: QuotaRoom): SnowmuxError {
  const resetAt = isoSeconds(room.resetsAt);
  return new SnowmuxError(
    'QUOTA_EXCEEDED',
    `Quota exceeded for "${identity}" under role "${role}": ${describeLimit(metric, room.limit)} ${describeWindow(room.windowMs)}, and this call has received all that was left. The window resets at ${resetAt}.`,
    { details: { identity, role, metric, limit: room.limit, windowMs: room.windowMs, resetAt, retryAfterMs: Math.max(0, room.resetsAt - Date.now()) } },
  );
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
