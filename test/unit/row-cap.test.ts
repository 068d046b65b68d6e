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

function statement(sql: string, role: { rowCapPushdown?: boolean; fetch?: boolean }, maxRows: number): Statement {
  const reading = readSql(sql, 'snowflake');
  return {
    op: { kind: 'query', sql, options: { maxRows, signal: new AbortController().signal, tag: { sessionId: 's', requestId: 'r', client: 'c', tool: 't' } } },
    scope: { role: { rowCapPushdown: role.rowCapPushdown, toolAllowed: (t: string) => t !== 'fetch_results' || role.fetch !== false } } as never,
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
