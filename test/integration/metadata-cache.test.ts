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
import { connectClient, runCli, startHub, tempHome } from '../helpers/harness.js';

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
