/**
 * `hub --replace` with an HTTP face: the new hub serves HTTP at once, while the old one still drains a call
 * and still writes the audit log (one writer at a time). What the new hub records meanwhile — a request it
 * refuses (a bad API key), a call it serves — is not lost: it is held and written after the new hub's
 * hub_start, saying when it happened (heldFrom); the chain verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/harness.js';
import { ChaosHome, FOREVER_QUERY, LOAD_CONFIG, exitOf, outputMatches, runningCalls, statusUntil } from './chaos-support.js';

interface Line { kind: string; seq: number; ts: string; outcome?: string; errorCode?: string; detail?: Record<string, unknown> }

function auditLines(home: string): Line[] {
  const dir = join(home, 'audit');
  return readdirSync(dir)
    .filter((f) => /^audit-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Line);
}

test('a refused HTTP request during a take-over is held and audited after the new hub starts its records', async (t) => {
  const rig = await ChaosHome.create(t, `[hub]\nhttp_listen = "127.0.0.1:0"\nshutdown_grace_ms = 120000\n\n${LOAD_CONFIG}`);
  const old = await rig.startHub();
  const editor = await rig.client('v2-legacy', { name: 'editor' });
  // A call the old hub drains (for as long as the grace allows): it keeps the audit writer meanwhile.
  const blocker = new AbortController();
  const blocked = editor.callTool('execute_query', { query: FOREVER_QUERY }, { signal: blocker.signal, timeout: 120_000 }).catch(() => null);
  await statusUntil(rig.home, 'a call in flight', (s) => runningCalls(s) === 1);

  const next = rig.spawnCli(['hub', '--replace']);
  const [, url] = await outputMatches(next.proc, next.output, /HTTP on (http:\/\/\S+)[\s\S]*listening on|listening on[\s\S]*HTTP on (http:\/\/\S+)/).then((m) => [m[0], m[1] ?? m[2]]);
  assert.ok(url, next.output());
  const refused = await fetch(new URL('/mcp', url), {
    method: 'POST',
    headers: { authorization: 'Bearer smx_not-a-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
  });
  assert.equal(refused.status, 401);
  const refusedAt = Date.now();
  assert.doesNotThrow(() => process.kill(old.pid, 0), 'the old hub is still draining (and writing the log)');
  assert.ok(auditLines(rig.home).every((r) => r.kind !== 'auth_refused'), 'not written yet: the old hub still holds the log');
  // An editor that starts now is served by the new hub; its call's record waits too.
  const late = await rig.client('v2-legacy', { name: 'late-editor' });
  assert.notEqual((await late.callTool('list_databases', {})).isError, true);
  const calledAt = Date.now();
  // Status says the log waits for the old hub, and what it holds meanwhile, not that the audit is off.
  const waiting = JSON.parse((await runCli(['status', '--json', '--home', rig.home])).stdout) as { audit?: { enabled?: boolean; open?: boolean; waitingForPid?: number; heldRecords?: number } };
  assert.equal(waiting.audit?.enabled, true);
  assert.equal(waiting.audit?.open, false);
  assert.equal(waiting.audit?.waitingForPid, old.pid);
  assert.ok((waiting.audit?.heldRecords ?? 0) >= 1, JSON.stringify(waiting.audit));

  // The old hub's call ends, it exits, the new hub opens the log: hub_start, then what it held.
  blocker.abort();
  await blocked;
  await exitOf(old.pid);
  assert.equal((await runCli(['stop', '--home', rig.home])).code, 0);
  assert.equal(await next.exited, 0);

  const lines = auditLines(rig.home);
  const start = lines.findIndex((r) => r.kind === 'hub_start' && r.detail?.pid === next.proc.pid);
  const held = lines.findIndex((r) => r.kind === 'auth_refused');
  assert.ok(start >= 0, 'the new hub wrote hub_start');
  assert.ok(held > start, `auth_refused (${held}) after the new hub's hub_start (${start})`);
  const record = lines[held]!;
  assert.equal(record.outcome, 'refused');
  assert.equal(record.errorCode, 'HTTP_UNAUTHORIZED');
  const heldFrom = Date.parse(String(record.detail?.heldFrom));
  assert.ok(Math.abs(heldFrom - refusedAt) < 5_000, `heldFrom ${String(record.detail?.heldFrom)} says when it was refused`);
  assert.ok(Date.parse(record.ts) >= heldFrom, 'written after it happened');
  assert.doesNotMatch(JSON.stringify(record), /not-a-key/, 'the presented key is not recorded');
  const call = lines.findIndex((r) => r.kind === 'tool_call' && (r as { client?: { name?: string } }).client?.name === 'late-editor');
  assert.ok(call > start, `the late editor's call (${call}) is written after the new hub's hub_start (${start})`);
  const callHeldFrom = Date.parse(String(lines[call]!.detail?.heldFrom));
  assert.ok(Math.abs(callHeldFrom - calledAt) < 5_000, `its heldFrom ${String(lines[call]!.detail?.heldFrom)} says when the call finished`);
  const verified = await runCli(['audit', 'verify', '--home', rig.home]);
  assert.equal(verified.code, 0, `${verified.stdout}${verified.stderr}`);
});
