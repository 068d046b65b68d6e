/**
 * Statement stage: the role's SQL policy — read-only unless the role may write, one statement per call,
 * known statement types — judged on one reading of the SQL in the dialect of the engine that will run it
 * (known from the target, before any login). Later stages use that reading; nothing lexes the SQL again.
 */
import { SnowmuxError } from '../../../errors.js';
import { checkSqlReading } from '../../guard/sql/classifier.js';
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
    st.reading = reading;
    st.text = verdict.statement.text;
    return next();
  },
};
