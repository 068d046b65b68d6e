/**
 * The hub's health through the real product, against the Snowflake double, on a hub with an HTTP face:
 * one judgement (hub/core/hub-health.ts) answered by /readyz, by `snowmux status` (exit 3 and
 * "unhealthy: …", on the socket and with --url), and in status's `health`; /events carries the breaker's
 * transitions. A circuit breaker that opens and closes again; credentials Snowflake refuses, named
 * without the secret anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { until } from '../doubles/snowflake/fixtures.js';
import { connectClient, defer, runCli, startHub, tempHome, textOf, type Cleanup } from '../helpers/harness.js';
import { openEventStream, type EventStream } from '../helpers/event-stream.js';

interface Rig {
  home: string;
  url: string;
  key: string;
}

async function httpHub(t: Cleanup, config: string, hubEnv: Record<string, string> = {}): Promise<Rig> {
  const home = tempHome(t);
  // The key's identity watches everyone's calls (/events shows a key holder only their own otherwise).
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_engine = "node"\n${config}\n[roles.ops]\nidentities = ["ops"]\nquery_history = "all"\n`);
  const hub = await startHub(t, home, [], hubEnv);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(url, hub.stderr());
  const created = await runCli(['keys', 'create', '--identity', 'ops', '--home', home]);
  assert.equal(created.code, 0, created.stderr);
  return { home, url, key: created.stdout.trim() };
}

function eventStream(t: Cleanup, r: Rig): Promise<EventStream> {
  return openEventStream(t, r.url, { authorization: `Bearer ${r.key}` });
}

async function readyz(r: Rig): Promise<{ status: number; text: string; body: { ready: boolean; reasons: string[]; warehouses: { kind: string; name: string; problem?: { code: string; snowflakeCode?: string } }[] } }> {
  const res = await fetch(`${r.url}/readyz`, { headers: { authorization: `Bearer ${r.key}` } });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as never };
}

test('a breaker that opens makes the hub unhealthy everywhere (/readyz, status on the socket and --url, /events), and healthy again once it closes', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'pw-health' }] });
  defer(t, () => d.close());
  // The reset timeout leaves time to ask every reader while the breaker is open (a probe after it may close it).
  const r = await httpHub(t, '[breaker]\nvolume_threshold = 3\nfailure_threshold_percent = 50\nreset_timeout_ms = 10000\n[limits]\nretry_attempts = 0\n');
  const events = await eventStream(t, r);
  await events.waitFor((e) => e.event === 'hello');
  // The editor's SNOWFLAKE_* settings pick the Snowflake warehouse; the hub itself warmed up the embedded sample.
  const c = await connectClient(t, { home: r.home, kind: 'v2-legacy', env: profileEnv(d, { user: 'alice', password: 'pw-health' }) });
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT 1' })).isError);
  assert.equal((await readyz(r)).status, 200);
  assert.equal((await runCli(['status', '--home', r.home])).code, 0);

  d.inject({ kind: 'error', endpoint: 'query', code: '390304', message: 'Service temporarily unavailable', sqlState: '08001' } as never);
  let fastFail = false;
  for (let i = 0; i < 40 && !fastFail; i++) fastFail = /paused|circuit/i.test(textOf(await c.callTool('execute_query', { query: 'SELECT 1' })));
  assert.ok(fastFail, 'the breaker opened');

  const opened = await events.waitFor((e) => e.event === 'breaker' && e.data.to === 'open');
  assert.equal(opened.data.profile, 'env');
  assert.equal(opened.data.from, 'closed');

  const notReady = await readyz(r);
  assert.equal(notReady.status, 503, notReady.text);
  assert.equal(notReady.body.ready, false);
  assert.match(notReady.body.reasons[0]!, /^no warehouse can serve: circuit breaker open for profile "env": calls fail fast until \d\d:\d\d:\d\d UTC/);
  // The embedded sample is open too, and does not count while a Snowflake warehouse is known.
  assert.deepEqual(notReady.body.warehouses.map((w) => w.kind).sort(), ['duckdb', 'snowflake']);
  assert.match(notReady.body.reasons.join(' '), /embedded sample warehouse still answers/);

  const plain = await runCli(['status', '--home', r.home]);
  assert.equal(plain.code, 3, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /\nunhealthy: no warehouse can serve: circuit breaker open for profile\s+"env"/);
  for (const line of plain.stdout.split('\n')) assert.ok(line.length <= 80, `wider than 80 columns: ${line}`);
  const json = await runCli(['status', '--json', '--home', r.home]);
  assert.equal(json.code, 3);
  const health = (JSON.parse(json.stdout) as { health: { ok: boolean; reasons: string[] } }).health;
  assert.equal(health.ok, false);
  assert.deepEqual(health.reasons, notReady.body.reasons);
  const remote = await runCli(['status', '--url', r.url], { SNOWMUX_KEY: r.key });
  assert.equal(remote.code, 3, remote.stdout + remote.stderr);
  assert.match(remote.stdout, /unhealthy: no warehouse can serve: circuit breaker open/);

  d.clearFaults();
  let ok = false;
  const deadline = Date.now() + 30_000;
  while (!ok && Date.now() < deadline) ok = !(await c.callTool('execute_query', { query: 'SELECT 1' })).isError;
  assert.ok(ok, 'calls succeed again once Snowflake is back');
  await events.waitFor((e) => e.event === 'breaker' && e.data.to === 'closed');
  const again = await readyz(r);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body.reasons, []);
  const healthy = await runCli(['status', '--home', r.home]);
  assert.equal(healthy.code, 0, healthy.stdout);
  assert.doesNotMatch(healthy.stdout, /unhealthy/);
  assert.equal((await runCli(['status', '--url', r.url], { SNOWMUX_KEY: r.key })).code, 0);
});

test('credentials Snowflake refuses: no warehouse can serve, the login error named everywhere, the password nowhere', async (t) => {
  const password = 'Wr0ng-Secret-Pa55word';
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'the-right-one' }] });
  defer(t, () => d.close());
  // The hub's own profile (its environment), as a service would be set up: no embedded sample here.
  const r = await httpHub(t, '', profileEnv(d, { user: 'alice', password }));
  const events = await eventStream(t, r);
  await events.waitFor((e) => e.event === 'hello');
  const c = await connectClient(t, { home: r.home, kind: 'v2-legacy' });
  const refused = await c.callTool('execute_query', { query: 'SELECT 1' });
  assert.equal(refused.isError, true);
  assert.match(textOf(refused), /390100/);
  await events.waitFor((e) => e.event === 'call' && e.data.errorCode === 'AUTH_FAILED');

  const notReady = await readyz(r);
  assert.equal(notReady.status, 503, notReady.text);
  assert.match(notReady.body.reasons[0]!, /^no warehouse can serve: Snowflake profile "env" (failed|fails) to log in .*\[AUTH_FAILED 390100\]: Snowflake refused the login of profile "env" .*Incorrect username or password/);
  assert.match(notReady.body.reasons[0]!, /password \(set by env SNOWFLAKE_PASSWORD\)/);
  assert.match(notReady.body.reasons[0]!, /snowmux hub --replace/);
  assert.deepEqual(notReady.body.warehouses.map((w) => [w.kind, w.name, w.problem?.code, w.problem?.snowflakeCode]), [['snowflake', 'env', 'AUTH_FAILED', '390100']]);

  const plain = await runCli(['status', '--home', r.home]);
  assert.equal(plain.code, 3, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /CANNOT SERVE \[AUTH_FAILED 390100\]/);
  assert.match(plain.stdout, /\nunhealthy: no warehouse can serve: Snowflake profile "env"/);
  for (const line of plain.stdout.split('\n')) assert.ok(line.length <= 80, `wider than 80 columns: ${line}`);
  const json = await runCli(['status', '--json', '--home', r.home]);
  assert.equal(json.code, 3);
  const remote = await runCli(['status', '--json', '--url', r.url], { SNOWMUX_KEY: r.key });
  assert.equal(remote.code, 3, remote.stderr);
  assert.equal((JSON.parse(remote.stdout) as { health: { ok: boolean } }).health.ok, false);

  for (const [what, text] of [['/readyz', notReady.text], ['status', plain.stdout], ['status --json', json.stdout], ['status --url', remote.stdout], ['/events', events.raw()]] as const) {
    assert.ok(!text.includes(password), `${what} shows the password`);
  }
});

// A hub whose own profile cannot log in said nothing on its terminal or in hub.log until an editor's call
// failed: the warm-up's failed login is now a warning in both, with the reason and never the password.
test('a default profile that fails to log in at start is a warning on the hub\'s terminal and in hub.log, without the secret', async (t) => {
  const password = 'Wr0ng-Start-Pa55word';
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'the-right-one' }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  const hub = await startHub(t, home, [], profileEnv(d, { user: 'alice', password }));
  const warned = /warning: the hub's default Snowflake profile "env" could not be opened at start: .*390100/;
  await until(hub.proc.stderr!, 'data', () => warned.test(hub.stderr()), 30_000);
  assert.match(hub.stderr(), /password \(set by env SNOWFLAKE_PASSWORD\)/);
  // The log is written asynchronously: read once the hub has stopped (and flushed it).
  await hub.stop();
  const log = readFileSync(join(home, 'hub.log'), 'utf8');
  const line = log.split('\n').find((l) => l.includes('could not be opened at start'));
  assert.ok(line, log);
  assert.equal((JSON.parse(line) as { level: number }).level, 40, 'a warn');
  assert.match(line, /390100/);
  for (const text of [hub.stderr(), log]) assert.ok(!text.includes(password), 'the password leaked');
});
