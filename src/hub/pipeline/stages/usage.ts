/**
 * Call stage: what the call used (queries, rows, bytes) counts against the identity's quota under the
 * call's role — locally, and team-wide when there is a team (awaited, so the caller's next call on any
 * replica sees it). Acts on the way back, for failed calls too (rows already read were paid for).
 *
 * A statement handed to the warehouse counts as a query whatever became of it: one that failed at run
 * time, ran past its timeout or was cancelled had the warehouse working (and billing) all the same. Before,
 * only successful statements counted, and a user on a budget could spend credits without limit on
 * statements that fail or time out. Not counted: statements the hub refused, and those the warehouse never
 * started (no connection, no login, no free slot, an object that does not exist or is not the role's, an
 * error the warehouse raised while parsing or compiling it).
 */
import { isSnowmuxError } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

/**
 * Failures that mean the statement never ran: it never reached a warehouse session, or the warehouse
 * refused it while compiling (an object that does not exist or is not the role's).
 */
const NEVER_STARTED: ReadonlySet<string> = new Set([
  'WAREHOUSE_UNAVAILABLE', 'WAREHOUSE_CIRCUIT_OPEN', 'WAREHOUSE_CLOSED', 'POOL_EXHAUSTED', 'AUTH_FAILED', 'HUB_BUSY', 'HUB_SHUTTING_DOWN',
  'OBJECT_NOT_FOUND', 'PERMISSION_DENIED', 'INVALID_IDENTIFIER',
]);

export const usage: CallStage = {
  name: 'usage',
  async run(call, next) {
    let ok = false;
    let code: string | undefined;
    let notRun = false;
    try {
      const result = await next();
      ok = result.isError !== true;
      if (!ok) code = (result._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;
      return result;
    } catch (err) {
      code = isSnowmuxError(err) ? err.code : undefined;
      // The warehouse says the statement failed before it ran (parsing, binding, compiling).
      notRun = isSnowmuxError(err) && (err.details as { notRun?: unknown } | undefined)?.notRun === true;
      throw err;
    } finally {
      const spent = ok || (call.meter.statementSent === true && !notRun && (code === undefined || !NEVER_STARTED.has(code)));
      // Counted under the role the call was admitted with (no role: refused before any rule admitted it).
      if (call.role) await call.env.governance.settle(call.identity, call.role, call.meter, call.sql !== null && spent);
    }
  },
};
