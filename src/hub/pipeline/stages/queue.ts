/**
 * Statement stage: a slot in the warehouse's fair queue (at most the backend's capacity running, each
 * session its share). Queue wait and run time go into the call's meter.
 */
import { SnowmuxError } from '../../../errors.js';
import { failureCode } from '../../observe/tracing.js';
import { signalOf, type StatementStage } from '../statement.js';

export const queue: StatementStage = {
  name: 'queue',
  async run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The queue stage ran before the warehouse was opened.');
    const { governance, sessionKey, meter, trace } = st.scope;
    const span = trace?.span.child('queue wait');
    let slot;
    try {
      slot = await governance.schedulerFor(st.warehouse).schedule(sessionKey, signalOf(st.op));
    } catch (err) {
      span?.end(undefined, failureCode(err));
      throw err;
    }
    span?.end({ 'snowmux.queue_wait_ms': slot.waitMs });
    meter.queueWaitMs += slot.waitMs;
    const started = performance.now();
    try {
      return await next();
    } finally {
      meter.runMs += performance.now() - started;
      slot.release();
    }
  },
};
