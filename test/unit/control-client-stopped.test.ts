/**
 * A hub stopped with SIGSTOP (Ctrl-Z, a debugger) accepts connections (the kernel does) and answers nothing:
 * status and stop name it as stopped and say how to resume or end it, instead of "frozen or overloaded".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { controlRequest } from '../../src/cli/control-client.js';
import { processStartTicks, processStopped } from '../../src/wire/process-alive.js';

/** The kernel marks a signalled process stopped (or running again) when it next runs: wait for the state, not a time. */
async function until(state: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !state() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
}

test('a stopped hub is named as stopped, with kill -CONT and kill -KILL for its pid', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-stopped-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // Stands in for the hub's process: a snowmux-named process, stopped.
  const hub = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'snowmux-hub-stand-in'], { stdio: 'ignore' });
  t.after(() => {
    hub.kill('SIGKILL');
  });
  const pid = hub.pid!;
  writeFileSync(join(home, 'hub.pid'), `${pid} ${processStartTicks(pid) ?? ''}\n`);
  process.kill(pid, 'SIGSTOP');
  await until(() => processStopped(pid) === true);
  assert.equal(processStopped(pid), true);
  // The listening socket the stopped hub holds: the kernel accepts, nobody answers.
  const held: Socket[] = [];
  const server = createServer((s) => held.push(s));
  const socketPath = join(home, 'hub.sock');
  await new Promise<void>((r) => server.listen(socketPath, r));
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  await assert.rejects(controlRequest(socketPath, 'status', 200, home), (err: unknown) => {
    assert.ok(isSnowmuxError(err, 'HUB_NO_WELCOME'), String(err));
    assert.match(err.message, new RegExp(`\\(pid ${pid}\\) is stopped .*kill -CONT ${pid}.*kill -KILL ${pid}`));
    return true;
  });
  // Resumed (but still silent), it is not called stopped.
  process.kill(pid, 'SIGCONT');
  await until(() => processStopped(pid) === false);
  await assert.rejects(controlRequest(socketPath, 'status', 200, home), (err: unknown) => isSnowmuxError(err, 'HUB_NO_WELCOME') && /frozen \(stopped, or the machine is resuming\) or overloaded/.test(err.message));
});
