/**
 * `snowmux doctor` against real set-ups: a healthy hub with a Snowflake profile (the local double) and a
 * metrics port, and a broken one (bad config, an unreachable account, an open home); no secret printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { INIT_PARAMS, cliEnv, connectClient, defer, killAtEnd, runCli, startHub, tempHome } from '../helpers/harness.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { MIN_NODE, OTHER_HOME, checkNode, readOnlyFix, unwritableReason } from '../../src/cli/commands/doctor-command.js';
import { encodeLine } from '../../src/wire/framing.js';

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
  // The default profile is one of the sections: its failure is listed once, not under both names.
  const byDefault = await doctor(home, { ...env, SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'half' }, ['--offline']);
  const half = byDefault.checks.filter((c) => c.detail.includes('Snowflake profile "half"'));
  assert.equal(half.length, 1, byDefault.text);
  assert.equal(half[0]!.check, 'profile (default)');

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

test('a home the hub could not create or write fails the home check with what to do (the hub would stop with HOME_UNUSABLE)', async (t) => {
  const base = tempHome(t);
  writeFileSync(join(base, 'a-file'), '');
  const underFile = join(base, 'a-file', 'snowmux');
  const r = await doctor(underFile, {}, ['--offline']);
  assert.equal(r.code, 1);
  const home = find(r.checks, 'home')!;
  assert.equal(home.status, 'fail');
  assert.match(home.detail, /does not exist and cannot be created: .*a-file is a file, not a directory/);
  assert.match(home.fix!, /--home or SNOWMUX_HOME/);
  // The hub line names the failed check, which is above it (it said "the failed checks below").
  assert.match(find(r.checks, 'hub')!.detail, /^not running, and no hub can start here until the failed home and config checks are fixed /);
  assert.ok(r.checks.findIndex((c) => c.check === 'home') < r.checks.findIndex((c) => c.check === 'hub'));
  const hub = await runCli(['hub', '--home', underFile]);
  assert.match(hub.stderr, /HOME_UNUSABLE/, 'the hub refuses the same home');
  assert.equal(existsSync(underFile), false, 'doctor creates nothing');

  // A home that exists but cannot be written (root may write anything, so only checked as another user).
  if (process.getuid?.() !== 0) {
    const readOnly = join(base, 'ro-home');
    mkdirSync(readOnly, { mode: 0o500 });
    defer(t, () => chmodSync(readOnly, 0o700));
    const ro = await doctor(readOnly, {}, ['--offline']);
    assert.equal(ro.code, 1);
    assert.match(find(ro.checks, 'home')!.detail, /is not writable/);
  }
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

test('the other problems doctor looks for, each planted and then found: old Node, a crashed hub\'s socket, version skew, a broken sample, listeners the hub does not serve, an open socket directory', async (t) => {
  const sfHome = join(tempHome(t), 'none'); // no Snowflake connection files
  const env = { SNOWFLAKE_HOME: sfHome };

  // Node older than package.json's "engines" (the check takes the version, so any can be planted).
  const engines = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(engines, `>=${MIN_NODE.join('.')}`, 'doctor and package.json agree on the oldest Node');
  const old = checkNode('v20.10.0', '/usr/local/bin/node');
  assert.equal(old.status, 'fail');
  assert.match(old.detail, /v20\.10\.0 at \/usr\/local\/bin\/node; snowmux needs Node 20\.11 or later/);
  assert.match(old.fix!, /snowmux setup <client>/);
  assert.equal(checkNode('v20.11.0').status, 'ok');
  assert.equal(checkNode('v22.1.0').status, 'ok');

  // A hub killed outright leaves its socket: not a problem (the next hub replaces it), so no failure.
  const crashed = tempHome(t);
  const hub = await startHub(t, crashed);
  await hub.stop('SIGKILL');
  assert.ok(existsSync(join(crashed, 'hub.sock')));
  const afterCrash = await doctor(crashed, env, ['--offline']);
  assert.equal(afterCrash.code, 0, afterCrash.text);
  assert.equal(find(afterCrash.checks, 'hub')?.status, 'info');
  assert.match(find(afterCrash.checks, 'hub')!.detail, /not running; .*hub\.sock was left by a hub that did not stop cleanly, and the next hub replaces it/);

  // A hub of another version answers on the socket: a warning with the command that fixes it.
  const skewed = tempHome(t);
  let hubVersion = '0.0.9';
  const fake = createServer((socket) => {
    let buffered = '';
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('utf8');
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, at)) as { snowmux?: string; op?: string; id?: number; wire?: number };
        buffered = buffered.slice(at + 1);
        if (line.snowmux === 'hello') socket.write(encodeLine({ snowmux: 'welcome', wire: line.wire, version: hubVersion, hubPid: 4242, sessionId: 'control' }));
        else if (line.op === 'status') socket.write(encodeLine({ id: line.id, ok: true, result: { version: hubVersion, pid: 4242 } }));
      }
    });
  });
  await new Promise<void>((r) => fake.listen(join(skewed, 'hub.sock'), r));
  defer(t, () => new Promise((r) => fake.close(r)));
  const skew = await doctor(skewed, env, ['--offline']);
  assert.equal(skew.code, 0, 'a version skew is a warning: the hub still serves');
  const hubCheck = find(skew.checks, 'hub')!;
  assert.equal(hubCheck.status, 'warn');
  assert.match(hubCheck.detail, /running, pid 4242, version 0\.0\.9, older than this CLI \(\d+\.\d+\.\d+\)/);
  assert.equal(hubCheck.fix, `Restart it on this version: snowmux hub --replace --home ${skewed}`);
  assert.match(skew.text, /! hub +running, pid 4242[\s\S]*→ Restart it on this version/);
  assert.match(skew.text, /All checks passed \(1 warning\)/);

  // A newer hub than this CLI: this CLI is the stale one, and moving the hub to it would be a downgrade.
  hubVersion = '99.0.0';
  const stale = find((await doctor(skewed, env, ['--offline'])).checks, 'hub')!;
  assert.equal(stale.status, 'warn');
  assert.match(stale.detail, new RegExp(`running, pid 4242, version 99\\.0\\.0, newer than this CLI \\(\\d+\\.\\d+\\.\\d+, ${cliPath}\\)`));
  assert.match(stale.fix!, /This CLI is the stale one: use the newer snowmux .*`hub --replace` from this one would downgrade the hub: editors launching the newer snowmux would then be served by \d+\.\d+\.\d+'s code \(or refused, HUB_TOO_OLD, if the newer one speaks a later link version\)/);
  assert.doesNotMatch(stale.fix!, /Restart it on this version/);

  // The sample cannot be opened where it lives (a damaged file is rebuilt by itself; a directory in its
  // place is not, and is named as such, never opened): found, with the fix.
  const damaged = tempHome(t);
  mkdirSync(join(damaged, 'warehouse', 'SNOWMUX_SAMPLE.duckdb'), { recursive: true, mode: 0o700 });
  const sample = await doctor(damaged, env, ['--offline']);
  assert.equal(sample.code, 1, sample.text);
  assert.match(find(sample.checks, 'sample')!.detail, /SNOWMUX_SAMPLE\.duckdb: it is a directory, not the sample database file/);
  assert.equal(find(sample.checks, 'sample')?.status, 'fail');
  assert.equal(find(sample.checks, 'sample')?.fix, `Remove ${join(damaged, 'warehouse')} to have it rebuilt on next use.`);

  // The HTTP face of a running hub answers; listeners set in the config after the hub started do not.
  const served = tempHome(t);
  await startHub(t, served, ['--http', '127.0.0.1:0']);
  const http = await doctor(served, env, ['--offline']);
  assert.equal(http.code, 0, http.text);
  assert.match(find(http.checks, 'http')!.detail, /^http:\/\/127\.0\.0\.1:\d+\/? \(healthz 200\)$/);
  const later = tempHome(t);
  await startHub(t, later);
  writeFileSync(join(later, 'config.toml'), '[hub]\nmetrics_listen = "127.0.0.1:0"\nhttp_listen = "127.0.0.1:0"\n');
  const unserved = await doctor(later, env, ['--offline']);
  assert.equal(unserved.code, 1, unserved.text);
  for (const name of ['metrics', 'http']) {
    const c = find(unserved.checks, name)!;
    assert.equal(c.status, 'fail', `${name}: ${unserved.text}`);
    assert.match(c.detail, /is 127\.0\.0\.1:0 but the running hub serves nothing there/);
    assert.match(c.fix!, new RegExp(`restart it: snowmux hub --replace --home ${later}`));
  }

  // A home too long for a socket puts it in the per-user directory under /tmp (here SNOWMUX_RUNTIME_BASE): one open to others fails.
  const longHome = join(tempHome(t), 'a-home-path-long-enough-that-its-socket-would-not-fit-in-a-sockaddr-un-path-of-108-bytes');
  mkdirSync(longHome, { mode: 0o700 });
  // A base others may write to without the sticky bit, before the per-user directory exists: the hub would refuse it.
  const unsafeBase = tempHome(t);
  chmodSync(unsafeBase, 0o777);
  const unsafe = await doctor(longHome, { ...env, SNOWMUX_RUNTIME_BASE: unsafeBase }, ['--offline']);
  assert.equal(unsafe.code, 1, unsafe.text);
  assert.match(find(unsafe.checks, 'socket')!.detail, new RegExp(`sits in ${unsafeBase}, which others may write to without the sticky bit \\(mode 777\\)`));
  const tmp = tempHome(t);
  const runtime = join(tmp, `snowmux-${process.getuid?.() ?? 'user'}`);
  mkdirSync(runtime, { mode: 0o755 });
  chmodSync(runtime, 0o755);
  const open = await doctor(longHome, { ...env, SNOWMUX_RUNTIME_BASE: tmp }, ['--offline']);
  assert.equal(open.code, 1, open.text);
  assert.equal(find(open.checks, 'socket')?.status, 'fail');
  assert.match(find(open.checks, 'socket')!.detail, new RegExp(`open to other users \\(mode 755\\)\\. Run: chmod 700 ${runtime}`));
  chmodSync(runtime, 0o700);
  assert.equal((await doctor(longHome, { ...env, SNOWMUX_RUNTIME_BASE: tmp }, ['--offline'])).code, 0, 'fixed as told, it passes');

  // Ownership, which only root can plant: a home and a socket of another user.
  if (process.getuid?.() !== 0) {
    t.diagnostic('not root: the ownership checks (home, socket) are not planted');
    return;
  }
  const theirs = tempHome(t);
  chownSync(theirs, 65534, 65534);
  const notMine = await doctor(theirs, env, ['--offline']);
  assert.equal(notMine.code, 1);
  assert.match(find(notMine.checks, 'home')!.detail, /belongs to another user, (\S+ \()?uid 65534\b/);
  chownSync(theirs, 0, 0);
  const squatted = tempHome(t);
  const squatter = createServer(() => {});
  await new Promise<void>((r) => squatter.listen(join(squatted, 'hub.sock'), r));
  defer(t, () => new Promise((r) => squatter.close(r)));
  lchownSync(join(squatted, 'hub.sock'), 65534, 65534);
  const foreign = await doctor(squatted, env, ['--offline']);
  assert.equal(foreign.code, 1);
  assert.equal(find(foreign.checks, 'hub')?.status, 'fail');
  assert.match(find(foreign.checks, 'hub')!.detail, /belongs to another user \(uid 65534\); snowmux will not send your settings or SQL to it/);
});

// Not refused (a private network may be meant), but said by doctor and on the hub's terminal at start.
test('doctor and a starting hub warn that the OTLP collector\'s key would travel in the clear to another machine', async (t) => {
  const home = tempHome(t);
  // 203.0.113.7 (TEST-NET-3) is never reached: no call is made, so no span is exported.
  writeFileSync(join(home, 'config.toml'), `[hub]\notel_endpoint = "http://203.0.113.7:4318"\n[hub.otel_headers]\nauthorization = "Bearer ${SECRET}"\n`, { mode: 0o600 });
  const sfHome = join(tempHome(t), 'none');
  const { checks, text } = await doctor(home, { SNOWFLAKE_HOME: sfHome }, ['--offline']);
  assert.ok(checks.some((c) => c.check === 'config' && c.status === 'warn' && /hub\.otel_endpoint http:\/\/203\.0\.113\.7:4318 is plain http:\/\/ to another machine.*travels in the clear/.test(c.detail)), text);
  const hub = await startHub(t, home, [], { SNOWFLAKE_HOME: sfHome });
  assert.match(hub.stderr(), /warning: hub\.otel_endpoint http:\/\/203\.0\.113\.7:4318 is plain http:\/\/ to another machine/);
  assert.ok(!hub.stderr().includes(SECRET));
  await hub.stop();
});

test('doctor fails where every hub start fails on the audit log, with the hub\'s reason, and shows the error the last start stopped on', async (t) => {
  const env = { SNOWFLAKE_HOME: join(tempHome(t), 'none') };
  /** A home whose audit log a hub has opened once (and closed: a stopped hub). */
  const usedHome = async (): Promise<string> => {
    const home = tempHome(t);
    const hub = await startHub(t, home);
    assert.equal(await hub.stop(), 0);
    return home;
  };
  const cases: { name: string; plant: (home: string) => void; code: string; detail: RegExp; asRoot: boolean }[] = [
    { name: 'audit is a file', plant: (h) => {
      rmSync(join(h, 'audit'), { recursive: true });
      writeFileSync(join(h, 'audit'), '');
    }, code: 'AUDIT_DIR_UNSAFE', detail: /audit is not a directory/, asRoot: true },
    { name: 'audit open to others', plant: (h) => chmodSync(join(h, 'audit'), 0o777), code: 'AUDIT_DIR_UNSAFE', detail: /other users may write it \(mode 777\)/, asRoot: true },
    { name: 'a damaged last record', plant: (h) => appendFileSync(join(h, 'audit', 'audit-000001.jsonl'), '{"not":"a record"}\n'), code: 'AUDIT_TAIL_CORRUPT', detail: /last complete line of audit-000001\.jsonl .* is not an audit record/, asRoot: true },
    { name: 'audit-writer.pid a directory', plant: (h) => {
      rmSync(join(h, 'audit-writer.pid'), { force: true });
      mkdirSync(join(h, 'audit-writer.pid'));
    }, code: 'audit-writer\\.pid', detail: /audit-writer\.pid is a directory/, asRoot: true },
    // Root may open any file: only checked as another user.
    { name: 'the newest file read-only', plant: (h) => chmodSync(join(h, 'audit', 'audit-000001.jsonl'), 0o400), code: 'AUDIT_OPEN_FAILED', detail: /Could not open the audit log in .*audit-000001\.jsonl.*EACCES/, asRoot: false },
  ];
  for (const c of cases) {
    if (!c.asRoot && process.getuid?.() === 0) continue;
    const home = await usedHome();
    c.plant(home);
    const hub = await runCli(['hub', '--home', home], env);
    assert.equal(hub.code, 1, `${c.name}: the hub stops at start`);
    assert.match(hub.stderr, new RegExp(c.code), c.name);
    const r = await doctor(home, env, ['--offline']);
    assert.equal(r.code, 1, `${c.name}: ${r.text}`);
    const audit = r.checks.find((x) => x.check === 'audit' && x.status === 'fail');
    assert.ok(audit, `${c.name}: ${r.text}`);
    assert.match(audit.detail, c.detail, c.name);
    assert.doesNotMatch(r.text, /All checks passed|the first editor's shim starts one/, c.name);
    assert.match(find(r.checks, 'hub')!.detail, /no hub can start here until the failed audit check is fixed/, c.name);
  }

  // A hub an editor's shim started stopped on the audit log: doctor shows that error, as `snowmux status` does.
  const home = await usedHome();
  writeFileSync(join(home, 'config.toml'), '[audit]\ndir = "elsewhere"\n', { mode: 0o600 });
  writeFileSync(join(home, 'elsewhere'), '');
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'ignore'] });
  killAtEnd(t, shim);
  shim.stdin.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  await once(shim, 'exit');
  const r = await doctor(home, env, ['--offline']);
  assert.equal(r.code, 1, r.text);
  const hubCheck = find(r.checks, 'hub')!;
  assert.equal(hubCheck.status, 'warn', r.text);
  assert.match(hubCheck.detail, /the last hub an editor started here stopped on an error \(.*hub-stderr\.log, \d+s ago\): The audit directory .*elsewhere is not a directory.* \[AUDIT_DIR_UNSAFE\]/);
  assert.match(hubCheck.fix!, new RegExp(`snowmux hub --home ${home}`));
  assert.equal(r.checks.find((x) => x.check === 'audit')?.status, 'fail', 'the cause is still there');
});

/** Mounts a small tmpfs at `dir` (root only); false where that cannot be done here. Unmounted at the test's end. */
function mountTmpfs(t: Parameters<typeof defer>[0], dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=700', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  defer(t, () => execFileSync('umount', [dir], { stdio: 'ignore' }));
  return true;
}

test('doctor on a read-only filesystem (EROFS) advises remounting or another home, not chmod or rm', async (t) => {
  const home = join(tempHome(t), 'home');
  mkdirSync(home, { mode: 0o700 });
  if (!mountTmpfs(t, home)) {
    // No read-only filesystem can be made here (not root, or no mount): the words doctor gives for EROFS are
    // checked as the checks build them; with a mount, below, the whole run is.
    t.diagnostic('no tmpfs mount here: the EROFS reason and fixes are checked without a read-only filesystem');
    assert.match(`${home} ${unwritableReason('EROFS')}`, /read-only filesystem/);
    assert.doesNotMatch(unwritableReason('EACCES'), /read-only/);
    for (const fix of [readOnlyFix(home, OTHER_HOME), readOnlyFix(join(home, 'audit'), 'point [audit] dir in config.toml at a directory on a writable filesystem')]) {
      assert.match(fix, /mounted read-only .*remount it read-write/, fix);
      assert.doesNotMatch(fix, /chmod u\+|rm -r|read and write access/, fix);
    }
    assert.match(readOnlyFix(home, OTHER_HOME), /choose another home on a writable filesystem with --home/);
    return;
  }
  mkdirSync(join(home, 'audit'), { mode: 0o700 });
  writeFileSync(join(home, 'audit-writer.pid'), '1\n', { mode: 0o600 });
  execFileSync('mount', ['-o', 'remount,ro', home], { stdio: 'ignore' });
  const r = await doctor(home, {}, ['--offline']);
  assert.equal(r.code, 1);
  const failed = r.checks.filter((c) => c.status === 'fail' && (c.check === 'home' || c.check === 'audit'));
  assert.ok(failed.length >= 3, JSON.stringify(r.checks));
  for (const c of failed) {
    assert.match(c.detail, /read-only filesystem/, c.detail);
    assert.match(c.fix!, /mounted read-only .*remount it read-write/, c.fix);
    assert.doesNotMatch(c.fix!, /chmod u\+|rm -r|read and write access/, c.fix);
  }
  assert.match(find(r.checks, 'home')!.fix!, /choose another home on a writable filesystem with --home/);
  assert.ok(failed.some((c) => /\[audit\] dir/.test(c.fix!)), 'the audit directory check points at [audit] dir');
});
