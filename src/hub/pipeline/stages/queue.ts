/**
 * Statement stage: a slot in the hub's fair queue (limits.max_concurrent_queries for every warehouse together,
 * at most the backend's capacity on this one, each session its share). Queue wait and run time go into the
 * call's meter, the wait also for a call that leaves the queue without a slot. Where the backend's connections bound the queue, a call waits no longer than the backend would
 * for one of them (a Snowflake pool's acquire_timeout_ms), then is refused with the backend's own POOL_EXHAUSTED.
 *
 * A statement is given a slot only with at least `runFloorMs` of its call's deadline left: a call that waited
 * in the queue until less was left leaves it then (QUERY_TIMEOUT saying it waited, behind what, and that nothing
 * was sent), rather than being started, billed and cancelled at once when its deadline comes.
 */
import { SnowmuxError } from '../../../errors.js';
import { failureCode } from '../../observe/tracing.js';
import { contextOf, signalOf, type StatementStage } from '../statement.js';
import { timerDelay } from '../../../timer-delay.js';
import { openingMs } from '../../governance/call-meter.js';
import type { FairScheduler, Release, SchedulerPool } from '../../guard/fair-scheduler.js';

export const queue: StatementStage = {
  name: 'queue',
  async run(st, next) {
    if (!st.warehouse) throw new SnowmuxError('INTERNAL_ERROR', 'The queue stage ran before the warehouse was opened.');
    const { governance, sessionKey, identity, meter, trace } = st.scope;
    const span = trace?.span.child('queue wait');
    const warehouse = st.warehouse;
    const scheduler = governance.scheduler;
    const pool = governance.poolFor(warehouse);
    const { deadline } = st.scope;
    const floorMs = deadline === undefined ? 0 : runFloorMs(deadline.totalMs);
    const waitingFor = (): string => whyWaiting(scheduler, pool, sessionKey);
    const tooLate = (waited: number): SnowmuxError => notStarted(warehouse.info().name, waited, deadline!, floorMs, waitingFor(), scheduler.estimateRetryAfterMs(pool), openingMs(meter));
    if (deadline !== undefined && deadline.leftMs() < floorMs) throw tooLate(0);
    const callSignal = signalOf(st.op);
    meter.queued = true;
    // Most calls find a slot free: only a call that must wait arms the wait's timers and signals.
    const slot = (callSignal.aborted ? undefined : scheduler.startNow(sessionKey, pool, identity)) ?? (await waitForSlot());
    span?.end({ 'snowmux.queue_wait_ms': slot.waitMs });
    meter.queueWaitMs += slot.waitMs;
    // Granted in the same turn the floor was crossed: the slot goes to the next call instead.
    if (deadline !== undefined && deadline.leftMs() < floorMs) {
      slot.release();
      throw tooLate(slot.waitMs);
    }
    const running = performance.now();
    try {
      return await next();
    } finally {
      meter.runMs += performance.now() - running;
      slot.release();
    }

    async function waitForSlot(): Promise<Release> {
      // A pool's acquire timeout bounds the wait for its connections here too (POOL_EXHAUSTED, not a silent
      // wait until the call's deadline, which then blamed the query).
      const waitMs = governance.queueWaitMsFor(warehouse);
      const bounded = waitMs === undefined ? undefined : new AbortController();
      // Leaves the queue while the floor is still left (the deadline itself would end the call a moment later).
      const late = deadline === undefined ? undefined : new AbortController();
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
      const lateTimer = late && setTimeout(() => late.abort(tooLate(performance.now() - started)), timerDelay(deadline!.leftMs() - floorMs));
      // A client that asked for progress hears that its call waits for a slot (and how busy the warehouse
      // is) instead of silence until it runs: the warehouse reports progress only once it runs the statement.
      const onProgress = contextOf(st.op).onProgress;
      const progress = onProgress && setInterval(() => {
        onProgress({ phase: 'queued', elapsedMs: performance.now() - started, message: `Waiting for a free slot on ${warehouse.info().name}: ${waitingFor()}` });
      }, QUEUED_PROGRESS_MS);
      const signals = [callSignal, ...(bounded ? [bounded.signal] : []), ...(late ? [late.signal] : [])];
      try {
        return await scheduler.schedule(sessionKey, signals.length === 1 ? callSignal : AbortSignal.any(signals), pool, identity);
      } catch (err) {
        // A call that left the queue (cancelled, timed out, refused after waiting) waited all the same, and
        // that wait is most often why it failed: the record and the queue-wait metric must show it.
        const waited = performance.now() - started;
        meter.queueWaitMs += waited;
        span?.end({ 'snowmux.queue_wait_ms': waited }, failureCode(err));
        throw err;
      } finally {
        clearTimeout(timer);
        clearTimeout(lateTimer);
        clearInterval(progress);
      }
    }
  },
};

/** How often a waiting call's client hears that it still waits (the warehouses' own progress pace). */
const QUEUED_PROGRESS_MS = 1000;

/** The most of a call's deadline a statement must have left to be given a slot (see runFloorMs). */
const MAX_RUN_FLOOR_MS = 1000;

/**
 * The least of its call's deadline a statement must have left to be given a slot: a tenth of the deadline, at
 * most 1 s (300 ms of a 3 s hub.call_timeout_ms; 1 s of the default 5 min). Less than that is not time to run
 * a statement (a Snowflake login-free round trip alone is ~100 ms), only to send, bill and cancel it.
 */
export function runFloorMs(deadlineMs: number): number {
  return Math.min(MAX_RUN_FLOOR_MS, Math.floor(deadlineMs / 10));
}

/** What a waiting call is behind now, in the words of the setting that decides it. */
function whyWaiting(scheduler: FairScheduler, pool: SchedulerPool, sessionKey: string): string {
  const hub = scheduler.snapshot();
  const own = scheduler.poolSnapshot(pool);
  const mine = hub.sessions.find((s) => s.sessionKey === sessionKey)?.running ?? 0;
  return own.running >= own.maxConcurrent
    ? `${own.running} running there (all it runs at once), ${own.queued} waiting`
    : hub.running >= hub.maxConcurrent
      ? `the hub's ${hub.maxConcurrent} slots (limits.max_concurrent_queries, all warehouses together) are taken, ${hub.queued} waiting`
      : // A free slot it may not take: the one kept for other editors while this one (or its user's) runs the rest.
        `this editor runs ${mine} of the hub's ${hub.maxConcurrent} slots, and it or its user's editors together run all but one of them or of the ${own.maxConcurrent} there; the last is kept for other editors`;
}

/** A statement not started because too little of its call's deadline was left: the hub was busy, not the query slow. */
function notStarted(name: string, waitedMs: number, deadline: { totalMs: number; leftMs(): number }, floorMs: number, why: string, retryAfterMs: number, openedMs = 0): SnowmuxError {
  const waited = Math.round(waitedMs);
  const left = Math.max(0, Math.round(deadline.leftMs()));
  const short = `only ${left} ms of its ${deadline.totalMs} ms call timeout (hub.call_timeout_ms) were left, less than the ${floorMs} ms a statement is given at least; nothing was sent to the warehouse.`;
  const opened = Math.round(openedMs);
  if (waited === 0 && opened * 2 >= deadline.totalMs - left) {
    // Opening the warehouse took the time (the embedded database's open, a Snowflake login): asking for less
    // would not help, and the next call finds it open.
    return new SnowmuxError(
      'QUERY_TIMEOUT',
      `The call's statement on ${name} was not started: opening the warehouse (the embedded database's open, or a Snowflake login) took ${opened} ms of the call's time, and ${short} The query is not why. ` +
        `Call again: the warehouse stays open for the next call. If opening is always this slow, \`snowmux status\` and \`snowmux doctor --login\` show why (the account, the network, a proxy), or an operator can raise hub.call_timeout_ms.`,
      { details: { leftMs: left, floorMs, openMs: opened } },
    );
  }
  if (waited === 0) {
    // Its earlier statements took the time (a tool that runs several): not the queue's doing.
    return new SnowmuxError('QUERY_TIMEOUT', `The call's next statement on ${name} was not started: ${short} Ask for less in one call, or raise hub.call_timeout_ms.`, {
      details: { leftMs: left, floorMs },
    });
  }
  return new SnowmuxError(
    'QUERY_TIMEOUT',
    `The call waited ${waited} ms in the hub's queue for a slot on ${name} (${why}) and was not started: ${short} The hub is busy; the query itself is not why. ` +
      `Retry in a while; if calls often wait this long, an operator can raise limits.max_concurrent_queries (if the warehouse can run more at once) or hub.call_timeout_ms.`,
    { details: { queued: true, queueWaitMs: waited, leftMs: left, floorMs, retryAfterMs } },
  );
}
