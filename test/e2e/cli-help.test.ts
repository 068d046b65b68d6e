/** Every command answers --help and -h with its usage and exit 0; --version prints the version. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cliEnv, runCli, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { VERSION } from '../../src/version.js';

const COMMANDS = [[], ['hub'], ['shim'], ['stdio'], ['status'], ['stop'], ['audit'], ['audit', 'verify'], ['doctor'], ['setup'], ['setup', 'cursor'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke'], ['keys', 'rotate'], ['reload'], ['logs'], ['service'], ['service', 'install', 'systemd'], ['service', 'uninstall', 'pm2']];

test('every command answers --help and -h with exit 0', async () => {
  // Every command `snowmux --help` lists is in the list above: a new command cannot miss this test.
  const listed = [...(await runCli(['--help'])).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(listed.length >= 12, `commands listed: ${listed.join(', ')}`);
  for (const name of listed) assert.ok(COMMANDS.some((c) => c[0] === name), `snowmux ${name} is checked`);
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([...command, flag]);
      assert.equal(r.code, 0, `snowmux ${command.join(' ')} ${flag}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, /usage/i, `snowmux ${command.join(' ')} ${flag} prints its usage`);
    }
  }
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), VERSION);
});

test('`snowmux help CMD` is CMD --help; a wrong option or value exits 2 (usage), like an unknown command', async (t) => {
  const help = await runCli(['help', 'status']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: snowmux status/);
  for (const argv of [['frobnicate'], ['status', '--nope'], ['logs', '--level', 'loud'], ['keys', 'create'], ['setup', 'cursor', '--name', 'a b'], ['doctor', '--offline', '--login'], ['service', 'install', 'systemd', '--print', '--http', '127.0.0.1:99999']]) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `snowmux ${argv.join(' ')}: ${r.stderr}`);
  }
  // A usage error makes nothing: no home for a key nobody named.
  const fresh = join(tempHome(t), 'new-home');
  assert.equal((await runCli(['keys', 'create', '--home', fresh])).code, 2);
  assert.equal(existsSync(fresh), false);
  // What was wrong comes first, then the usage.
  const manager = await runCli(['service', 'install', 'systemmd']);
  assert.equal(manager.code, 2);
  assert.match(manager.stderr, /^Unknown service manager "systemmd" \(did you mean "systemd"\?\): systemd, launchd or pm2\.\n\nUsage: snowmux service/);
  assert.match((await runCli(['service', 'instal', 'pm2'])).stderr, /^Unknown action "instal" \(did you mean "install"\?\): install or uninstall\./);
});

test('snowmux stdio checks SNOWMUX_LOG_LEVEL as the hub does: an unknown level is a usage error naming it, before any home is made', async (t) => {
  // It handed the variable to pino as written: "verbose" ended it with pino's "default level:verbose must be
  // included in custom levels" (exit 1, no variable named), the hub's check passed by.
  const fresh = join(tempHome(t), 'new-home');
  const r = await runCli(['stdio', '--home', fresh], { SNOWMUX_LOG_LEVEL: 'verbose' }, '');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /SNOWMUX_LOG_LEVEL="verbose" is not a log level: use one of trace, debug, info, warn, error, fatal, silent \(or leave it unset for warn\)\. \[USAGE\]/);
  assert.doesNotMatch(r.stderr, /custom levels/);
  assert.equal(existsSync(fresh), false);
});

test('snowmux stdio that cannot start answers each request with why (as the shim does), then exits 1 when stdin ends', async (t) => {
  // It exited 1 at once, the reason on stderr only: the editor showed "server disconnected".
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = "many"\n');
  const lines = [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'ed', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 'two', method: 'tools/list' },
  ].map((m) => JSON.stringify(m)).join('\n');
  const r = await runCli(['stdio', '--home', home], {}, `${lines}\nnot json\n`);
  assert.equal(r.code, 1, r.stderr);
  const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: unknown; error: { code: number; message: string; data: { code: string } } });
  assert.deepEqual(answers.map((a) => a.id), [1, 'two']);
  for (const a of answers) {
    assert.equal(a.error.code, -32002);
    assert.match(a.error.message, /^snowmux stdio: .*max_concurrent_queries.* \[CONFIG_INVALID\]$/s);
    assert.equal(a.error.data.code, 'CONFIG_INVALID');
  }
  assert.match(r.stderr, /max_concurrent_queries/);
});

test('a secret given as a profile flag is refused with where it goes instead, not as an unknown option', async () => {
  for (const [argv, variable, key] of [
    [['hub', '--password', 'hunter2-never-echoed'], 'SNOWFLAKE_PASSWORD', 'password'],
    [['stdio', '--token=hunter2-never-echoed'], 'SNOWFLAKE_TOKEN', 'token'],
    [['hub', '--private-key-passphrase', 'hunter2-never-echoed'], 'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE', 'private_key_passphrase'],
  ] as const) {
    const r = await runCli([...argv]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--[a-z-]+ is not taken on a command line: .*Set ${variable} in the environment, or ${key}\\b.*\\[USAGE\\]`));
    assert.doesNotMatch(r.stderr, /hunter2/);
  }
});

test('a reader that closes the pipe early ends the command quietly, not with an EPIPE stack trace', async () => {
  for (const argv of [['--help'], ['setup', 'cursor'], ['service', 'install', 'systemd', '--print']]) {
    const proc = spawn(process.execPath, [cliPath, ...argv], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.destroy(); // before the command writes a byte: its first write meets a closed pipe
    let err = '';
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(proc, 'exit');
    assert.doesNotMatch(err, /EPIPE|Unhandled/, `snowmux ${argv.join(' ')}: ${err}`);
    assert.equal(code, 0, `snowmux ${argv.join(' ')}`);
  }
});

test('keys rotate prints a new key for the same identity and ends the old one after --overlap (0: at once)', async (t) => {
  const home = tempHome(t);
  const made = await runCli(['keys', 'create', '--identity', 'ci', '--home', home]);
  assert.equal(made.code, 0, made.stderr);
  const id = /^smx_([0-9a-f]{12})_/.exec(made.stdout)![1]!;
  const bad = await runCli(['keys', 'rotate', id, '--overlap', 'soon', '--home', home]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--overlap must be a duration/);
  const r = await runCli(['keys', 'rotate', id, '--overlap', '0', '--home', home]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^smx_[0-9a-f]{12}_\S+\n$/);
  // --overlap 0 ended the old key at once: it was said to keep working "until" now, with a revoke to end it sooner.
  assert.match(r.stderr, new RegExp(`^Key [0-9a-f]{12} for identity "ci", replaces ${id}, which stopped working now \\(--overlap 0\\)\\. The new key is shown only now: put it where clients read it \\(SNOWMUX_KEY, --key-file\\); until then they are refused\\.\n$`));
  assert.doesNotMatch(r.stderr, /keeps working|keys revoke/);
  const listed = JSON.parse((await runCli(['keys', 'list', '--json', '--home', home])).stdout) as { id: string; state: string }[];
  assert.deepEqual(listed.map((k) => k.state), ['expired', 'active']);
  assert.equal(listed[0]!.id, id);
  // With an overlap the old key does keep working, and the note says how to end it sooner.
  const next = listed[1]!.id;
  const overlapped = await runCli(['keys', 'rotate', next, '--overlap', '1h', '--home', home]);
  assert.equal(overlapped.code, 0, overlapped.stderr);
  assert.match(overlapped.stderr, new RegExp(`^Key [0-9a-f]{12} for identity "ci", replaces ${next}, which keeps working until \\S+\\. .*snowmux keys revoke ${next}`));
});

test('a Node older than package.json allows is refused first, saying which Node runs and what to install', async (t) => {
  const dir = tempHome(t, 'smx-oldnode-');
  // A preload makes this Node report the version Debian 12 ships.
  const preload = join(dir, 'old-node.cjs');
  writeFileSync(preload, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.20.4' } });\n");
  for (const args of [['status'], ['shim'], ['setup', 'cursor']]) {
    const child = spawn(process.execPath, ['-r', preload, cliPath, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 1, args.join(' '));
    assert.match(stderr, /^snowmux: needs Node 20\.11 or later; this is Node 18\.20\.4 \(.+\)\. Install a newer Node/, args.join(' '));
  }
});

test('`snowmux shim` and `snowmux stdio` typed in a terminal say what they are waiting for; Ctrl-D ends them', async (t) => {
  // `script` (util-linux, in every Debian) gives the command a terminal as stdin, as a person typing it would.
  for (const [command, note] of [['stdio', /^snowmux stdio: waiting for MCP JSON-RPC messages on stdin.*snowmux setup <client>/m], ['shim', /^snowmux shim: waiting for MCP JSON-RPC messages on stdin.*not a command to start snowmux by hand.*snowmux hub/m]] as const) {
    const home = tempHome(t);
    const child = spawn('script', ['-qfec', `${process.execPath} ${cliPath} ${command} --home ${home}`, '/dev/null'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const seen = new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (note.test(out)) resolve();
      });
    });
    const exited = once(child, 'exit');
    // Only if the note never comes: the terminal then closes under the command, which ends it.
    t.after(() => child.kill('SIGKILL'));
    await seen;
    child.stdin.write('\x04');
    const [code] = await exited;
    assert.equal(code, 0, out);
  }
});
