/**
 * A config mistake stops the hub at start; a shim whose auto-started hub exits early hands that error
 * (file, key, fix) to the editor at once, instead of a "no hub answered" after the whole deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, defer, INIT_PARAMS, killAtEnd, runCli, tempHome } from '../helpers/harness.js';

test("an auto-started hub that exits on a config error: the editor gets the hub's own message at once", async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = "lots"\n', { mode: 0o600 });
  // A reconnect deadline far beyond what the test allows: only the early report can make it pass.
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv({ SNOWMUX_RECONNECT_DEADLINE_MS: '120000' }), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, shim);
  const started = Date.now();
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  let out = '';
  const answer = await new Promise<Record<string, unknown>>((resolve) => {
    shim.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
  });
  const error = answer.error as { message: string } | undefined;
  assert.ok(error, JSON.stringify(answer));
  assert.match(error.message, /exited/);
  assert.match(error.message, /max_concurrent_queries/, 'names the key');
  assert.match(error.message, /config\.toml/, 'names the file');
  assert.ok(Date.now() - started < 14_000, 'reported before the 15 s start deadline');
  // `snowmux status` next to "no hub is running" says why the last start failed, from the hub's own log.
  const status = await runCli(['status', '--home', home]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /No snowmux hub is running .* The last hub an editor started here stopped on an error \(.*hub-stderr\.log, \d+s ago\): Config error .*max_concurrent_queries/s);
});

/**
 * The first line a shim writes to its editor after sending `initialize` (null when the shim ends first).
 */
async function firstAnswer(shim: ReturnType<typeof spawn>): Promise<Record<string, unknown> | null> {
  let out = '';
  return new Promise((resolve) => {
    shim.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    shim.once('exit', () => resolve(null));
  });
}

test('a hub whose start fails after it bound the socket stops with the reason instead of serving half-started', async (t) => {
  const home = tempHome(t);
  // The audit writer's claim cannot be written (as on a full or read-only disk): a step after the bind fails.
  mkdirSync(join(home, 'audit-writer.pid'));
  // From a terminal: the hub says why and exits 1 — it neither lingers nor keeps the socket.
  const hub = spawn(process.execPath, [cliPath, 'hub', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  defer(t, () => hub.kill('SIGKILL'));
  let stderr = '';
  hub.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => hub.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(hub, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the hub had to be killed; it said: ${stderr}`);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /audit-writer\.pid/);
  assert.equal(existsSync(join(home, 'hub.sock')), false, 'the socket is not left behind');
  // From an editor: the shim's hub fails the same way; the editor is told why, not served by half a hub.
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv({ SNOWMUX_RECONNECT_DEADLINE_MS: '120000' }), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, shim);
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  const answer = await firstAnswer(shim);
  const error = answer?.error as { message: string } | undefined;
  assert.ok(error, JSON.stringify(answer));
  assert.match(error.message, /audit-writer\.pid/);
});

test('a shim that cannot reach any hub from here (a home it may not use, a wrong flag) answers every request with why, and exits as the CLI would (2 for a usage error) when the editor leaves', async (t) => {
  const notADirectory = join(tempHome(t), 'config.toml');
  writeFileSync(notADirectory, '', { mode: 0o600 });
  const cases: { args: string[]; expect: RegExp; exitCode: number }[] = [
    { args: ['--home', notADirectory], expect: /is not a directory.*\[HOME_UNUSABLE\]/, exitCode: 1 },
    { args: ['--hom', tempHome(t)], expect: /Unknown option '--hom'.*\[USAGE\]/, exitCode: 2 },
    { args: ['--url', 'http://example.com/shim'], expect: /use wss:\/\/.*\[USAGE\]/, exitCode: 2 },
  ];
  for (const { args, expect, exitCode } of cases) {
    const shim = spawn(process.execPath, [cliPath, 'shim', ...args], { env: cliEnv({ SNOWMUX_KEY: 'k' }), stdio: ['pipe', 'pipe', 'pipe'] });
    killAtEnd(t, shim);
    let stderr = '';
    shim.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let out = '';
    shim.stdout.on('data', (c: Buffer) => (out += c.toString()));
    shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
    shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    shim.stdin.end(JSON.stringify({ jsonrpc: '2.0', id: 'two', method: 'tools/list' }) + '\n');
    const [code] = (await once(shim, 'exit')) as [number | null];
    assert.equal(code, exitCode, `${args.join(' ')}: ${stderr}`);
    const answers = out.trim().split('\n').map((l) => JSON.parse(l) as { id: unknown; error?: { code: number; message: string; data?: { retryable?: boolean } } });
    assert.deepEqual(answers.map((a) => a.id), [1, 'two'], `${args.join(' ')}: each request answered once, the notification not: ${out}`);
    for (const a of answers) {
      assert.equal(a.error?.code, -32002);
      assert.match(a.error!.message, expect);
      assert.equal(a.error?.data?.retryable, false);
    }
    assert.match(stderr, expect, 'the terminal hears it too');
  }
});

test('run by hand in a terminal, a shim with a wrong flag says so and exits 2 at once (nobody would close its stdin)', async (t) => {
  // script(1) is util-linux's (Debian's essential bsdutils package): on every machine this suite targets.
  const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
  assert.ok(script, 'script(1) from util-linux (Debian package bsdutils) is needed to give the shim a terminal');
  // script(1) gives the shim a terminal for stdin, as a person typing `snowmux shim --hom x` has.
  const command = [process.execPath, cliPath, 'shim', '--hom', '/nowhere'].map((a) => `'${a}'`).join(' ');
  const run = spawn(script, ['-qec', command, '/dev/null'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, run);
  let out = '';
  run.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => run.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(run, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the shim waited for a stdin nobody closes: ${out}`);
  assert.equal(code, 2, out);
  assert.match(out, /Unknown option '--hom'.*\[USAGE\]/);
});

test('a relative --home is said, on stderr where the editor logs it, to depend on the directory the editor starts the shim in', async (t) => {
  const dir = tempHome(t);
  const home = join(dir, 'rel-home');
  // A config mistake stops the hub this shim starts at once: the test needs the shim's stderr, not a hub.
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, 'config.toml'), '[limits]\nmax_concurrent_queries = "lots"\n', { mode: 0o600 });
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', 'rel-home'], { cwd: dir, env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, shim);
  let err = '';
  shim.stderr.on('data', (c: Buffer) => (err += c.toString()));
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  await once(shim.stdout, 'data');
  assert.match(err, new RegExp(`snowmux shim: --home rel-home is a relative path, read from the directory the editor started this shim in \\(${dir.replace(/[.]/g, '\\.')}\\), which may differ next time\\. Use an absolute path`));
});

test('an editor whose working directory was deleted still gets a shim and a hub: an absolute --home never reads it, and the hub starts elsewhere', async (t) => {
  const home = tempHome(t);
  const gone = join(tempHome(t, 'smx-gone-'), 'project');
  mkdirSync(gone);
  // The editor's project directory removed under it (a worktree deleted, a temp checkout cleaned) before it
  // starts its MCP server: the shim runs in a directory that no longer exists, and so would the hub it starts.
  const shim = spawn('/bin/sh', ['-c', 'cd "$1" && rmdir "$1" && exec "$2" "$3" shim --home "$4"', 'sh', gone, process.execPath, cliPath, home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, shim);
  let stderr = '';
  shim.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const answer = firstAnswer(shim);
  shim.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  const got = await answer;
  assert.ok(got !== null && 'result' in got, `${JSON.stringify(got)} ${stderr}`);
  assert.equal(existsSync(gone), false);
  shim.stdin!.end();
  const [code] = (await once(shim, 'exit')) as [number | null];
  assert.equal(code, 0, stderr);
  const stop = await runCli(['stop', '--home', home]);
  assert.equal(stop.code, 0, stop.stderr);
});
