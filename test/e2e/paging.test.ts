/**
 * Paging never points at a page it cannot serve: following every fetch_results offset the notices offer,
 * from the first page on, each page is served, until a notice says the hub kept no more (and how to reach
 * later rows), or the result ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, startHub, tempHome, textOf } from '../helpers/harness.js';

type Page = { rows: unknown[][]; truncated: boolean; notice: string | null; query_id: string | null };

test('every offered page is served; the last notice says how far paging goes; hub.max_rows is a ceiling', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmax_rows = 1200\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  for (const [query, limit] of [['SELECT L_ORDERKEY, L_LINENUMBER FROM LINEITEM ORDER BY 1, 2', 1200], ['SELECT N_NATIONKEY FROM NATION ORDER BY 1', 7]] as const) {
    let r = await c.callTool('execute_query', { query, limit });
    let page = r.structuredContent as Page;
    let seen = page.rows.length;
    let pages = 1;
    for (;;) {
      const offer = /fetch_results\(query_id="([^"]+)", offset=(\d+)\)/.exec(page.notice ?? '');
      if (!offer) break;
      assert.equal(Number(offer[2]), seen, 'the offered offset continues where this page ended');
      r = await c.callTool('fetch_results', { query_id: offer[1]!, offset: Number(offer[2]), limit });
      assert.notEqual(r.isError, true, `an offered page was refused: ${textOf(r)}`);
      page = r.structuredContent as Page;
      assert.ok(page.rows.length > 0);
      seen += page.rows.length;
      pages += 1;
    }
    assert.ok(pages > 1, `${query}: paged at least once`);
    if (page.truncated) assert.match(page.notice!, /kept only the first \d+ rows[\s\S]*ORDER BY … LIMIT\/OFFSET/);
    else assert.equal(page.notice, null);
  }
  // hub.max_rows (1200 here) is a ceiling, not only a default: asking for more gets 1200 and a notice.
  const big = (await c.callTool('execute_query', { query: 'SELECT L_ORDERKEY FROM LINEITEM', limit: 3000 })).structuredContent as Page;
  assert.equal(big.rows.length, 1200);
  assert.equal(big.truncated, true);
  // A small result that was truncated only by the row cap says its total.
  const nations = (await c.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION', limit: 10 })).structuredContent as Page;
  assert.match(nations.notice!, /Showing rows 1–10 of 25/);
  // A query id is shown back in errors and logs: one with control or invisible characters is refused at the door.
  const hostile = await c.callTool('fetch_results', { query_id: 'x\u001b]0;owned\u0007\u202e' });
  assert.equal(hostile.isError, true);
  assert.equal((hostile._meta as Record<string, { code: string }>)['dev.snowmux/error']!.code, 'INVALID_ARGUMENTS');
  assert.match(textOf(hostile), /query_id: a query id is printable ASCII/);
  assert.ok(!/[\u0000-\u001f\u202e]/.test(textOf(hostile)), textOf(hostile));
});

test('a row larger than the byte cap is named, with how to read it and paging past it: never the same offset again', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), '[hub]\nmax_result_bytes = 65536\n');
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  const query = "SELECT 1 AS N, 'small' AS V UNION ALL SELECT 2, repeat('x', 200000) UNION ALL SELECT 3, 'after' ORDER BY N";
  const first = (await c.callTool('execute_query', { query })).structuredContent as Page;
  assert.deepEqual(first.rows, [[1, 'small']]);
  const offer = /fetch_results\(query_id="([^"]+)", offset=(\d+)\)/.exec(first.notice ?? '');
  assert.ok(offer, first.notice ?? 'no notice');
  assert.equal(offer[2], '1');
  const stuck = (await c.callTool('fetch_results', { query_id: offer[1]!, offset: 1 })).structuredContent as Page;
  assert.deepEqual(stuck.rows, []);
  assert.match(stuck.notice!, /row 2 alone is larger than the 65536-byte cap, so no row is shown\. Read it with fewer or shorter columns/);
  assert.doesNotMatch(stuck.notice!, /offset=1\)/, 'the same offset is never offered again');
  assert.match(stuck.notice!, /offset=2\)/);
  const after = (await c.callTool('fetch_results', { query_id: offer[1]!, offset: 2 })).structuredContent as Page;
  assert.deepEqual(after.rows, [[3, 'after']]);
  // The first row itself too large: no "rows 1–0", and the way on.
  const alone = (await c.callTool('execute_query', { query: "SELECT V FROM (SELECT 1 AS K, repeat('y', 200000) AS V UNION ALL SELECT 2, 'z') ORDER BY K" })).structuredContent as Page;
  assert.match(alone.notice!, /row 1 alone is larger/);
  assert.doesNotMatch(alone.notice!, /1–0/);
});
