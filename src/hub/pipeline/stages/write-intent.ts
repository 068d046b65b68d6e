/**
 * Statement stage, innermost: a statement that may change data is recorded (`write_started` in the audit
 * log) before the warehouse gets it. A call's record is written when the call ends; a hub killed while a
 * write runs never writes it, and the write may have committed — the one record that matters most would be
 * missing. Reads pass untouched (they change nothing a record must account for), so this costs only writes,
 * which a role must be granted. After retry: writes are not retried, so each gets one.
 */
import { onlyReads, type Statement, type StatementStage } from '../statement.js';

export const writeIntent: StatementStage = {
  name: 'write-intent',
  async run(st, next) {
    const announce = st.scope.announceWrite;
    if (announce !== undefined && st.text !== undefined && mayWrite(st)) await announce(st.text);
    return next();
  },
};

/** A query its role may write with, whose reading is not a plain read (a hazard: DML, DDL, a call…). */
function mayWrite(st: Statement): boolean {
  return st.op.kind === 'query' && !onlyReads(st) && st.reading?.statements.some((s) => !s.readOnly) !== false;
}
