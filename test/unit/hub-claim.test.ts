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
import { processStartTicks } from '../../src/wire/process-alive.js';

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
