/**
 * The shared metadata cache through the real hub: ten editors asking the same list_tables at once cause one
 * warehouse round trip; each still sees only what its own role may (the filter applies after the cache);
 * `snowmux reload` empties it; hits and misses show in status and /metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { connectClient, defer, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';

const me = userInfo().username;
type Stats = { hits: number; misses: number; joined: number };
async function cacheStats(home: string): Promise<Stats> {
  const s = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { governance: { metadataCache: Stats } };
  return s.governance.metadataCache;
}

test('ten editors, one round trip; per-role filtering after the cache; reload empties it', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nmetrics_listen = "127.0.0.1:0"\n\n[roles.narrow]\nidentities = ["${me}"]\nclients = ["narrow-*"]\ndeny = ["*.*.CUSTOMER"]\n`);
  await startHub(t, home);
  const editors = await Promise.all(Array.from({ length: 10 }, (_, i) => connectClient(t, { home, kind: i % 2 ? 'v1' : 'v2-legacy', name: `editor-${i}` })));
  const narrow = await connectClient(t, { home, kind: 'v2-legacy', name: 'narrow-1' });

  const before = await cacheStats(home);
  const lists = await Promise.all(editors.map((c) => c.callTool('list_tables', { schema: 'TPCH' })));
  const names = (r: (typeof lists)[number]) => (r.structuredContent!.tables as { name: string }[]).map((x) => x.name);
  for (const r of lists) assert.ok(names(r).includes('CUSTOMER'));
  const after = await cacheStats(home);
  assert.equal(after.misses - before.misses, 1, 'one warehouse round trip for ten editors');
  assert.equal(after.hits + after.joined - before.hits - before.joined, 9);

  const filtered = await narrow.callTool('list_tables', { schema: 'TPCH' });
  assert.ok(!names(filtered).includes('CUSTOMER'), 'the narrow role sees the cached answer through its own filter');
  assert.ok(names(filtered).includes('NATION'));
  assert.equal((await cacheStats(home)).misses, after.misses, 'served from the cache');

  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  await editors[0]!.callTool('list_tables', { schema: 'TPCH' });
  assert.equal((await cacheStats(home)).misses, after.misses + 1, 'reload emptied the cache');

  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { metrics: { url: string } };
  const metrics = await (await fetch(status.metrics.url)).text();
  assert.match(metrics, /snowmux_metadata_cache_requests_total\{result="miss"\} \d+/);
});

test('Snowflake: DDL through the hub empties the cache, so listings (and name checks) see it at once', async (t) => {
  const double = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'ddl-pw-1234', roles: ['ANALYST'] }] });
  defer(t, () => double.close());
  const home = tempHome(t);
  writeFileSync(
    join(home, 'config.toml'),
    `[hub]\ndefault_profile = "p"\n[profiles.p]\naccount = "fakeacct"\nuser = "alice"\npassword = "ddl-pw-1234"\naccess_url = "${double.url}"\n` +
      `warehouse = "COMPUTE_WH"\ndatabase = "ANALYTICS"\nschema = "PUBLIC"\n\n[roles.writer]\nclients = ["writer"]\nwrite = true\n`,
  );
  await startHub(t, home);
  const writer = await connectClient(t, { home, kind: 'v2-legacy', name: 'writer' });
  const reader = await connectClient(t, { home, kind: 'v1', name: 'reader' });
  const tables = async (c: typeof writer) => {
    const r = await c.callTool('list_tables', { database: 'ANALYTICS', schema: 'PUBLIC' });
    assert.ok(!r.isError, textOf(r));
    return (r.structuredContent!.tables as { name: string }[]).map((x) => x.name);
  };
  assert.deepEqual(await tables(reader), ['EVENTS']);
  const created = await writer.callTool('execute_query', { query: 'CREATE TABLE ANALYTICS.PUBLIC.FRESH (A INT)' });
  assert.ok(!created.isError, textOf(created));
  assert.deepEqual((await tables(writer)).sort(), ['EVENTS', 'FRESH'], 'the writer sees its own table at once');
  assert.deepEqual((await tables(reader)).sort(), ['EVENTS', 'FRESH'], 'and so does every other editor');
  const hits = (await cacheStats(home)).hits;
  assert.deepEqual((await tables(reader)).sort(), ['EVENTS', 'FRESH']);
  assert.equal((await cacheStats(home)).hits, hits + 1, 'reads still share the cache');
  const dropped = await writer.callTool('execute_query', { query: 'drop table analytics.public.fresh' });
  assert.ok(!dropped.isError, textOf(dropped));
  assert.deepEqual(await tables(reader), ['EVENTS']);
  // Data changes and reads leave the cache alone.
  await writer.callTool('execute_query', { query: 'SELECT 1' });
  const kept = (await cacheStats(home)).hits;
  await tables(reader);
  assert.equal((await cacheStats(home)).hits, kept + 1);
});
