/**
 * The row-cap stage: which statements get the call's row cap pushed in as `LIMIT cap+1` (a plain top-level
 * query, for roles with row_cap_pushdown or without fetch_results), what SQL the warehouse then receives,
 * and that a capped result never offers pages past the cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSql } from '../../src/hub/guard/sql/sql-reading.js';
import { cappable, rowCap } from '../../src/hub/pipeline/stages/row-cap.js';
import type { Statement } from '../../src/hub/pipeline/statement.js';
import type { QueryResult } from '../../src/hub/warehouse/types.js';

const first = (sql: string, dialect: 'snowflake' | 'duckdb' = 'snowflake') => readSql(sql, dialect).statements[0]!;

test('plain top-level queries are cappable; queries with a limit of their own, and other statements, are not', () => {
  for (const sql of [
    'SELECT * FROM t',
    'select a, b from t where c > 1 order by a desc nulls last',
    'WITH x AS (SELECT * FROM t LIMIT 5) SELECT * FROM x ORDER BY 1',
    'SELECT * FROM (SELECT * FROM t LIMIT 3) s',
    'SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a',
    'SELECT a FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY b ORDER BY c) = 1',
    "SELECT 'LIMIT 5' AS s, \"LIMIT\" FROM t -- LIMIT 3",
  ]) assert.ok(cappable(first(sql)), sql);
  for (const sql of [
    'SELECT * FROM t LIMIT 10',
    'SELECT * FROM t ORDER BY a OFFSET 5 ROWS FETCH NEXT 10 ROWS ONLY',
    'SELECT TOP 5 * FROM t',
    'WITH x AS (SELECT 1) SELECT * FROM x LIMIT 1',
    '(SELECT * FROM t)',
    'SHOW TABLES',
    'DESCRIBE TABLE t',
    'EXPLAIN SELECT * FROM t',
    'VALUES (1), (2)',
  ]) assert.ok(!cappable(first(sql)), sql);
  assert.ok(!cappable(first('SELECT * FROM t USING SAMPLE 10', 'duckdb')));
  assert.ok(!cappable(first('FROM t SELECT a', 'duckdb')));
});

const governance = { cappedResults: new Map<string, number>() };

function statement(sql: string, role: { rowCapPushdown?: boolean; fetch?: boolean }, maxRows: number, pushRowCap?: boolean): Statement {
  const reading = readSql(sql, 'snowflake');
  return {
    op: { kind: 'query', sql, options: { maxRows, pushRowCap, signal: new AbortController().signal, tag: { sessionId: 's', requestId: 'r', client: 'c', tool: 't' } } },
    scope: { role: { rowCapPushdown: role.rowCapPushdown, toolAllowed: (t: string) => t !== 'fetch_results' || role.fetch !== false }, governance } as never,
    reading,
    text: reading.statements[0]!.text,
  };
}

const truncated: QueryResult = { columns: [], rows: [[1], [2]], rowCount: 2, truncated: true, queryId: 'q', elapsedMs: 1 };

test('the warehouse receives LIMIT cap+1 for capped roles only, and a capped result pages no further than the cap', async () => {
  const capped = statement('SELECT a FROM t ORDER BY a', { rowCapPushdown: true }, 2);
  const result = (await rowCap.run(capped, async () => truncated)) as QueryResult;
  assert.equal(capped.text, 'SELECT a FROM t ORDER BY a\nLIMIT 3');
  assert.equal(result.pageableRows, 2);

  const noPaging = statement('SELECT a FROM t', { fetch: false }, 10);
  await rowCap.run(noPaging, async () => truncated);
  assert.equal(noPaging.text, 'SELECT a FROM t\nLIMIT 11');

  const pages = statement('SELECT a FROM t', {}, 10);
  const untouched = (await rowCap.run(pages, async () => truncated)) as QueryResult;
  assert.equal(pages.text, 'SELECT a FROM t', 'a role that may page gets the whole result computed');
  assert.equal(untouched.pageableRows, undefined);

  const own = statement('SELECT a FROM t LIMIT 500', { rowCapPushdown: true }, 10);
  await rowCap.run(own, async () => truncated);
  assert.equal(own.text, 'SELECT a FROM t LIMIT 500');
});

function fetch(queryId: string, offset: number, limit: number): Statement {
  return {
    op: { kind: 'fetch', queryId, page: { offset, limit }, ctx: { signal: new AbortController().signal, tag: { sessionId: 's', requestId: 'r', client: 'c', tool: 'fetch_results' } } },
    scope: { role: { toolAllowed: () => true }, governance } as never,
  };
}

const rowsOf = (from: number, to: number): number[][] => Array.from({ length: to - from }, (_, i) => [from + i]);

test('where the appended LIMIT bound, the result has no total and says so; where it did not, the result is whole', async () => {
  // The warehouse got LIMIT 4 and returned 4 rows: 3 shown, the fourth only says more exist.
  const bound = statement('SELECT a FROM big', { rowCapPushdown: true }, 3);
  const cut = (await rowCap.run(bound, async (): Promise<QueryResult> => ({ columns: [], rows: rowsOf(0, 3), rowCount: 3, truncated: true, truncatedBy: 'rows', totalRows: 4, queryId: 'q-bound', elapsedMs: 1 }))) as QueryResult;
  assert.equal(cut.totalRows, undefined, 'cap+1 is not the total');
  assert.equal(cut.cappedAt, 3);
  assert.equal(cut.pageableRows, 3);
  assert.equal(governance.cappedResults.get('q-bound'), 3);

  const small = statement('SELECT a FROM small', { rowCapPushdown: true }, 3);
  const whole = (await rowCap.run(small, async (): Promise<QueryResult> => ({ columns: [], rows: rowsOf(0, 2), rowCount: 2, truncated: false, totalRows: 2, queryId: 'q-small', elapsedMs: 1 }))) as QueryResult;
  assert.equal(whole.totalRows, 2);
  assert.equal(whole.cappedAt, undefined);
  assert.equal(governance.cappedResults.has('q-small'), false);

  // A tool's own SQL (query_view) is capped for a role that may page too.
  const view = statement('SELECT * FROM v', {}, 5, true);
  await rowCap.run(view, async () => truncated);
  assert.equal(view.text, 'SELECT * FROM v\nLIMIT 6');
});

test('pages of a capped result stop at the cap: the extra row is never shown, and past it is refused', async () => {
  governance.cappedResults.set('q-paged', 5);
  // The warehouse holds the statement's 6 rows (0..5); row 5 is the one that said more exist.
  const warehousePage = (offset: number, limit: number) => async (): Promise<QueryResult> => {
    const rows = rowsOf(offset, Math.min(6, offset + limit));
    return { columns: [], rows, rowCount: rows.length, truncated: offset + rows.length < 6, totalRows: 6, queryId: 'q-paged', elapsedMs: 1 };
  };
  const atCap = (await rowCap.run(fetch('q-paged', 3, 10), warehousePage(3, 10))) as QueryResult;
  assert.deepEqual(atCap.rows, [[3], [4]]);
  assert.equal(atCap.truncated, true, 'the cap is not the end of the result');
  assert.equal(atCap.totalRows, undefined);
  assert.equal(atCap.cappedAt, 5);

  const before = (await rowCap.run(fetch('q-paged', 0, 2), warehousePage(0, 2))) as QueryResult;
  assert.deepEqual(before.rows, [[0], [1]]);
  assert.equal(before.truncated, true);

  await assert.rejects(rowCap.run(fetch('q-paged', 5, 10), warehousePage(5, 10)), (err: Error & { code?: string }) => err.code === 'RESULT_ROWS_NOT_KEPT' && /no rows past its first 5/.test(err.message));

  // A result that was not capped pages as the warehouse serves it.
  const other = (await rowCap.run(fetch('q-other', 3, 10), warehousePage(3, 10))) as QueryResult;
  assert.deepEqual(other.rows, [[3], [4], [5]]);
  assert.equal(other.totalRows, 6);
});
