/**
 * The row bound a statement's text guarantees (src/hub/guard/sql/row-bound.ts): what it promises, what it
 * refuses to promise, and — against DuckDB itself, over a corpus — that a promise is never broken (the
 * embedded warehouse runs bounded statements whole instead of streaming them).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { rowBound } from '../../src/hub/guard/sql/row-bound.js';
import { readSql } from '../../src/hub/guard/sql/sql-reading.js';

const first = (sql: string, dialect: 'snowflake' | 'duckdb' = 'duckdb') => readSql(sql, dialect).statements[0]!;

const BOUNDED: [string, number][] = [
  ['SELECT 1', 1],
  ["select 1 + 1 AS two, 'a' AS s, [1, 2] AS l, current_date", 1],
  ['SELECT 1 WHERE false', 1],
  ["SELECT 'FROM', 'UNION' AS \"LIMIT\"", 1],
  ['SELECT * FROM t LIMIT 10', 10],
  ['SELECT * FROM t ORDER BY a LIMIT 10 OFFSET 5', 10],
  ['SELECT a FROM t UNION ALL SELECT b FROM u LIMIT 7', 7],
  ['WITH x AS (SELECT * FROM t) SELECT * FROM x LIMIT 0', 0],
  ["SELECT 'LIMIT 5' AS s FROM t LIMIT 3 -- LIMIT 9", 3],
];

const UNBOUNDED = [
  'SELECT * FROM t',
  'SELECT now()',
  'SELECT unnest([1, 2, 3])',
  'SELECT [1, 2].unnest()',
  'SELECT generate_subscripts([4, 5, 6], 1)',
  'SELECT 1 UNION ALL SELECT 2',
  'SELECT 1 EXCEPT SELECT 2',
  'SELECT (SELECT 1)',
  'WITH x AS (SELECT 1) SELECT 1',
  'WITH x AS (SELECT * FROM t LIMIT 1) SELECT * FROM big',
  'SELECT * FROM (SELECT * FROM t LIMIT 5) s',
  'SELECT * FROM t LIMIT 10%',
  'SELECT * FROM t LIMIT 10 PERCENT',
  'SELECT * FROM t LIMIT (5)',
  'SELECT * FROM t LIMIT ?',
  'SELECT * FROM t LIMIT 1e3',
  'SELECT * FROM t LIMIT 2.5',
  'SELECT * FROM t LIMIT 99999999999999999999',
  'FROM t LIMIT 5',
  'TABLE t',
  'VALUES (1), (2)',
  'SHOW TABLES',
  'DESCRIBE t',
];

test('a top-level LIMIT, or a SELECT of constants, bounds the rows; nothing else does', () => {
  for (const [sql, n] of BOUNDED) assert.equal(rowBound(first(sql)), n, sql);
  for (const sql of UNBOUNDED) assert.equal(rowBound(first(sql)), undefined, sql);
  // Both dialects read the same way.
  assert.equal(rowBound(first('SELECT * FROM t LIMIT 4 OFFSET 2', 'snowflake')), 4);
  assert.equal(rowBound(first('SELECT CURRENT_ROLE()', 'snowflake')), undefined);
});

let instance: DuckDBInstance;
let connection: DuckDBConnection;
before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run('CREATE TABLE t AS SELECT range AS a, range % 7 AS b FROM range(5000)');
});
after(() => {
  connection.closeSync();
  instance.closeSync();
});

test('DuckDB never returns more rows than the bound promised (corpus, run for real)', async () => {
  const corpus = [
    'SELECT 1',
    'SELECT 1 + 1, 2 * 3',
    'SELECT 1 WHERE false',
    'SELECT * FROM t LIMIT 10',
    'SELECT * FROM t ORDER BY a DESC LIMIT 10 OFFSET 4990',
    'SELECT a FROM t UNION ALL SELECT b FROM t LIMIT 7',
    'SELECT b, count(*) FROM t GROUP BY b LIMIT 3',
    'WITH x AS (SELECT * FROM t LIMIT 9000) SELECT * FROM x LIMIT 2048',
    ...UNBOUNDED.filter((sql) => !/\?|%|PERCENT|\(5\)|1e3|2\.5|9999|big|SHOW|DESCRIBE|VALUES/.test(sql)),
  ];
  let bounded = 0;
  for (const sql of corpus) {
    const bound = rowBound(first(sql));
    const rows = (await connection.runAndReadAll(sql)).currentRowCount;
    if (bound === undefined) continue;
    bounded++;
    assert.ok(rows <= bound, `${sql}: ${rows} rows, bound ${bound}`);
  }
  assert.ok(bounded >= 8, 'the corpus exercises bounded statements');
});
