/**
 * Statement stage: a slot in the warehouse's fair queue (at most the backend's capacity running, each
 * session its share). Queue wait and run time go into the call's meter. Where the backend's connections
 * bound the queue, a call waits no longer than the backend would for one of them (a Snowflake pool's
 * acquire_timeout_ms), then is refused with the backend's own POOL_EXHAUSTED.
 */
import { SnowmuxError } from '../../../errors.js';
import { failureCode } from '../../observe/tracing.js';
import { contextOf, signalOf, type StatementStage } from '../statement.js';

export const queue: StatementStage = {
  name: 'queue',
  async run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The queue stage ran before the warehouse was opened.');
    const { governance, sessionKey, meter, trace } = st.scope;
    const span = trace?.span.child('queue wait');
    const warehouse = st.warehouse;
    const scheduler = governance.schedulerFor(warehouse);
    // A pool's acquire timeout bounds the wait for its connections here too (POOL_EXHAUSTED, not a silent
    // wait until the call's deadline, which then blamed the query).
    const waitMs = governance.queueWaitMsFor(warehouse);
    const bounded = waitMs === undefined ? undefined : new AbortController();
    const callSignal = signalOf(st.op);
    const started = performance.now();
    const timer = bounded && setTimeout(() => bounded.abort(warehouse.capacityBusy!(performance.now() - started)), waitMs);
    // A client that asked for progress hears that its call waits for a slot (and how busy the warehouse
    // is) instead of silence until it runs: the warehouse reports progress only once it runs the statement.
    const onProgress = contextOf(st.op).onProgress;
    const progress = onProgress && setInterval(() => {
      const { running, queued, maxConcurrent, sessions } = scheduler.snapshot();
      const own = sessions.find((s) => s.sessionKey === sessionKey)?.running ?? 0;
      // A free slot it may not take: the one kept for other editors while this one runs the rest.
      const why = running < maxConcurrent ? `; this editor runs ${own} of the ${maxConcurrent} slots, and the last is kept for other editors` : '';
      onProgress({ phase: 'queued', elapsedMs: performance.now() - started, message: `Waiting for a free slot on ${warehouse.info().name}: ${running} running, ${queued} waiting${why}` });
    }, QUEUED_PROGRESS_MS);
    let slot;
    try {
      slot = await scheduler.schedule(sessionKey, bounded ? AbortSignal.any([callSignal, bounded.signal]) : callSignal);
    } catch (err) {
      span?.end(undefined, failureCode(err));
      throw err;
    } finally {
      clearTimeout(timer);
      clearInterval(progress);
    }
    span?.end({ 'snowmux.queue_wait_ms': slot.waitMs });
    meter.queueWaitMs += slot.waitMs;
    const running = performance.now();
    try {
      return await next();
    } finally {
      meter.runMs += performance.now() - running;
      slot.release();
    }
  },
};

/** How often a waiting call's client hears that it still waits (the warehouses' own progress pace). */
const QUEUED_PROGRESS_MS = 1000;
