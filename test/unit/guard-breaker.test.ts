import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError, isSnowmuxError } from '../../src/errors.js';
import { ManualClock } from '../../src/hub/guard/clock.js';
import { WarehouseBreaker, type BreakerState, type BreakerTransition } from '../../src/hub/guard/breaker.js';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';

const outage = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
const sqlError = (): SnowmuxError => new SnowmuxError('SQL_ERROR', 'SQL compilation error: syntax error line 1 at position 7.');
const ok = async (): Promise<string> => 'rows';

function makeBreaker(t: { after(fn: () => void): void }, options: Partial<ConstructorParameters<typeof WarehouseBreaker>[0]> = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const breaker = new WarehouseBreaker({ profile: 'dev', volumeThreshold: 5, resetTimeoutMs: 60_000, clock, ...options });
  const transitions: BreakerTransition[] = [];
  breaker.on('transition', (tr) => transitions.push(tr));
  t.after(() => breaker.shutdown());
  return { breaker, clock, transitions };
}

async function failTimes(breaker: WarehouseBreaker, n: number, make: () => unknown): Promise<void> {
  for (let i = 0; i < n; i++) {
    await assert.rejects(breaker.run(() => Promise.reject(make())));
  }
}

/**
 * Resolves on the breaker's next transition to `state`. Opossum's reset timer is unref'd, so the
 * watchdog (which fails the test if the event never comes) is also what keeps the event loop alive.
 */
function waitForState(breaker: WarehouseBreaker, state: BreakerState): Promise<void> {
  if (breaker.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(() => {
      breaker.off('transition', onTransition);
      reject(new Error(`breaker never reached ${state} (still ${breaker.state})`));
    }, 5000);
    const onTransition = (tr: BreakerTransition): void => {
      if (tr.to !== state) return;
      clearTimeout(watchdog);
      breaker.off('transition', onTransition);
      resolve();
    };
    breaker.on('transition', onTransition);
  });
}

test('results and errors pass through unchanged while closed', async (t) => {
  const { breaker } = makeBreaker(t);
  assert.equal(await breaker.run(ok), 'rows');
  const original = sqlError();
  await assert.rejects(breaker.run(() => Promise.reject(original)), (err: unknown) => err === original);
  const net = outage();
  await assert.rejects(breaker.run(() => Promise.reject(net)), (err: unknown) => err === net);
});

test('opens on the Nth infrastructure failure in the window, emitting one transition', async (t) => {
  const { breaker, clock, transitions } = makeBreaker(t);
  await failTimes(breaker, 4, outage);
  assert.equal(breaker.state, 'closed');
  await failTimes(breaker, 1, outage);
  assert.equal(breaker.state, 'open');
  assert.deepEqual(transitions, [
    { profile: 'dev', from: 'closed', to: 'open', at: clock.now(), failures: 5, nextAttemptAt: clock.now() + 60_000 },
  ]);
  const snap = breaker.snapshot();
  assert.equal(snap.state, 'open');
  assert.equal(snap.failures, 5);
  assert.equal(snap.totalFailures, 5);
  assert.equal(snap.opensCount, 1);
  assert.equal(snap.nextAttemptAt, clock.now() + 60_000);
  assert.equal(snap.lastFailure?.code, 'ECONNREFUSED');
});

test('while open, calls fail fast with WAREHOUSE_CIRCUIT_OPEN and the action is not called', async (t) => {
  const { breaker, clock } = makeBreaker(t, { resetTimeoutMs: 30_000 });
  await failTimes(breaker, 5, outage);
  clock.advance(2000);
  let called = 0;
  const retryAt = clock.now() - 2000 + 30_000;
  const d = new Date(retryAt);
  const hhmmss = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  for (let i = 0; i < 20; i++) {
    await assert.rejects(
      breaker.run(async () => {
        called++;
        return 'x';
      }),
      (err: unknown) => {
        assert.ok(isSnowmuxError(err, 'WAREHOUSE_CIRCUIT_OPEN'));
        assert.equal(
          err.message,
          `Snowflake profile "dev" is failing (5 infrastructure errors in 10 s); calls are paused until ${hhmmss} (in 28 s). ` +
            'Check the warehouse/network; snowmux retries automatically.',
        );
        assert.equal(err.details?.['retryAt'], new Date(retryAt).toISOString());
        assert.equal(err.details?.['retryAfterMs'], 28_000);
        return true;
      },
    );
  }
  assert.equal(called, 0);
  assert.equal(breaker.snapshot().rejectedCount, 20);
  assert.equal(breaker.snapshot().totalFailures, 5, 'fast-fails are not counted as new infrastructure failures');
});

test('does not trip on 100 SQL errors (nor on 100 cancellations)', async (t) => {
  const { breaker, transitions } = makeBreaker(t);
  await failTimes(breaker, 100, sqlError);
  await failTimes(breaker, 50, () => new SnowmuxError('QUERY_CANCELLED', 'cancelled'));
  await failTimes(breaker, 50, () => new DOMException('aborted', 'AbortError'));
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(transitions, []);
  const snap = breaker.snapshot();
  assert.equal(snap.failures, 0);
  assert.equal(snap.totalFailures, 0);
  assert.equal(await breaker.run(ok), 'rows');
});

test('the error rate is over the rolling window: mostly-answered traffic does not trip, an outage does', async (t) => {
  const { breaker } = makeBreaker(t);
  for (let i = 0; i < 10; i++) await breaker.run(ok);
  await failTimes(breaker, 5, outage); // 5 of 15 = 33 % ≤ 50 %
  assert.equal(breaker.state, 'closed');
  await failTimes(breaker, 6, outage); // 11 of 21 = 52 %
  assert.equal(breaker.state, 'open');
});

test('failures older than the rolling window no longer count (window driven by the injected clock)', async (t) => {
  const { breaker, clock } = makeBreaker(t, { rollingWindowMs: 10_000, rollingBuckets: 10 });
  await failTimes(breaker, 4, outage);
  clock.advance(10_000);
  assert.equal(breaker.snapshot().failures, 0);
  await failTimes(breaker, 4, outage);
  assert.equal(breaker.state, 'closed');
  clock.advance(5000); // half a window: the last 4 still count
  await failTimes(breaker, 1, outage);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.snapshot().failures, 5);
});

test('a wall clock stepped back does not freeze the rolling window: old failures still age out', async (t) => {
  const manual = new ManualClock();
  let offset = 0;
  const clock = { now: () => manual.now() + offset, monotonic: () => manual.now(), setTimeout: manual.setTimeout.bind(manual), clearTimeout: manual.clearTimeout.bind(manual) };
  const { breaker } = makeBreaker(t, { rollingWindowMs: 10_000, rollingBuckets: 10, clock });
  await failTimes(breaker, 4, outage);
  offset = -3_600_000; // NTP steps the clock back an hour
  manual.advance(10_000); // a whole window later, by the time that really passed
  await failTimes(breaker, 1, outage);
  assert.equal(breaker.state, 'closed', 'the four failures of a window ago no longer count');
  assert.equal(breaker.snapshot().failures, 1);
});

for (const stepMs of [-3 * 3_600_000, 2 * 86_400_000]) {
  test(`while open, the time to the next try is the reset timer's, whatever the wall clock did since (stepped ${stepMs / 3_600_000} h)`, async (t) => {
    const { breaker, clock } = makeBreaker(t, { resetTimeoutMs: 30_000 });
    await failTimes(breaker, 5, outage);
    clock.advance(2000);
    clock.stepWall(stepMs); // NTP or a resumed VM; opossum's reset timer (elapsed time) is due in 28 s all the same
    await assert.rejects(breaker.run(ok), (err: unknown) => {
      assert.ok(isSnowmuxError(err, 'WAREHOUSE_CIRCUIT_OPEN'));
      assert.match(err.message, /\(in 28 s\)/);
      assert.equal(err.details?.retryAfterMs, 28_000);
      assert.equal(err.details?.retryAt, new Date(clock.now() + 28_000).toISOString());
      return true;
    });
    assert.equal(breaker.snapshot().nextAttemptAt, clock.now() + 28_000);
  });
}

test('half-open: a successful probe closes the breaker; transitions are emitted and counted', async (t) => {
  const { breaker, transitions } = makeBreaker(t, { resetTimeoutMs: 5 });
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  assert.equal(breaker.snapshot().nextAttemptAt, null);
  assert.equal(await breaker.run(ok), 'rows');
  assert.equal(breaker.state, 'closed');
  assert.deepEqual(
    transitions.map((tr) => `${tr.from}->${tr.to}`),
    ['closed->open', 'open->half-open', 'half-open->closed'],
  );
  const snap = breaker.snapshot();
  assert.deepEqual([snap.opensCount, snap.halfOpensCount, snap.closesCount], [1, 1, 1]);
});

test('half-open: an infrastructure failure of the probe re-opens it', async (t) => {
  const { breaker, clock, transitions } = makeBreaker(t, { resetTimeoutMs: 5 });
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  await failTimes(breaker, 1, outage);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.snapshot().opensCount, 2);
  assert.equal(breaker.snapshot().nextAttemptAt, clock.now() + 5);
  assert.deepEqual(
    transitions.map((tr) => tr.to),
    ['open', 'half-open', 'open'],
  );
  // And it recovers on the next probe.
  await waitForState(breaker, 'half-open');
  assert.equal(await breaker.run(ok), 'rows');
  assert.equal(breaker.state, 'closed');
});

test('half-open admits a single probe; calls during it fail fast without running', async (t) => {
  const { breaker } = makeBreaker(t, { resetTimeoutMs: 5 });
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  let finishProbe!: (value: string) => void;
  const probe = breaker.run(() => new Promise<string>((resolve) => (finishProbe = resolve)));
  let called = 0;
  await assert.rejects(
    breaker.run(async () => {
      called++;
      return 'x';
    }),
    (err: unknown) => {
      assert.ok(isSnowmuxError(err, 'WAREHOUSE_CIRCUIT_OPEN'));
      assert.match(err.message, /a probe query is checking whether it is back/);
      return true;
    },
  );
  assert.equal(called, 0);
  finishProbe('rows');
  assert.equal(await probe, 'rows');
  assert.equal(breaker.state, 'closed');
});

test('a user SQL error from the half-open probe closes it: the warehouse answered', async (t) => {
  const { breaker } = makeBreaker(t, { resetTimeoutMs: 5 });
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  await failTimes(breaker, 1, sqlError);
  assert.equal(breaker.state, 'closed');
});

test('after shutdown calls are refused with WAREHOUSE_CLOSED', async (t) => {
  const { breaker } = makeBreaker(t);
  breaker.shutdown();
  await assert.rejects(breaker.run(ok), (err: unknown) => isSnowmuxError(err, 'WAREHOUSE_CLOSED'));
});

test("the hub's breakers span two call timeouts: an outage whose calls fail only at their timeout opens them", async () => {
  const clock = new ManualClock();
  const governance = new Governance({
    policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'),
    logger: createLogger({ destination: new PassThrough(), level: 'silent' }),
    breaker: { volumeThreshold: 3 },
    callTimeoutMs: 60_000,
    clock,
  });
  const warehouse = { info: () => ({ kind: 'snowflake', name: 'prod', detail: {} }) } as unknown as Warehouse;
  const breaker = governance.breakerFor(warehouse);
  // Each call hangs for 20 s, then fails (503s until the timeout). With a fixed 10 s window each call's start
  // had left the window when it failed, and the breaker never opened.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(breaker.run(async () => {
      clock.advance(20_000);
      throw outage();
    }));
  }
  assert.equal(breaker.state, 'open');
  governance.close();
});

test('with a probe of its own, the breaker probes by itself as it turns half-open: an idle hub closes it, a call meanwhile waits for the answer', async (t) => {
  let probes = 0;
  let probeFails = true;
  const probe = async (): Promise<void> => {
    probes++;
    if (probeFails) throw outage();
  };
  const { breaker, transitions } = makeBreaker(t, { resetTimeoutMs: 5, probe });
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  // The hub's probe started with the half-open; a call that came meanwhile waited for its answer, an
  // outage: it is refused fast with the next try's time, its own work never ran.
  let ran = 0;
  await assert.rejects(breaker.run(async () => ++ran), (err: unknown) => isSnowmuxError(err, 'WAREHOUSE_CIRCUIT_OPEN'));
  assert.equal(ran, 0);
  assert.equal(breaker.state, 'open');
  assert.equal(probes, 1);
  // The warehouse is back and nobody calls: the next half-open probes by itself and closes the breaker.
  probeFails = false;
  await waitForState(breaker, 'closed');
  assert.equal(probes, 2);
  assert.deepEqual(transitions.map((x) => x.to), ['open', 'half-open', 'open', 'half-open', 'closed']);
  // Closed: a slow call does not hold others back.
  let finishSlow!: (value: string) => void;
  const slow = breaker.run(() => new Promise<string>((resolve) => (finishSlow = resolve)));
  assert.equal(await breaker.run(ok), 'rows', 'another call passes while the slow one still runs');
  finishSlow('slow rows');
  assert.equal(await slow, 'slow rows');
  assert.equal(probes, 2);
});

test("the embedded warehouse's breaker never counts a timeout (the engine ran the statement); a Snowflake one counts one that carries no answer", async () => {
  const governance = new Governance({
    policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'),
    logger: createLogger({ destination: new PassThrough(), level: 'silent' }),
    breaker: { volumeThreshold: 3 },
    clock: new ManualClock(),
  });
  const embedded = governance.breakerFor({ info: () => ({ kind: 'duckdb', name: 'embedded', detail: {} }) } as unknown as Warehouse);
  const snowflake = governance.breakerFor({ info: () => ({ kind: 'snowflake', name: 'prod', detail: {} }) } as unknown as Warehouse);
  const timeout = () => new SnowmuxError('QUERY_TIMEOUT', "The call did not finish within the hub's 3000 ms call timeout and was cancelled.");
  await failTimes(embedded, 5, timeout);
  assert.deepEqual([embedded.state, embedded.snapshot().failures], ['closed', 0]);
  await failTimes(snowflake, 3, timeout);
  assert.equal(snowflake.state, 'open');
  governance.close();
});

test("the call waiting for the half-open probe has its deadline paused for the probe's run only", async (t) => {
  let finishProbe!: () => void;
  const events: string[] = [];
  const probe = () => new Promise<void>((resolve) => (finishProbe = () => (events.push('probe done'), resolve())));
  const { breaker } = makeBreaker(t, { resetTimeoutMs: 5, probe });
  const pauseDeadline = () => {
    events.push('paused');
    return () => events.push('resumed');
  };
  await failTimes(breaker, 5, outage);
  await waitForState(breaker, 'half-open');
  const running = breaker.run(async () => (events.push('own work'), 'rows'), pauseDeadline);
  await waitForValue(() => events.length > 0);
  assert.deepEqual(events, ['paused']);
  finishProbe();
  assert.equal(await running, 'rows');
  assert.deepEqual(events, ['paused', 'probe done', 'resumed', 'own work']);
  // Closed: no probe, the deadline runs on.
  events.length = 0;
  assert.equal(await breaker.run(async () => (events.push('own work'), 'rows'), pauseDeadline), 'rows');
  assert.deepEqual(events, ['own work']);
});

/** Yields to the event loop until `check` holds (a few turns at most: the breaker starts the probe at once). */
async function waitForValue(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(check(), 'condition never held');
}

test('a warehouse retired while the hub runs (a rotated key) leaves no breaker and no queue pool behind in status', async () => {
  const governance = new Governance({
    policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'),
    logger: createLogger({ destination: new PassThrough(), level: 'silent' }),
    clock: new ManualClock(),
  });
  const pool = (n: number) => ({ kind: 'snowflake', info: () => ({ kind: 'snowflake', name: 'prod', detail: { n }, capacity: 4 }) }) as unknown as Warehouse;
  let current = pool(0);
  governance.breakerFor(current);
  governance.poolFor(current);
  const late = governance.poolFor(current);
  for (let n = 1; n <= 3; n++) {
    const next = pool(n);
    governance.breakerFor(next);
    governance.poolFor(next);
    governance.forgetWarehouse(current);
    current = next;
  }
  assert.equal((governance.snapshot()['breakers'] as unknown[]).length, 1);
  assert.equal((governance.snapshot()['queue'] as { pools: unknown[] }).pools.length, 1);
  // A late call that still names a retired pool is scheduled on it (the warehouse refuses it), not failed here.
  const release = await governance.scheduler.schedule('s1', undefined, late);
  release.release();
});

test('failure_threshold_percent = 100 opens when every call in the window failed, and not before (it never opened)', async (t) => {
  const { breaker } = makeBreaker(t, { errorThresholdPercentage: 100 });
  assert.equal(await breaker.run(ok), 'rows');
  await failTimes(breaker, 5, outage);
  assert.equal(breaker.state, 'closed', 'one call of six succeeded');
  const { breaker: all } = makeBreaker(t, { errorThresholdPercentage: 100 });
  await failTimes(all, 5, outage);
  assert.equal(all.state, 'open');
});
