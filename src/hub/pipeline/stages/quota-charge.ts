/**
 * Statement stage: charges the call's query to its identity's quota (team-wide, atomically, on a team
 * hub), once per call. It sits after every stage that refuses by a rule (SQL and object policy, the row
 * cap, names, the queue, the team slot, the cost guard): a call any of them refuses never held any of the
 * budget, so refused calls running at the same time cannot make another call of the identity read as over
 * its quota. The quota call stage refused already-spent budgets before any login; this is where a call
 * that raced others to the last unit learns it lost. Only operations that carry SQL are charged (a listing
 * or a page of an earlier result is not a query).
 *
 * It also holds what every operation returns to the caller to the `rows` and `bytes` budgets left: those are
 * counted only once the call ends, so without a cap one call under budget could return the role's whole
 * max_rows and max_result_bytes past it. What is held is what the accounting stage charges (statement.ts
 * `returnedBy`, counted the same way, call-meter.ts `rowsBytes`), for every kind of operation:
 * - a query or a page of an earlier result: its row and byte caps are lowered to what is left, so the
 *   warehouse stops there; a Cortex Search: its result limit is lowered the same way;
 * - then, whatever came back, its rows past what is left are dropped (a backend that counts bytes its own way,
 *   a search service with no byte cap), and a result cut for the quota says so (`quotaCut`);
 * - a metadata listing, which has no cap and cannot say it was cut, is refused when it has more entries than
 *   rows are left.
 * Calls running at once each get what was left when they started.
 */
import { SnowmuxError } from '../../../errors.js';
import { describeLimit, describeWindow, quotaAdvice, type QuotaRoom } from '../../guard/quota.js';
import { rowBytes, rowsBytes } from '../../governance/call-meter.js';
import type { QueryResult, SearchReply } from '../../warehouse/types.js';
import { returnedBy, sqlOf, type OperationResult, type Statement, type StatementStage } from '../statement.js';

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
type Room = Partial<Record<Budget, QuotaRoom>>;

/** Runs the operation within the rows and bytes left of the identity's budgets; what they cut says so. */
async function withinQuotaRoom(st: Statement, next: () => Promise<OperationResult>): Promise<OperationResult> {
  // A tool's own look-ups are not received by the caller and not counted (accounting), so not capped either.
  if (st.scope.metered === false) return next();
  const { governance, identity, role, meter } = st.scope;
  const room = governance.quotaRoom(identity, role, meter);
  if (room.rows === undefined && room.bytes === undefined) return next();
  const op = st.op;
  // Caps the operation itself applies, lowered to what is left (the warehouse then stops early).
  const cut: Partial<Record<Budget, QuotaRoom>> = {};
  let maxRows: number | undefined;
  if (op.kind === 'query' || op.kind === 'fetch') {
    const rows = op.kind === 'query' ? op.options.maxRows : op.page.limit;
    const bytes = op.kind === 'query' ? op.options.maxBytes : op.page.maxBytes;
    if (room.rows !== undefined && room.rows.left < rows) cut.rows = room.rows;
    if (room.bytes !== undefined && (bytes === undefined || room.bytes.left < bytes)) cut.bytes = room.bytes;
    refuseSpent(identity, role.name, cut);
    maxRows = cut.rows?.left ?? rows;
    const maxBytes = cut.bytes?.left ?? bytes;
    st.op = op.kind === 'query' ? { ...op, options: { ...op.options, maxRows, maxBytes } } : { ...op, page: { ...op.page, limit: maxRows, ...(maxBytes === undefined ? {} : { maxBytes }) } };
  } else if (op.kind === 'search') {
    if (room.rows !== undefined && room.rows.left < op.request.limit) cut.rows = room.rows;
    if (room.bytes !== undefined) cut.bytes = room.bytes;
    refuseSpent(identity, role.name, cut);
    maxRows = cut.rows?.left ?? op.request.limit;
    st.op = { ...op, request: { ...op.request, limit: maxRows } };
  }
  const result = await next();
  return heldToRoom(st, result, room, cut, maxRows);
}

/**
 * What came back, held to the room by the measure accounting charges: rows past what is left are dropped, and
 * the budget that cut (the lowered cap or this) is named on the result. A listing cannot be cut: it is refused.
 */
function heldToRoom(st: Statement, result: OperationResult, room: Room, lowered: Room, maxRows: number | undefined): OperationResult {
  const { identity, role } = st.scope;
  const received = returnedBy(st.op, result);
  if (received === undefined) return result;
  const { rows } = received;
  let keep = rows.length;
  let by: Budget | undefined;
  if (room.rows !== undefined && keep > room.rows.left) {
    keep = room.rows.left;
    by = 'rows';
  }
  if (received.bytes && room.bytes !== undefined) {
    let bytes = 0;
    for (let i = 0; i < keep; i++) {
      bytes += rowBytes(rows[i]);
      if (bytes > room.bytes.left) {
        keep = i;
        by = 'bytes';
        break;
      }
    }
  }
  if (st.op.kind === 'query' || st.op.kind === 'fetch') {
    const r = result as QueryResult;
    if (by !== undefined) return { ...r, rows: r.rows.slice(0, keep), rowCount: keep, truncated: true, truncatedBy: by, quotaCut: quotaCut(by, room[by]!) };
    if (!r.truncated) return r;
    // Which lowered cap cut: the reader says whether rows or bytes ran out first.
    const cutBy: Budget | undefined = r.truncatedBy === 'bytes' ? (lowered.bytes ? 'bytes' : undefined) : lowered.rows && maxRows !== undefined && r.rowCount >= maxRows ? 'rows' : undefined;
    return cutBy === undefined ? r : { ...r, quotaCut: quotaCut(cutBy, lowered[cutBy]!) };
  }
  if (st.op.kind === 'search') {
    const r = result as SearchReply;
    if (by !== undefined) return { ...r, results: r.results.slice(0, keep), quotaCut: quotaCut(by, room[by]!) };
    // As many results as the lowered limit: the service may have had more.
    return lowered.rows && maxRows !== undefined && r.results.length >= maxRows ? { ...r, quotaCut: quotaCut('rows', lowered.rows) } : r;
  }
  if (by !== undefined) throw answerTooLarge(identity, role.name, rows.length, by, room[by]!);
  return result;
}

/** Refuses an operation a budget it would be cut by has nothing left of (the call's earlier statements took it). */
function refuseSpent(identity: string, role: string, cut: Room): void {
  for (const budget of ['rows', 'bytes'] as const) {
    const spent = cut[budget];
    if (spent !== undefined && spent.left === 0) throw quotaSpent(identity, role, budget, spent);
  }
}

function quotaCut(metric: Budget, room: QuotaRoom): NonNullable<QueryResult['quotaCut']> {
  return { metric, left: room.left, limit: room.limit, windowMs: room.windowMs, resetsAt: isoSeconds(room.resetsAt) };
}

/**
 * Holds an answer a tool built itself (ToolCall.countReturned: search_objects' matches, completions) to what is
 * left of the budgets, counted as accounting counts rows: like a listing, it cannot say it was cut, so one
 * that does not fit is refused.
 */
export function refuseBeyondRoom(scope: Pick<Statement['scope'], 'governance' | 'identity' | 'role' | 'meter'>, rows: readonly unknown[]): void {
  const room = scope.governance.quotaRoom(scope.identity, scope.role, scope.meter);
  if (room.rows !== undefined && rows.length > room.rows.left) throw answerTooLarge(scope.identity, scope.role.name, rows.length, 'rows', room.rows);
  if (room.bytes !== undefined) {
    const bytes = rowsBytes(rows);
    if (bytes > room.bytes.left) throw answerTooLarge(scope.identity, scope.role.name, rows.length, 'bytes', room.bytes, bytes);
  }
}

/** The refusal of an answer that has no limit to lower and cannot say it was cut (a listing), larger than what is left. */
function answerTooLarge(identity: string, role: string, entries: number, metric: Budget, room: QuotaRoom, bytes?: number): SnowmuxError {
  const resetAt = isoSeconds(room.resetsAt);
  const size = metric === 'rows' ? `${entries} entries` : `${entries} entries, ${bytes} bytes,`;
  const left = metric === 'rows' ? `${room.left} row${room.left === 1 ? '' : 's'}` : `${room.left} bytes`;
  return new SnowmuxError(
    'QUOTA_EXCEEDED',
    `Quota exceeded for "${identity}" under role "${role}": this answer has ${size} and your quota has ${left} left ` +
      `(${describeLimit(metric, room.limit)} ${describeWindow(room.windowMs)}). Ask for less (a narrower scope, a smaller limit), or wait until the window resets at ${resetAt}.`,
    { details: { rule: `quota ${metric}`, identity, role, metric, limit: room.limit, left: room.left, entries, windowMs: room.windowMs, resetAt, retryAfterMs: room.retryAfterMs() } },
  );
}

/** The refusal for a call whose own earlier statements used up what was left of a budget. */
function quotaSpent(identity: string, role: string, metric: Budget, room: QuotaRoom): SnowmuxError {
  const resetAt = isoSeconds(room.resetsAt);
  return new SnowmuxError(
    'QUOTA_EXCEEDED',
    `Quota exceeded for "${identity}" under role "${role}": ${describeLimit(metric, room.limit)} ${describeWindow(room.windowMs)}, and this call has received all that was left. The window resets at ${resetAt}. ${quotaAdvice(role, metric, room.retryAfterMs())}`,
    { details: { rule: `quota ${metric}`, identity, role, metric, limit: room.limit, windowMs: room.windowMs, resetAt, retryAfterMs: room.retryAfterMs() } },
  );
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
