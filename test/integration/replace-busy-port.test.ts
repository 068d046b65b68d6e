/**
 * `hub --replace` onto an HTTP port another program holds: refused before the take-over, naming the port
 * and what to do, while the running hub keeps serving. It used to take the socket, say nothing and retry
 * the port for two minutes (each attempt leaving an HTTP face attached to the hub).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cliEnv, defer, killAtEnd, runCli, startHub, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import { processStopped } from '../../src/wire/process-alive.js';

test('hub --replace onto an HTTP port held by another program is refused at once; the running hub keeps serving', async (t) => {
  const home = tempHome(t);
  const old = await startHub(t, home);
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  defer(t, () => new Promise((r) => busy.close(r)));
  const address = `127.0.0.1:${(busy.address() as AddressInfo).port}`;
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "${address}"\nhttp_engine = "node"\n`);
  // Bounded by the kill below: without the refusal the new hub would wait for the port for two minutes.
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  assert.notEqual(code, 0, stderr);
  assert.ok(stderr.includes(`${address} (hub.http_listen) is in use by another program`), stderr);
  assert.match(stderr, new RegExp(`running hub \\(pid ${old.pid}\\) serves no TCP port`));
  assert.match(stderr, /Nothing was taken over; the running hub keeps serving/);
  assert.doesNotMatch(stderr, /took over from hub pid/);
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, old.pid);
});

test('hub --replace over a stopped hub (SIGSTOP) that holds the HTTP port is refused within the handshake wait, naming its pid and what to do', async (t) => {
  const home = tempHome(t);
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise((r) => probe.close(r));
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "${address}"\nhttp_engine = "node"\n`);
  const old = await startHub(t, home);
  old.proc.kill('SIGSTOP');
  // SIGKILL ends a stopped process too (startHub's cleanup); resume it first so a failure leaves nothing odd.
  defer(t, () => old.proc.kill('SIGCONT'));
  while (processStopped(old.pid) !== true) await new Promise((r) => setImmediate(r));
  const started = Date.now();
  // Bounded by the kill below: without the refusal the new hub took the socket and waited two minutes for the port.
  const proc = spawn(process.execPath, [cliPath, 'hub', '--replace', '--home', home], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  assert.equal(code, 1, stderr);
  assert.ok(Date.now() - started < 15_000, `refused within the handshake wait, not after the port's (${Date.now() - started} ms)`);
  assert.ok(stderr.includes(`Cannot take over: ${address} (hub.http_listen) is held by the previous hub, pid ${old.pid}, which is stopped (SIGSTOP or Ctrl-Z)`), stderr);
  assert.match(stderr, new RegExp(`Nothing was taken over\\. Resume it \\(\`kill -CONT ${old.pid}\`.*or end it \\(\`kill -KILL ${old.pid}\`\\), then run \`snowmux hub --replace --home ${home}`));
  assert.doesNotMatch(stderr, /took over/);
  // The stopped hub's socket was left alone: resumed, it answers again.
  old.proc.kill('SIGCONT');
  const status = await runCli(['status', '--json', '--home', home]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, old.pid);
});
