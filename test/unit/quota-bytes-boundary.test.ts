/**
 * A `bytes` quota is charged the bytes its cap counted: the embedded warehouse stops a result at the bytes left
 * by the sum of each row's JSON, and the call is charged that same sum, so a budget is spent to the byte and
 * never passed. (The charge used to count the rows as one JSON array, whose commas and brackets the cap never
 * saw: a call cut at the budget passed it by a byte a row.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Client } from '@modelcontextprotocol/client';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { defer, textOf, type Cleanup } from '../helpers/harness.js';
import { localClient } from '../helpers/in-memory-hub.js';

let dataDir: string;
let warehouse: DuckDbWarehouse;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'snowmux-bytes-'));
  warehouse = await DuckDbWarehouse.open({ dataDir, threads: 1 });
});

after(async () => {
  await warehouse?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A hub over the embedded warehouse where alice's role has `bytes` per hour, its governance, and alice's client. */
async function underBytes(t: Cleanup, bytes: number): Promise<{ client: Client; used: () => number }> {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const config = `[roles.byteq]\nidentities = ["alice"]\n[roles.byteq.quota]\nwindow = "1h"\nbytes = ${bytes}\n`;
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText(config, 'test.toml'), 'test.toml'), logger });
  defer(t, () => governance.close());
  const target = { kind: 'duckdb' as const, name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', open: async () => warehouse };
  const core = new HubCore({ home: '/nonexistent', logger, governance, warehouses: { targetFor: () => target, describe: () => [], close: async () => {} } });
  const client = await localClient(t, core, 'alice');
  const used = () => (governance.snapshot() as { quotas: { identity: string; windows: { used: { bytes: number } }[] }[] }).quotas.find((q) => q.identity === 'alice')?.windows[0]?.used.bytes ?? 0;
  return { client, used };
}

// [0] … [9] are 3 bytes of JSON each, [10] … [99] 4: the first 15 rows are 10 × 3 + 5 × 4 = 50 bytes.
const QUERY = 'SELECT x FROM range(0, 100) t(x) ORDER BY x';
const rowsOf = (r: Awaited<ReturnType<Client['callTool']>>) => (r.structuredContent as { rows: unknown[][] }).rows;
const codeOf = (r: Awaited<ReturnType<Client['callTool']>>) => ((r._meta as Record<string, unknown> | undefined)?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

test('a bytes budget of exactly 15 rows returns those 15 rows, is charged exactly its bytes, and then refuses', async (t) => {
  const { client, used } = await underBytes(t, 50);
  const r = await client.callTool({ name: 'execute_query', arguments: { query: QUERY } });
  assert.equal(r.isError, undefined, textOf(r as never));
  assert.equal(rowsOf(r).length, 15, textOf(r as never));
  assert.match(textOf(r as never), /your quota had 50 bytes left/);
  assert.equal(used(), 50, 'charged the bytes the cap counted, to the byte');
  const next = await client.callTool({ name: 'execute_query', arguments: { query: QUERY } });
  assert.equal(codeOf(next), 'QUOTA_EXCEEDED', textOf(next as never));
  assert.equal(used(), 50);
});

test('one byte less returns one row less, charged only its bytes', async (t) => {
  const { client, used } = await underBytes(t, 49);
  const r = await client.callTool({ name: 'execute_query', arguments: { query: QUERY } });
  assert.equal(rowsOf(r).length, 14, textOf(r as never));
  assert.equal(used(), 46);
});

test('a page of an earlier result is held to the bytes left the same way: the 4 bytes left take exactly one 4-byte row', async (t) => {
  const { client, used } = await underBytes(t, 50);
  const r = await client.callTool({ name: 'execute_query', arguments: { query: QUERY, limit: 14 } });
  assert.equal(rowsOf(r).length, 14, textOf(r as never));
  assert.equal(used(), 46);
  const queryId = (r.structuredContent as { query_id: string }).query_id;
  const page = await client.callTool({ name: 'fetch_results', arguments: { query_id: queryId, offset: 14 } });
  assert.deepEqual(rowsOf(page), [[14]], textOf(page as never));
  assert.match(textOf(page as never), /your quota had 4 bytes left/);
  assert.equal(used(), 50, 'the budget is spent to the byte, not passed');
});
