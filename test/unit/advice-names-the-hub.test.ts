/**
 * The commands a message advises about keys, a missing home, a pending restart or a frozen hub name the
 * home and config the hub uses: pasted bare they acted on ~/.snowmux (a key that hub never reads; a team
 * hub's key made local; a replace on another home).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { HubStatus } from '../../src/hub/hub.js';
import { createKey, revokeKey, rotateKey } from '../../src/hub/keys/api-keys.js';
import { keysCommand } from '../../src/cli/commands/keys-command.js';
import { formatStatus } from '../../src/cli/commands/status-command.js';
import { stopCommand } from '../../src/cli/commands/stop-command.js';
import { runChecks } from '../../src/cli/commands/doctor-command.js';
import { checkHomeOfHub } from '../../src/wire/home.js';
import { createServer, type Socket } from 'node:net';
import { defer, tempHome } from '../helpers/harness.js';

function capture(): { out: () => string; sink: NodeJS.WritableStream } {
  let out = '';
  return { out: () => out, sink: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream };
}

test('keys advice carries --home (and the --config the command read)', async (t) => {
  const home = tempHome(t);
  const config = join(tempHome(t, 'smx-etc-'), 'hub.toml');
  writeFileSync(config, '');
  const empty = capture();
  assert.equal(await keysCommand(['list', '--home', home, '--config', config], { stdout: empty.sink, stderr: empty.sink }), 0);
  assert.match(empty.out(), new RegExp(`Create one with: snowmux keys create --identity NAME --home ${home} --config ${config}\\n`));

  const { record } = createKey(home, 'ci', null);
  const rotated = capture();
  assert.equal(await keysCommand(['rotate', record.id, '--home', home, '--config', config], { stdout: rotated.sink, stderr: rotated.sink }), 0);
  assert.match(rotated.out(), new RegExp(`end the old one sooner with: snowmux keys revoke ${record.id} --home ${home} --config ${config}\\.`));

  revokeKey(home, record.id);
  assert.throws(() => rotateKey(home, record.id, new Date(), undefined, new Date(), config), new RegExp(`is revoked[\\s\\S]*Create a new one: snowmux keys create --identity ci --home ${home} --config ${config}$`));
});

test('status on a home not made yet advises starting the hub on that home', (t) => {
  const home = join(tempHome(t), 'not-yet');
  assert.throws(() => checkHomeOfHub(home), (err: Error) => err.message.includes(`Start a hub with \`snowmux hub --home ${home}\``));
});

test("status's pending-restart line names the hub's home and config file", () => {
  const status = {
    version: '0.1.0', pid: 1, startedAt: new Date().toISOString(), uptimeMs: 1, home: '/srv/h', socket: '/srv/h/hub.sock', state: 'running',
    warehouses: [], sessions: [], totals: { sessionsOpened: 0, calls: 0, errors: 0, refused: 0, cancelled: 0 }, recent: [],
    config: { path: '/etc/snowmux/config.toml', exists: true, lastReload: { at: '2026-12-06T10:11:12.000Z', applied: [], needsRestart: ['hub'] } },
  } as unknown as HubStatus;
  assert.match(formatStatus(status, 400), /applies only after a restart \(snowmux hub --replace --home \/srv\/h --config \/etc\/snowmux\/config\.toml\): hub/);
});

test('stop and doctor, meeting a frozen hub, advise replacing the hub of that home, in their own words', async (t) => {
  const home = tempHome(t);
  // A hub that accepts connections and never answers the handshake (SIGSTOPped, as far as a client sees).
  const held: Socket[] = [];
  const frozen = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => frozen.listen(join(home, 'hub.sock'), resolve));
  defer(t, () => new Promise<void>((resolve) => {
    for (const socket of held) socket.destroy();
    frozen.close(() => resolve());
  }));
  const replace = `\`snowmux hub --replace --home ${home}\``;
  const [stop, checks] = await Promise.all([
    stopCommand(['--home', home], { stdout: capture().sink, stderr: capture().sink }).then(() => assert.fail('stop succeeded'), (err: Error) => err),
    runChecks({ home, env: { HOME: process.env.HOME }, offline: true }),
  ]);
  assert.match(stop.message, /did not answer the handshake/);
  assert.ok(stop.message.includes(replace), stop.message);
  assert.doesNotMatch(stop.message, /shim keeps trying/, 'a command is not a shim');
  const hub = checks.find((c) => c.check === 'hub')!;
  assert.equal(hub.status, 'fail');
  assert.ok(hub.detail.includes(replace), hub.detail);
  assert.doesNotMatch(hub.detail, /shim keeps trying/);
});
