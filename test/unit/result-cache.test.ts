/**
 * The embedded warehouse's result cache counts what its entries take in heap, not only their JSON text:
 * counted as JSON alone, a 1-row result took ~1 KB of heap and was counted ~300 B, so a 32 MiB cache held
 * 4–5× its budget. The overheads are measured (heap after gc with the cache filled, then emptied).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResultCache } from '../../src/hub/warehouse/duckdb/result-cache.js';
import type { JsonValue } from '../../src/hub/warehouse/types.js';

const columns = [{ name: 'V', type: 'INTEGER' }, { name: 'S', type: 'VARCHAR' }];
/** Heap one small entry takes (1 row, an integer and a short string), as measured: ~660 B. */
const SMALL_ENTRY_HEAP = 600;

function kept(cache: ResultCache, ids: string[]): number {
  return ids.filter((id) => cache.has(id)).length;
}

test('small results are counted at what they take in heap: a budget holds no more of them than fit', () => {
  const budget = 1024 * 1024;
  const cache = new ResultCache(budget);
  const ids: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const rows: JsonValue[][] = [[i, 'x'.repeat(i % 20)]];
    const id = ResultCache.newQueryId();
    ids.push(id);
    cache.put(id, { columns, rows, estimatedBytes: JSON.stringify(rows[0]).length, complete: true });
  }
  const held = kept(cache, ids);
  assert.ok(held <= budget / SMALL_ENTRY_HEAP, `${held} entries of ~${SMALL_ENTRY_HEAP} B each in a ${budget} B budget`);
  assert.ok(held >= budget / (2 * SMALL_ENTRY_HEAP), `the budget is used (${held})`);
});

test('a wide result is counted per row and per cell, and trimmed to what one entry may take', () => {
  const cache = new ResultCache(4 * 1024 * 1024);
  const wide = Array.from({ length: 16 }, (_, i) => ({ name: `C${i}`, type: 'VARCHAR' }));
  const row = (n: number): JsonValue[] => Array.from({ length: 16 }, (_, i) => `${n}-${i}`);
  const rows = Array.from({ length: 10_000 }, (_, n) => row(n));
  const jsonBytes = rows.reduce((sum, r) => sum + JSON.stringify(r).length, 0);
  const id = ResultCache.newQueryId();
  const put = cache.put(id, { columns: wide, rows, estimatedBytes: jsonBytes, complete: true });
  assert.equal(put.complete, false);
  // One entry may take a quarter of the budget (1 MiB): its JSON text alone would fit ~11,000 such rows.
  const perRowHeap = jsonBytes / rows.length + 16 * 16;
  assert.ok(put.rows * perRowHeap <= cache.maxEntryBytes, `${put.rows} rows kept`);
  assert.ok(put.rows > 0);
  const page = cache.page(id, { offset: put.rows - 1, limit: 10 });
  assert.deepEqual(page.rows, [row(put.rows - 1)]);
  assert.equal(page.pageableRows, put.rows);
});
