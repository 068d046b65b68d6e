/** Statement stage: bounded retries of transient failures, for operations that only read. */
import { withRetry } from '../../guard/retry.js';
import { onlyReads, signalOf, type StatementStage } from '../statement.js';

export const retry: StatementStage = {
  name: 'retry',
  run(st, next) {
    const { attempts, budgetMs } = st.scope.governance.retryPolicy;
    return withRetry(next, { readOnly: onlyReads(st), retries: attempts, totalBudgetMs: budgetMs, signal: signalOf(st.op) });
  },
};
