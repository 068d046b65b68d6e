/**
 * Statement stage: on a team hub with limits.team_max_concurrent_queries, a slot of the team-wide cap for
 * this warehouse profile, taken after the replica's own fair queue has chosen this call (so each replica's
 * sessions still get their share) and held as a lease in Redis that a crashed replica cannot leak. While
 * Redis cannot answer, each replica's own queue is the limit.
 */
import { SnowmuxError } from '../../../errors.js';
import { epochMs, failureCode } from '../../observe/tracing.js';
import { signalOf, type StatementStage } from '../statement.js';

export const teamSlot: StatementStage = {
  name: 'team-slot',
  async run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The team-slot stage ran before the warehouse was opened.');
    const started = performance.now();
    const startedAt = st.scope.trace ? epochMs() : 0;
    // Waiting for the team's slot is queueing, not running: the queue stage around this one times both,
    // so the wait moves from run time to queue wait — also for a call that stops waiting (cancel, timeout).
    const waited = (): void => {
      const ms = performance.now() - started;
      st.scope.meter.queueWaitMs += ms;
      st.scope.meter.runMs -= ms;
    };
    let lease;
    try {
      lease = await st.scope.governance.teamSlot(st.warehouse, signalOf(st.op));
    } catch (err) {
      waited();
      st.scope.trace?.span.child('team slot wait', undefined, startedAt).end(undefined, failureCode(err));
      throw err;
    }
    if (!lease) return next();
    st.scope.trace?.span.child('team slot wait', undefined, startedAt).end();
    waited();
    try {
      return await next();
    } finally {
      lease.release();
    }
  },
};
