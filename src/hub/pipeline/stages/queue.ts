/**
 * Statement stage: a slot in the hub's fair queue (limits.max_concurrent_queries for every warehouse together,
 * at most the backend's capacity on this one, each session its share). Queue wait and run time go into the
 * call's meter, the wait also for a call that leaves the queue without a slot. Where the backend's connections bound the queue, a call waits no longer than the backend would
 * for one of them (a Snowflake pool's acquire_timeout_ms), then is refused with the backend's own POOL_EXHAUSTED.
 */
import { SnowmuxError } from '../../../errors.js';
import { failureCode } from '../../observe/tracing.js';
import { contextOf, signalOf, type StatementStage } from '../statement.js';
import { timerDelay } from '../../../timer-delay.js';

export const queue: StatementStage = {
  name: 'queue',
  async run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The queue stage ran before the warehouse was opened.');
    const { governance, sessionKey, identity, meter, trace } = st.scope;
    const span = trace?.span.child('queue wait');
    const warehouse = st.warehouse;
    const scheduler = governance.scheduler;
    const pool = governance.poolFor(warehouse);
    // A pool's acquire timeout bounds the wait for its connections here too (POOL_EXHAUSTED, not a silent
    // wait until the call's deadline, which then blamed the query).
    const waitMs = governance.queueWaitMsFor(warehouse);
    const bounded = waitMs === undefined ? undefined : new AbortController();
    const callSignal = signalOf(st.op);
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Only while its own pool is full does the call wait for the backend's connections: a call that waits for
    // the hub-wide cap (other warehouses' calls) waits on until its deadline, like any call in the queue.
    const bound = (): void => {
      timer = setTimeout(() => {
        const { running, maxConcurrent } = scheduler.poolSnapshot(pool);
        if (running >= maxConcurrent) bounded!.abort(warehouse.capacityBusy!(performance.now() - started));
        else bound();
      }, timerDelay(waitMs!));
    };
    if (bounded) bound();
    // A client that asked for progress hears that its call waits for a slot (and how busy the warehouse
    // is) instead of silence until it runs: the warehouse reports progress only once it runs the statement.
    const onProgress = contextOf(st.op).onProgress;
    const progress = onProgress && setInterval(() => {
      const hub = scheduler.snapshot();
      const own = scheduler.poolSnapshot(pool);
      const mine = hub.sessions.find((s) => s.sessionKey === sessionKey)?.running ?? 0;
      const why =
        own.running >= own.maxConcurrent
          ? `${own.running} running there (all it runs at once), ${own.queued} waiting`
          : hub.running >= hub.maxConcurrent
            ? `the hub's ${hub.maxConcurrent} slots (limits.max_concurrent_queries, all warehouses together) are taken, ${hub.queued} waiting`
            : // A free slot it may not take: the one kept for other editors while this one (or its user's) runs the rest.
              `this editor runs ${mine} of the hub's ${hub.maxConcurrent} slots, and it or its user's editors together run all but one of them or of the ${own.maxConcurrent} there; the last is kept for other editors`;
      onProgress({ phase: 'queued', elapsedMs: performance.now() - started, message: `Waiting for a free slot on ${warehouse.info().name}: ${why}` });
    }, QUEUED_PROGRESS_MS);
    let slot;
    meter.queued = true;
    try {
      slot = await scheduler.schedule(sessionKey, bounded ? AbortSignal.any([callSignal, bounded.signal]) : callSignal, pool, identity);
    } catch (err) {
      // A call that left the queue (cancelled, timed out, refused after waiting) waited all the same, and
      // that wait is most often why it failed: the record and the queue-wait metric must show it.
      const waited = performance.now() - started;
      meter.queueWaitMs += waited;
      span?.end({ 'snowmux.queue_wait_ms': waited }, failureCode(err));
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
