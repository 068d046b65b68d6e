/**
 * Statement stage: for roles with `row_cap_pushdown` (or that may not page results with fetch_results),
 * a query's result is only ever shown up to the call's row cap, so the cap goes into the statement —
 * `LIMIT cap+1`, the extra row telling the hub the result was truncated — and the warehouse stops early
 * (a top-N instead of a full sort, fewer rows computed and billed) instead of the hub discarding the rest.
 *
 * Only a plain top-level query is capped: one that starts with SELECT or WITH and has no LIMIT, FETCH,
 * OFFSET, TOP or SAMPLE of its own at the top level. Appending LIMIT to a query keeps its ORDER BY (the
 * LIMIT applies to the ordered result, UNIONs included) in both dialects; anything else runs unchanged.
 */
import type { StatementReading } from '../../guard/sql/sql-reading.js';
import type { QueryResult } from '../../warehouse/types.js';
import type { StatementStage } from '../statement.js';

const OWN_CAP = new Set(['LIMIT', 'FETCH', 'OFFSET', 'TOP', 'SAMPLE', 'INTO', 'FOR']);

export const rowCap: StatementStage = {
  name: 'row-cap',
  async run(st, next) {
    const op = st.op;
    const { role } = st.scope;
    if (op.kind !== 'query' || !(role.rowCapPushdown === true || !role.toolAllowed('fetch_results'))) return next();
    const first = st.reading?.statements[0];
    if (st.text === undefined || first === undefined || st.reading!.statements.length !== 1 || !cappable(first)) return next();
    const shown = op.options.maxRows;
    // On its own line: nothing the statement ends with (a comment the reading kept) can swallow it.
    st.text = `${st.text}\nLIMIT ${shown + 1}`;
    st.appendedLimit = shown + 1;
    const result = (await next()) as QueryResult;
    // The warehouse computed no more than that: paging must not offer rows that do not exist.
    return result.truncated ? { ...result, pageableRows: Math.min(result.pageableRows ?? shown, shown) } : result;
  },
};

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
