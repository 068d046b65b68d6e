/**
 * Statement stage: the database and schema a call asks to run in. The warehouse switches the session to
 * them (USE) before the statement, and an unqualified function, procedure or model the statement calls
 * resolves there without naming a table the object rules could judge (`SELECT get_salary(42)` with
 * schema HR reads HR), so a role with object restrictions must be allowed something in that context
 * before anything is sent. Defaults from the profile are the admin's choice and are not judged here.
 */
import { enforceCallContext } from '../../policy/enforce.js';
import { sessionRef } from '../../names/session-names.js';
import { contextOf, namesToJudge, type StatementStage } from '../statement.js';

export const callContext: StatementStage = {
  name: 'call-context',
  run(st, next) {
    const { database, schema } = contextOf(st.op);
    if (database === undefined && schema === undefined) return next();
    const target = st.scope.target;
    // Without a schema the session lands in the database's default one; judging the database is enough then.
    const db = database ?? target.defaultDatabase;
    // As the session reads them: a `"weather"` given as the schema is WEATHER under QUOTED_IDENTIFIERS_IGNORE_CASE.
    enforceCallContext(st.scope.role, sessionRef(schema === undefined ? { database: db } : { database: db, schema }, namesToJudge(st.scope)));
    return next();
  },
};
