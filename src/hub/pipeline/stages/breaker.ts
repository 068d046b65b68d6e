/** Statement stage: the warehouse's circuit breaker — fail fast while the backend is down, probe to recover. */
import { SnowmuxError } from '../../../errors.js';
import type { StatementStage } from '../statement.js';

export const breaker: StatementStage = {
  name: 'breaker',
  run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The breaker stage ran before the warehouse was opened.');
    return st.scope.governance.breakerFor(st.warehouse).run(next, st.scope.pauseDeadline);
  },
};
