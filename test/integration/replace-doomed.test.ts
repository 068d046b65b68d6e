/**
 * `hub --replace` with a configuration that cannot serve once it holds the socket: an audit directory the hub
 * refuses, an HTTP address no interface of this machine has. The new hub took the socket, told the running
 * hub to drain, then failed: no hub served at all (the audit case), or none on the HTTP address. Now both
 * are refused before the take-over, saying why, and the running hub keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, killAtEnd, runCli, startHub, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

async function replace(t: Parameters<typeof killAtEnd>[0], home: string): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stderr };
}

async function servingPid(home: string): Promise<number> {
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, `a hub still serves: ${status.stderr}`);
  return (JSON.parse(status.stdout) as { pid: number }).pid;
}

test('hub --replace with an audit directory the hub refuses is refused before the take-over; the running hub keeps serving', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const bad = join(home, 'open-audit');
  mkdirSync(bad);
  chmodSync(bad, 0o777);
  writeFileSync(join(home, 'config.toml'), `[audit]\ndir = "${bad}"\n`, { mode: 0o600 });
  const { code, stderr } = await replace(t, home);
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /Cannot take over: The audit directory .*open-audit: other users may write it/);
  assert.match(stderr, new RegExp(`Nothing was taken over; the running hub \\(pid ${old.pid}\\) keeps serving`));
  assert.match(stderr, /AUDIT_DIR_UNSAFE/);
  assert.doesNotMatch(stderr, /took over from hub pid/);
  assert.equal(await servingPid(home), old.pid);
});

test('hub --replace onto an HTTP address no interface has is refused before the take-over; the running hub keeps serving', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  // TEST-NET-1 (RFC 5737): never an address of this machine.
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "192.0.2.1:8765"\nhttp_engine = "node"\n', { mode: 0o600 });
  const { code, stderr } = await replace(t, home);
  assert.notEqual(code, 0, stderr);
  assert.match(stderr, /Cannot take over: 192\.0\.2\.1:8765 \(hub\.http_listen\) cannot be listened on: .*EADDRNOTAVAIL.*no network interface of this machine has that address/);
  assert.match(stderr, new RegExp(`Nothing was taken over; the running hub \\(pid ${old.pid}\\) keeps serving`));
  assert.match(stderr, /HUB_LISTEN_FAILED/);
  assert.doesNotMatch(stderr, /took over from hub pid/);
  assert.equal(await servingPid(home), old.pid);
});
