/**
 * Statement stage: for roles with `row_cap_pushdown` (or that may not page results with fetch_results),
 * and for SQL a tool writes to show only the first rows (query_view), a query's result is only ever shown
 * up to the call's row cap, so the cap goes into the statement — `LIMIT cap+1`, the extra row telling the
 * hub the result was truncated — and the warehouse stops early (a top-N instead of a full sort, fewer rows
 * computed and billed) instead of the hub discarding the rest.
 *
 * Only a plain top-level query is capped: one that starts with SELECT or WITH and has no LIMIT, FETCH,
 * OFFSET, TOP or SAMPLE of its own at the top level. Appending LIMIT to a query keeps its ORDER BY (the
 * LIMIT applies to the ordered result, UNIONs included) in both dialects; anything else runs unchanged.
 *
 * Where that LIMIT bound, the warehouse's result is not the query's: its total (cap+1) is no total, and
 * its last row only says that more exist. The result says so (`cappedAt`, no total), and pages of it
 * (fetch_results, which passes this stage too) stop at the cap instead of ending on that row as if it
 * were the last.
 */
import { SnowmuxError } from '../../../errors.js';
import type { StatementReading } from '../../guard/sql/sql-reading.js';
import type { QueryResult } from '../../warehouse/types.js';
import type { Operation, Statement, StatementStage } from '../statement.js';

const OWN_CAP = new Set(['LIMIT', 'FETCH', 'OFFSET', 'TOP', 'SAMPLE', 'INTO', 'FOR']);

export const rowCap: StatementStage = {
  name: 'row-cap',
  async run(st, next) {
    const op = st.op;
    if (op.kind === 'fetch') return pageWithinCap(st, op, next);
    const { role } = st.scope;
    if (op.kind !== 'query' || !(op.options.pushRowCap === true || role.rowCapPushdown === true || !role.toolAllowed('fetch_results'))) return next();
    const first = st.reading?.statements[0];
    if (st.text === undefined || first === undefined || st.reading!.statements.length !== 1 || !cappable(first)) return next();
    // On its own line: nothing the statement ends with (a comment the reading kept) can swallow it.
    st.text = `${st.text}\nLIMIT ${op.options.maxRows + 1}`;
    st.appendedLimit = op.options.maxRows + 1;
    const result = (await next()) as QueryResult;
    // As it ran: rules-current lowers it to the role's cap when a reload lowered that while the statement waited.
    const shown = st.appendedLimit - 1;
    const bound = result.totalRows === undefined ? result.truncated : result.totalRows > shown;
    if (!bound) return result; // the whole result: the LIMIT cut nothing
    if (result.queryId !== undefined) st.scope.governance.cappedResults.set(result.queryId, shown);
    return capped(result, shown);
  },
};

/** A page of a result whose statement ran with the cap in it: never past the cap, never "complete" at it. */
async function pageWithinCap(st: Statement, op: Extract<Operation, { kind: 'fetch' }>, next: () => Promise<unknown>): Promise<QueryResult> {
  const shown = st.scope.governance.cappedResults.get(op.queryId);
  if (shown === undefined) return (await next()) as QueryResult;
  const { offset } = op.page;
  if (offset >= shown) {
    throw new SnowmuxError(
      'RESULT_ROWS_NOT_KEPT',
      `Query ${op.queryId} ran with the row cap in its SQL (LIMIT ${shown + 1}), so it has no rows past its first ${shown}: none from offset ${offset}. ` +
        'Re-run the query with ORDER BY and LIMIT/OFFSET (or a narrower filter) to reach later rows.',
      { details: { keptRows: shown } },
    );
  }
  const result = (await next()) as QueryResult;
  const room = shown - offset;
  if (result.rowCount < room) return capped(result, shown);
  // The page reached the cap: the row after it only told that more rows exist.
  const rows = result.rows.slice(0, room);
  return capped({ ...result, rows, rowCount: rows.length }, shown);
}

function capped(result: QueryResult, shown: number): QueryResult {
  const { totalRows: _noTotal, ...rest } = result;
  return { ...rest, truncated: true, truncatedBy: result.truncatedBy ?? 'rows', cappedAt: shown, pageableRows: Math.min(result.pageableRows ?? shown, shown) };
}

/** A query with no row limit of its own at the top level. */
export function cappable(statement: StatementReading): boolean {
  if (statement.type !== 'SELECT') return false;
  const opening = statement.tokens[0];
  if (opening?.kind !== 'word' || (opening.upper !== 'SELECT' && opening.upper !== 'WITH')) return false;
  let depth = 0;
  for (const t of statement.tokens) {
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[' || t.text === '{')) depth++;
    else if (t.kind === 'punct' && (t.text === ')' || t.text === ']' || t.text === '}')) depth--;
    else if (depth === 0 && t.kind === 'word' && OWN_CAP.has(t.upper ?? '')) return false;
  }
  return depth === 0;
}
