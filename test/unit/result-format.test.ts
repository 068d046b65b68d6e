/**
 * What an editor reads of a result: the text table (cells escaped so values can be read back, NULL shown
 * apart from any string, cuts never inside a character), and the notices beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutText, renderTable } from '../../src/hub/tools/result-format.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { queryResult } from '../../src/hub/tools/query-shape.js';
import type { JsonValue, QueryResult } from '../../src/hub/warehouse/types.js';

const HALF = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function resultOf(rows: JsonValue[][], extra: Partial<QueryResult> = {}): QueryResult {
  const columns = (rows[0] ?? []).map((_, i) => ({ name: `C${i}`, type: 'TEXT' }));
  return { columns, rows, rowCount: rows.length, truncated: false, queryId: 'q-1', elapsedMs: 1, ...extra };
}

test('a cut never ends inside a surrogate pair: not in max_cell_chars cells, not in the text table', () => {
  assert.equal(cutText('😀😀😀abc', 5), '😀😀');
  assert.equal(cutText('😀😀😀abc', 6), '😀😀😀');
  assert.equal(cutText('ab', 5), 'ab');
  for (let max = 1; max <= 9; max++) {
    const r = queryResult(resultOf([['😀😀😀abc']]), DEFAULT_LIMITS, 10, 0, { maxCellChars: max });
    const cell = (r.structuredContent as { rows: string[][] }).rows[0]![0]!;
    assert.doesNotMatch(cell, HALF, `max_cell_chars = ${max}: ${JSON.stringify(cell)}`);
  }
  for (const pad of [117, 118, 119]) {
    const table = renderTable(['s'], [[`${'a'.repeat(pad)}😀😀`]]);
    assert.doesNotMatch(table, HALF, `${pad} units before the pairs`);
    assert.match(table, /…/);
  }
});
