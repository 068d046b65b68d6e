/**
 * Statement stage: charges the call's query to its identity's quota (team-wide, atomically, on a team
 * hub), once per call. It sits after every stage that refuses by a rule (SQL and object policy, the row
 * cap, names, the queue, the team slot, the cost guard): a call any of them refuses never held any of the
 * budget, so refused calls running at the same time cannot make another call of the identity read as over
 * its quota. The quota call stage refused already-spent budgets before any login; this is where a call
 * that raced others to the last unit learns it lost. Only operations that carry SQL are charged (a listing
 * or a page of an earlier result is not a query).
 */
import { sqlOf, type StatementStage } from '../statement.js';

export const quotaCharge: StatementStage = {
  name: 'quota-charge',
  async run(st, next) {
    if (!sqlOf(st.op)) return next();
    const { governance, identity, role, meter } = st.scope;
    const refusal = await governance.chargeQuota(identity, role, meter);
    if (refusal) throw refusal;
    return next();
  },
};
