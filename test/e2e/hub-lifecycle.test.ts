/**
 * The hub's life: several shims on one hub, simultaneous cold starts, stdin EOF, status/stop,
 * single instance per home, stale sockets, graceful stop with a call in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { cliEnv, connectClient, initialize, killAtEnd, rawLink, runCli, startHub, tempHome, textOf, INIT_PARAMS, type ClientKind } from '../helpers/harness.js';
import { defer } from '../helpers/harness.js';

test('several shims of mixed client kinds share one hub, concurrently, without crosstalk', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  const kinds: ClientKind[] = ['v2-legacy', 'v2-modern', 'v1', 'v2-legacy', 'v1'];
  const clients = await Promise.all(kinds.map((kind, i) => connectClient(t, { home, kind, name: `editor-${i}` })));
  // Each client asks for a different nation, many times, at the same time; each answer must be its own.
  await Promise.all(clients.flatMap((c, i) => Array.from({ length: 6 }, async () => {
    const r = await c.callTool('execute_query', { query: `SELECT N_NATIONKEY, N_NAME FROM NATION WHERE N_NATIONKEY = ${i}` });
    assert.ok(!r.isError, textOf(r));
    assert.equal((r.structuredContent as { rows: unknown[][] }).rows[0]![0], i);
  })));
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as { pid: number; sessions: { client: { name: string } | null; calls: number; shimPid: number }[] };
  assert.equal(s.pid, hub.pid);
  const names = s.sessions.map((x) => x.client?.name).filter(Boolean).sort();
  assert.deepEqual(names, kinds.map((_, i) => `editor-${i}`).sort());
  for (const sess of s.sessions.filter((x) => x.client)) assert.equal(sess.calls, 6);
  const shimPids = new Set(clients.map((c) => c.pid()));
  for (const sess of s.sessions.filter((x) => x.client)) assert.ok(shimPids.has(sess.shimPid), `shim pid ${sess.shimPid} reported`);
  const human = await runCli(['status', '--home', home]);
  assert.match(human.stdout, /sessions \(\d+\)/);
  assert.match(human.stdout, /editor-0/);
});

test('ten shims started at the same instant in an empty home start exactly one hub', async (t) => {
  const home = tempHome(t);
  const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connectClient(t, { home, kind: i % 2 ? 'v1' : 'v2-legacy', name: `cold-${i}` })));
  const results = await Promise.all(clients.map((c) => c.callTool('execute_query', { query: 'SELECT COUNT(*) FROM REGION' })));
  for (const r of results) assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[5]]);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { pid: number; sessions: unknown[]; totals: { sessionsOpened: number } };
  defer(t, async () => {
    try {
      process.kill(status.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  const log = readFileSync(join(home, 'hub.log'), 'utf8');
  const starts = log.split('\n').filter((l) => l.includes('"msg":"hub started"'));
  assert.equal(starts.length, 1, `hub started lines:\n${starts.join('\n')}`);
  // Each hub a shim starts writes a fresh hub-stderr.log (the previous one becomes hub-stderr.log.1).
  assert.equal(existsSync(join(home, 'hub-stderr.log.1')), false, 'exactly one hub process was spawned');
  const spawned = readFileSync(join(home, 'hub-stderr.log'), 'utf8').split('\n').filter((l) => l.includes('listening on'));
  assert.equal(spawned.length, 1, 'exactly one hub process was spawned');
  assert.equal(status.sessions.length, 10);
  await Promise.all(clients.map((c) => c.close()));
  await runCli(['stop', '--home', home]);
});

test('the shim exits when stdin ends, and the hub closes its session', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  defer(t, () => shim.kill('SIGKILL'));
  let out = '';
  const firstLine = new Promise<string>((resolve) => shim.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
  }));
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  const init = JSON.parse(await firstLine) as { result: { serverInfo: { name: string } } };
  assert.equal(init.result.serverInfo.name, 'snowmux');
  shim.stdin.end();
  const [code] = await once(shim, 'exit');
  assert.equal(code, 0);
  const s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: unknown[] };
  assert.equal(s.sessions.length, 0);
  assert.equal(out.split('\n').filter(Boolean).every((l) => JSON.parse(l).jsonrpc === '2.0'), true, 'stdout carried only JSON-RPC');
});

test('a second hub refuses to start while one answers; a stale socket left by a crash is replaced', async (t) => {
  const home = tempHome(t);
  const first = await startHub(t, home);
  const second = await runCli(['hub', '--home', home]);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, /already running/);
  // The advice names this home: without --home it acted on ~/.snowmux (`snowmux stop`: "nothing to stop").
  for (const advice of ['status', 'stop', 'hub --replace']) assert.ok(second.stderr.includes(`\`snowmux ${advice} --home ${home}\``), `${advice}: ${second.stderr}`);
  assert.equal(statSync(join(home, 'hub.sock')).mode & 0o777, 0o600);
  assert.equal(statSync(home).mode & 0o777, 0o700);
  await first.stop('SIGKILL');
  assert.ok(existsSync(join(home, 'hub.sock')), 'SIGKILL leaves the socket behind');
  const third = await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.ok(!(await c.callTool('list_databases')).isError);
  await third.stop();
});

test('status and stop explain themselves when no hub runs; unknown commands and bad homes fail clearly', async (t) => {
  const home = tempHome(t);
  const status = await runCli(['status', '--home', home]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /No snowmux hub is running/);
  assert.match(status.stderr, /snowmux hub/);
  // --json gives a script JSON on stdout as well: not running, and why.
  const json = await runCli(['status', '--json', '--home', home]);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.stdout) as { running: boolean; error: { code: string; message: string } };
  assert.equal(parsed.running, false);
  assert.match(parsed.error.message, /No snowmux hub is running/);
  // Stopping what is not running is success (like `systemctl stop` of a stopped unit): a script's
  // "make sure it is stopped", or the uninstall steps, must not fail on a machine where it already is.
  const stop = await runCli(['stop', '--home', home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /no hub is running at .*hub\.sock; nothing to stop/);
  assert.equal(stop.stderr, '');
  const stopNoHome = await runCli(['stop', '--home', join(home, 'never-created')]);
  assert.equal(stopNoHome.code, 0, stopNoHome.stderr);
  assert.match(stopNoHome.stdout, /no snowmux home at .*never-created.*nothing to stop/);
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.doesNotMatch(unknown.stderr, /Did you mean/);
  const typo = await runCli(['stauts']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown command "stauts"\. Did you mean `snowmux status`\?/);
  // An option before the command (the usage lists --home among the common options) is told where it goes.
  const optionFirst = await runCli(['--home', home, 'status']);
  assert.equal(optionFirst.code, 2);
  assert.match(optionFirst.stderr, /"--home" is not a command; options go after the command, e.g. `snowmux <command> --home …`/);
  const badFlag = await runCli(['status', '--nope']);
  assert.equal(badFlag.code, 2, 'a usage error, not "no hub answered" (1)');
  assert.match(badFlag.stderr, /--nope/);
  // A first-hour user's `snowmux status` before any hub ran: no home yet is said as such, with what to do
  // (not "not readable: ENOENT … choose another home").
  for (const command of ['status', 'reload']) {
    const missing = await runCli([command, '--home', join(home, 'does-not-exist')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No snowmux hub has run in .*does-not-exist: that home does not exist yet\. Start a hub with `snowmux hub --home [^`]*does-not-exist`/);
    assert.doesNotMatch(missing.stderr, /ENOENT|not readable/);
  }
  const version = await runCli(['--version']);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('what is wrong but does not stop the hub reaches the terminal running `snowmux hub` and `snowmux status`, not only hub.log', async (t) => {
  const home = tempHome(t);
  // A config others can read that holds a password, and a default profile whose key file is not there:
  // the hub serves (editors may bring settings of their own), but every other call would fail.
  const config = join(home, 'config.toml');
  writeFileSync(config, `[hub]\ndefault_profile = "dev"\n[profiles.dev]\naccount = "acme"\nuser = "u"\nauthenticator = "SNOWFLAKE_JWT"\nprivate_key_path = "${join(home, 'missing.p8')}"\nprivate_key_passphrase = "pp-SECRET-never-shown"\n`);
  chmodSync(config, 0o644);
  const hub = await startHub(t, home, [], { HOME: home });
  assert.match(hub.stderr(), /warning: Bad owner or permissions on .*config\.toml/);
  assert.match(hub.stderr(), /warning: the hub's default Snowflake profile cannot be used: .*missing\.p8.*snowmux hub --replace/s);
  const status = await runCli(['status', '--home', home], { HOME: home });
  // Every call from an editor without settings of its own fails: the default profile cannot serve, and
  // with no other Snowflake warehouse the hub is unhealthy (exit 3, as /readyz), saying which and why.
  assert.equal(status.code, 3, status.stderr);
  const shown = status.stdout.replace(/\n\s+/g, ' ');
  assert.match(shown, /CANNOT SERVE \[CONFIG_INVALID\]/);
  assert.match(shown, /unhealthy: no warehouse can serve: Snowflake profile "dev" cannot be used \[CONFIG_INVALID\]: .*missing\.p8/);
  assert.match(shown, /warning Bad owner or permissions/);
  assert.match(shown, /warning the hub's default Snowflake profile cannot be used/);
  const json = JSON.parse((await runCli(['status', '--json', '--home', home], { HOME: home })).stdout) as { config: { warnings: string[] } };
  assert.equal(json.config.warnings.length, 2);
  assert.ok(!(hub.stderr() + status.stdout).includes('pp-SECRET'), 'no secret on the terminal');
  // Fixed and reloaded: the file's warning goes (the profile's needs a restart, as it says).
  chmodSync(config, 0o600);
  assert.equal((await runCli(['reload', '--home', home], { HOME: home })).code, 0);
  const after = JSON.parse((await runCli(['status', '--json', '--home', home], { HOME: home })).stdout) as { config: { warnings: string[] } };
  assert.equal(after.config.warnings.length, 1);
  assert.match(after.config.warnings[0]!, /default Snowflake profile/);
  assert.equal(await hub.stop(), 0);
});

test('graceful stop: a call in flight finishes, then sessions close, the socket is removed, exit 0', async (t) => {
  // The Snowflake double makes "in flight" deterministic: we know when the statement started, and it
  // takes as long as SYSTEM$WAIT says, whatever the machine's load.
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'pw-stop' }] });
  defer(t, () => d.close());
  const url = new URL(d.url);
  const home = tempHome(t);
  const hub = await startHub(t, home, [], {
    SNOWFLAKE_ACCOUNT: d.account, SNOWFLAKE_USER: 'alice', SNOWFLAKE_PASSWORD: 'pw-stop',
    SNOWFLAKE_HOST: url.hostname, SNOWFLAKE_PORT: url.port, SNOWFLAKE_PROTOCOL: 'http',
  });
  const link = await rawLink(t, join(home, 'hub.sock'));
  await initialize(link);
  const started = new Promise<void>((resolve) => d.events.on('queryStarted', (q: { sql: string }) => /SYSTEM\$WAIT/.test(q.sql) && resolve()));
  link.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT SYSTEM$WAIT(2) AS W' } } }) + '\n');
  await started;
  const stopped = hub.stop('SIGTERM');
  let response: Record<string, unknown> | undefined;
  for (;;) {
    const m = await link.next();
    if (m.id === 7) {
      response = m;
      break;
    }
  }
  const result = response.result as { isError?: boolean; content: { text: string }[] };
  assert.ok(!result.isError, JSON.stringify(result));
  assert.equal(d.counters.aborts, 0, 'the running statement was not cancelled');
  assert.equal(await stopped, 0);
  assert.equal(existsSync(join(home, 'hub.sock')), false);
  assert.match(readFileSync(join(home, 'hub.log'), 'utf8'), /"msg":"hub stopped"/);
});

test('status names the audit directory the hub writes, also when [audit] dir is an absolute path outside the home', async (t) => {
  const home = tempHome(t);
  const elsewhere = tempHome(t);
  const dir = join(elsewhere, 'audit');
  writeFileSync(join(home, 'config.toml'), `[audit]\ndir = "${dir}"\n`);
  const hub = await startHub(t, home);
  const json = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { audit: { dir: string; file: string } };
  // Before, status showed the home joined with the absolute path (HOME/tmp/…/audit): a directory that does not exist.
  assert.equal(json.audit.dir, dir);
  assert.ok(existsSync(join(json.audit.dir, json.audit.file)));
  assert.equal(await hub.stop(), 0);
});

test('a hub whose terminal went away goes on serving: a line it cannot write is dropped, not an uncaught-exception loop filling hub.log', async (t) => {
  const home = tempHome(t);
  const hub = spawn(process.execPath, [cliPath, 'hub', '--home', home], { env: cliEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  killAtEnd(t, hub);
  let said = '';
  await new Promise<void>((resolve) => {
    hub.stderr.on('data', (c: Buffer) => {
      said += c.toString();
      if (said.includes('listening on')) resolve();
    });
  });
  hub.stderr.destroy(); // the terminal closes: the hub's next line gets EPIPE
  const log = () => readFileSync(join(home, 'hub.log'), 'utf8');
  const reloads = () => log().split('\n').filter((l) => l.includes('"msg":"config reloaded"')).length;
  // Each SIGHUP writes a line for the terminal after logging the reload; the second one is logged only after
  // the first one's failed write was handled.
  for (const n of [1, 2]) {
    hub.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (reloads() < n) {
      assert.equal(hub.exitCode, null, `the hub exited after SIGHUP ${n}: ${log().slice(-2000)}`);
      assert.ok(Date.now() < deadline, `no reload ${n} logged within 30 s: ${log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.equal(log().includes('uncaught exception'), false, log().slice(0, 2000));
  assert.equal(log().split('the terminal that started the hub is gone').length - 1, 1, 'said once');
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  hub.kill('SIGTERM');
  const [code] = (await once(hub, 'exit')) as [number | null];
  assert.equal(code, 0);
});
