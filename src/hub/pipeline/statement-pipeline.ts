/**
 * The statement stages, in order. Every warehouse operation of every tool passes all of them: the rules
 * that need no warehouse first (a quota a statement with SQL would spend and the call found spent, SQL policy, the call's database and schema, object policy), then the login, the cache, the names only the
 * catalog can resolve, the queue, the rules judged again when a reload changed them while the statement waited, the
 * cost guard (the engine's estimate, before anything runs), the quota's charge (after every rule, so a refused call
 * holds none of the budget), the breaker and retries, and the warehouse. Accounting wraps them all and acts on the way back.
 * Adding a rule is one stage file in stages/ and one entry here (plus its test).
 */
import { epochMs, failureCode } from '../observe/tracing.js';
import type { StatementStage, OperationResult, Statement } from './statement.js';
import { runStages } from './stage.js';
import { accounting } from './stages/accounting.js';
import { breaker } from './stages/breaker.js';
import { callContext } from './stages/call-context.js';
import { execute } from './stages/execute.js';
import { metadataCache } from './stages/metadata-cache.js';
import { nameResolution } from './stages/name-resolution.js';
import { objectPolicy } from './stages/object-policy.js';
import { openWarehouse } from './stages/open-warehouse.js';
import { queue } from './stages/queue.js';
import { quotaCharge } from './stages/quota-charge.js';
import { quotaSpent } from './stages/quota-spent.js';
import { writeIntent } from './stages/write-intent.js';
import { retry } from './stages/retry.js';
import { rowCap } from './stages/row-cap.js';
import { rulesCurrent } from './stages/rules-current.js';
import { scanLimit } from './stages/scan-limit.js';
import { sqlPolicy } from './stages/sql-policy.js';
import { teamSlot } from './stages/team-slot.js';

export const STATEMENT_STAGES: readonly StatementStage[] = [
  accounting,
  quotaSpent,
  sqlPolicy,
  callContext,
  objectPolicy,
  rowCap,
  openWarehouse,
  metadataCache,
  nameResolution,
  queue,
  teamSlot,
  rulesCurrent,
  scanLimit,
  quotaCharge,
  breaker,
  retry,
  writeIntent,
];

export function runStatement(st: Statement): Promise<OperationResult> {
  // A stage's own look-up is one more statement of the call: the same rules, its rows not what the caller receives.
  st.lookup = async (op) => (await runStatement({ op, scope: { ...st.scope, metered: false } })) as never;
  const trace = st.scope.trace;
  if (!trace) return runStages(STATEMENT_STAGES, st, () => execute(st));
  return runStages(STATEMENT_STAGES, st, () => executeTraced(st)).finally(() => (trace.lastResultAt = epochMs()));
}

/** The warehouse's own part of a statement, as a span (one per attempt when reads are retried). */
async function executeTraced(st: Statement): Promise<OperationResult> {
  const span = st.scope.trace!.span.child(`warehouse ${st.op.kind}`, { 'db.system.name': st.scope.target.kind, 'snowmux.profile': st.scope.target.name });
  try {
    const result = await execute(st);
    const query = st.op.kind === 'query' || st.op.kind === 'fetch' ? (result as { queryId?: string; rowCount: number }) : undefined;
    span.end(query ? { 'snowmux.query_id': query.queryId, 'snowmux.rows': query.rowCount } : undefined);
    return result;
  } catch (err) {
    span.end(undefined, failureCode(err));
    throw err;
  }
}
