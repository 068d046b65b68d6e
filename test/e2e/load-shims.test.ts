/**
 * Load: over a hundred editors at once, each with its own shim process, issuing mixed tool calls against
 * the embedded warehouse. No call is lost or hangs, and every answer belongs to its own request (each
 * client asks for values only it would ask for). Hub memory per session is measured and reported, not
 * asserted (see bench/load.ts for the figures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AnyClient, ClientKind, ToolResult } from '../helpers/harness.js';
import { ChaosHome, checkNation, nationQuery, status } from './chaos-support.js';

const CLIENTS = 102;
const ROUNDS = 2;
const KINDS: ClientKind[] = ['v1', 'v2-legacy', 'v2-modern'];
const TABLES = ['NATION', 'REGION', 'ORDERS', 'CUSTOMER'];

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

type Check = (r: ToolResult) => string | null;
const rowsOf = (r: ToolResult) => (r.structuredContent as { rows?: unknown[][] } | undefined)?.rows;

/** One client's mixed calls; each check looks for something only this client's request could produce. */
function callsFor(i: number, round: number): { tool: string; args: Record<string, unknown>; check: Check }[] {
  const token = `client-${i}-round-${round}`;
  const table = TABLES[i % TABLES.length]!;
  const limit = (i % 5) + 1;
  return [
    {
      tool: 'execute_query',
      args: { query: `SELECT ${i} AS CLIENT, '${token}' AS TOKEN` },
      check: (r) => (JSON.stringify(rowsOf(r)) === JSON.stringify([[i, token]]) ? null : `literal: ${JSON.stringify(rowsOf(r))}`),
    },
    { tool: 'execute_query', args: { query: nationQuery(i % 25) }, check: (r) => checkNation(r, i % 25) },
    {
      tool: 'describe_table',
      args: { table_name: table },
      check: (r) => ((r.structuredContent as { name?: string } | undefined)?.name === table ? null : `describe: ${JSON.stringify(r.structuredContent).slice(0, 200)}`),
    },
    {
      tool: 'list_tables',
      args: { schema: 'TPCH' },
      check: (r) => ((r.structuredContent as { tables?: unknown[] } | undefined)?.tables?.length === 8 ? null : `list_tables: ${JSON.stringify(r.structuredContent).slice(0, 200)}`),
    },
    {
      tool: 'execute_query',
      args: { query: 'SELECT N_NATIONKEY FROM NATION ORDER BY N_NATIONKEY', limit },
      check: (r) => (JSON.stringify(rowsOf(r)) === JSON.stringify(Array.from({ length: limit }, (_, k) => [k])) ? null : `limit ${limit}: ${JSON.stringify(rowsOf(r))}`),
    },
  ];
}

test(`${CLIENTS} concurrent shims issuing mixed tool calls: none lost, none hung, no crosstalk; hub memory per session reported`, async (t) => {
  const rig = await ChaosHome.create(t);
  const hub = await rig.startHub();
  // Baseline: the warehouse open and warm, two sessions in.
  const warmers = await Promise.all([rig.client('v1', { name: 'warm-0' }), rig.client('v2-modern', { name: 'warm-1' })]);
  for (const w of warmers) assert.equal(checkNation(await w.callTool('execute_query', { query: nationQuery(0) }), 0), null);
  const baseKiB = rssKiB(hub.pid);

  const started = performance.now();
  const clients: AnyClient[] = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => rig.client(KINDS[i % KINDS.length]!, { name: `load-${i}` })));
  const connectedMs = performance.now() - started;
  const problems: string[] = [];
  let calls = 0;
  const callsStarted = performance.now();
  await Promise.all(clients.map(async (c, i) => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const { tool, args, check } of callsFor(i, round)) {
        try {
          const r = await c.callTool(tool, args, { timeout: 60_000 });
          const problem = r.isError ? `tool error: ${JSON.stringify(r.content).slice(0, 200)}` : check(r);
          if (problem) problems.push(`client ${i} ${tool}: ${problem}`);
        } catch (err) {
          problems.push(`client ${i} ${tool}: ${(err as Error).message}`);
        }
        calls += 1;
      }
    }
  }));
  const callsMs = performance.now() - callsStarted;
  const loadedKiB = rssKiB(hub.pid);

  assert.deepEqual(problems, []);
  assert.equal(calls, CLIENTS * ROUNDS * 5);
  const s = await status(rig.home);
  const loadSessions = s.sessions.filter((x) => x.client?.name.startsWith('load-'));
  assert.equal(loadSessions.length, CLIENTS, 'one session per shim');
  for (const x of loadSessions) {
    assert.equal(x.calls, ROUNDS * 5, `session ${x.client?.name} ran exactly its own calls`);
    assert.equal(x.errors, 0);
    assert.equal(x.running, 0);
  }
  assert.equal(new Set(loadSessions.map((x) => x.shimPid)).size, CLIENTS, 'each session is its own shim process');

  const perSessionKiB = (loadedKiB - baseKiB) / CLIENTS;
  t.diagnostic(`${CLIENTS} shims connected in ${connectedMs.toFixed(0)} ms; ${calls} calls in ${callsMs.toFixed(0)} ms (${(calls / (callsMs / 1000)).toFixed(0)} calls/s)`);
  t.diagnostic(`hub RSS ${(baseKiB / 1024).toFixed(1)} MiB with 2 sessions → ${(loadedKiB / 1024).toFixed(1)} MiB with ${CLIENTS + 2}: ≈ ${(perSessionKiB / 1024).toFixed(2)} MiB per session (includes warehouse caches warmed by the load)`);
  t.diagnostic(`one shim's RSS: ${(rssKiB(clients[0]!.pid()!) / 1024).toFixed(1)} MiB`);
});
