/**
 * Link liveness (shim and hub): pings when the peer is quiet, declares it dead after the silence budget,
 * and does not blame the peer for time this process was not running (sleep, SIGSTOP, a blocked loop).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Liveness } from '../../src/wire/liveness.js';

function watch(t: TestContext, now: () => number = () => Date.now()) {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const events: string[] = [];
  const liveness = new Liveness({
    now,
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

test('the default clock is monotonic, not the wall clock: a Date stepped back cannot make silence negative', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 10_000_000_000 });
  const liveness = new Liveness({ checkEveryMs: 60_000, pingAfterMs: 60_000, deadAfterMs: 60_000, ping: () => {}, dead: () => {} });
  t.after(() => liveness.stop());
  t.mock.timers.setTime(10_000_000_000 - 3_600_000); // NTP steps the wall clock back an hour
  liveness.heard();
  const heard = (liveness as unknown as { lastHeard: number }).lastHeard;
  assert.ok(Math.abs(heard - performance.now()) < 60_000, `lastHeard ${heard} is on the monotonic clock`);
});

test('while this side does not read the peer (its own reader is behind), silence is not death; pings go on', (t) => {
  const { liveness, events, advance } = watch(t);
  liveness.pauseListening();
  advance(20_000);
  assert.equal(events.filter((e) => e.startsWith('dead')).length, 0, 'the unread answers are ours to read');
  assert.equal(events.length, 20, 'a ping every check, so the peer keeps hearing this side');
  liveness.resumeListening();
  events.length = 0;
  advance(5_000);
  assert.deepEqual(events, ['ping@22000', 'ping@23000', 'ping@24000', 'dead@25000:5000'], 'reading again: a fresh budget, then the usual verdict');
});
