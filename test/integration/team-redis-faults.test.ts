/**
 * A team hub's Redis going wrong: a Redis that wants a password — a replica, `snowmux keys` and `snowmux
 * audit verify --redis` given the wrong one say what Redis said (WRONGPASS), on the terminal and in status,
 * and never show the password; and a Redis that restarts empty (no persistence, as contrib's) — the team's
 * keys come back from the replicas, revocations included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, startHub, tempHome } from '../helpers/harness.js';
import { once } from 'node:events';
import { startRedis } from '../helpers/redis-server.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { Redis } from 'ioredis';

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
  assert.match(keys.stderr, /CONFIG_INVALID/, 'a refused password is the config\'s to fix');
  const verify = await runCli(['audit', 'verify', '--redis', url, '--stream', 'snowmux:audit']);
  assert.equal(verify.code, 2);
  assert.match(verify.stderr, /at redis:\/\/\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/);
  assert.doesNotMatch(verify.stderr, /Unhandled error event/);

  for (const text of [hub.stderr(), JSON.stringify(status), plain, keys.stderr, verify.stderr, readFileSync(join(home, 'hub.log'), 'utf8')]) {
    assert.ok(!text.includes(WRONG) && !text.includes(PASSWORD), text);
  }
});

test('a password changed on a running Redis is named (WRONGPASS) on the replica\'s terminal, not only "connection closed"', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'), ['--requirepass', PASSWORD]);
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://:${PASSWORD}@127.0.0.1:${port}"\nteam_namespace = "w${port}"\n`);
  const hub = await startHub(t, home);
  const until = async (pattern: RegExp) => {
    const deadline = Date.now() + 15_000;
    while (!pattern.test(hub.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(hub.stderr(), pattern);
  };
  await until(/Redis connected/);
  const admin = new Redis({ port, password: PASSWORD, lazyConnect: true });
  t.after(() => admin.disconnect());
  await admin.connect();
  await admin.config('SET', 'requirepass', `${PASSWORD}-rotated`);
  await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  await until(/Redis unreachable \(WRONGPASS[^)]*\); rate limits are per replica/);
  assert.ok(!hub.stderr().includes(PASSWORD), 'the password is never shown');
});

test('a replica started while Redis is down answers team keys 503 (retry), not 401, and is not healthy; once Redis answers it serves them, and a revocation reaches it at once', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "d${port}"\nhttp_listen = "127.0.0.1:0"\n`);
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
  const said = async (pattern: RegExp) => {
    for (const by = Date.now() + 15_000; !pattern.test(hub.stderr()) && Date.now() < by; ) await new Promise((r) => setTimeout(r, 50));
    assert.match(hub.stderr(), pattern);
  };
  // Said once the keys have had a moment to load (a healthy start does not say it; team-redis checks that).
  await said(/team's API keys are not loaded yet[^\n]*503/);
  assert.doesNotMatch(hub.stderr(), /no API key exists yet/);
  const get = (path: string, key?: string) => fetch(`${url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {}).then(async (r) => ({ code: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }));
  const healthz = await get('/healthz');
  assert.equal(healthz.code, 503, 'a load balancer sends it nothing yet');
  assert.match(healthz.body, /not loaded yet/);
  // Any well-formed key may be a team key: "not valid" would make an editor's shim give up on a good key.
  const unknown = await get('/status', `smx_${'0'.repeat(12)}_${'x'.repeat(32)}`);
  assert.equal(unknown.code, 503);
  assert.equal(unknown.retryAfter, '5');
  assert.match(unknown.body, /Cannot check the API key yet: the team's API keys are not loaded yet.*Retry in a few seconds/);

  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  // Redis is back but empty (a restart without persistence, before the other replicas write the keys back):
  // still "cannot check yet", never "not valid", while the replica is connected and reading.
  const connectedBy = Date.now() + 15_000;
  while ((JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { team: { mode: string } }).team.mode !== 'connected') {
    assert.ok(Date.now() < connectedBy, 'the replica never reconnected to Redis');
  }
  for (const until = Date.now() + 1_000; Date.now() < until; ) assert.equal((await get('/status', `smx_${'0'.repeat(12)}_${'x'.repeat(32)}`)).code, 503);
  const made = await runCli(['keys', 'create', '--identity', 'alice', '--home', home]);
  assert.match(made.stderr, /Team key/);
  const alice = made.stdout.trim();
  const deadline = Date.now() + 15_000;
  while ((await get('/status', alice)).code !== 200) {
    assert.ok(Date.now() < deadline, 'the replica never read the team keys once Redis was up');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal((await get('/healthz')).code, 200);
  await said(/the team's API keys are loaded from Redis: team keys are served now/);
  // The change message reaches it (its SUBSCRIBE, refused while Redis was down, was made again): not the 30 s re-read.
  assert.equal((await runCli(['keys', 'revoke', /^smx_([0-9a-f]{12})_/.exec(alice)![1]!, '--home', home])).code, 0);
  const revokedBy = Date.now() + 5_000;
  let after = await get('/status', alice);
  while (after.code === 200) {
    assert.ok(Date.now() < revokedBy, 'the revocation did not reach the replica within 5 s');
    await new Promise((r) => setTimeout(r, 50));
    after = await get('/status', alice);
  }
  assert.equal(after.code, 401);
  assert.match(after.body, /revoked/);
});

test('snowmux keys against a Redis that holds the connection but never answers gives up within seconds, saying the key was NOT revoked', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const redis = await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "s${port}"\n`);
  const made = await runCli(['keys', 'create', '--identity', 'erin', '--home', home]);
  assert.match(made.stderr, /Team key/);
  const id = /^smx_([0-9a-f]{12})_/.exec(made.stdout.trim())![1]!;
  redis.kill('SIGSTOP');
  t.after(() => {
    redis.kill('SIGCONT');
  });
  // Before, this waited forever (no command timeout), and nothing said the leaked key still worked.
  const revoke = await runCli(['keys', 'revoke', id, '--home', home]);
  assert.equal(revoke.code, 1);
  assert.match(revoke.stderr, /Command timed out[^\n]*[Nn]othing was changed/);
});

test('a Redis restarted empty gets the team\'s keys back from the replicas: a live key still works on every replica, a revoked one stays revoked', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const redisDir = tempHome(t, 'smx-redis-');
  const redis = await startRedis(t, port, redisDir);
  const homes = [tempHome(t), tempHome(t)];
  const urls: string[] = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "k${port}"\nhttp_listen = "127.0.0.1:0"\n`);
    urls.push(/HTTP on (http:\/\/\S+)/.exec((await startHub(t, home)).stderr())![1]!);
  }
  const make = async (identity: string) => {
    const made = await runCli(['keys', 'create', '--identity', identity, '--home', homes[0]!]);
    assert.match(made.stderr, /Team key/);
    return made.stdout.trim();
  };
  const alice = await make('alice');
  const bob = await make('bob');
  assert.equal((await runCli(['keys', 'revoke', /^smx_([0-9a-f]{12})_/.exec(bob)![1]!, '--home', homes[1]!])).code, 0);
  const statusAs = (url: string, key: string) => fetch(`${url}/status`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => ({ code: r.status, body: await r.text() }));
  // Both replicas have read both keys (pub/sub) before Redis goes.
  for (const url of urls) {
    const deadline = Date.now() + 5_000;
    while ((await statusAs(url, alice)).code !== 200 || (await statusAs(url, bob)).code !== 401) assert.ok(Date.now() < deadline, 'the replicas never read the team keys');
  }

  redis.kill('SIGKILL');
  await once(redis, 'exit');
  await startRedis(t, port, redisDir);
  // Both replicas reconnect and re-read the (empty) hash; before, that empty read replaced their copy: every key refused.
  const deadline = Date.now() + 15_000;
  let listed: { id: string; state: string }[] = [];
  while (listed.length < 2 && Date.now() < deadline) {
    listed = JSON.parse((await runCli(['keys', 'list', '--json', '--home', homes[1]!])).stdout || '[]') as typeof listed;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(listed.length, 2, 'the keys were not written back to the new Redis');
  assert.equal(listed.find((k) => bob.includes(k.id))?.state, 'revoked', 'the revocation came back with the key');
  for (const url of urls) {
    assert.equal((await statusAs(url, alice)).code, 200, `alice refused on ${url}`);
    assert.match((await statusAs(url, bob)).body, /revoked/);
  }
});

test('a Redis that answers but refuses writes (maxmemory reached under noeviction) puts the replica on local limits and says why, in status and on its terminal; it rejoins once writes succeed', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'), ['--maxmemory-policy', 'noeviction']);
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "m${port}"\n`);
  const hub = await startHub(t, home);
  const team = async () => (JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { team: { mode: string; lastError?: string } }).team;
  const until = async (mode: string) => {
    const deadline = Date.now() + 15_000;
    let seen = await team();
    while (seen.mode !== mode) {
      assert.ok(Date.now() < deadline, `the replica stayed ${JSON.stringify(seen)}`);
      seen = await team();
    }
    return seen;
  };
  await until('connected');

  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => admin.disconnect());
  await admin.connect();
  // Data well past the limit, then the limit: every write is refused with OOM from now on.
  await admin.set('fill', 'x'.repeat(4 * 1024 * 1024));
  await admin.config('SET', 'maxmemory', '2mb');
  await assert.rejects(admin.set('probe', '1'), /OOM command not allowed/);
  // Before, every write the replica made failed quietly (a debug line): it used its own limits while status,
  // /readyz and the metric said "connected", and its registry entry went stale.
  const local = await until('local');
  assert.match(local.lastError ?? '', /^Redis refused a command: OOM command not allowed/);
  assert.match(hub.stderr(), /Redis unreachable \(Redis refused a command: OOM[^)]*\); rate limits are per replica/);
  // `snowmux keys` says whether the key changed and what to do, not only Redis's "OOM command not allowed".
  const refusedCreate = await runCli(['keys', 'create', '--identity', 'dana', '--home', home]);
  assert.equal(refusedCreate.code, 1);
  assert.match(refusedCreate.stderr, /The team's Redis \(hub\.redis_url\) did not do it: OOM command not allowed[^\n]*No key was created\. Make Redis answer writes again[^\n]*run the command again/);
  assert.equal(refusedCreate.stdout, '', 'no key is printed that was never stored');

  await admin.del('fill');
  const back = await until('connected');
  assert.equal(back.lastError, undefined);
  assert.match(hub.stderr(), /Redis connected; rate limits are team-wide\n[^]*Redis unreachable[^]*Redis connected; rate limits are team-wide/);
});
