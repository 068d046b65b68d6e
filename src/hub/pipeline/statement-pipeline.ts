/**
 * The statement stages, in order. Every warehouse operation of every tool passes all of them: the rules
 * that need no warehouse first (SQL policy, object policy), then the login, the cache, the queue, the
 * cost guard (the engine's estimate, before anything runs), the breaker and retries, and the warehouse. Accounting wraps them all and acts on the way back.
 * Adding a rule is one stage file in stages/ and one entry here (plus its test).
 */
import type { StatementStage, OperationResult, Statement } from './statement.js';
import { runStages } from './stage.js';
import { accounting } from './stages/accounting.js';
import { breaker } from './stages/breaker.js';
import { execute } from './stages/execute.js';
import { metadataCache } from './stages/metadata-cache.js';
import { objectPolicy } from './stages/object-policy.js';
import { openWarehouse } from './stages/open-warehouse.js';
import { queue } from './stages/queue.js';
import { retry } from './stages/retry.js';
import { rowCap } from './stages/row-cap.js';
import { scanLimit } from './stages/scan-limit.js';
import { sqlPolicy } from './stages/sql-policy.js';
import { teamSlot } from './stages/team-slot.js';

export const STATEMENT_STAGES: readonly StatementStage[] = [
  accounting,
  sqlPolicy,
  objectPolicy,
  rowCap,
  openWarehouse,
  metadataCache,
  queue,
  teamSlot,
  scanLimit,
  breaker,
  retry,
];

export function runStatement(st: Statement): Promise<OperationResult> {
  return runStages(STATEMENT_STAGES, st, () => execute(st));
}
