/**
 * What `snowmux status` (and --watch) shows as durations, against a wall clock that steps (NTP, a resumed
 * VM) or differs from the hub's: a session's UP is the hub's monotonic measure, and "waiting for the hub
 * (N s)" the watch's own, never hours nor 0 s because of a step.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError } from '../../src/errors.js';
import type { HubStatus } from '../../src/hub/hub.js';
import { Session } from '../../src/hub/session/session.js';
import { formatStatus } from '../../src/cli/commands/status-command.js';
import { watchStatus } from '../../src/cli/status-watch.js';
import { watchScreen, type WatchFrame } from '../../src/cli/watch-screen.js';

const HOUR = 3_600_000;

function stepWallClock(t: TestContext, stepMs: number): void {
  t.mock.restoreAll();
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() + stepMs);
}

test("a session's UP is measured on the hub's monotonic clock: a wall clock stepped back 2 h neither hides it nor makes it negative", (t) => {
  const session = new Session({ id: '0123456789abcdef', identity: { kind: 'local-user', name: 'me' }, transport: 'stdio' });
  const mono = performance.now.bind(performance);
  stepWallClock(t, -2 * HOUR);
  t.mock.method(performance, 'now', () => mono() + 90_000);
  const snapshot = session.snapshot();
  assert.ok(snapshot.upMs !== undefined && snapshot.upMs >= 90_000 && snapshot.upMs < 100_000, `upMs ${snapshot.upMs}`);
  const status = {
    version: '0.1.0',
    pid: 1,
    state: 'running',
    home: '/tmp/h',
    startedAt: new Date().toISOString(),
    uptimeMs: 100_000,
    warehouses: [],
    sessions: [snapshot],
    totals: { sessionsOpened: 1, calls: 0, errors: 0, refused: 0, cancelled: 0 },
    recent: [],
  } as unknown as HubStatus;
  // The status is read by another process, whose wall clock is 2 h ahead of the hub's connectedAt.
  stepWallClock(t, 2 * HOUR);
  const row = formatStatus(status, 160).split('\n').find((l) => l.startsWith('01234567'));
  assert.ok(row, formatStatus(status, 160));
  assert.match(row, / 1m3\d?s /, `UP is the session's 90 s, not the wall clocks' difference: ${row}`);
});

test('status --watch: "waiting for the hub (N s)" is measured on the monotonic clock, whatever the wall clock did', async (t) => {
  let mono = 1_000;
  let reads = 0;
  const frames: WatchFrame[] = [];
  const code = await watchStatus({
    intervalMs: 1_000,
    retryMs: 1,
    monotonic: () => mono,
    show: (frame: WatchFrame) => frames.push(frame),
    source: {
      read: async () => {
        reads += 1;
        if (reads === 2) {
          // 5 s later, with the wall clock stepped 1 h forward.
          stepWallClock(t, HOUR);
          mono += 5_000;
        }
        if (reads === 3) throw new SnowmuxError('HTTP_UNAUTHORIZED', 'The key was refused.');
        throw new Error('No hub answered at /tmp/h/hub.sock (ENOENT).');
      },
      eventsFor: () => undefined,
    },
  } as unknown as Parameters<typeof watchStatus>[0]);
  assert.equal(code, 1);
  const second = frames[1];
  assert.ok(second && second.kind === 'waiting');
  assert.match(watchScreen(second)[0]!, /waiting for the hub \(5s\)/);
  t.mock.restoreAll();
});
