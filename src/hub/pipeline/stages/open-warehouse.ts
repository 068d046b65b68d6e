/**
 * Statement stage: opens the session's warehouse — the first pool and login for a Snowflake profile —
 * only now, after every rule that can refuse the call without one has passed.
 */
import type { StatementStage } from '../statement.js';

export const openWarehouse: StatementStage = {
  name: 'open-warehouse',
  async run(st, next) {
    st.warehouse = await st.scope.target.open();
    return next();
  },
};
