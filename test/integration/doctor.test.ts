/**
 * `snowmux doctor` against real set-ups: a healthy hub with a Snowflake profile (the local double) and a
 * metrics port, and a broken one (bad config, an unreachable account, an open home); no secret printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, defer, runCli, startHub, tempHome } from '../helpers/harness.js';

const SECRET = 'doctor-secret-NEVER-SHOWN';
interface Check { check: string; status: string; detail: string; fix?: string }

async function doctor(home: string, env: Record<string, string>, extra: string[] = []): Promise<{ code: number | null; checks: Check[]; text: string }> {
  const json = await runCli(['doctor', '--json', '--home', home, ...extra], env);
  const text = await runCli(['doctor', '--home', home, ...extra], env);
  assert.ok(!json.stdout.includes(SECRET) && !text.stdout.includes(SECRET) && !text.stderr.includes(SECRET), 'a secret was printed');
  assert.equal(json.code, text.code);
  return { code: json.code, checks: JSON.parse(json.stdout) as Check[], text: text.stdout };
}

const find = (checks: Check[], name: string) => checks.find((c) => c.check === name);

test('a healthy set-up: every check passes, the running hub, the profile, its account, the sample and metrics are seen', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: SECRET, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  const sfHome = join(home, 'sf');
  mkdirSync(sfHome, { mode: 0o700 });
  const url = new URL(d.url);
  writeFileSync(join(sfHome, 'connections.toml'), `[work]\naccount = "${d.account}"\nuser = "alice"\npassword = "${SECRET}"\nhost = "${url.hostname}"\nport = ${url.port}\nprotocol = "http"\n`, { mode: 0o600 });
  writeFileSync(join(home, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\n');
  const env = { SNOWFLAKE_HOME: sfHome };
  await startHub(t, home, [], env);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  await c.callTool('execute_query', { query: 'SELECT 1' }); // builds the sample

  const { code, checks, text } = await doctor(home, env);
  assert.equal(code, 0, text);
  assert.equal(find(checks, 'node')?.status, 'ok');
  assert.equal(find(checks, 'home')?.status, 'ok');
  assert.match(find(checks, 'hub')!.detail, /running, pid \d+, version/);
  assert.equal(find(checks, 'config')?.status, 'ok');
  assert.match(find(checks, 'profile work')!.detail, /account .*, user alice, password auth/);
  assert.match(find(checks, 'reach work')!.detail, /answers \(HTTP \d+/);
  assert.match(find(checks, 'sample')!.detail, /answers \(25 nations/);
  assert.equal(find(checks, 'metrics')?.status, 'ok');
  assert.match(text, /All checks passed/);
  assert.equal(find(checks, 'login work'), undefined, 'no login without --login');

  // --login logs in once per profile with the hub's own code, and reports a refused login with the fix.
  const logins = d.loginLog.length;
  const withLogin = await doctor(home, env, ['--login']);
  assert.equal(withLogin.code, 0, withLogin.text);
  assert.match(find(withLogin.checks, 'login work')!.detail, /logged in as alice \(password auth\)/);
  assert.ok(d.loginLog.length > logins, 'the double saw the login');
  writeFileSync(join(sfHome, 'connections.toml'), `[work]\naccount = "${d.account}"\nuser = "alice"\npassword = "wrong-${SECRET}"\nhost = "${url.hostname}"\nport = ${url.port}\nprotocol = "http"\n`, { mode: 0o600 });
  const refused = await doctor(home, env, ['--login']);
  assert.equal(refused.code, 1);
  const login = find(refused.checks, 'login work')!;
  assert.equal(login.status, 'fail');
  assert.match(login.fix ?? '', /credentials of profile "work"/);
});

test('a broken set-up: each problem is a failed check that says what to do, and doctor exits 1', async (t) => {
  const home = tempHome(t);
  const sfHome = join(home, 'sf');
  mkdirSync(sfHome, { mode: 0o700 });
  // An account nobody answers for: a port that was free a moment ago.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  writeFileSync(join(sfHome, 'connections.toml'), `[gone]\naccount = "acme"\nuser = "alice"\npassword = "${SECRET}"\nhost = "127.0.0.1"\nport = ${port}\nprotocol = "http"\n\n[half]\naccount = "acme"\n`, { mode: 0o600 });
  const env = { SNOWFLAKE_HOME: sfHome };

  const reachable = await doctor(home, env);
  assert.equal(reachable.code, 1);
  assert.equal(find(reachable.checks, 'reach gone')?.status, 'fail');
  assert.match(find(reachable.checks, 'reach gone')!.fix!, /network path/);
  assert.equal(find(reachable.checks, 'profile half')?.status, 'fail');
  assert.match(find(reachable.checks, 'profile half')!.detail, /user/);
  // --offline skips the network, not the rest.
  const offline = await doctor(home, env, ['--offline']);
  assert.equal(find(offline.checks, 'reach gone'), undefined);
  assert.equal(offline.code, 1, 'the incomplete profile still fails');

  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = "lots"\n');
  chmodSync(home, 0o755);
  const broken = await doctor(home, env, ['--offline']);
  assert.equal(broken.code, 1);
  assert.equal(find(broken.checks, 'home')?.status, 'fail');
  assert.match(find(broken.checks, 'home')!.detail, /chmod 700/);
  assert.equal(find(broken.checks, 'config')?.status, 'fail');
  assert.match(find(broken.checks, 'config')!.detail, /config\.toml[\s\S]*limits\.max_concurrent_queries/);
  assert.match(broken.text, /✗ home/);
  assert.match(broken.text, /checks failed/);
});

test('doctor refuses every config the hub refuses at start, naming the same key, and --config checks the file the hub is given', async (t) => {
  const broken: [key: string, toml: string][] = [
    ['tools.bad.sql', '[tools.bad]\ndescription = "d"\nsql = "DELETE FROM ORDERS"\n'],
    ['tools.explain_query', '[tools.explain_query]\ndescription = "d"\nsql = "SELECT 1"\n'],
    ['roles.me.tools', '[roles.me]\nidentities = ["*"]\ntools = ["execute_qurey"]\n'],
    ['roles.me.profile', '[roles.me]\nidentities = ["*"]\nprofile = "dev"\n'],
    ['hub.http_auth', '[hub]\nhttp_listen = "0.0.0.0:0"\nhttp_auth = false\n'],
  ];
  const sfHome = join(tempHome(t), 'none'); // no Snowflake connection files
  for (const [key, toml] of broken) {
    const home = tempHome(t);
    writeFileSync(join(home, 'config.toml'), toml);
    const { code, checks, text } = await doctor(home, { SNOWFLAKE_HOME: sfHome }, ['--offline']);
    assert.equal(code, 1, text);
    assert.ok(checks.some((c) => c.check === 'config' && c.status === 'fail' && c.detail.includes(` at ${key}: `)), `${key}:\n${text}`);
    const hub = await runCli(['hub', '--home', home], { SNOWFLAKE_HOME: sfHome });
    assert.equal(hub.code, 1, `the hub starts with ${key}`);
    assert.match(hub.stderr, new RegExp(` at ${key.replace(/\./g, '\\.')}: .*\\[CONFIG_INVALID\\]`, 's'));
  }
  // --config: the file a hub started with --config reads, not <home>/config.toml.
  const home = tempHome(t);
  const other = join(home, 'elsewhere.toml');
  writeFileSync(other, broken[2]![1]);
  const viaFlag = await doctor(home, { SNOWFLAKE_HOME: sfHome }, ['--offline', '--config', other]);
  assert.equal(viaFlag.code, 1, viaFlag.text);
  assert.match(viaFlag.text, /elsewhere\.toml at roles\.me\.tools/);
  const both = await runCli(['doctor', '--offline', '--login', '--home', home]);
  assert.equal(both.code, 2, 'contradictory flags are a usage error');
});
