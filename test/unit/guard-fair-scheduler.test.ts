import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError, isSnowmuxError } from '../../src/errors.js';
import { ManualClock, seededRandom } from '../../src/hub/guard/clock.js';
import { FairScheduler, type Release } from '../../src/hub/guard/fair-scheduler.js';

/** Lets every pending promise reaction run (an event-loop turn, not a timed sleep). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Settled state of a promise without waiting for it. */
async function state<T>(p: Promise<T>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  const pending = Symbol('pending');
  const winner = await Promise.race([p.then(() => 'fulfilled' as const, () => 'rejected' as const), flush().then(() => pending)]);
  return winner === pending ? 'pending' : (winner as 'fulfilled' | 'rejected');
}

async function fill(scheduler: FairScheduler, session: string, n: number): Promise<Release[]> {
  const held: Release[] = [];
  for (let i = 0; i < n; i++) held.push(await scheduler.schedule(session));
  return held;
}

test('under the cap a call starts at once with no wait; snapshot shows running per session', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 2, maxQueued: 4, clock: new ManualClock() });
  const a = await scheduler.schedule('A');
  assert.equal(a.waitMs, 0);
  assert.equal(a.sessionKey, 'A');
  const snap = scheduler.snapshot();
  assert.equal(snap.running, 1);
  assert.equal(snap.queued, 0);
  assert.deepEqual(snap.sessions, [{ sessionKey: 'A', running: 1, queued: 0 }]);
  a.release();
  assert.equal(scheduler.snapshot().running, 0);
  assert.deepEqual(scheduler.snapshot().sessions, []);
});

test('round-robin: a light session B (5 waiters) behind a flooding session A (50 waiters) is fully served within the first 10 releases', async () => {
  const clock = new ManualClock();
  const scheduler = new FairScheduler({ maxConcurrent: 4, maxQueued: 100, clock });
  // A runs all it may (one slot is always left to others); X holds that one.
  const running: Release[] = [...(await fill(scheduler, 'A', 3)), ...(await fill(scheduler, 'X', 1))];
  const grants: Array<{ session: string; index: number }> = [];
  const track = (session: string, index: number) =>
    scheduler.schedule(session).then((release) => {
      grants.push({ session, index });
      running.push(release);
    });
  const waiting: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) waiting.push(track('A', i));
  for (let i = 0; i < 5; i++) waiting.push(track('B', i));
  assert.deepEqual(scheduler.snapshot().sessions, [
    { sessionKey: 'A', running: 3, queued: 50 },
    { sessionKey: 'B', running: 0, queued: 5 },
    { sessionKey: 'X', running: 1, queued: 0 },
  ]);

  let releases = 0;
  let bDoneAt = -1;
  while (grants.length < 55) {
    clock.advance(100);
    running.shift()!.release();
    releases++;
    await flush();
    const counts = { A: 0, B: 0 };
    for (const g of grants) counts[g.session as 'A' | 'B']++;
    if (counts.B < 5) {
      // Stated bound: while both sessions have waiters, their grant counts differ by at most 1.
      assert.ok(Math.abs(counts.A - counts.B) <= 1, `after ${releases} releases A=${counts.A} B=${counts.B}`);
    } else if (bDoneAt < 0) {
      bDoneAt = releases;
    }
    assert.ok(scheduler.snapshot().running <= 4);
  }
  assert.ok(bDoneAt > 0 && bDoneAt <= 10, `B finished after ${bDoneAt} releases`);
  // FIFO within each session.
  for (const session of ['A', 'B']) {
    const order = grants.filter((g) => g.session === session).map((g) => g.index);
    assert.deepEqual(order, [...order].sort((x, y) => x - y));
  }
  await Promise.all(waiting);
  for (const r of running) r.release();
  assert.equal(scheduler.snapshot().running, 0);
});

test('one session cannot hold every slot: B starts at once while A runs all but one and has more waiting', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 6, maxQueued: 100, clock: new ManualClock() });
  const a = await fill(scheduler, 'A', 5);
  const aMore = [scheduler.schedule('A'), scheduler.schedule('A'), scheduler.schedule('A')];
  for (const p of aMore) assert.equal(await state(p), 'pending', 'A waits though a slot is free: it is kept for the others');
  assert.deepEqual(scheduler.snapshot().sessions, [{ sessionKey: 'A', running: 5, queued: 3 }]);
  const b = scheduler.schedule('B');
  assert.equal(await state(b), 'fulfilled', "B's call (a describe_table behind A's long queries) is granted at once");
  assert.equal((await b).waitMs, 0);
  // With B running too, a freed slot of A's goes back to A's queue; the cap holds whoever runs.
  a.shift()!.release();
  assert.equal(await state(aMore[0]!), 'fulfilled');
  assert.equal(await state(aMore[1]!), 'pending');
  assert.deepEqual(scheduler.snapshot().sessions, [
    { sessionKey: 'A', running: 5, queued: 2 },
    { sessionKey: 'B', running: 1, queued: 0 },
  ]);
  // A third session C waits for the next free slot; A, at its share, is passed over.
  const c = scheduler.schedule('C');
  (await b).release();
  assert.equal(await state(c), 'fulfilled', 'the slot B freed goes to C, not to A at its share');
  scheduler.close();
  await Promise.allSettled(aMore);
});

test('a cap of one slot leaves nothing to keep: the one session runs it', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 4, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const next = scheduler.schedule('A');
  held.release();
  (await next).release();
});

test('a lone editor may use every slot; once another is connected, one slot is kept for it', async () => {
  let others = false;
  const scheduler = new FairScheduler({ maxConcurrent: 3, maxQueued: 8, clock: new ManualClock(), othersPresent: () => others });
  const all = await fill(scheduler, 'A', 3);
  assert.equal(scheduler.snapshot().running, 3, 'alone, A runs all three');
  for (const r of all) r.release();
  others = true;
  const two = await fill(scheduler, 'A', 2);
  const third = scheduler.schedule('A');
  assert.equal(await state(third), 'pending', 'with another editor connected, A waits while the last slot is free');
  assert.equal(await state(scheduler.schedule('B')), 'fulfilled', "B gets the slot kept for it");
  scheduler.close();
  for (const r of two) r.release();
  await Promise.allSettled([third]);
});

test('three sessions with waiters are served in strict rotation', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 100, clock: new ManualClock() });
  let held = await scheduler.schedule('X');
  const order: string[] = [];
  const pending: Promise<void>[] = [];
  for (const [session, n] of [['A', 6], ['B', 2], ['C', 4]] as const) {
    for (let i = 0; i < n; i++) {
      pending.push(
        scheduler.schedule(session).then((release) => {
          order.push(session);
          held = release;
        }),
      );
    }
  }
  for (let i = 0; i < 12; i++) {
    held.release();
    await flush();
  }
  held.release();
  await Promise.all(pending);
  assert.deepEqual(order.join(''), 'ABCABCACACAA');
});

test('identities take turns, then their sessions: a user with three editors waiting gets one turn to another user\'s one', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 100, clock: new ManualClock() });
  let held = await scheduler.schedule('X', undefined, undefined, 'carol');
  const order: string[] = [];
  const pending: Promise<void>[] = [];
  // alice's three sessions queue first, three calls each; bob's one session after them.
  for (const [session, identity] of [['a1', 'alice'], ['a2', 'alice'], ['a3', 'alice'], ['b1', 'bob']] as const) {
    for (let i = 0; i < 3; i++) {
      pending.push(
        scheduler.schedule(session, undefined, undefined, identity).then((release) => {
          order.push(session);
          held = release;
        }),
      );
    }
  }
  for (let i = 0; i < 12; i++) {
    held.release();
    await flush();
  }
  held.release();
  await Promise.all(pending);
  assert.deepEqual(order, ['a1', 'b1', 'a2', 'b1', 'a3', 'b1', 'a1', 'a2', 'a3', 'a1', 'a2', 'a3']);
});

test('an identity whose waiters all left loses its turn; queuing again puts it at the back of the rotation', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 100, clock: new ManualClock() });
  let held = await scheduler.schedule('X', undefined, undefined, 'carol');
  const order: string[] = [];
  const track = (session: string, identity: string, signal?: AbortSignal) =>
    scheduler.schedule(session, signal, undefined, identity).then(
      (release) => {
        order.push(session);
        held = release;
      },
      () => order.push(`${session}:left`),
    );
  const gone = new AbortController();
  const pending = [track('a1', 'alice', gone.signal), track('b1', 'bob'), track('b1', 'bob')];
  gone.abort();
  await flush();
  pending.push(track('a1', 'alice'));
  for (let i = 0; i < 3; i++) {
    held.release();
    await flush();
  }
  held.release();
  await Promise.all(pending);
  assert.deepEqual(order, ['a1:left', 'b1', 'a1', 'b1']);
});

test('startNow grants exactly what schedule would grant at once, and nothing that would wait or pass a waiter', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 2, maxQueued: 10, clock: new ManualClock() });
  const a = scheduler.startNow('A');
  assert.ok(a, 'a free slot is granted at once');
  assert.equal(a.waitMs, 0);
  assert.equal(scheduler.startNow('A'), undefined, 'A may not take the slot kept for others');
  const b = scheduler.startNow('B');
  assert.ok(b);
  assert.equal(scheduler.startNow('C'), undefined, 'at the cap nothing starts now');
  const waiting = scheduler.schedule('C');
  assert.equal(scheduler.snapshot().queued, 1, 'startNow queued nothing: schedule did');
  b.release();
  const c = await waiting;
  // C's waiter got the freed slot. C queued again (it runs its share): a call of C does not pass that waiter.
  const again = scheduler.schedule('C');
  a.release();
  assert.equal(scheduler.startNow('C'), undefined, 'C\'s earlier waiter comes first');
  c.release();
  (await again).release();
  scheduler.close();
  assert.equal(scheduler.startNow('D'), undefined, 'a closed scheduler grants nothing');
  assert.equal(scheduler.snapshot().totals.granted, 4);
});

test('a full queue refuses at once with HUB_BUSY and a retry estimate from recent service times', async () => {
  const clock = new ManualClock();
  const scheduler = new FairScheduler({ maxConcurrent: 8, maxQueued: 64, clock });
  // Teach it that queries take 2 s: 8 slots → one frees every ~250 ms.
  for (let i = 0; i < 8; i++) {
    const r = await scheduler.schedule('warm');
    clock.advance(2000);
    r.release();
  }
  await fill(scheduler, 'A', 7);
  await fill(scheduler, 'Z', 1);
  const queued = Array.from({ length: 64 }, (_, i) => scheduler.schedule(i % 2 ? 'A' : 'B'));
  // A and B hold 32 places each, an equal share: A's next call is refused.
  const refused = scheduler.schedule('A');
  assert.equal(await state(refused), 'rejected', 'refused without waiting for any release');
  await assert.rejects(refused, (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'HUB_BUSY'));
    assert.equal(err.message, 'The hub is busy: 8 queries running and 64 waiting, 32 of them yours (a share of 32 each while 2 users wait). Retry after ~250 ms.');
    assert.equal(err.details?.['retryAfterMs'], 250);
    assert.equal(err.details?.['reason'], 'queue_full');
    return true;
  });
  assert.equal(scheduler.snapshot().totals.refused, 1);
  for (const q of queued) assert.equal(await state(q), 'pending');
  scheduler.close();
  await Promise.allSettled(queued);
});

test('a queue one identity filled through many sessions still queues the call of an identity with nothing waiting', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 2, maxQueued: 12, maxQueuedPerSession: 4, clock: new ManualClock() });
  // The other slot is z's (f1 alone may run only one while others are there).
  const running = [await scheduler.schedule('f1-a', undefined, undefined, 'f1'), await scheduler.schedule('z', undefined, undefined, 'z')];
  // f1's sessions together fill the queue (4 sessions × 3, each within the per-session bound).
  const flood = Array.from({ length: 12 }, (_, i) => scheduler.schedule(`f1-${'abcd'[i % 4]}`, undefined, undefined, 'f1'));
  for (const p of flood) p.catch(() => undefined); // some are refused below; each is checked by state()
  assert.equal(scheduler.snapshot().queued, 12);
  const carol = scheduler.schedule('carol-1', undefined, undefined, 'carol');
  assert.equal(await state(carol), 'pending', "carol's call is queued, not refused");
  // In its place the newest waiter of f1's session with the most waiting (the first of equals in the rotation) was refused.
  const settled = await Promise.all(flood.map((p) => state(p)));
  assert.deepEqual(settled.map((s, i) => [i, s]).filter(([, s]) => s === 'rejected'), [[8, 'rejected']]);
  await assert.rejects(flood[8]!, (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'HUB_BUSY'));
    assert.equal(err.details?.['reason'], 'queue_share');
    assert.match(err.message, /this user's calls held 12 of its 12 places, more than an equal share while 2 users wait/);
    return true;
  });
  // carol may take places up to an equal share (6), f1 none while it holds more than its share.
  const carolMore = Array.from({ length: 5 }, (_, i) => scheduler.schedule(`carol-${2 + (i % 2)}`, undefined, undefined, 'carol'));
  for (const p of carolMore) assert.equal(await state(p), 'pending');
  await assert.rejects(scheduler.schedule('f1-e', undefined, undefined, 'f1'), (err: unknown) => isSnowmuxError(err, 'HUB_BUSY') && err.details?.['reason'] === 'queue_full');
  await assert.rejects(scheduler.schedule('carol-4', undefined, undefined, 'carol'), (err: unknown) => isSnowmuxError(err, 'HUB_BUSY') && err.details?.['reason'] === 'queue_full');
  const snap = scheduler.snapshot();
  assert.equal(snap.queued, 12, 'the bound still holds');
  assert.equal(snap.totals.refused, 8);
  scheduler.close();
  for (const r of running) r.release();
  await Promise.allSettled([...flood, carol, ...carolMore]);
});

test("one identity's sessions together keep the last slot for another identity's editor", async () => {
  let othersOf = (_identity: string): boolean => true;
  const scheduler = new FairScheduler({ maxConcurrent: 3, maxQueued: 8, clock: new ManualClock(), otherIdentitiesPresent: (identity) => othersOf(identity) });
  const a1 = await scheduler.schedule('a1', undefined, undefined, 'alice');
  const a2 = await scheduler.schedule('a2', undefined, undefined, 'alice');
  const a3 = scheduler.schedule('a3', undefined, undefined, 'alice');
  assert.equal(await state(a3), 'pending', "alice's third session waits: the last slot is bob's");
  assert.equal(await state(scheduler.schedule('b1', undefined, undefined, 'bob')), 'fulfilled');
  scheduler.close();
  await Promise.allSettled([a3]);
  for (const r of [a1, a2]) r.release();
  // With only alice's editors there, her sessions share every slot (each still leaves one to the other).
  othersOf = () => false;
  const alone = new FairScheduler({ maxConcurrent: 3, maxQueued: 8, clock: new ManualClock(), otherIdentitiesPresent: (identity) => othersOf(identity) });
  const held = [await alone.schedule('a1', undefined, undefined, 'alice'), await alone.schedule('a1', undefined, undefined, 'alice'), await alone.schedule('a2', undefined, undefined, 'alice')];
  assert.equal(alone.snapshot().running, 3);
  for (const r of held) r.release();
});

test("the retry estimate is the time for one of the asked pool's calls to end, not one of the hub's slots", async () => {
  const clock = new ManualClock();
  const scheduler = new FairScheduler({ maxConcurrent: 8, maxQueued: 0, clock });
  const pool = scheduler.addPool('snowflake', 4);
  for (let i = 0; i < 4; i++) {
    const r = await scheduler.schedule('warm', undefined, pool);
    clock.advance(1000);
    r.release();
  }
  const held = [];
  for (const s of ['A', 'B', 'C', 'D']) held.push(await scheduler.schedule(s, undefined, pool));
  await assert.rejects(scheduler.schedule('E', undefined, pool), (err: unknown) => isSnowmuxError(err, 'HUB_BUSY') && err.details?.['retryAfterMs'] === 250);
  assert.equal(scheduler.estimateRetryAfterMs(), 125, 'the hub-wide estimate still divides by all its slots');
  for (const r of held) r.release();
});

test('maxQueued 0: at the cap every extra call is refused at once', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 0, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  await assert.rejects(scheduler.schedule('B'), (err: unknown) => isSnowmuxError(err, 'HUB_BUSY'));
  held.release();
  (await scheduler.schedule('B')).release();
});

test('the per-session bound refuses the busy session but still queues others', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, maxQueuedPerSession: 2, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const a1 = scheduler.schedule('A');
  const a2 = scheduler.schedule('A');
  await assert.rejects(scheduler.schedule('A'), (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'HUB_BUSY'));
    assert.equal(err.details?.['reason'], 'session_queue_full');
    assert.match(err.message, /this session already has 2 queries waiting/);
    return true;
  });
  const b1 = scheduler.schedule('B');
  assert.equal(scheduler.snapshot().queued, 3);
  held.release();
  (await a1).release();
  (await b1).release();
  (await a2).release();
  assert.equal(scheduler.snapshot().running, 0);
});

test('a waiter whose signal aborts leaves the queue with QUERY_CANCELLED and never takes a slot', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const controller = new AbortController();
  const cancelled = scheduler.schedule('B', controller.signal);
  const next = scheduler.schedule('C');
  controller.abort();
  await assert.rejects(cancelled, (err: unknown) => isSnowmuxError(err, 'QUERY_CANCELLED'));
  assert.equal(scheduler.snapshot().queued, 1);
  assert.equal(scheduler.snapshot().totals.cancelled, 1);
  held.release();
  const c = await next;
  assert.equal(c.sessionKey, 'C');
  assert.equal(scheduler.snapshot().running, 1);
  c.release();
  assert.deepEqual(scheduler.snapshot().sessions, []);
  assert.equal(scheduler.snapshot().running, 0);
});

test('an abort reason that is a SnowmuxError (the hub timeout) is what the waiter rejects with', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const controller = new AbortController();
  const waiting = scheduler.schedule('B', controller.signal);
  const reason = new SnowmuxError('QUERY_TIMEOUT', 'The query took longer than 60 s.');
  controller.abort(reason);
  await assert.rejects(waiting, (err: unknown) => err === reason);
  held.release();
});

test('an already-aborted signal is refused without queueing or taking a slot', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock: new ManualClock() });
  await assert.rejects(scheduler.schedule('A', AbortSignal.abort()), (err: unknown) => isSnowmuxError(err, 'QUERY_CANCELLED'));
  assert.equal(scheduler.snapshot().running, 0);
  assert.equal(scheduler.snapshot().queued, 0);
});

test('aborting after the slot was granted does nothing: the holder still owns (and releases) it', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const controller = new AbortController();
  const waiting = scheduler.schedule('B', controller.signal);
  held.release();
  const granted = await waiting;
  controller.abort();
  await flush();
  assert.equal(scheduler.snapshot().running, 1);
  granted.release();
  assert.equal(scheduler.snapshot().running, 0);
});

test('release is idempotent: a double release frees one slot and admits one waiter', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 2, maxQueued: 10, clock: new ManualClock() });
  const [a, b] = [...(await fill(scheduler, 'A', 1)), ...(await fill(scheduler, 'B', 1))];
  const w1 = scheduler.schedule('W');
  const w2 = scheduler.schedule('W');
  a!.release();
  assert.equal(a!.released, true);
  a!.release();
  a!.release();
  await flush();
  assert.equal(await state(w1), 'fulfilled');
  assert.equal(await state(w2), 'pending', 'the repeated release must not admit a second waiter');
  assert.equal(scheduler.snapshot().running, 2);
  b!.release();
  (await w1).release();
  (await w2).release();
  assert.equal(scheduler.snapshot().running, 0);
});

test('queue wait time is measured on the injected clock and returned with the slot', async () => {
  const clock = new ManualClock();
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock });
  const held = await scheduler.schedule('A');
  const waiting = scheduler.schedule('B');
  clock.advance(300);
  held.release();
  const b = await waiting;
  assert.equal(b.waitMs, 300);
  assert.equal(b.startedAt, clock.now());
  b.release();
});

test('close() refuses waiters and later calls with HUB_SHUTTING_DOWN; granted slots still release', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 10, clock: new ManualClock() });
  const held = await scheduler.schedule('A');
  const waiting = scheduler.schedule('B');
  scheduler.close();
  await assert.rejects(waiting, (err: unknown) => isSnowmuxError(err, 'HUB_SHUTTING_DOWN'));
  await assert.rejects(scheduler.schedule('C'), (err: unknown) => isSnowmuxError(err, 'HUB_SHUTTING_DOWN'));
  held.release();
  assert.equal(scheduler.snapshot().running, 0);
  assert.equal(scheduler.snapshot().queued, 0);
});

test('property: random interleavings of schedule/abort/release never leak or over-grant slots (seeded)', async () => {
  const exercised = { granted: 0, refused: 0, cancelled: 0, waitedThenGranted: 0 };
  for (let seed = 1; seed <= 25; seed++) {
    const random = seededRandom(seed);
    const clock = new ManualClock();
    const maxConcurrent = 1 + Math.floor(random() * 4);
    const maxQueued = Math.floor(random() * 8);
    const scheduler = new FairScheduler({ maxConcurrent, maxQueued, maxQueuedPerSession: random() < 0.5 ? 3 : undefined, clock });
    const held: Release[] = [];
    const waiting = new Map<number, AbortController>();
    let nextId = 0;
    let granted = 0;
    let refused = 0;
    let cancelled = 0;

    const check = (step: number): void => {
      const snap = scheduler.snapshot();
      const where = `seed ${seed} step ${step}`;
      assert.ok(snap.running <= maxConcurrent, `${where}: over the cap`);
      assert.equal(snap.running, held.length, `${where}: running count drifted from slots actually held`);
      assert.equal(snap.queued, waiting.size, `${where}: queued count drifted from pending calls`);
      assert.ok(snap.queued <= maxQueued, `${where}: queue over its bound`);
      // A waiter waits only while every slot is taken or its session runs its share (all but one slot).
      const share = Math.max(1, maxConcurrent - 1);
      for (const s of snap.sessions) {
        if (s.queued > 0 && snap.running < maxConcurrent) assert.equal(s.running, share, `${where}: ${s.sessionKey} waits while a slot is free`);
        assert.ok(s.running <= share, `${where}: ${s.sessionKey} runs more than its share`);
      }
      const perSession = snap.sessions.reduce((sum, s) => sum + s.running, 0);
      assert.equal(perSession, snap.running, `${where}: per-session running counts disagree`);
    };

    for (let step = 0; step < 300; step++) {
      const op = random();
      if (op < 0.5) {
        const id = nextId++;
        const controller = new AbortController();
        waiting.set(id, controller);
        scheduler.schedule(`s${Math.floor(random() * 5)}`, controller.signal).then(
          (release) => {
            waiting.delete(id);
            granted++;
            if (release.waitMs > 0) exercised.waitedThenGranted++;
            held.push(release);
          },
          (err: unknown) => {
            waiting.delete(id);
            if (isSnowmuxError(err, 'HUB_BUSY')) refused++;
            else if (isSnowmuxError(err, 'QUERY_CANCELLED')) cancelled++;
            else throw err;
          },
        );
      } else if (op < 0.65 && waiting.size > 0) {
        const ids = [...waiting.keys()];
        waiting.get(ids[Math.floor(random() * ids.length)]!)!.abort();
      } else if (held.length > 0) {
        const index = Math.floor(random() * held.length);
        const [release] = held.splice(index, 1);
        release!.release();
        if (random() < 0.3) release!.release(); // double release must be harmless
      }
      clock.advance(Math.floor(random() * 50));
      await flush();
      check(step);
    }
    // Drain: everything still waiting is eventually granted once holders release.
    while (held.length > 0 || waiting.size > 0) {
      const release = held.shift();
      assert.ok(release, `seed ${seed}: waiters remain but nothing holds a slot`);
      release.release();
      await flush();
    }
    const snap = scheduler.snapshot();
    assert.equal(snap.running, 0, `seed ${seed}: leaked slot`);
    assert.equal(snap.queued, 0, `seed ${seed}: leaked waiter`);
    assert.deepEqual(snap.sessions, []);
    assert.equal(snap.totals.granted, granted);
    assert.equal(snap.totals.refused, refused);
    assert.equal(snap.totals.cancelled, cancelled);
    exercised.granted += granted;
    exercised.refused += refused;
    exercised.cancelled += cancelled;
  }
  // The random walk really did hit every path.
  assert.ok(exercised.granted > 500 && exercised.refused > 50 && exercised.cancelled > 50 && exercised.waitedThenGranted > 50, JSON.stringify(exercised));
});

test('pools share the hub-wide cap: a call on another pool waits while the one slot runs elsewhere', async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 8, clock: new ManualClock() });
  const embedded = scheduler.addPool('embedded', 6);
  const dev = scheduler.addPool('dev', 4);
  const other = scheduler.addPool('dev', 4); // another editor's SNOWFLAKE_* settings: a pool of its own, no cap of its own
  const a = await scheduler.schedule('A', undefined, embedded);
  const b = scheduler.schedule('B', undefined, dev);
  const c = scheduler.schedule('C', undefined, other);
  assert.equal(await state(b), 'pending', 'the hub runs one call in all, whichever pool');
  assert.equal(await state(c), 'pending');
  const snap = scheduler.snapshot();
  assert.equal(snap.maxConcurrent, 1, 'the cap shown is the one configured, not a sum over pools');
  assert.equal(snap.running, 1);
  assert.equal(snap.queued, 2);
  assert.deepEqual(snap.pools, [
    { name: 'embedded', maxConcurrent: 1, running: 1, queued: 0 },
    { name: 'dev', maxConcurrent: 1, running: 0, queued: 1 },
    { name: 'dev', maxConcurrent: 1, running: 0, queued: 1 },
  ]);
  a.release();
  assert.equal(await state(b), 'fulfilled');
  assert.equal(await state(c), 'pending');
  (await b).release();
  (await c).release();
  assert.equal(scheduler.snapshot().running, 0);
});

test("a pool never runs more than its capacity, and a call waiting for a full pool holds no hub slot and holds up no other pool's call", async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 3, maxQueued: 8, clock: new ManualClock(), othersPresent: () => false });
  const narrow = scheduler.addPool('narrow', 1);
  const wide = scheduler.addPool('wide', 3);
  const held = await scheduler.schedule('A', undefined, narrow);
  const waitsForNarrow = scheduler.schedule('B', undefined, narrow);
  assert.equal(await state(waitsForNarrow), 'pending', 'the narrow pool runs one at once though the hub has room');
  // The same session's later call on a pool with room starts at once: its earlier call waits for its own pool only.
  const sameSession = scheduler.schedule('B', undefined, wide);
  assert.equal(await state(sameSession), 'fulfilled');
  const third = await scheduler.schedule('C', undefined, wide);
  assert.equal(scheduler.snapshot().running, 3);
  // The hub is full; B's narrow call and D's wide one wait. A wide slot frees: D, whose pool has room, gets it —
  // B's call ahead of it in the rotation cannot take it (its pool is still full) and does not block it.
  const d = scheduler.schedule('D', undefined, wide);
  third.release();
  assert.equal(await state(d), 'fulfilled');
  assert.equal(await state(waitsForNarrow), 'pending');
  held.release();
  assert.equal(await state(waitsForNarrow), 'fulfilled');
  for (const r of [await waitsForNarrow, await sameSession, await d]) r.release();
  assert.deepEqual(scheduler.snapshot().pools.map((p) => [p.running, p.queued]), [[0, 0], [0, 0]]);
});

test("with other editors connected, a session runs at most all but one of a pool's slots too", async () => {
  const scheduler = new FairScheduler({ maxConcurrent: 8, maxQueued: 8, clock: new ManualClock() });
  const pool = scheduler.addPool('embedded', 3);
  const two = [await scheduler.schedule('A', undefined, pool), await scheduler.schedule('A', undefined, pool)];
  const third = scheduler.schedule('A', undefined, pool);
  assert.equal(await state(third), 'pending', "A waits while the pool's last slot is free: it is kept for the others");
  assert.equal(await state(scheduler.schedule('B', undefined, pool)), 'fulfilled');
  scheduler.close();
  for (const r of two) r.release();
  await Promise.allSettled([third]);
});

test('a pool cannot be used with a scheduler it was not added to', async () => {
  const one = new FairScheduler({ maxConcurrent: 1, maxQueued: 1, clock: new ManualClock() });
  const two = new FairScheduler({ maxConcurrent: 1, maxQueued: 1, clock: new ManualClock() });
  await assert.rejects(two.schedule('A', undefined, one.addPool('p', 1)), /was not added/);
});

test('property: with several pools, no pool or the hub runs over its cap, and no waiter waits while it could start (seeded)', async () => {
  let waitedThenGranted = 0;
  for (let seed = 1; seed <= 25; seed++) {
    const random = seededRandom(seed);
    const maxConcurrent = 1 + Math.floor(random() * 5);
    let others = random() < 0.7;
    const clock = new ManualClock();
    const scheduler = new FairScheduler({ maxConcurrent, maxQueued: 12, clock, othersPresent: () => others });
    const pools = Array.from({ length: 2 + Math.floor(random() * 2) }, (_, i) => scheduler.addPool(`p${i}`, 1 + Math.floor(random() * 4)));
    const held: { session: string; pool: number; release: Release }[] = [];
    const waiting = new Map<number, { session: string; pool: number; controller: AbortController }>();
    let nextId = 0;
    const check = (step: number): void => {
      const where = `seed ${seed} step ${step}`;
      const snap = scheduler.snapshot();
      assert.equal(snap.running, held.length, `${where}: running drifted`);
      assert.ok(snap.running <= maxConcurrent, `${where}: hub over its cap`);
      const runs = (f: (h: (typeof held)[number]) => boolean) => held.filter(f).length;
      pools.forEach((p, i) => assert.ok(runs((h) => h.pool === i) <= p.capacity, `${where}: pool ${i} over its capacity`));
      for (const w of waiting.values()) {
        const pool = pools[w.pool]!;
        const mayStart =
          snap.running < maxConcurrent &&
          runs((h) => h.pool === w.pool) < pool.capacity &&
          (!others || (runs((h) => h.session === w.session) < Math.max(1, maxConcurrent - 1) && runs((h) => h.session === w.session && h.pool === w.pool) < Math.max(1, pool.capacity - 1)));
        assert.ok(!mayStart, `${where}: ${w.session} waits on pool ${w.pool} though it could start`);
      }
    };
    for (let step = 0; step < 300; step++) {
      const op = random();
      if (op < 0.5) {
        const id = nextId++;
        const entry = { session: `s${Math.floor(random() * 4)}`, pool: Math.floor(random() * pools.length), controller: new AbortController() };
        waiting.set(id, entry);
        scheduler.schedule(entry.session, entry.controller.signal, pools[entry.pool]).then(
          (release) => {
            waiting.delete(id);
            if (release.waitMs > 0) waitedThenGranted++;
            held.push({ session: entry.session, pool: entry.pool, release });
          },
          () => waiting.delete(id),
        );
      } else if (op < 0.6 && waiting.size > 0) {
        const ids = [...waiting.keys()];
        waiting.get(ids[Math.floor(random() * ids.length)]!)!.controller.abort();
      } else if (held.length > 0) {
        held.splice(Math.floor(random() * held.length), 1)[0]!.release.release();
      }
      clock.advance(1);
      await flush();
      check(step);
    }
    others = false;
    while (held.length > 0 || waiting.size > 0) {
      const h = held.shift();
      assert.ok(h, `seed ${seed}: waiters remain but nothing holds a slot`);
      h.release.release();
      await flush();
    }
    assert.deepEqual(scheduler.snapshot().pools.map((p) => [p.running, p.queued]), pools.map(() => [0, 0]));
  }
  assert.ok(waitedThenGranted > 300, `${waitedThenGranted} calls waited and were then granted`);
});

test('time waited in the queue is measured on the monotonic clock: a wall clock stepped back an hour meanwhile does not make it negative', async () => {
  const clock = new ManualClock();
  const scheduler = new FairScheduler({ maxConcurrent: 1, maxQueued: 4, clock });
  const first = await scheduler.schedule('A');
  const waiting = scheduler.schedule('B');
  clock.stepWall(-3_600_000);
  clock.advance(500);
  first.release();
  const second = await waiting;
  assert.equal(second.waitMs, 500);
  second.release();

  // A slot taken at once (startNow) is timed on the same clock: its hold time feeds the retry estimate.
  const quiet = new FairScheduler({ maxConcurrent: 1, maxQueued: 4, clock });
  const now = quiet.startNow('A');
  assert.ok(now);
  clock.stepWall(-3_600_000);
  clock.advance(250);
  now.release();
  assert.equal(quiet.snapshot().avgServiceMs, 250);
});
