/**
 * Statement stage: what the operation used — rows, result bytes, the query id (a failed statement's too) —
 * into the call's meter (read by quotas, status and audit), and who owns each query id (for result paging). It acts on the way
 * back, so it counts what the caller actually receives (listings after the role's filter); a tool's own
 * look-ups (ToolCall.lookups: the schemas list_tables walks) are not received, so not counted.
 */
import { isSnowmuxError } from '../../../errors.js';
import { rowsBytes } from '../../governance/call-meter.js';
import { returnedBy, type OperationResults, type StatementStage } from '../statement.js';

export const accounting: StatementStage = {
  name: 'accounting',
  async run(st, next) {
    let result: Awaited<ReturnType<typeof next>>;
    try {
      result = await next();
    } catch (err) {
      // A failed, timed-out or may-have-run statement's query id is what the editor is told to look up
      // (query_history, QUERY_HISTORY in Snowflake): its record must carry it too.
      const queryId = isSnowmuxError(err) ? err.details?.['queryId'] : undefined;
      if (typeof queryId === 'string' && queryId !== '') st.scope.meter.queryId = queryId;
      throw err;
    }
    const { meter, governance, identity, role } = st.scope;
    // What the caller receives is what the quota-charge stage held to the budgets left: one definition for both.
    const received = st.scope.metered !== false ? returnedBy(st.op, result) : undefined;
    if (received) {
      meter.rows += received.rowCount;
      if (received.bytes) meter.bytes += rowsBytes(received.rows);
    }
    if (st.op.kind === 'query' || st.op.kind === 'fetch') {
      const r = result as OperationResults['query'];
      if (r.queryId) {
        meter.queryId = r.queryId;
        // A page of a known owner's result keeps that owner (its role and rules): the reader is not who computed it.
        if (st.op.kind === 'query' || st.resultOwner === undefined) await governance.resultOwners.remember(r.queryId, { identity, role: role.name, rules: role.objectRules });
      }
    } else if (st.op.kind === 'explain') {
      meter.scanEstimate = (result as OperationResults['explain']).estimate;
    }
    return result;
  },
};
