/**
 * Two replicas of a team hub sharing one Redis (a real redis-server on an ephemeral port): an identity's
 * rate limit is spent once across replicas, each replica's status lists both, and when Redis dies the
 * replicas keep serving on local limits (saying so in readiness), then rejoin when it is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { WebSocket } from 'ws';
import { connectClient, defer, runCli, startHub, tempHome, textOf, type Cleanup, freePort } from '../helpers/harness.js';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { startRedis } from '../helpers/redis-server.js';
import { NO_REDIS } from '../helpers/debian-tools.js';

const me = userInfo().username;
/** How soon a key change made on one replica holds on the others (docs/team-hub.md). */
const TEAM_KEY_CHANGE_BOUND_MS = 1_000;


type TeamStatus = { pid: number; team?: { mode: string; replicas: { id: string; pid: number }[]; [k: string]: unknown }; [section: string]: unknown };
async function status(home: string): Promise<TeamStatus> {
  return JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as TeamStatus;
}

/** Two replicas of a team hub with this config, started and connected to Redis. */
async function connectedReplicas(t: Cleanup, config: string): Promise<string[]> {
  const homes = [tempHome(t), tempHome(t)];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), config);
    await startHub(t, home);
    let s = await status(home);
    while (s.team?.mode !== 'connected') s = await status(home);
  }
  return homes;
}

test('replicas share rate limits and a registry through Redis, and fall back to local limits when it dies', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  const redisDir = tempHome(t, 'smx-redis-');
  let redis = await startRedis(t, port, redisDir);
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "t${port}"\nhttp_listen = "127.0.0.1:0"\n\n[roles.metered]\nidentities = ["${me}"]\nrate = { per_second = 0.01, burst = 4 }\n`;
  const homes = [tempHome(t), tempHome(t)];
  const hubs = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), config);
    hubs.push(await startHub(t, home));
  }
  // Both replicas list both, once their heartbeats have been seen.
  for (const home of homes) {
    let s = await status(home);
    while ((s.team?.replicas.length ?? 0) < 2) s = await status(home);
    assert.equal(s.team!.mode, 'connected');
    assert.deepEqual(s.team!.replicas.map((r) => r.pid).sort(), hubs.map((h) => h.pid).sort());
  }
  // With Redis up from the start, the team's keys load at once: no replica warns that they have not.
  for (const [i, home] of homes.entries()) {
    for (const by = Date.now() + 15_000; !readFileSync(join(home, 'hub.log'), 'utf8').includes('team API keys loaded from Redis'); ) {
      assert.ok(Date.now() < by, 'the team keys never loaded');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.doesNotMatch(hubs[i]!.stderr(), /not loaded yet/);
  }

  // A key made on one replica's home is a team key: the other replica accepts it, and a revocation
  // reaches it through pub/sub.
  const urls = hubs.map((h) => /HTTP on (http:\/\/\S+)/.exec(h.stderr())![1]!);
  const made = await runCli(['keys', 'create', '--identity', 'ops', '--home', homes[0]!]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stderr, /Team key/);
  const key = made.stdout.trim();
  const asOps = (url: string) => fetch(`${url}/status`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal((await asOps(urls[1]!)).status, 200, 'the other replica accepts the team key');
  const id = /^smx_([0-9a-f]{12})_/.exec(key)![1]!;
  // A rotation made from the other replica's home: the new key reaches every replica, the old one keeps
  // working through the overlap.
  const rotated = await runCli(['keys', 'rotate', id, '--overlap', '1h', '--home', homes[1]!]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stderr, /^Team key [0-9a-f]{12} for identity "ops", replaces [0-9a-f]{12}, which keeps working until /);
  const next = rotated.stdout.trim();
  const withNext = () => fetch(`${urls[0]!}/status`, { headers: { authorization: `Bearer ${next}` } });
  let accepted = await withNext();
  while (accepted.status !== 200) accepted = await withNext(); // pub/sub carries it within the bound below
  assert.equal((await asOps(urls[0]!)).status, 200, 'the old key works through the overlap');
  // A remote shim's link opened with the key on replica 0 before the revocation, on replica 1.
  const link = new WebSocket(`${urls[0]!.replace(/^http/, 'ws')}/shim`, { headers: { authorization: `Bearer ${key}` } });
  defer(t, () => link.terminate());
  await once(link, 'open');
  const linkClosed = once(link, 'close');
  assert.equal((await runCli(['keys', 'revoke', id, '--home', homes[1]!])).code, 0);
  const revokedAt = Date.now();
  let res = await asOps(urls[0]!);
  while (res.status === 200) res = await asOps(urls[0]!);
  // The stated bound (docs/team-hub.md): 1 s through pub/sub; the 30 s re-read alone would miss it.
  assert.ok(Date.now() - revokedAt < TEAM_KEY_CHANGE_BOUND_MS, `revoked on the other replica after ${Date.now() - revokedAt} ms`);
  assert.equal(res.status, 401);
  assert.match(((await res.json()) as { error: string }).error, /revoked/);
  await linkClosed; // the open link ends too, not only the key's next request

  const a = await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'a' });
  const b = await connectClient(t, { home: homes[1]!, kind: 'v1', name: 'b' });
  // Burst 4 for the identity, team-wide: alternate replicas, the fifth call is refused wherever it lands.
  const outcomes: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await (i % 2 ? b : a).callTool('list_databases', {});
    outcomes.push(r.isError !== true);
    if (r.isError) assert.match(textOf(r), /rate limit|Retry|retry/i);
  }
  assert.deepEqual(outcomes, [true, true, true, true, false], 'four calls in all, not four per replica');

  // Redis dies: the replicas keep serving on their own (fresh, local) buckets and say so.
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  let s = await status(homes[0]!);
  while (s.team?.mode !== 'local') s = await status(homes[0]!);
  // This replica's own bucket (burst 4, untouched while Redis answered) applies: never a crash, never unlimited.
  const localOutcomes: boolean[] = [];
  for (let i = 0; i < 5; i++) localOutcomes.push((await a.callTool('list_databases', {})).isError !== true);
  assert.deepEqual(localOutcomes, [true, true, true, true, false], 'the local limit holds while Redis is away');
  assert.match(hubs[0]!.stderr(), /Redis unreachable \(connection closed\); rate limits are per replica/);

  // It comes back: the replicas rejoin.
  redis = await startRedis(t, port, redisDir);
  s = await status(homes[0]!);
  while (s.team?.mode !== 'connected') s = await status(homes[0]!);
  assert.match(hubs[0]!.stderr(), /Redis connected; rate limits are team-wide/);
});

test('an identity\'s quota is spent once across replicas: concurrent calls on two replicas are refused exactly at the limit, and a call that ran no query spends none', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "q${port}"\n\n[roles.metered]\nidentities = ["${me}"]\nquota = { window = "1h", queries = 4 }\n`;
  const homes = await connectedReplicas(t, config);
  const clients = [
    await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'qa' }),
    await connectClient(t, { home: homes[0]!, kind: 'v1', name: 'qb' }),
    await connectClient(t, { home: homes[1]!, kind: 'v2-legacy', name: 'qc' }),
    await connectClient(t, { home: homes[1]!, kind: 'v1', name: 'qd' }),
  ];
  // A failed statement ran no query: its admission is given back.
  const failed = await clients[0]!.callTool('execute_query', { query: 'SELECT * FROM no_such_table_here' });
  assert.equal(failed.isError, true);
  assert.doesNotMatch(textOf(failed), /Quota exceeded/);
  // Twelve calls at once, three from each client, spread over both replicas: four run, eight are refused.
  const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => clients[i % 4]!.callTool('execute_query', { query: `SELECT ${i}` })));
  const ran = outcomes.filter((r) => r.isError !== true);
  const refused = outcomes.filter((r) => r.isError === true);
  assert.equal(ran.length, 4, `exactly the quota ran: ${outcomes.map((r) => (r.isError ? textOf(r).slice(0, 60) : 'ok')).join(' | ')}`);
  for (const r of refused) assert.match(textOf(r), /Quota exceeded[\s\S]*4 queries/);
  const after = await clients[3]!.callTool('execute_query', { query: 'SELECT 99' });
  assert.match(textOf(after), /Quota exceeded[\s\S]*4 queries/);
});

test('quota usage survives Redis restarting empty: each replica writes its own share again, that spent while Redis was down included', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  const redisDir = tempHome(t, 'smx-redis-');
  let redis = await startRedis(t, port, redisDir);
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "r${port}"\n\n[roles.metered]\nidentities = ["${me}"]\nquota = { window = "1h", queries = 6 }\n`;
  const homes = await connectedReplicas(t, config);
  const clients = [await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'ra' }), await connectClient(t, { home: homes[1]!, kind: 'v1', name: 'rb' })];
  const run = async (replica: number) => clients[replica]!.callTool('execute_query', { query: `SELECT ${replica}` });
  for (const replica of [0, 0, 1]) assert.ok(!(await run(replica)).isError);
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  for (const home of homes) {
    let s = await status(home);
    while (s.team?.mode !== 'local') s = await status(home);
  }
  // Spent on local limits while Redis is away: counted when the replica rejoins.
  assert.ok(!(await run(1)).isError);
  redis = await startRedis(t, port, redisDir);
  for (const home of homes) {
    let s = await status(home);
    while (s.team?.mode !== 'connected' || (s.team.restored as { at: string | null }).at === null) s = await status(home);
  }
  // 4 of 6 spent before: two more run, on either replica, and then none.
  const outcomes = [];
  for (const replica of [0, 1, 0, 1]) outcomes.push(await run(replica));
  assert.deepEqual(outcomes.map((r) => r.isError === true), [false, false, true, true], outcomes.map((r) => textOf(r).slice(0, 80)).join(' | '));
  assert.match(textOf(outcomes[3]!), /Quota exceeded[\s\S]*6 queries/);
});

test('fetch_results pages a result from any replica for its owner only (Snowflake, remote shims with team keys), also after Redis restarts empty', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  const redisDir = tempHome(t, 'smx-redis-');
  let redis = await startRedis(t, port, redisDir);
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'team-pw', roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const sf = profileEnv(d, { user: 'alice', password: 'team-pw' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "o${port}"\nhttp_listen = "127.0.0.1:0"\n`;
  const homes = [tempHome(t), tempHome(t)];
  const hubs = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), config);
    hubs.push(await startHub(t, home, [], sf));
    let s = await status(home);
    while (s.team?.mode !== 'connected') s = await status(home);
  }
  const shimUrls = hubs.map((h) => /HTTP on http:\/\/(\S+)/.exec(h.stderr())![1]!).map((hostPort) => `ws://${hostPort}/shim`);
  const keyFor = async (identity: string) => {
    const made = await runCli(['keys', 'create', '--identity', identity, '--home', homes[0]!]);
    assert.equal(made.code, 0, made.stderr);
    return made.stdout.trim();
  };
  const [aliceKey, bobKey] = [await keyFor('alice'), await keyFor('bob')];
  const remote = (replica: number, key: string, name: string) =>
    connectClient(t, { home: tempHome(t), kind: 'v2-legacy', name, args: ['--url', shimUrls[replica]!], env: { SNOWMUX_KEY: key } });
  const alice0 = await remote(0, aliceKey, 'alice-0');
  const alice1 = await remote(1, aliceKey, 'alice-1');
  const bob1 = await remote(1, bobKey, 'bob-1');

  const sql = 'SELECT C_NAME FROM CUSTOMER ORDER BY C_CUSTKEY';
  const first = await alice0.callTool('execute_query', { query: sql, limit: 2 });
  assert.ok(!first.isError, textOf(first));
  const queryId = (first.structuredContent as { query_id: string }).query_id;
  assert.ok(queryId, JSON.stringify(first.structuredContent));
  const page = await alice1.callTool('fetch_results', { query_id: queryId, offset: 2, limit: 2 });
  assert.ok(!page.isError, textOf(page));
  assert.deepEqual((page.structuredContent as { rows: unknown[][] }).rows, [['Customer#000000003'], ['Customer#000000004']]);
  const stolen = await bob1.callTool('fetch_results', { query_id: queryId, offset: 0, limit: 2 });
  assert.equal((stolen._meta?.['dev.snowmux/error'] as { code: string }).code, 'POLICY_DENIED');
  assert.match(textOf(stolen), /another user/);

  // Redis dies (no persistence): a query run meanwhile is owned only in replica 0's memory; the new Redis
  // is empty. Replica 0 writes its owners again when it rejoins, so both results still page for alice
  // on replica 1, and still not for bob.
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  for (const home of homes) {
    let s = await status(home);
    while (s.team?.mode !== 'local') s = await status(home);
  }
  const meanwhile = await alice0.callTool('execute_query', { query: sql, limit: 1 });
  assert.ok(!meanwhile.isError, textOf(meanwhile));
  const meanwhileId = (meanwhile.structuredContent as { query_id: string }).query_id;
  redis = await startRedis(t, port, redisDir);
  let s0 = await status(homes[0]!);
  while (s0.team?.mode !== 'connected' || (s0.team.restored as { owners: number }).owners < 2) s0 = await status(homes[0]!);
  let s1 = await status(homes[1]!);
  while (s1.team?.mode !== 'connected') s1 = await status(homes[1]!);
  // Bob asks first: a replica that knows no owner lets an unrestricted role read the result (and would
  // then take the reader for its owner), so only a restored owner refuses him.
  for (const [id, offset, expected] of [[queryId, 4, 'Customer#000000005'], [meanwhileId, 1, 'Customer#000000002']] as const) {
    const stolenAgain = await bob1.callTool('fetch_results', { query_id: id, offset: 0, limit: 1 });
    assert.equal((stolenAgain._meta?.['dev.snowmux/error'] as { code: string } | undefined)?.code, 'POLICY_DENIED', textOf(stolenAgain));
    const again = await alice1.callTool('fetch_results', { query_id: id, offset, limit: 1 });
    assert.ok(!again.isError, textOf(again));
    assert.deepEqual((again.structuredContent as { rows: unknown[][] }).rows, [[expected]]);
  }
});

test('the team-wide cap on concurrent queries holds across replicas, and a killed replica\'s lease expires', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "c${port}"\n\n[limits]\nteam_max_concurrent_queries = 1\n`;
  const homes = [tempHome(t), tempHome(t)];
  const hubs = [];
  for (const home of homes) {
    writeFileSync(join(home, 'config.toml'), config);
    hubs.push(await startHub(t, home, [], { SNOWMUX_TEAM_LEASE_MS: '1500' }));
    let s = await status(home);
    while (s.team?.mode !== 'connected') s = await status(home);
  }
  const c0 = await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'long' });
  const c1 = await connectClient(t, { home: homes[1]!, kind: 'v2-legacy', name: 'short' });
  // Replica 0 holds the team's only slot with a query that would run for minutes.
  const long = c0.callTool('execute_query', { query: 'SELECT count(*) FROM range(1000000000000)' }).catch(() => null);
  let s0 = await status(homes[0]!);
  while (((s0.governance as { queue: { running: number } } | undefined)?.queue.running ?? 0) < 1) s0 = await status(homes[0]!);
  let done = false;
  const short = c1.callTool('execute_query', { query: 'SELECT 42 AS ANSWER' }).then((r) => {
    done = true;
    return r;
  });
  // Replica 1's call waits for the team slot (its own queue is free).
  let s1 = await status(homes[1]!);
  while (((s1.team as { slotWaits?: { waiting: number } } | undefined)?.slotWaits?.waiting ?? 0) < 1) s1 = await status(homes[1]!);
  assert.equal(done, false, 'the second replica waited for the team slot');
  // The holder dies without releasing: its lease expires and the waiting call runs.
  await hubs[0]!.stop('SIGKILL');
  const r = await short;
  assert.ok(!r.isError, textOf(r));
  assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[42]]);
  await long;
});

test('every replica ships its audit records to the team stream; audit verify --redis checks each chain, tells a gap the replica declared from a removed record', { skip: NO_REDIS }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const stream = `a${port}:audit`;
  const config = `[hub]\nredis_url = "${url}"\nteam_namespace = "a${port}"\n\n[audit]\nredis_stream = "${stream}"\n`;
  const homes = await connectedReplicas(t, config);
  const clients = [await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'sa' }), await connectClient(t, { home: homes[1]!, kind: 'v1', name: 'sb' })];
  for (let i = 0; i < 6; i++) assert.ok(!(await clients[i % 2]!.callTool('execute_query', { query: `SELECT ${i}` })).isError);

  type Verified = { ok: boolean; replicas: { replica: string; records: number; ok: boolean; gaps: { from: number; to: number }[]; problems: { kind: string }[] }[] };
  const verify = async (): Promise<{ code: number | null; result: Verified; stdout: string }> => {
    const r = await runCli(['audit', 'verify', '--redis', url, '--stream', stream, '--json']);
    return { code: r.code, result: JSON.parse(r.stdout) as Verified, stdout: r.stdout };
  };
  const { Redis } = await import('ioredis');
  const admin = new Redis(url);
  defer(t, () => admin.disconnect());
  // Shipping is off the call path: wait until both replicas' three calls are in the stream.
  const shippedCalls = async () => {
    const entries = await admin.xrange(stream, '-', '+');
    return entries.filter(([, f]) => f[f.indexOf('record') + 1]?.includes('"tool_call"')).length;
  };
  while ((await shippedCalls()) < 6) await new Promise((r) => setImmediate(r));
  // Each replica's hub_start reaches the stream too: it was written before the shipper attached, and was missing.
  const starts = (await admin.xrange(stream, '-', '+')).filter(([, f]) => f[f.indexOf('record') + 1]?.includes('"hub_start"'));
  assert.equal(starts.length, 2, 'one hub_start per replica');
  const intact = await verify();
  assert.equal(intact.code, 0, intact.stdout);
  // A person reading status sees the team and the stream, from either replica.
  const replicaRows = (out: string) => (out.match(/^\S+:\d+(?: \(this\))? +\S+ +running/gm) ?? []).length;
  let statusText = (await runCli(['status', '--home', homes[1]!])).stdout;
  while (replicaRows(statusText) < 2) statusText = (await runCli(['status', '--home', homes[1]!])).stdout;
  assert.match(statusText, /^team +connected +namespace a\d+ +this replica \S+/m);
  assert.match(statusText, /REPLICA +VERSION +STATE +SESS +RUN +QUEUED/);
  assert.match(statusText, / \(this\) /);
  assert.match(statusText, new RegExp(`audit stream ${stream} +shipped \\d+ +waiting \\d+`));
  assert.equal(intact.result.replicas.length, 2);
  assert.ok(intact.result.replicas.every((r) => r.ok && r.records >= 3), intact.stdout);

  // Redis refuses writes for a while: the replica's records miss the stream, and the next batch says so.
  await admin.config('SET', 'maxmemory', '1');
  assert.ok(!(await clients[0]!.callTool('execute_query', { query: 'SELECT 100' })).isError, 'calls go on while the stream refuses');
  let s0 = await status(homes[0]!);
  while (((s0.team?.['auditStream'] as { dropped: number } | undefined)?.dropped ?? 0) === 0) s0 = await status(homes[0]!);
  await admin.config('SET', 'maxmemory', '0');
  assert.ok(!(await clients[0]!.callTool('execute_query', { query: 'SELECT 101' })).isError);
  while ((await shippedCalls()) < 7) await new Promise((r) => setImmediate(r));
  const withGap = await verify();
  assert.equal(withGap.code, 0, withGap.stdout);
  const replica0 = withGap.result.replicas.find((r) => r.gaps.length > 0);
  assert.ok(replica0, `a replica declared its gap: ${withGap.stdout}`);

  // A record removed from the stream (no gap declared) is tampering: verify fails and says where.
  const entries = await admin.xrange(stream, '-', '+');
  // A record in the middle of one replica's chain (removing its last one cannot be seen: a stream ends anywhere).
  const ofReplica = (f: string[]) => f[f.indexOf('replica') + 1];
  const records = entries.filter(([, f]) => f.includes('record'));
  const victim = records.filter(([, f]) => ofReplica(f) === ofReplica(records[0]![1]))[1]!;
  await admin.xdel(stream, victim[0]);
  const tampered = await verify();
  assert.equal(tampered.code, 1, tampered.stdout);
  assert.ok(tampered.result.replicas.some((r) => r.problems.some((p) => p.kind === 'removed')), tampered.stdout);
  const text = await runCli(['audit', 'verify', '--redis', url, '--stream', stream]);
  assert.match(text.stdout, /NOT intact[\s\S]*missing from the stream[\s\S]*1 of 2 replica chains intact/);
});

test('Redis stopped (holding connections without answering), resumed, then killed and restarted, under load: the replicas fall back to local limits and say so (log, status, /readyz, metric), rejoin, and no call hangs', { skip: NO_REDIS, timeout: 120_000 }, async (t) => {
  const port = await freePort();
  const redisDir = tempHome(t, 'smx-redis-');
  let redis = await startRedis(t, port, redisDir);
  const config = `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "l${port}"\nhttp_listen = "127.0.0.1:0"\nhttp_auth = false\n\n[roles.busy]\nidentities = ["${me}"]\nrate = { per_second = 100000, burst = 100000 }\n`;
  const homes = await connectedReplicas(t, config);
  const urls: string[] = [];
  for (const home of homes) urls.push(((await status(home)).http as { url: string }).url);
  const clients = [
    await connectClient(t, { home: homes[0]!, kind: 'v2-legacy', name: 'l0' }),
    await connectClient(t, { home: homes[0]!, kind: 'v1', name: 'l1' }),
    await connectClient(t, { home: homes[1]!, kind: 'v2-legacy', name: 'l2' }),
    await connectClient(t, { home: homes[1]!, kind: 'v1', name: 'l3' }),
  ];
  // Every client calls in a closed loop for the whole test; each finished call is an event.
  const progress = new EventEmitter();
  const done = clients.map(() => 0);
  const failures: string[] = [];
  let stop = false;
  const loops = clients.map(async (c, i) => {
    while (!stop) {
      const r = await c.callTool('execute_query', { query: `SELECT ${i}` });
      if (r.isError) failures.push(textOf(r));
      done[i]! += 1;
      progress.emit('call');
    }
  });
  /** Every client finishes `n` more calls (a call that hangs fails the test by its timeout). */
  const everyClientCalls = async (n: number) => {
    const target = done.map((d) => d + n);
    while (done.some((d, i) => d < target[i]!)) await once(progress, 'call');
  };
  const everyReplica = async (mode: 'local' | 'connected') => {
    for (const home of homes) {
      let s = await status(home);
      while (s.team?.mode !== mode) s = await status(home);
    }
  };
  const metric = async (url: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
  await everyClientCalls(3);
  assert.equal(await metric(urls[0]!, 'snowmux_team_redis_connected'), 1);

  // Redis stops answering but keeps its connections open (no reset): each replica gives up on it within
  // the command timeout, and calls go on on local limits.
  redis.kill('SIGSTOP');
  await everyReplica('local');
  await everyClientCalls(3);
  for (const url of urls) {
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200, 'a replica on local limits still serves');
    assert.equal(((await ready.json()) as { team: string }).team, 'local limits (Redis unreachable)');
    assert.equal(await metric(url, 'snowmux_team_redis_connected'), 0);
    assert.ok((await metric(url, 'snowmux_team_redis_fallbacks_total')) >= 1);
  }
  // It answers again: the replicas rejoin.
  redis.kill('SIGCONT');
  await everyReplica('connected');
  await everyClientCalls(3);
  assert.equal(await metric(urls[1]!, 'snowmux_team_redis_connected'), 1);

  // Redis dies, and a new one starts on the same port, while the calls go on.
  redis.kill('SIGKILL');
  await once(redis, 'exit');
  await everyReplica('local');
  await everyClientCalls(3);
  redis = await startRedis(t, port, redisDir);
  await everyReplica('connected');
  await everyClientCalls(3);
  stop = true;
  await Promise.all(loops);
  assert.deepEqual(failures, [], 'no call failed while Redis came and went');
});
