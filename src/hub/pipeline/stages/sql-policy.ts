/**
 * Statement stage: the role's SQL policy — read-only unless the role may write, one statement per call,
 * known statement types — judged on one reading of the SQL in the dialect of the engine that will run it
 * (known from the target, before any login). Later stages use that reading; nothing lexes the SQL again.
 * On Snowflake, LAST_QUERY_ID() is refused in any role: on a pooled connection it names another call's statement.
 */
import { SnowmuxError } from '../../../errors.js';
import { checkSqlReading } from '../../guard/sql/classifier.js';
import { policyDenied } from '../../policy/policy.js';
import { callsLastQueryId, resultReads } from '../../policy/result-reads.js';
import { sqlOf, type StatementStage } from '../statement.js';

export const sqlPolicy: StatementStage = {
  name: 'sql-policy',
  run(st, next) {
    const sql = sqlOf(st.op);
    if (!sql) return next();
    const policy = st.scope.role.sqlPolicy();
    // SQL the caller did not write (Cortex Analyst's) only reads, whatever the role may do.
    if (st.op.kind === 'query' && st.op.options.readOnly === true) policy.allowWrite = false;
    const { verdict, reading } = checkSqlReading(sql.sql, { ...policy, dialect: st.scope.target.kind });
    if (!verdict.allowed) {
      throw new SnowmuxError(verdict.code, verdict.message, { details: { statementType: verdict.statementType, rule: verdict.rule } });
    }
    // Inside a result reader (RESULT_SCAN(LAST_QUERY_ID())) the object-policy stage refuses it, with that reader's advice.
    if (st.scope.target.kind === 'snowflake' && reading !== undefined && callsLastQueryId(reading) && !resultReads(reading).some((r) => r.lastQueryId)) {
      throw policyDenied(
        "Query refused: LAST_QUERY_ID() names the previous statement of the pooled connection this call runs on, which was another call's, possibly another user's (rule: result-owner). " +
          `Use the query id execute_query reported, written as a literal (RESULT_SCAN('<query id>'))${st.scope.role.toolAllowed('fetch_results') ? ', or fetch_results to page a result' : ''}.`,
        { rule: 'result-owner', via: 'LAST_QUERY_ID' },
      );
    }
    st.reading = reading;
    st.text = verdict.statement.text;
    return next();
  },
};
