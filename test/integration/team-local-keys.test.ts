/**
 * A team home (hub.redis_url) whose keys.json still holds keys made before the team had Redis: its hub
 * accepts them, so `snowmux keys list` shows them (marked local, beside the team's keys) and `keys revoke`
 * and `keys rotate` find them without --local; a prefix that names a key in each store is refused, naming
 * both; with Redis down, --local still acts on keys.json. Before, the team's commands saw Redis only: such
 * a key was "not found" while the hub accepted it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, startHub, tempHome } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis-server.js';
import { NO_REDIS } from '../helpers/debian-tools.js';

const idOf = (key: string) => /^smx_([0-9a-f]{12})_/.exec(key)![1]!;

test('on a team home, keys list shows keys.json keys beside Redis ones and revoke/rotate find them in either store', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  const redis = await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.1:0"\n');
  // Keys made while the home had no Redis: they live in its keys.json.
  const old = (await runCli(['keys', 'create', '--identity', 'oldtimer', '--home', home])).stdout.trim();
  const spare = (await runCli(['keys', 'create', '--identity', 'spare', '--home', home])).stdout.trim();
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "t${port}"\n`);
  const made = await runCli(['keys', 'create', '--identity', 'ops', '--home', home]);
  assert.match(made.stderr, /Team key/);
  const team = made.stdout.trim();

  const listed = await runCli(['keys', 'list', '--json', '--home', home]);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { id: string; store: string; identity: string }[];
  assert.deepEqual(
    rows.map((r) => [r.id, r.store, r.identity]).sort(),
    [[idOf(old), 'local', 'oldtimer'], [idOf(spare), 'local', 'spare'], [idOf(team), 'team', 'ops']].sort(),
  );
  const text = await runCli(['keys', 'list', '--home', home]);
  assert.match(text.stdout, new RegExp(`${idOf(old)}  local  active +oldtimer`));
  assert.match(text.stdout, new RegExp(`${idOf(team)}  team   active +ops`));

  // The hub on this home accepts the local key; revoked by its id alone, it is refused on the next request.
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
  const asOld = () => fetch(`${url}/status`, { headers: { authorization: `Bearer ${old}` } }).then((r) => r.status);
  assert.equal(await asOld(), 200);
  const revoked = await runCli(['keys', 'revoke', idOf(old), '--home', home]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /in this home's keys\.json is revoked/);
  assert.equal(await asOld(), 401);

  // A rotation of a local key stays local (only this home's hub accepts it) and says so.
  const rotated = await runCli(['keys', 'rotate', idOf(spare), '--home', home]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, /Only this home's hub accepts it/);
  const after = JSON.parse((await runCli(['keys', 'list', '--json', '--home', home])).stdout) as { id: string; store: string }[];
  assert.equal(after.find((r) => r.id === idOf(rotated.stdout.trim()))?.store, 'local');

  // A prefix that names a key in each store acts on neither. Ids are random: the revoked local key's id is
  // given the team key's first 4 characters.
  const teamId = idOf(team);
  const keysFile = join(home, 'keys.json');
  const data = JSON.parse(readFileSync(keysFile, 'utf8')) as { keys: { id: string }[] };
  const renamed = `${teamId.slice(0, 4)}${data.keys[0]!.id.slice(4)}`;
  data.keys[0]!.id = renamed;
  writeFileSync(keysFile, JSON.stringify(data));
  const shared = teamId.slice(0, 4);
  const ambiguous = await runCli(['keys', 'revoke', shared, '--home', home]);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, new RegExp(`names keys in the team's Redis \\(${teamId}\\) and in this home's keys\\.json \\(${renamed}\\).*add --local`));
  assert.equal(await fetch(`${url}/status`, { headers: { authorization: `Bearer ${team}` } }).then((r) => r.status), 200, 'the team key was not revoked');

  // With Redis gone, the refusal points to --local, which acts on keys.json alone.
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  const down = await runCli(['keys', 'revoke', idOf(spare), '--home', home]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /Cannot reach the team's Redis.*add --local/);
  // Redis down is not a config error (the file is fine): the code errors.md gives for it.
  assert.match(down.stderr, /\[TEAM_REDIS_FAILED\]|TEAM_REDIS_FAILED/);
  assert.doesNotMatch(down.stderr, /CONFIG_INVALID/);
  const local = await runCli(['keys', 'revoke', '--local', idOf(spare), '--home', home]);
  assert.equal(local.code, 0, local.stderr);
});

test('keys create without the config of this home\'s running team replica is refused, naming the hub\'s file', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const home = tempHome(t);
  // As in a container: the hub's file is outside the home and given to the hub alone.
  const etc = tempHome(t, 'smx-etc-');
  const config = join(etc, 'config.toml');
  writeFileSync(config, `[hub]\nhttp_listen = "127.0.0.1:0"\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "t${port}"\n`);
  await startHub(t, home, ['--config', config]);
  const bare = await runCli(['keys', 'create', '--identity', 'alice', '--home', home]);
  assert.equal(bare.code, 1);
  assert.match(bare.stderr, new RegExp(`replica of team "t${port}"[\\s\\S]*snowmux keys create --identity alice --home \\S+ --config \\S*config\\.toml[\\s\\S]*--local`));
  assert.equal(JSON.parse((await runCli(['keys', 'list', '--json', '--local', '--home', home])).stdout).length, 0, 'no local key was made');
  const team = await runCli(['keys', 'create', '--identity', 'alice', '--home', home, '--config', config]);
  assert.match(team.stderr, /Team key/);
  const local = await runCli(['keys', 'create', '--identity', 'bob', '--local', '--home', home]);
  assert.equal(local.code, 0, local.stderr);
});
