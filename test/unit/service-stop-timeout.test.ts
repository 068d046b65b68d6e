/**
 * The service definitions `snowmux service install` writes give the hub its whole drain before the manager
 * kills it: the stop timeout follows hub.shutdown_grace_ms of the config the hub reads. A fixed 30 s
 * SIGKILLed a hub with a 120 s grace mid-drain (calls unanswered, audit records and trace spans lost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { serviceCommand, stopTimeoutSeconds } from '../../src/cli/commands/service-command.js';
import { tempHome } from '../helpers/harness.js';

async function printed(manager: string, home: string, config?: string): Promise<string> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  assert.equal(await serviceCommand(['install', manager, '--print', '--home', home, ...(config ? ['--config', config] : [])], { stdout: sink, stderr: { write: () => true } as unknown as NodeJS.WritableStream }), 0);
  return out;
}

test('the stop timeout is the config\'s shutdown grace plus time to close the audit log, in every manager', async (t) => {
  const home = tempHome(t);
  const config = join(tempHome(t, 'smx-etc-'), 'grace.toml');
  writeFileSync(config, '[hub]\nshutdown_grace_ms = 120000\n');
  const seconds = stopTimeoutSeconds(120_000);
  assert.ok(seconds * 1000 > 120_000 + 10_000, `${seconds} s leaves time after the drain`);
  assert.match(await printed('systemd', home, config), new RegExp(`^TimeoutStopSec=${seconds}$`, 'm'));
  assert.match(await printed('launchd', home, config), new RegExp(`<key>ExitTimeOut</key><integer>${seconds}</integer>`));
  assert.match(await printed('pm2', home, config), new RegExp(`kill_timeout: ${seconds * 1000},`));
  // The home's own config.toml counts too; with none, the default grace gets the default timeout.
  writeFileSync(join(home, 'config.toml'), '[hub]\nshutdown_grace_ms = 60000\n');
  assert.match(await printed('systemd', home), new RegExp(`^TimeoutStopSec=${stopTimeoutSeconds(60_000)}$`, 'm'));
  assert.match(await printed('systemd', join(tempHome(t), 'fresh')), /^TimeoutStopSec=30$/m);
});
