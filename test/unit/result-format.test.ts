/**
 * What an editor reads of a result: the text table (cells escaped so values can be read back, NULL shown
 * apart from any string, cuts never inside a character), and the notices beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutText, NULL_CELL, renderTable } from '../../src/hub/tools/result-format.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { limitArg, queryResult, rowLimit } from '../../src/hub/tools/query-shape.js';
import type { JsonValue, QueryResult } from '../../src/hub/warehouse/types.js';

const textOf = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;

const capOf = (cap: number) => ({ cap, asked: undefined, most: DEFAULT_LIMITS.maxRowsCeiling });

const ALL_TOOLS = { toolAllowed: () => true };

const HALF = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function resultOf(rows: JsonValue[][], extra: Partial<QueryResult> = {}): QueryResult {
  const columns = (rows[0] ?? []).map((_, i) => ({ name: `C${i}`, type: 'TEXT' }));
  return { columns, rows, rowCount: rows.length, truncated: false, queryId: 'q-1', elapsedMs: 1, ...extra };
}


/** The cells of the table's only data row, as written (escapes kept). */
function cellsOf(table: string): string[] {
  const row = table.split('\n')[2]!;
  return row.slice(2, -2).split(/ (?<!\\)\| /).map((c) => c.trimEnd());
}

test('a cut never ends inside a surrogate pair: not in max_cell_chars cells, not in the text table', () => {
  assert.equal(cutText('😀😀😀abc', 5), '😀😀');
  assert.equal(cutText('😀😀😀abc', 6), '😀😀😀');
  assert.equal(cutText('ab', 5), 'ab');
  for (let max = 1; max <= 9; max++) {
    const r = queryResult(resultOf([['😀😀😀abc']]), DEFAULT_LIMITS, capOf(10), 0, { maxCellChars: max, ...ALL_TOOLS });
    const cell = (r.structuredContent as { rows: string[][] }).rows[0]![0]!;
    assert.doesNotMatch(cell, HALF, `max_cell_chars = ${max}: ${JSON.stringify(cell)}`);
  }
  for (const pad of [117, 118, 119]) {
    const table = renderTable(['s'], [[`${'a'.repeat(pad)}😀😀`]], {});
    assert.doesNotMatch(table, HALF, `${pad} units before the pairs`);
    assert.match(table, /…/);
  }
});

test('text table cells: SQL NULL shows apart from every string, and pipes, backslashes and line breaks are escaped', () => {
  const values: JsonValue[] = [null, 'null', NULL_CELL, '', 'x\\|y', 'a|b', 'line1\nline2\r\n\tend', '\\n'];
  const cells = cellsOf(renderTable(values.map((_, i) => `c${i}`), [values], {}));
  assert.deepEqual(cells, ['NULL', 'null', '\\NULL', '', 'x\\\\\\|y', 'a\\|b', 'line1\\nline2\\r\\n\\tend', '\\\\n']);
  assert.equal(new Set(cells).size, cells.length, 'no two values read the same');
  assert.ok(!renderTable(['s'], [['a\nb']], {}).split('\n')[2]!.endsWith('a'), 'a line break does not end the row');
  // Objects and headers are escaped alike.
  assert.deepEqual(cellsOf(renderTable(['o|p'], [[{ k: 'v|w\\' }]], {})), ['{"k":"v\\|w\\\\\\\\"}']);
  assert.match(renderTable(['o|p'], [[1]], {}).split('\n')[0]!, /^\| o\\\|p \|$/);
});

test('text table cells: control and invisible characters are escaped, so no cell acts on a terminal or passes for another value', () => {
  const values: JsonValue[] = ['a\u0000b', '\u001b[2Jx', 'x\u200b', 'x', 'abc\u202edef', '\ud800', '\u0085\u2028', '\\u001b'];
  const cells = cellsOf(renderTable(values.map((_, i) => `c${i}`), [values], {}));
  assert.deepEqual(cells, ['a\\u0000b', '\\u001b[2Jx', 'x\\u200b', 'x', 'abc\\u202edef', '\\ud800', '\\u0085\\u2028', '\\\\u001b']);
  assert.equal(new Set(cells).size, cells.length, 'no two values read the same');
  assert.doesNotMatch(renderTable(['h\u001b'], [[{ k: 'v\u0007' }]], {}), /[\u0000-\u0008\u000b-\u001f]/, 'headers and documents too');
  assert.match(renderTable(['s'], [['é€😀 ключ']], {}), /é€😀 ключ/, 'visible text stays as it is');
});

test('a role that reads the text alone (result_form = "text") gets every cell whole; beside structuredContent long cells are cut', () => {
  const long = `${'abcdefghij'.repeat(30)}\nEND`;
  const result = resultOf([[long, { note: long }]]);
  const whole = `${'abcdefghij'.repeat(30)}\\nEND`;
  const texty = textOf(queryResult(result, DEFAULT_LIMITS, capOf(10), 0, { resultForm: 'text', ...ALL_TOOLS }));
  assert.deepEqual(cellsOf(texty), [whole, `{"note":"${whole.replace(/\\/g, '\\\\')}"}`]);
  assert.deepEqual(cellsOf(renderTable(['a'], [[long]], { resultForm: 'text', ...ALL_TOOLS })), [whole], 'metadata tables too (describe, lists, history)');
  // Its cuts are the role's max_cell_chars, which says so.
  const capped = textOf(queryResult(result, DEFAULT_LIMITS, capOf(10), 0, { resultForm: 'text', maxCellChars: 200, ...ALL_TOOLS }));
  assert.equal(cellsOf(capped)[0], `${long.slice(0, 200)}…`);
  assert.equal(cellsOf(capped)[1], `${JSON.stringify({ note: long }).slice(0, 200).replace(/\\/g, '\\\\')}…`, 'a document is cut by its JSON text too');
  assert.match(capped, /2 cell\(s\) longer than 200 characters were cut \(max_cell_chars/);

  for (const form of ['both', undefined] as const) {
    const both = queryResult(result, DEFAULT_LIMITS, capOf(10), 0, { resultForm: form, ...ALL_TOOLS });
    assert.equal(cellsOf(textOf(both))[0], `${long.slice(0, 119)}…`, 'the table beside structuredContent stays short');
    assert.equal((both.structuredContent as { rows: string[][] }).rows[0]![0], long);
  }
});

test('a truncated result offers only tools the role has: without fetch_results it says how to reach the rest in SQL', () => {
  const noFetch = { toolAllowed: (tool: string) => tool !== 'fetch_results' };
  const rows = Array.from({ length: 3 }, (_, i): JsonValue[] => [i]);
  const paged = /fetch_results\(query_id="q-1", offset=\d+\)/;
  const cases: [string, QueryResult, number, RegExp][] = [
    ['bytes', resultOf(rows, { truncated: true, truncatedBy: 'bytes', pageableRows: 50 }), 0, paged],
    ['rows', resultOf(rows, { truncated: true, truncatedBy: 'rows', totalRows: 10 }), 4, paged],
    ['rows, none kept past', resultOf(rows, { truncated: true, truncatedBy: 'rows', pageableRows: 7 }), 4, /kept only the first 7 rows/],
    ['one row over the byte cap', resultOf([], { columns: [{ name: 'C0', type: 'TEXT' }], truncated: true, truncatedBy: 'bytes', totalRows: 9 }), 2, paged],
  ];
  for (const [what, result, offset, withFetch] of cases) {
    const notice = (queryResult(result, DEFAULT_LIMITS, capOf(3), offset, noFetch).structuredContent as { notice: string }).notice;
    assert.doesNotMatch(notice, /fetch_results/, what);
    assert.match(notice, /OFFSET \d+ in SQL/, what);
    const allowed = (queryResult(result, DEFAULT_LIMITS, capOf(3), offset, ALL_TOOLS).structuredContent as { notice: string }).notice;
    assert.match(allowed, withFetch, `${what}: a role with fetch_results is offered it`);
  }
  assert.match((queryResult(cases[1]![1], DEFAULT_LIMITS, capOf(3), 4, noFetch).structuredContent as { notice: string }).notice, /LIMIT … OFFSET 7 in SQL/);
});

test('a page cut by the rows the hub kept says so, not the row cap it did not reach', () => {
  const rows = (n: number) => Array.from({ length: n }, (_, i): JsonValue[] => [i]);
  const noticeOf = (result: QueryResult, cap: number, offset: number) => (queryResult(result, DEFAULT_LIMITS, capOf(cap), offset, ALL_TOOLS).structuredContent as { notice: string }).notice;
  // fetch_results(offset=4998, limit=5) of a result the hub kept 5000 rows of: 2 rows.
  const tail = noticeOf(resultOf(rows(2), { truncated: true, truncatedBy: 'rows', pageableRows: 5000 }), 5, 4998);
  assert.match(tail, /Showing rows 4999–5000; more rows exist, but the hub kept only the first 5000 rows of this result\. Narrow the query/);
  assert.doesNotMatch(tail, /5-row cap|fetch_results/);
  // fetch_results(offset=4000, limit=10000) of 10001 kept rows: 6001 rows, far below the cap.
  assert.doesNotMatch(noticeOf(resultOf(rows(6001), { truncated: true, truncatedBy: 'rows', pageableRows: 10001 }), 10000, 4000), /10000-row cap/);
  // A page the cap did cut, with kept rows after it, still offers the next page.
  assert.match(noticeOf(resultOf(rows(5), { truncated: true, truncatedBy: 'rows', pageableRows: 5000 }), 5, 0), /beyond the 5-row cap\. Page on with fetch_results\(query_id="q-1", offset=5\)/);
});

test('a limit above the role\'s max_rows is lowered with a notice that says so; the schema names the real ceiling', () => {
  // The pipeline's rule (call-pipeline.ts rowCap): the hub's max_rows caps a role without its own.
  const rowCapOf = (roleMax?: number) => (asked: number | undefined) =>
    Math.min(asked ?? DEFAULT_LIMITS.defaultMaxRows, DEFAULT_LIMITS.maxRowsCeiling, roleMax ?? DEFAULT_LIMITS.defaultMaxRows);
  const notice = (asked: number | undefined, result: Partial<QueryResult>, roleMax?: number) => {
    const rows = rowLimit(rowCapOf(roleMax), asked, DEFAULT_LIMITS);
    const r = queryResult(resultOf([[1]], { truncated: true, truncatedBy: 'rows', ...result }), DEFAULT_LIMITS, rows, 0, { maxRows: roleMax, ...ALL_TOOLS });
    return (r.structuredContent as { notice: string }).notice;
  };
  assert.match(notice(500, {}), /Your limit 500 was lowered to 200, the most the hub's max_rows allows per call\./);
  assert.match(notice(500, {}, 50), /Your limit 500 was lowered to 50, the most your role's max_rows allows/);
  assert.doesNotMatch(notice(500, {}, 1000), /lowered/, 'a role with a higher max_rows gets its limit');
  assert.doesNotMatch(notice(100, {}), /lowered/);
  assert.doesNotMatch(notice(undefined, {}), /lowered/);
  assert.doesNotMatch(notice(500, { truncatedBy: 'bytes' }), /lowered/, 'the byte cap cut first: the row cap did not matter');
  // "Pass a larger limit" only when one would get more rows.
  assert.doesNotMatch(notice(undefined, { cappedAt: 200, pageableRows: 1 }), /larger limit/);
  assert.doesNotMatch(notice(500, { cappedAt: 200, pageableRows: 1 }), /larger limit/);
  assert.match(notice(undefined, { cappedAt: 200, pageableRows: 1 }, 1000), /pass a larger limit/);

  const described = limitArg(DEFAULT_LIMITS).description!;
  assert.match(described, /max_rows/);
  assert.match(described, new RegExp(`never above ${DEFAULT_LIMITS.maxRowsCeiling}`));
});

test('a text table stays about the size of its cells: one wide cell does not pad every other row to its width', () => {
  // A text-only role's table carries whole cells: one 200 KB cell among 1000 one-letter rows padded every
  // row to 200 KB (a 200 MB answer for a 206 KB result, far past max_result_bytes).
  const rows: JsonValue[][] = Array.from({ length: 1000 }, (_, i) => [i, i === 0 ? 'x'.repeat(200_000) : 'a', 'b']);
  const content = JSON.stringify(rows).length;
  const table = renderTable(['n', 'wide', 'short'], rows, { resultForm: 'text' });
  assert.ok(table.length < 2 * content, `table of ${table.length} chars for ${content} bytes of rows`);
  const lines = table.split('\n');
  assert.equal(lines.length, 1002);
  assert.ok(lines[2] === `| 0   | ${'x'.repeat(200_000)} | b     |`, 'the wide cell is whole; the columns without an outlier stay aligned');
  assert.equal(lines[1001], '| 999 | a | b     |');
  assert.equal(lines[1], '|-----|---|-------|', 'a column left unpadded has a short separator');
  // Beside structured content cells are cut at 120 characters, but many rows × many columns padded to 120 grew the same way.
  const many = Array.from({ length: 500 }, (_, i) => Array.from({ length: 40 }, (_, c) => (i === 0 ? 'y'.repeat(500) : String(c))));
  const both = renderTable(many[0]!.map((_, c) => `c${c}`), many, {});
  assert.ok(both.length < 3 * JSON.stringify(many).length, `table of ${both.length} chars`);
  // A plain table is still aligned.
  assert.deepEqual(renderTable(['id', 'name'], [[1, 'alpha'], [22, 'b']], {}).split('\n'), ['| id | name  |', '|----|-------|', '| 1  | alpha |', '| 22 | b     |']);
});

test('max_cell_chars cuts semi-structured cells by their JSON text, and never an exact NUMBER or timestamp', () => {
  const role = { maxCellChars: 10, resultForm: 'text' as const, ...ALL_TOOLS };
  const long = 'secret-text-'.repeat(100);
  const result: QueryResult = {
    columns: [
      { name: 'ARR', type: 'ARRAY' }, { name: 'OBJ', type: 'OBJECT' }, { name: 'L', type: 'VARCHAR[]' }, { name: 'SMALL', type: 'VARIANT' },
      { name: 'BIG', type: 'NUMBER(38,0)' }, { name: 'DEC', type: 'DECIMAL(38,4)' }, { name: 'TS', type: 'TIMESTAMP_NTZ' }, { name: 'TZ', type: 'TIMESTAMP WITH TIME ZONE' }, { name: 'V', type: 'VARCHAR' },
    ],
    rows: [[[long], { k: long }, [long], { a: 1 }, '12345678901234567890', '12345678901234567890.1234', '2024-01-02T03:04:05.123456', '2024-06-01T06:30:00Z', long]],
    rowCount: 1, truncated: false, queryId: 'q-1', elapsedMs: 1,
  };
  const r = queryResult(result, DEFAULT_LIMITS, capOf(10), 0, role);
  const s = r.structuredContent as { rows: JsonValue[][]; notice: string };
  // Wrapping a column in an array (ARRAY_CONSTRUCT, TO_VARIANT) escaped the role's cap: the whole value was sent.
  assert.deepEqual(s.rows[0]!.slice(0, 4), ['["secret-t…', '{"k":"secr…', '["secret-t…', { a: 1 }]);
  assert.ok(!textOf(r).includes(long.slice(0, 40)), 'the text table does not carry the whole value either');
  // Numbers and timestamps given as strings are values: "1234567890…" is not a shortened text, it is another number.
  assert.deepEqual(s.rows[0]!.slice(4), ['12345678901234567890', '12345678901234567890.1234', '2024-01-02T03:04:05.123456', '2024-06-01T06:30:00Z', 'secret-tex…']);
  assert.match(s.notice, /^4 cell\(s\) longer than 10 characters were cut \(max_cell_chars of your role; a VARIANT, OBJECT or ARRAY cell is given as its JSON text, cut\)/);
});
