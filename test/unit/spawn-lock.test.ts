/**
 * The shim's start-up lock and hub start on a home where they cannot be written (a full or read-only disk,
 * a path that is not a directory): the editor learns why at once, and nothing is left behind that would
 * make the next start wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryAcquireSpawnLock, SPAWN_LOCK_NAME } from '../../src/shim/spawn-lock.js';
import { connectOrStartHub } from '../../src/shim/hub-link.js';
import { WIRE_VERSION, makeHello } from '../../src/wire/hello.js';
import { processStartTicks, processStopped } from '../../src/wire/process-alive.js';
import { isSnowmuxError } from '../../src/errors.js';

function scratch(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'lock-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a lock that cannot be created says why (HOME_UNUSABLE) instead of looking held by another shim', (t) => {
  const dir = scratch(t);
  // A "home" that is a file: creating the lock fails with ENOTDIR, as a full or read-only disk fails with ENOSPC/EROFS.
  const home = join(dir, 'not-a-dir');
  writeFileSync(home, '');
  assert.throws(() => tryAcquireSpawnLock(home, 15_000), (err: unknown) => isSnowmuxError(err, 'HOME_UNUSABLE') && /start-up lock/.test((err as Error).message) && /ENOTDIR/.test((err as Error).message));
  // A lock held by a live process is still just "not ours".
  const ok = join(dir, 'home');
  mkdirSync(ok);
  const first = tryAcquireSpawnLock(ok, 15_000);
  assert.ok(first);
  assert.equal(tryAcquireSpawnLock(ok, 15_000), null);
  first.release();
  assert.equal(existsSync(join(ok, SPAWN_LOCK_NAME)), false);
});

test('a lock whose pid now names another process (reused, or another pid namespace) is stale at once', (t) => {
  const home = scratch(t);
  const path = join(home, SPAWN_LOCK_NAME);
  // Our parent is alive, but it did not start at tick 1: the lock's writer is gone and its pid reused.
  writeFileSync(path, `${process.ppid} ${Date.now()} 1\n`);
  const taken = tryAcquireSpawnLock(home, 60_000);
  assert.ok(taken, 'taken over without waiting for the stale age');
  taken.release();
  // The same live pid with its real start time (or an older lock without one) still holds.
  const ticks = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  writeFileSync(path, `${process.ppid} ${Date.now()} ${ticks.slice(ticks.lastIndexOf(')') + 2).split(' ')[19]}\n`);
  assert.equal(tryAcquireSpawnLock(home, 60_000), null);
  writeFileSync(path, `${process.ppid} ${Date.now()}\n`);
  assert.equal(tryAcquireSpawnLock(home, 60_000), null);
});

test('a lock goes with its process, however it exits; one left by a killed process (or never written) is taken over at once', async (t) => {
  const home = scratch(t);
  const path = join(home, SPAWN_LOCK_NAME);
  const module = new URL('../../src/shim/spawn-lock.js', import.meta.url).href;
  // Takes the lock and leaves without releasing it, as a shim whose editor closed stdin (or that got
  // SIGTERM) while it was starting a hub: process.exit skips the finally that releases it.
  const hold = (end: string) => spawn(process.execPath, ['--input-type=module', '-e', `const { tryAcquireSpawnLock } = await import(${JSON.stringify(module)}); if (!tryAcquireSpawnLock(${JSON.stringify(home)}, 60000)) process.exit(3); console.log('held'); ${end}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const viaExit = hold('process.exit(0);');
  assert.equal(await exited(viaExit), 0);
  assert.equal(existsSync(path), false, 'process.exit releases the lock');
  const killed = hold('setInterval(() => {}, 1000);');
  t.after(() => killed.kill('SIGKILL'));
  await new Promise((resolve) => killed.stdout!.once('data', resolve));
  assert.equal(tryAcquireSpawnLock(home, 60_000), null, 'held while its owner lives');
  killed.kill('SIGKILL');
  await exited(killed);
  assert.ok(existsSync(path), 'SIGKILL leaves it');
  const taken = tryAcquireSpawnLock(home, 60_000);
  assert.ok(taken, 'taken over at once: its pid is dead');
  taken.release();
  // Created but its pid never written (killed in between): nobody's after a moment, not after the deadline.
  writeFileSync(path, '');
  assert.equal(tryAcquireSpawnLock(home, 60_000), null, 'may still be being written');
  const past = new Date(Date.now() - 5_000);
  utimesSync(path, past, past);
  const again = tryAcquireSpawnLock(home, 60_000);
  assert.ok(again);
  again.release();
});

test('a shim that cannot start a hub in its home reports it at once and leaves no lock behind', async (t) => {
  const dir = scratch(t);
  const home = join(dir, 'home');
  mkdirSync(home);
  // The hub's log cannot be opened (here a directory; on a full disk ENOSPC): no hub can be spawned.
  mkdirSync(join(home, 'hub-stderr.log'));
  const started = Date.now();
  await assert.rejects(
    connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', ''], deadlineMs: 15_000 }),
    (err: unknown) => isSnowmuxError(err, 'HUB_START_FAILED') && /hub-stderr\.log/.test((err as Error).message),
  );
  assert.ok(Date.now() - started < 5_000, 'reported without waiting for the start deadline');
  assert.equal(existsSync(join(home, SPAWN_LOCK_NAME)), false, 'the start-up lock was released');
  // So the next attempt takes the lock at once instead of waiting for it to go stale.
  const again = tryAcquireSpawnLock(home, 15_000);
  assert.ok(again);
  again.release();
});

test('a hub process that cannot be started at all (the Node binary gone after an upgrade) is HUB_START_FAILED saying so, not an uncaught error that ends the shim', async (t) => {
  const dir = scratch(t);
  const home = join(dir, 'home');
  mkdirSync(home);
  // What the shim starts a hub with: its own Node binary, removed meanwhile (brew upgrade, nvm uninstall).
  const realExecPath = process.execPath;
  const gone = join(dir, 'node-20.11.0', 'bin', 'node');
  process.execPath = gone;
  t.after(() => {
    process.execPath = realExecPath;
  });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));
  const started = Date.now();
  await assert.rejects(
    connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', ''], deadlineMs: 15_000 }),
    (err: unknown) =>
      isSnowmuxError(err, 'HUB_START_FAILED') &&
      (err as Error).message.includes(`${gone} could not be run (ENOENT`) &&
      /Restart the editor's MCP server/.test((err as Error).message),
  );
  process.execPath = realExecPath;
  assert.deepEqual(uncaught, [], 'the failed spawn is handled, not thrown');
  assert.ok(Date.now() - started < 5_000, 'reported without waiting for the start deadline');
  assert.equal(existsSync(join(home, SPAWN_LOCK_NAME)), false, 'the start-up lock was released');
});

test('a start lock held by a live process that is not starting a hub delays the start, and the hub then started gets its own time', async (t) => {
  const home = scratch(t);
  // A live process holds the lock (its pid and start time match): a shim frozen while it held it.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  const ticks = processStartTicks(holder.pid!) ?? '-';
  writeFileSync(join(home, SPAWN_LOCK_NAME), `${holder.pid} ${Date.now()} ${ticks}\n`);
  // A stand-in hub: listens on the socket a moment after it starts and welcomes the shim.
  const hub = `const net = require('node:net');
    setTimeout(() => net.createServer((s) => s.once('data', () => s.write(JSON.stringify({ snowmux: 'welcome', wire: ${WIRE_VERSION}, version: '0.0.0', hubPid: process.pid, sessionId: 's' }) + '\\n'))).listen(${JSON.stringify(join(home, 'hub.sock'))}), 300);
    setTimeout(() => process.exit(0), 20000);`;
  const deadlineMs = 3_000;
  const started = Date.now();
  const link = await connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', hub], deadlineMs });
  link.socket.destroy();
  assert.equal(link.welcome.snowmux, 'welcome');
  assert.ok(Date.now() - started < deadlineMs + 2_000, 'taken over before the deadline, not at it');
  const pid = link.welcome.hubPid;
  process.kill(pid, 'SIGKILL');
});

test('a home moved or deleted under a running editor is said as such (not "free space"), and a home made again is used at once', async (t) => {
  const dir = scratch(t);
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  rmSync(home, { recursive: true });
  const gone = (err: unknown) =>
    isSnowmuxError(err, 'HOME_UNUSABLE') &&
    /home .*\/home no longer exists: it was moved or deleted while snowmux was running/.test((err as Error).message) &&
    /mkdir -m 700 /.test((err as Error).message) &&
    !/Free space/.test((err as Error).message);
  assert.throws(() => tryAcquireSpawnLock(home, 15_000), gone);
  // What the shim meets on the editor's next call: the socket is gone, so it tries to start a hub.
  await assert.rejects(
    connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', ''], deadlineMs: 15_000 }),
    gone,
  );
  assert.equal(existsSync(home), false, 'not re-created behind the user\'s back');
  mkdirSync(home, { mode: 0o700 });
  const lock = tryAcquireSpawnLock(home, 15_000);
  assert.ok(lock);
  lock.release();
});

test('a lock held by a stopped process (SIGSTOP, Ctrl-Z) is taken over at once: it starts nothing until resumed', async (t) => {
  const home = scratch(t);
  const path = join(home, SPAWN_LOCK_NAME);
  const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
  const gone = new Promise((resolve) => holder.once('exit', resolve));
  t.after(async () => {
    holder.kill('SIGKILL');
    await gone;
  });
  await new Promise((resolve) => holder.once('spawn', resolve));
  writeFileSync(path, `${holder.pid} ${Date.now()} ${processStartTicks(holder.pid!)}\n`);
  assert.equal(tryAcquireSpawnLock(home, 60_000), null, 'held while its owner runs');
  holder.kill('SIGSTOP');
  // The stop is delivered asynchronously: wait until the process is seen stopped.
  while (processStopped(holder.pid!) !== true) await new Promise((r) => setImmediate(r));
  const taken = tryAcquireSpawnLock(home, 60_000);
  assert.ok(taken, 'taken over without waiting for the stale age');
  taken.release();
});

test('processStopped tells a stopped process from a running one, and is null for one that is gone', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const gone = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGKILL');
    await gone;
  });
  await new Promise((resolve) => child.once('spawn', resolve));
  assert.equal(processStopped(child.pid!), false);
  child.kill('SIGSTOP');
  while (processStopped(child.pid!) !== true) await new Promise((r) => setImmediate(r));
  child.kill('SIGCONT');
  while (processStopped(child.pid!) !== false) await new Promise((r) => setImmediate(r));
  child.kill('SIGKILL');
  await gone;
  assert.equal(processStopped(child.pid!), null);
});
