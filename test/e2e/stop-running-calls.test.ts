/**
 * What happens to a call still running when its hub goes: `hub --replace` lets it finish on the old hub
 * (its own deadline, not hub.shutdown_grace_ms: the new hub already serves new calls); a plain stop cancels
 * it after the grace period and the editor is told the hub stopped (HUB_STOPPING), not that it cancelled.
 * Real hubs, real shims, the embedded DuckDB engine; the grace period is 0 so any cancel would be at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initialize, rawLink, runCli, textOf } from '../helpers/harness.js';
import { socketPathFor } from '../../src/wire/home.js';
import { ChaosHome, FOREVER_QUERY, ONE_AT_A_TIME_CONFIG, countQuery, outputMatches, runningCalls, statusUntil } from './chaos-support.js';

const NO_GRACE = `[hub]\nshutdown_grace_ms = 0\n\n${ONE_AT_A_TIME_CONFIG}`;

/** Waits until the hub with `pid` has logged `msg` in the home's hub.log (it writes there as it drains). */
async function logged(home: string, pid: number, msg: string, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const lines = readFileSync(join(home, 'hub.log'), 'utf8').split('\n').filter(Boolean);
    if (lines.some((l) => {
      const entry = JSON.parse(l) as { pid?: number; msg?: string };
      return entry.pid === pid && entry.msg === msg;
    })) return;
    if (Date.now() > deadline) throw new Error(`hub ${pid} did not log "${msg}" within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function exitCode(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const [code] = (await once(proc, 'exit')) as [number | null];
  return code;
}

test('hub --replace: a DuckDB query still running on the old hub finishes there with its answer, whatever the grace period', async (t) => {
  const rig = await ChaosHome.create(t, NO_GRACE);
  const hub = await rig.startHub();
  const blocker = await rig.client('v2-modern', { name: 'blocker' });
  const editor = await rig.client('v1', { name: 'editor' });
  // The blocker holds the hub's only slot, so the editor's query is in flight until the test releases it.
  const abort = new AbortController();
  const blocked = blocker.callTool('execute_query', { query: FOREVER_QUERY }, { signal: abort.signal, timeout: 120_000 }).catch(() => null);
  await statusUntil(rig.home, 'the blocker running', (s) => runningCalls(s) === 1);
  const { query, expected } = countQuery(300_000_000);
  const counted = editor.callTool('execute_query', { query }, { timeout: 120_000 });
  await statusUntil(rig.home, 'the editor queued behind it', (s) => runningCalls(s) === 2);

  const replacing = rig.spawnCli(['hub', '--replace']);
  await outputMatches(replacing.proc, replacing.output, new RegExp(`took over from hub pid ${hub.pid}[\\s\\S]*listening on`));
  await logged(rig.home, hub.pid, 'hub stopping');
  // The old hub drains past its grace period of 0: nothing it runs is cancelled.
  abort.abort();
  await blocked;
  const result = await counted;
  assert.equal(result.isError, undefined, textOf(result));
  assert.deepEqual((result.structuredContent as { rows: unknown[][] }).rows, [[expected]], 'the query ran to its end on the old hub');
  assert.equal(await exitCode(hub.proc), 0, 'the old hub exited once its calls were done');
});

test('a plain stop cancels a call still running after hub.shutdown_grace_ms, and the editor is told the hub stopped, not that it cancelled', async (t) => {
  const rig = await ChaosHome.create(t, NO_GRACE);
  const hub = await rig.startHub();
  const editor = await rig.client('v2-modern', { name: 'editor' });
  const running = editor.callTool('execute_query', { query: FOREVER_QUERY }, { timeout: 120_000 });
  await statusUntil(rig.home, 'the call running', (s) => runningCalls(s) === 1);
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  // Not a stop for good while an editor is connected: the command says so.
  assert.match(stop.stdout, new RegExp(`is stopping.*\\n.*1 session through snowmux shim \\(an editor's MCP server\\) is connected\\. The shim of an editor that is still open starts a new hub at once.*a shim whose editor has already closed .* starts none\\. To stop for good, close those editors.*\`snowmux stop --home ${rig.home}\` again`));
  const result = await running;
  assert.equal(result.isError, true);
  assert.match(textOf(result), /hub stopped while this call ran.*snowmux stop.*shutdown_grace_ms.*Run it again/s);
  assert.doesNotMatch(textOf(result), /client/);
  assert.doesNotMatch(stop.stdout, /plain MCP client/, 'no plain client was connected');
  assert.equal((result._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code, 'HUB_STOPPING');
  assert.equal(await exitCode(hub.proc), 0);
});

test('snowmux stop counts plain MCP clients on the socket apart from shims: they are not editors that restart the hub', async (t) => {
  const rig = await ChaosHome.create(t, NO_GRACE);
  const hub = await rig.startHub();
  // Two plain clients (no hello: a script, a test harness) and one editor through a real shim.
  const plain = [await rawLink(t, socketPathFor(rig.home), { hello: false }), await rawLink(t, socketPathFor(rig.home), { hello: false })];
  for (const link of plain) await initialize(link);
  const editor = await rig.client('v2-modern', { name: 'editor' });
  await editor.listTools();
  await statusUntil(rig.home, 'three sessions open', (s) => s.sessions.length === 3);
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /1 session through snowmux shim \(an editor's MCP server\) is connected\. The shim of an editor that is still open starts a new hub/);
  assert.match(stop.stdout, /2 plain MCP clients \(connected to the socket without a shim\) are disconnected by the stop; nothing restarts them\./);
  assert.doesNotMatch(stop.stdout, /3 sessions|editor sessions/);
  assert.equal(await exitCode(hub.proc), 0);
});

test('snowmux stop with no editor connected says nothing of editors', async (t) => {
  const rig = await ChaosHome.create(t, NO_GRACE);
  const hub = await rig.startHub();
  const stop = await runCli(['stop', '--home', rig.home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /is stopping/);
  assert.doesNotMatch(stop.stdout, /editor/);
  assert.equal(await exitCode(hub.proc), 0);
});
