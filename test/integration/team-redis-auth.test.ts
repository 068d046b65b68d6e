/**
 * A team hub whose Redis wants a password: a replica, `snowmux keys` and `snowmux audit verify --redis`
 * given the wrong one say what Redis said (WRONGPASS), on the terminal and in status, and never show the
 * password — in what they print, in status or in the hub's log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, startHub, tempHome } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis-server.js';
import { NO_REDIS } from '../helpers/debian-tools.js';

const PASSWORD = 'Pw-of-the-team-redis-81c3';
const WRONG = 'Not-the-password-5e2a';

test('a wrong Redis password is named (WRONGPASS) by the replica, status, keys and audit verify, and never shown', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'), ['--requirepass', PASSWORD]);
  const home = tempHome(t);
  const url = `redis://:${WRONG}@127.0.0.1:${port}`;
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "${url}"\nteam_namespace = "p${port}"\n`);
  const hub = await startHub(t, home);
  // The replica never reached Redis: before, its terminal said nothing at all (only a switch from connected did).
  const deadline = Date.now() + 10_000;
  while (!/Redis unreachable/.test(hub.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(hub.stderr(), /Redis unreachable \(WRONGPASS[^)]*\); rate limits are per replica/);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { team: { mode: string; lastError?: string } };
  assert.equal(status.team.mode, 'local');
  assert.match(status.team.lastError ?? '', /^WRONGPASS/);
  const plain = (await runCli(['status', '--home', home], { COLUMNS: '200' })).stdout;
  assert.match(plain, /LOCAL LIMITS \(Redis unreachable: WRONGPASS/);

  // The CLI said "Connection is closed." — not that the password was refused.
  const keys = await runCli(['keys', 'create', '--identity', 'alice', '--home', home]);
  assert.equal(keys.code, 1);
  assert.match(keys.stderr, /Cannot reach the team's Redis at hub\.redis_url \(WRONGPASS/);
  const verify = await runCli(['audit', 'verify', '--redis', url, '--stream', 'snowmux:audit']);
  assert.equal(verify.code, 2);
  assert.match(verify.stderr, /at redis:\/\/\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/);
  assert.doesNotMatch(verify.stderr, /Unhandled error event/);

  for (const text of [hub.stderr(), JSON.stringify(status), plain, keys.stderr, verify.stderr, readFileSync(join(home, 'hub.log'), 'utf8')]) {
    assert.ok(!text.includes(WRONG) && !text.includes(PASSWORD), text);
  }
});
