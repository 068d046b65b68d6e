/**
 * A frozen hub (SIGSTOP: a debugger, a stuck event loop, a suspended VM). What is right:
 * - Shims notice within two ping intervals: calls in flight on it get a retryable error at once.
 * - A frozen hub still holds the socket (the kernel accepts connections for it), so it is not "gone":
 *   shims do not start a second hub beside it. They keep retrying the handshake and hold new calls
 *   (up to the reconnect deadline). If the hub resumes, every session is re-created on it.
 * - If it stays frozen, `snowmux hub --replace` takes the socket over without its consent; when the old
 *   hub ever resumes it sees that its socket is gone, drains and exits (without unlinking the new one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type ClientKind } from '../helpers/harness.js';
import { ChaosHome, checkNation, hubPids, nationQuery, outputMatches, rpcError, status, statusUntil } from './chaos-support.js';

const FAST_LIVENESS = { SNOWMUX_LINK_PING_MS: '200' };
const KINDS: ClientKind[] = ['v1', 'v2-legacy', 'v2-modern'];

function resume(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    /* gone */
  }
}

test('a frozen hub is detected in bounded time; calls wait for it; when it resumes every session recovers, and no second hub is started meanwhile', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  t.after(() => resume(hub.pid));
  const clients = await Promise.all(KINDS.map((kind, i) => rig.client(kind, { name: `editor-${i}`, env: FAST_LIVENESS })));
  // A shim whose log we can read, to see it retry against the frozen hub.
  const watcher = rig.spawnCli(['shim'], { ...FAST_LIVENESS, SNOWMUX_SHIM_QUIET: '0' });
  for (const [i, c] of clients.entries()) assert.equal(checkNation(await c.callTool('execute_query', { query: nationQuery(i) }), i), null);
  const before = await status(rig.home);

  process.kill(hub.pid, 'SIGSTOP');
  const frozenAt = Date.now();
  const lost = await Promise.all(clients.map((c, i) => rpcError(c.callTool('execute_query', { query: nationQuery(i) }, { timeout: 30_000 }))));
  const detectedMs = Date.now() - frozenAt;
  for (const e of lost) {
    assert.equal(e.code, -32001, e.message);
    assert.match(e.message, /the hub stopped answering for \d+ s \(frozen, the machine asleep, or the connection cut\)/, 'not "restarted": it was frozen');
  }
  assert.ok(detectedMs < 10_000, `calls on the frozen hub were answered after ${detectedMs} ms (two 200 ms ping intervals, plus a busy machine)`);

  // While it stays frozen the shims keep knocking (the handshake times out) rather than starting a hub.
  await outputMatches(watcher.proc, watcher.output, /did not answer the handshake within 1000 ms/);
  const waiting = clients.map((c, i) => c.callTool('execute_query', { query: nationQuery(i) }, { timeout: 30_000 }));
  process.kill(hub.pid, 'SIGCONT');
  const results = await Promise.all(waiting);
  results.forEach((r, i) => assert.equal(checkNation(r, i), null));

  const after = await statusUntil(rig.home, 'three editors re-attached', (s) => s.sessions.filter((x) => x.client && x.calls > 0).length === 3);
  assert.equal(after.pid, hub.pid, 'the same hub, resumed');
  assert.deepEqual(hubPids(rig.home), [hub.pid], 'no second hub was started while the first held the socket');
  assert.equal(existsSync(join(rig.home, 'hub-stderr.log')), false);
  const oldIds = new Set(before.sessions.map((x) => x.id));
  for (const x of after.sessions.filter((y) => y.client && y.calls > 0)) {
    assert.ok(x.resumeOf && oldIds.has(x.resumeOf), `session ${x.client?.name} continues one of the frozen sessions`);
  }
});

test('a hub that stays frozen is replaced by `hub --replace`; it exits when it resumes and leaves the new hub\'s socket alone', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  t.after(() => resume(hub.pid));
  const clients = await Promise.all(KINDS.map((kind, i) => rig.client(kind, { name: `editor-${i}`, env: FAST_LIVENESS })));
  for (const [i, c] of clients.entries()) assert.equal(checkNation(await c.callTool('execute_query', { query: nationQuery(i) }), i), null);

  process.kill(hub.pid, 'SIGSTOP');
  const replacing = rig.spawnCli(['hub', '--replace']);
  await outputMatches(replacing.proc, replacing.output, /did not answer within \d+ ms \(frozen\?\); took over its socket[\s\S]*listening on/);
  // Editors move over: whatever was in flight on the frozen hub failed, the next call works.
  const results = await Promise.all(clients.map((c, i) => c.callTool('execute_query', { query: nationQuery(i) }, { timeout: 30_000 }).catch(() => c.callTool('execute_query', { query: nationQuery(i) }, { timeout: 30_000 }))));
  results.forEach((r, i) => assert.equal(checkNation(r, i), null));
  assert.equal((await status(rig.home)).pid, replacing.proc.pid);

  process.kill(hub.pid, 'SIGCONT');
  assert.equal(await hub.stop(), 0, 'the resumed hub noticed it had been replaced and exited cleanly');
  assert.match(hub.stderr(), /stopped/);
  const s = await status(rig.home);
  assert.equal(s.pid, replacing.proc.pid, 'the new hub still answers at the socket path');
  for (const [i, c] of clients.entries()) assert.equal(checkNation(await c.callTool('execute_query', { query: nationQuery(i) }), i), null);
  assert.deepEqual(hubPids(rig.home), [hub.pid, replacing.proc.pid!]);
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain across the forced take-over:\n${audit.stdout}${audit.stderr}`);
});
