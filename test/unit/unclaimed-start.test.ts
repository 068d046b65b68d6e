import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watchUnclaimedStart } from '../../src/hub/unclaimed-start.js';

/** The watch's timer is unref'd (the hub's socket keeps a hub alive): this keeps the test's event loop alive instead. */
function keepAlive(t: { after(fn: () => void): void }): void {
  const keep = setInterval(() => undefined, 60_000);
  t.after(() => clearInterval(keep));
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('a hub a shim started stops by itself once that shim is gone without a session ever opening, naming its pid', async (t) => {
  keepAlive(t);
  const pid = await deadPid();
  const reason = await new Promise<string>((resolve) => {
    watchUnclaimedStart({ startedBy: `shim:${pid}`, sessionsOpened: () => 0, stop: resolve, everyMs: 5 });
  });
  assert.match(reason, new RegExp(`the shim that started it \\(pid ${pid}\\) exited before linking`));
});

test('a hub whose starting shim is still there waits for it; once any session opened it never stops for it, even after that shim is gone', async (t) => {
  keepAlive(t);
  let sessions = 0;
  let looks = 0;
  let stopped: string | undefined;
  let enough: () => void = () => undefined;
  const threeLooks = new Promise<void>((resolve) => (enough = resolve));
  const waiting = watchUnclaimedStart({
    startedBy: `shim:${process.pid}`,
    sessionsOpened: () => {
      if (++looks >= 3) enough();
      return sessions;
    },
    stop: (why) => (stopped = why),
    everyMs: 5,
  });
  await threeLooks; // three looks while the starter (this process) is alive and nobody linked: no stop
  waiting.cancel();
  assert.equal(stopped, undefined);

  const gone = await deadPid();
  sessions = 1;
  looks = 0;
  const watch = watchUnclaimedStart({ startedBy: `shim:${gone}`, sessionsOpened: () => (looks++, sessions), stop: (why) => (stopped = why), everyMs: 5 });
  // The first look sees a session and ends the watch: a later look would count again.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (looks > 0) {
        clearInterval(poll);
        resolve();
      }
    }, 1);
  });
  watch.cancel();
  assert.equal(stopped, undefined);
  assert.equal(looks, 1);
});

test('a hub a user or a service manager started is never stopped for want of a shim', () => {
  for (const startedBy of [undefined, 'user', 'shim:', 'shim:0', 'shim:12x', 'systemd']) {
    let looked = false;
    const watch = watchUnclaimedStart({ startedBy, sessionsOpened: () => ((looked = true), 0), stop: () => assert.fail(`stopped for ${String(startedBy)}`), everyMs: 1 });
    watch.cancel();
    assert.equal(looked, false);
  }
});
