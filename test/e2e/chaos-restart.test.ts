/**
 * The hub goes away under load, the editors do not notice (beyond what they must): a SIGKILL with calls
 * in flight, a graceful stop and a SIGTERM while editors call in a loop, and `hub --replace`.
 * Real MCP clients (v1, v2 in both eras) spawn the real built shim; hubs are real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HubStatus } from '../../src/hub/hub.js';
import { cliEnv, runCli, type AnyClient, type ClientKind, type HubProcess, freePort } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';
import {
  ChaosHome,
  FOREVER_QUERY,
  ONE_AT_A_TIME_CONFIG,
  checkNation,
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

test('SIGKILL with 24 calls in flight: each gets an error saying what may have happened, every editor\'s next call succeeds on a hub a shim started, no editor re-initialises', async (t) => {
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
    assert.match(e.message, /the hub went away \(it crashed, was killed, or restarted\) while "tools\/call" was running; the call may or may not have completed\. A query that only reads can be run again/);
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

/** Waits for a hub we started to exit by itself (no signal) and returns its exit code. */
async function exitCode(hub: HubProcess): Promise<number | null> {
  if (hub.proc.exitCode !== null || hub.proc.signalCode !== null) return hub.proc.exitCode;
  const [code] = (await once(hub.proc, 'exit')) as [number | null];
  return code;
}

const sessionOf = (s: HubStatus, name: string) => s.sessions.find((x) => x.client?.name === name);

/**
 * Puts one call of every editor in flight in the hub (queued behind a blocker that holds the hub's only
 * slot) and returns how to release them: cancelling the blocker lets the hub run them.
 */
async function holdEveryEditor(home: string, blocker: AnyClient, editors: number): Promise<() => Promise<void>> {
  const abort = new AbortController();
  const blocked = blocker.callTool('execute_query', { query: FOREVER_QUERY }, { signal: abort.signal, timeout: 120_000 }).catch(() => null);
  // The blocker must hold the hub's only slot (not merely be queued behind an editor's call that is
  // still executing and would complete after the caller took its snapshot of finished calls).
  await statusUntil(home, 'the blocker holding the only slot and every editor queued behind it', (s) => {
    const queue = (s as unknown as { governance: { queue: { sessions: { sessionKey: string; running: number; queued: number }[] } } }).governance.queue;
    const inScheduler = (id: string | undefined) => queue.sessions.find((x) => x.sessionKey === id);
    const editorsQueued = s.sessions.filter((x) => x.client?.name.startsWith('editor-') && inScheduler(x.id)?.queued === 1).length;
    return inScheduler(sessionOf(s, 'blocker')?.id)?.running === 1 && editorsQueued === editors;
  });
  return async () => {
    abort.abort();
    await blocked;
  };
}

test('graceful stop, then SIGTERM, while editors call in a loop: not one call fails; calls in flight finish on the old hub', async (t) => {
  const rig = await ChaosHome.create(t, ONE_AT_A_TIME_CONFIG);
  const hub = await rig.startHub();
  const clients = await Promise.all(Array.from({ length: 9 }, (_, i) => rig.client(KINDS[i % 3]!, { name: `editor-${i}` })));
  const blocker = await rig.client('v2-modern', { name: 'blocker' });
  const load = rig.load(clients);
  await load.eachDoes(3);

  // 1. `snowmux stop` while every editor has a call in flight: those finish on the old hub, the next
  //    ones go to the hub a shim starts.
  let release = await holdEveryEditor(rig.home, blocker, clients.length);
  const held = [...load.done];
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  const shims = [...clients, blocker].map((c) => c.pid()!);
  const allAttached = (s: HubStatus) => shims.every((pid) => s.sessions.some((x) => x.shimPid === pid));
  const second = await statusUntil(rig.home, 'a new hub with every editor attached', (s) => s.pid !== hub.pid && allAttached(s));
  assert.deepEqual(load.done, held, 'the calls in flight were still held by the draining hub while the new one came up');
  await release();
  await load.eachDoes(3);
  assert.equal(await exitCode(hub), 0, 'the old hub exited cleanly after draining');

  // 2. SIGTERM to the hub a shim started: same promise.
  release = await holdEveryEditor(rig.home, blocker, clients.length);
  const heldAgain = [...load.done];
  process.kill(second.pid, 'SIGTERM');
  await statusUntil(rig.home, 'a third hub with every editor attached', (s) => s.pid !== second.pid && s.pid !== hub.pid && allAttached(s));
  assert.deepEqual(load.done, heldAgain);
  await release();
  await load.eachDoes(3);
  await exitOf(second.pid);
  await load.stop();

  assert.deepEqual(load.failures, [], 'no call failed');
  assert.equal(hubPids(rig.home).length, 3);
  // Old and new hubs overlap while the old one drains; the audit log still has one writer at a time.
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain across graceful restarts:\n${audit.stdout}${audit.stderr}`);
});

test('hub --replace under load: the old hub drains (its calls in flight complete), editors go on with the new hub, no shim starts a hub', async (t) => {
  const rig = await ChaosHome.create(t, ONE_AT_A_TIME_CONFIG);
  const hub = await rig.startHub();
  const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => rig.client(KINDS[i % 3]!, { name: `editor-${i}` })));
  const blocker = await rig.client('v1', { name: 'blocker' });
  const load = rig.load(clients);
  await load.eachDoes(3);

  const release = await holdEveryEditor(rig.home, blocker, clients.length);
  const held = [...load.done];
  const replacing = rig.spawnCli(['hub', '--replace']);
  await outputMatches(replacing.proc, replacing.output, new RegExp(`took over from hub pid ${hub.pid}[\\s\\S]*listening on`));
  assert.equal((await status(rig.home)).pid, replacing.proc.pid, 'the socket answers with the new hub at once');
  assert.deepEqual(load.done, held, 'the calls in flight were still running on the old hub during the hand-over');
  await release();
  await load.eachDoes(3);
  assert.equal(await exitCode(hub), 0, 'the old hub exited cleanly once drained');
  const s = await statusUntil(rig.home, 'every editor calling the new hub', (x) => x.sessions.filter((y) => y.client?.name.startsWith('editor-') && y.calls >= 3).length === clients.length);
  assert.equal(s.pid, replacing.proc.pid);
  await load.stop();

  assert.deepEqual(load.failures, [], 'no call failed');
  assert.deepEqual(hubPids(rig.home), [hub.pid, replacing.proc.pid!], 'only the replacing hub started');
  assert.equal(existsSync(join(rig.home, 'hub-stderr.log')), false, 'no shim ever started a hub: the socket always answered');
  assert.ok(sessionOf(s, 'blocker')?.resumeOf, 'the blocker\'s editor moved to the new hub too');
  const audit = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(audit.code, 0, `audit chain across the hand-over:\n${audit.stdout}${audit.stderr}`);
});

test('a fixed metrics port moves with the hub: graceful restart and --replace both end with the new hub serving /metrics', async (t) => {
  const port = await freePort();
  // A long grace period: the old hub cannot give the port up by finishing early.
  const rig = await ChaosHome.create(t, `[hub]\nmetrics_listen = "127.0.0.1:${port}"\nshutdown_grace_ms = 120000\n\n${ONE_AT_A_TIME_CONFIG}`);
  const hub = await rig.startHub();
  const editor = await rig.client('v2-legacy', { name: 'editor-0' });
  assert.equal(checkNation(await editor.callTool('execute_query', { query: nationQuery(1) }), 1), null);
  const metricsOf = async (pid: number) => {
    const s = await statusUntil(rig.home, `hub ${pid} serving metrics`, (x) => x.pid === pid && Boolean(x.metrics));
    const res = await fetch(`${(s.metrics as { url: string }).url}`);
    assert.equal(res.status, 200);
    return res.text();
  };
  assert.match(await metricsOf(hub.pid), /snowmux_/);

  // Graceful stop: the shim starts the next hub while this one still drains a call.
  const blocker = new AbortController();
  const blocked = editor.callTool('execute_query', { query: FOREVER_QUERY }, { signal: blocker.signal, timeout: 60_000 }).catch(() => null);
  await statusUntil(rig.home, 'a call in flight', (s) => runningCalls(s) === 1);
  assert.equal((await runCli(['stop', '--home', rig.home])).code, 0);
  const second = await statusUntil(rig.home, 'the next hub', (s) => s.pid !== hub.pid);
  assert.match(await metricsOf(second.pid), /snowmux_/, 'the new hub got the port although the old one was still draining');
  blocker.abort();
  await blocked;
  assert.equal(await exitCode(hub), 0);

  // --replace: same port, taken over as the old hub lets go.
  const replacing = rig.spawnCli(['hub', '--replace']);
  await outputMatches(replacing.proc, replacing.output, /listening on/);
  assert.match(await metricsOf(replacing.proc.pid!), /snowmux_/);
  await exitOf(second.pid);
  assert.equal(checkNation(await editor.callTool('execute_query', { query: nationQuery(2) }), 2), null);
  assert.doesNotMatch(replacing.output(), /Cannot serve metrics/);
});


test('a re-initialize the hub refused is not what the shim replays on the next hub: the session keeps the client and protocol version the editor has', async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', rig.home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
  t.after(() => void shim.kill('SIGKILL'));
  const answers = new Map<number, { result?: unknown; error?: { code: number; message: string } }>();
  let text = '';
  const waiters = new Map<number, () => void>();
  shim.stdout.on('data', (c: Buffer) => {
    text += c.toString('utf8');
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const m = JSON.parse(text.slice(0, nl)) as { id?: number; result?: unknown; error?: { code: number; message: string } };
      text = text.slice(nl + 1);
      if (typeof m.id === 'number') {
        answers.set(m.id, m);
        waiters.get(m.id)?.();
      }
    }
  });
  const call = async (id: number, method: string, params: unknown) => {
    const answered = new Promise<void>((r) => waiters.set(id, r));
    shim.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    await answered;
    return answers.get(id)!;
  };
  assert.ok((await call(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'the-editor', version: '1' } })).result);
  shim.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  const refused = await call(2, 'initialize', { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'EVIL-REINIT', version: '0' } });
  assert.equal(refused.error?.code, -32600);
  await hub.stop('SIGKILL');
  assert.ok((await call(3, 'tools/list', {})).result, 'served by the next hub');
  const session = (await status(rig.home)).sessions.find((x) => x.resumeOf);
  assert.equal(session?.client?.name, 'the-editor');
  assert.equal(session?.protocolVersion, '2025-06-18');
});
