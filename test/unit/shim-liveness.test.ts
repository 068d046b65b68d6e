/**
 * Link liveness (shim and hub): pings when the peer is quiet, declares it dead after the silence budget,
 * and does not blame the peer for time this process was not running (sleep, SIGSTOP, a blocked loop).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Liveness } from '../../src/wire/liveness.js';

function watch(t: TestContext) {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const events: string[] = [];
  const liveness = new Liveness({
    checkEveryMs: 1_000,
    pingAfterMs: 2_000,
    deadAfterMs: 4_000,
    ping: () => events.push(`ping@${Date.now() - 1_000_000}`),
    dead: (silent) => events.push(`dead@${Date.now() - 1_000_000}:${silent}`),
  });
  t.after(() => liveness.stop());
  // One check period at a time: each step runs the interval once, as real time would.
  const advance = (ms: number) => {
    for (let done = 0; done < ms; done += 1_000) t.mock.timers.tick(1_000);
  };
  return { liveness, events, advance };
}

test('a quiet peer is pinged, then declared dead once silent past the budget', (t) => {
  const { events, advance } = watch(t);
  advance(5_000);
  assert.deepEqual(events, ['ping@2000', 'ping@3000', 'ping@4000', 'dead@5000:5000']);
  advance(5_000);
  assert.equal(events.length, 4, 'nothing after dead');
});

test('hearing from the peer resets its silence', (t) => {
  const { liveness, events, advance } = watch(t);
  for (let i = 0; i < 10; i++) {
    advance(1_000);
    liveness.heard();
  }
  assert.deepEqual(events, []);
});

test('time this process was not running is not held against the peer', (t) => {
  const { liveness, events, advance } = watch(t);
  advance(1_000);
  // The machine sleeps for a minute: the clock jumps, then the overdue check runs.
  t.mock.timers.setTime(1_000_000 + 61_000);
  advance(1_000);
  assert.deepEqual(events, ['ping@62000'], 'a fresh budget and a ping, not a verdict');
  liveness.heard(); // the peer answers: alive
  advance(1_000);
  assert.deepEqual(events, ['ping@62000']);
  advance(5_000); // now it really goes quiet
  assert.match(events[events.length - 1]!, /^dead@/);
});
