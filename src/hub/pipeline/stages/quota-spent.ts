/**
 * Statement stage: a statement that carries SQL is refused when a budget such statements spend (`queries`,
 * `scan_bytes`) was already spent as its call began (the quota call stage found it), first, before any login.
 * Operations that carry none (a listing, a page of an earlier result) are charged neither, so they go on.
 */
import { sqlOf, type StatementStage } from '../statement.js';

export const quotaSpent: StatementStage = {
  name: 'quota-spent',
  run(st, next) {
    const refusal = st.scope.meter.queryQuotaSpent;
    if (refusal !== undefined && sqlOf(st.op)) throw refusal;
    return next();
  },
};
