/**
 * search_objects through the real hub: one call finds tables, views and columns by name or comment,
 * ranked and paged, and never shows what the caller's role may not see.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { connectClient, startHub, tempHome } from '../helpers/harness.js';

type Match = { kind: string; database: string; schema: string | null; object: string | null; column: string | null; comment: string | null };
type Found = { matches: Match[]; total: number; partial: boolean };

test('search_objects: ranked, paged, columns on request, filtered by role', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[roles.narrow]\nidentities = ["${userInfo().username}"]\nclients = ["narrow-*"]\ndeny = ["*.*.CUSTOMER"]\n`);
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'wide' });
  const narrow = await connectClient(t, { home, kind: 'v1', name: 'narrow-1' });

  const found = (await c.callTool('search_objects', { query: 'customer' })).structuredContent as Found;
  assert.ok(found.total >= 1);
  assert.deepEqual(found.matches[0], { kind: 'table', database: 'SNOWMUX_SAMPLE', schema: 'TPCH', object: 'CUSTOMER', column: null, comment: found.matches[0]!.comment }, 'the exact name ranks first');

  const cols = (await c.callTool('search_objects', { query: 'nationkey', database: 'SNOWMUX_SAMPLE', schema: 'TPCH', include_columns: true })).structuredContent as Found;
  assert.ok(cols.matches.some((m) => m.kind === 'column' && m.object === 'NATION' && m.column === 'N_NATIONKEY'));
  assert.ok(cols.matches.some((m) => m.kind === 'column' && m.object === 'CUSTOMER' && m.column === 'C_NATIONKEY'));

  const page1 = (await c.callTool('search_objects', { query: 'key', include_columns: true, database: 'SNOWMUX_SAMPLE', schema: 'TPCH', limit: 3 })).structuredContent as Found;
  const page2 = (await c.callTool('search_objects', { query: 'key', include_columns: true, database: 'SNOWMUX_SAMPLE', schema: 'TPCH', limit: 3, offset: 3 })).structuredContent as Found;
  assert.equal(page1.matches.length, 3);
  assert.equal(page2.total, page1.total);
  assert.ok(!page2.matches.some((m) => page1.matches.some((n) => JSON.stringify(n) === JSON.stringify(m))), 'pages do not overlap');

  const hidden = (await narrow.callTool('search_objects', { query: 'customer', include_columns: true })).structuredContent as Found;
  assert.ok(!hidden.matches.some((m) => m.object === 'CUSTOMER'), 'a denied table and its columns are not found');
});
