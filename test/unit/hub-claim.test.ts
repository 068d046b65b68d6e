/**
 * The home's serving claim (hub.pid): a second hub on a home another live hub serves refuses, naming it,
 * unless it took the socket over (`hub --replace`); a dead holder's claim is stale; only the holder gives it up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { HUB_CLAIM_FILE, claimHome, releaseHomeClaim, servingHubPid } from '../../src/wire/hub-claim.js';
import { processAlive, processStartTicks } from '../../src/wire/process-alive.js';
import { liveAuditWriter } from '../../src/wire/audit-claim.js';
import { SPAWN_LOCK_NAME, tryAcquireSpawnLock } from '../../src/shim/spawn-lock.js';

test('a live hub\'s claim refuses a second hub (naming its pid) unless it takes over; a dead one\'s is stale; release removes only its own', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-claim-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // Another live snowmux process holding the claim (its command line names snowmux).
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'snowmux-hub-stand-in'], { stdio: 'ignore' });
  t.after(async () => {
    if (other.exitCode === null && other.signalCode === null) {
      other.kill('SIGKILL');
      await once(other, 'exit');
    }
  });
  const ticks = processStartTicks(other.pid!);
  writeFileSync(join(home, HUB_CLAIM_FILE), `${other.pid}${ticks === null ? '' : ` ${ticks}`}\n`, { mode: 0o600 });
  assert.equal(servingHubPid(home), other.pid);
  assert.throws(
    () => claimHome(home, false, (pid) => `stop ${pid}`),
    (err: unknown) => isSnowmuxError(err, 'HUB_ALREADY_RUNNING') && err.message.includes(`Another snowmux hub (pid ${other.pid}) already serves the home ${home}`) && err.message.endsWith(`stop ${other.pid}`),
  );
  // What it was refused leaves the holder's claim alone.
  releaseHomeClaim(home);
  assert.equal(servingHubPid(home), other.pid);

  // A take-over (`hub --replace`) takes it.
  claimHome(home, true, () => '');
  assert.equal(readFileSync(join(home, HUB_CLAIM_FILE), 'utf8').split(' ')[0]!.trim(), String(process.pid));
  assert.equal(servingHubPid(home), null, 'this process is not another hub');
  releaseHomeClaim(home);
  assert.equal(existsSync(join(home, HUB_CLAIM_FILE)), false);

  // A claim whose process is gone is stale: taken without a word.
  writeFileSync(join(home, HUB_CLAIM_FILE), `${other.pid}${ticks === null ? '' : ` ${ticks}`}\n`, { mode: 0o600 });
  other.kill('SIGKILL');
  await once(other, 'exit');
  claimHome(home, false, () => '');
  releaseHomeClaim(home);
});

test('a hub that was killed but not yet reaped (a zombie) holds nothing: its hub.pid, audit-writer.pid and a start lock naming it are stale', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-claim-zombie-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  // A parent that never reaps (as a container's PID 1 `sleep infinity` does an orphaned hub): the child
  // `sleep 0.2` exits after its shell became `sleep 30`, and stays a zombie while that runs.
  const parent = spawn('/bin/sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(async () => {
    if (parent.exitCode === null && parent.signalCode === null) {
      parent.kill('SIGKILL');
      await once(parent, 'exit');
    }
  });
  const [out] = (await once(parent.stdout!, 'data')) as [Buffer];
  const zombie = Number(out.toString().trim());
  assert.ok(Number.isInteger(zombie) && zombie > 0);
  const ticks = processStartTicks(zombie);
  assert.notEqual(ticks, null, 'a Linux /proc');
  const state = () => readFileSync(`/proc/${zombie}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
  const until = Date.now() + 10_000;
  while (state() !== 'Z' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(state(), 'Z', 'the child is a zombie: exited, not reaped');
  assert.equal(processStartTicks(zombie), ticks, 'a zombie keeps its pid and start time, as the claim names them');

  // hub.pid: the next hub takes the home instead of refusing for ever ("kill <pid>" cannot end a zombie).
  writeFileSync(join(home, HUB_CLAIM_FILE), `${zombie} ${ticks}\n`, { mode: 0o600 });
  assert.equal(servingHubPid(home), null);
  claimHome(home, false, () => '');
  releaseHomeClaim(home);
  // audit-writer.pid: a new hub does not wait for the dead writer's last record.
  writeFileSync(join(home, 'audit-writer.pid'), `${zombie} ${ticks}\n`, { mode: 0o600 });
  assert.equal(liveAuditWriter(home), null);
  // A start lock whose shim was killed and not yet reaped is taken over at once, not after half the deadline.
  writeFileSync(join(home, SPAWN_LOCK_NAME), `${zombie} ${Date.now()} ${ticks}\n`, { mode: 0o600 });
  const lock = tryAcquireSpawnLock(home, 60_000);
  assert.notEqual(lock, null);
  lock!.release();
  assert.equal(processAlive(zombie), false);
});
