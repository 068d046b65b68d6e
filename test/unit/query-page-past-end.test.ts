/**
 * A fetch_results page asked past a result's last row is empty and says so, with the result's size: an
 * empty page with no word read as "no more rows" only by luck, and an agent that mistyped an offset never
 * learnt how many rows there were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { queryResult } from '../../src/hub/tools/query-shape.js';
import type { QueryResult } from '../../src/hub/warehouse/types.js';

const shape = { toolAllowed: () => true };
const rows = { cap: 100, asked: undefined, most: 1000 };
const page = (offset: number, totalRows: number | undefined, got: number): string => {
  const result: QueryResult = { columns: [{ name: 'I', type: 'NUMBER(38,0)' }], rows: Array.from({ length: got }, (_, i) => [offset + i]), rowCount: got, truncated: false, totalRows, queryId: 'q-1', elapsedMs: 1 };
  const answer = queryResult(result, DEFAULT_LIMITS, rows, offset, shape);
  return answer.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
};

test('a page past the end names the result size; a page inside it, or at offset 0, says nothing of the kind', () => {
  assert.match(page(3500, 3500, 0), /No row is shown: offset 3500 is past the end of the result, which has 3500 rows \(offsets 0–3499\)\./);
  assert.match(page(9, 1, 0), /which has 1 row \(offsets 0–0\)/);
  assert.match(page(5, 0, 0), /No row is shown: the result has no rows\./);
  assert.doesNotMatch(page(3400, 3500, 100), /past the end/);
  assert.doesNotMatch(page(0, 0, 0), /past the end|has no rows/);
  assert.doesNotMatch(page(3500, undefined, 0), /past the end/, 'a size the warehouse does not know is not guessed');
});
