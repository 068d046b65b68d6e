/**
 * Statement stage: opens the session's warehouse — the first pool and login for a Snowflake profile —
 * only now, after every rule that can refuse the call without one has passed.
 */
import type { StatementStage } from '../statement.js';

export const openWarehouse: StatementStage = {
  name: 'open-warehouse',
  async run(st, next) {
    // Timed: an open that takes the call's time (a slow login) is named when the call times out.
    const { meter } = st.scope;
    const started = performance.now();
    meter.openingSince = started;
    try {
      st.warehouse = await st.scope.target.open();
    } finally {
      meter.openingSince = undefined;
      meter.openMs = (meter.openMs ?? 0) + (performance.now() - started);
    }
    return next();
  },
};
