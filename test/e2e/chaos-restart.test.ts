/**
 * The hub goes away under load, the editors do not notice (beyond what they must): a SIGKILL with calls
 * in flight, a graceful stop and a SIGTERM while editors call in a loop, and `hub --replace`.
 * Real MCP clients (v1, v2 in both eras) spawn the real built shim; hubs are real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type ClientKind } from '../helpers/harness.js';
import {
  ChaosHome,
  FOREVER_QUERY,
  Load,
  calibrate,
  checkNation,
  countQuery,
  exitOf,
  hubPids,
  nationQuery,
  outputMatches,
  rpcError,
  runningCalls,
  status,
  statusUntil,
} from './chaos-support.js';

const KINDS: ClientKind[] = ['v1', 'v2-legacy', 'v2-modern'];

test('SIGKILL with 24 calls in flight: each gets a retryable error, every editor\'s next call succeeds on a hub a shim started, no editor re-initialises', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  const clients = await Promise.all(Array.from({ length: 24 }, (_, i) => rig.client(KINDS[i % 3]!, { name: `editor-${i}` })));
  const warm = await Promise.all(clients.map((c, i) => c.callTool('execute_query', { query: nationQuery(i % 25) })));
  warm.forEach((r, i) => assert.equal(checkNation(r, i % 25), null));

  const inFlight = clients.map((c) => rpcError(c.callTool('execute_query', { query: FOREVER_QUERY }, { timeout: 60_000 })));
  await statusUntil(rig.home, 'all 24 calls running', (s) => runningCalls(s) === 24);
  await hub.stop('SIGKILL');

  for (const e of await Promise.all(inFlight)) {
    assert.equal(e.code, -32001, e.message);
    assert.match(e.message, /hub restarted while "tools\/call" was running.*Retry it/);
  }
  // The same client objects (no reconnect, no new initialize by the editor) go on working.
  const after = await Promise.all(clients.map((c, i) => c.callTool('execute_query', { query: nationQuery(i % 25) }, { timeout: 30_000 })));
  after.forEach((r, i) => assert.equal(checkNation(r, i % 25), null, `editor-${i}`));

  const s = await status(rig.home);
  assert.notEqual(s.pid, hub.pid);
  assert.deepEqual(hubPids(rig.home), [hub.pid, s.pid], 'exactly one new hub, started by a shim');
  assert.equal(s.sessions.length, 24);
  // 2025-era sessions know the editor only through the replayed initialize; 2026-era ones from _meta.
  assert.deepEqual(s.sessions.map((x) => x.client?.name).sort(), clients.map((_, i) => `editor-${i}`).sort());
  for (const x of s.sessions) {
    assert.ok(x.resumeOf, `session ${x.id} says which session it continues`);
    assert.equal(x.calls, 1);
    assert.equal(x.running, 0);
  }
  const legacy = s.sessions.filter((x) => x.protocolVersion !== '2026-07-28');
  assert.equal(legacy.length, 16, 'v1 and v2-legacy sessions were re-initialised by their shims');
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain after a SIGKILL:\n${audit.stdout}${audit.stderr}`);
});

test('graceful stop, then SIGTERM, while editors call in a loop: not one call fails; a call in flight finishes on the old hub', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  const clients = await Promise.all(Array.from({ length: 9 }, (_, i) => rig.client(KINDS[i % 3]!, { name: `editor-${i}` })));
  const slow = await rig.client('v2-legacy', { name: 'slow' });
  const long = countQuery(await calibrate(slow, 3_000));
  const load = new Load(clients);
  t.after(() => load.stop());
  await load.eachDoes(3);

  // 1. `snowmux stop` while a long call runs: it completes on the old hub; new calls go to the next hub.
  let longSettled = false;
  const longCall = slow.callTool('execute_query', { query: long.query }, { timeout: 60_000 }).finally(() => (longSettled = true));
  await statusUntil(rig.home, 'the long call running', (s) => s.sessions.some((x) => x.client?.name === 'slow' && x.running === 1));
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(longSettled, false, 'the long call was still running when the stop began');
  const stopsAt = load.total;
  const second = await statusUntil(rig.home, 'a new hub serving every editor', (s) => s.pid !== hub.pid && s.sessions.filter((x) => x.calls >= 2).length >= clients.length);
  const longResult = await longCall;
  assert.equal(longResult.isError, undefined, JSON.stringify(longResult.content));
  assert.equal((longResult.structuredContent as { rows: number[][] }).rows[0]![0], long.expected);
  assert.equal(await hub.stop(), 0, 'the old hub exited cleanly after draining');

  // 2. SIGTERM to the hub a shim started: same promise.
  await load.eachDoes(3);
  process.kill(second.pid, 'SIGTERM');
  await statusUntil(rig.home, 'a third hub serving every editor', (s) => s.pid !== second.pid && s.pid !== hub.pid && s.sessions.filter((x) => x.calls >= 2).length >= clients.length);
  await exitOf(second.pid);
  await load.eachDoes(3);
  await load.stop();

  assert.deepEqual(load.failures, [], 'no call failed');
  assert.ok(load.total > stopsAt, 'calls went on after the stop');
  assert.equal(hubPids(rig.home).length, 3);
  // Old and new hubs overlap while the old one drains; the audit log still has one writer at a time.
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain across graceful restarts:\n${audit.stdout}${audit.stderr}`);
});

test('hub --replace under load: the old hub drains (its running call completes), editors go on with the new hub, no shim starts a hub', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => rig.client(KINDS[i % 3]!, { name: `editor-${i}` })));
  const slow = await rig.client('v1', { name: 'slow' });
  const long = countQuery(await calibrate(slow, 3_000));
  const load = new Load(clients);
  t.after(() => load.stop());
  await load.eachDoes(3);

  let longSettled = false;
  const longCall = slow.callTool('execute_query', { query: long.query }, { timeout: 60_000 }).finally(() => (longSettled = true));
  await statusUntil(rig.home, 'the long call running', (s) => s.sessions.some((x) => x.client?.name === 'slow' && x.running === 1));
  const replacing = rig.spawnCli(['hub', '--replace']);
  await outputMatches(replacing.proc, replacing.output, new RegExp(`took over from hub pid ${hub.pid}`));
  assert.equal(longSettled, false, 'the long call was running on the old hub during the hand-over');

  const longResult = await longCall;
  assert.equal(longResult.isError, undefined, JSON.stringify(longResult.content));
  assert.equal((longResult.structuredContent as { rows: number[][] }).rows[0]![0], long.expected);
  assert.equal(await hub.stop(), 0, 'the old hub exited cleanly once drained');
  const s = await statusUntil(rig.home, 'every editor calling the new hub', (x) => x.sessions.filter((y) => y.calls >= 3).length >= clients.length);
  assert.equal(s.pid, replacing.proc.pid);
  await load.stop();

  assert.deepEqual(load.failures, [], 'no call failed');
  assert.deepEqual(hubPids(rig.home), [hub.pid, replacing.proc.pid!], 'only the replacing hub started');
  assert.equal(existsSync(join(rig.home, 'hub-stderr.log')), false, 'no shim ever started a hub: the socket always answered');
  const slowSession = s.sessions.find((x) => x.client?.name === 'slow');
  assert.ok(slowSession?.resumeOf, 'the idle editor moved to the new hub too');
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain across the hand-over:\n${audit.stdout}${audit.stderr}`);
});
