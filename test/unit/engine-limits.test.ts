/**
 * SQL that would end the hub running the embedded engine is refused for every role: a statement joining
 * more than 1,000 queries with set operations (planner memory grows with their square: 50,000 in 950 KB
 * of SQL had the kernel kill the hub at 23 GB), and one value built from a literal size past 100 million
 * (`range(0, 400000000)`: one allocation outside the engine's memory limit that it cannot interrupt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSql, type SqlVerdict } from '../../src/hub/guard/sql/policy.js';
import { MAX_SET_OPERATIONS, MAX_TOKENS } from '../../src/hub/guard/sql/engine-limits.js';

const duckdb = (sql: string, allowWrite = false): SqlVerdict => checkSql(sql, { allowWrite, dialect: 'duckdb' });

function assertEngineRefusal(verdict: SqlVerdict, pattern: RegExp): void {
  assert.equal(verdict.allowed, false, JSON.stringify(verdict));
  if (verdict.allowed) return;
  assert.equal(verdict.code, 'SQL_REFUSED');
  assert.equal(verdict.rule, 'engine-safety');
  assert.match(verdict.message, pattern);
}

const unions = (n: number, op = 'UNION ALL') => Array.from({ length: n + 1 }, (_, i) => `SELECT ${i}`).join(` ${op} `);

test('more than 1,000 set operations in one statement are refused, for writers too; 1,000 run', () => {
  assert.equal(duckdb(unions(MAX_SET_OPERATIONS)).allowed, true);
  for (const op of ['UNION ALL', 'UNION', 'INTERSECT', 'EXCEPT', 'union by name']) {
    assertEngineRefusal(duckdb(unions(MAX_SET_OPERATIONS + 1, op)), /joins more than 1,000 queries with UNION, INTERSECT or EXCEPT.*Split it into several queries/);
  }
  assertEngineRefusal(duckdb(unions(50_000), true), /rule: engine-safety/);
  // Nested in subqueries and CTEs counts the same.
  assertEngineRefusal(duckdb(`WITH a AS (${unions(600)}) SELECT * FROM a UNION ALL (${unions(600)})`), /joins more than 1,000/);
  // Snowflake plans elsewhere: its dialect is not bounded by the hub's process.
  assert.equal(checkSql(unions(MAX_SET_OPERATIONS + 1), { allowWrite: false, dialect: 'snowflake' }).allowed, true);
});

test('a statement of more than 100,000 tokens is refused on the embedded engine, for writers too; a long list below it runs', () => {
  // SELECT, n literals and n - 1 commas: 2n tokens.
  const literals = (n: number) => `SELECT ${Array.from({ length: n }, () => "'a'").join(',')}`;
  assert.equal(duckdb(literals(MAX_TOKENS / 2)).allowed, true);
  assertEngineRefusal(duckdb(literals(MAX_TOKENS / 2 + 1)), /holds 100,002 words, literals and symbols, more than the 100,000[\s\S]*load long lists of values into a table/);
  assertEngineRefusal(duckdb(`INSERT INTO t VALUES ${Array.from({ length: 30_000 }, (_, i) => `(${i})`).join(',')}`, true), /more than the 100,000/);
  assert.equal(checkSql(literals(MAX_TOKENS), { allowWrite: false, dialect: 'snowflake' }).allowed, true);
});

test('a value built from a literal size past 100 million is refused; smaller ones, and range as a table (rows streamed), run', () => {
  for (const sql of [
    'SELECT len(range(0, 400000000))',
    'SELECT range(2000000000)',
    'SELECT len(generate_series(1, 1e9))',
    "SELECT length(repeat('x', 1500000000))",
    "SELECT lpad('a', 200000000, 'b')",
    "SELECT rpad('a', 1_000_000_000, 'b')",
    'SELECT list_resize([1], 500000000)',
    'SELECT array_resize([1], 500000000, 0)',
    "SELECT bitstring('1', 2000000000)",
    'SELECT len(RaNgE(0, 4e8))',
    "SELECT len(range(0, '400000000'))",
    "SELECT len(range(0, '400000000'::BIGINT))",
    'SELECT 1 FROM nation, LATERAL (SELECT range(0, -4e8, -1))',
    'SELECT len("range"(400000000))',
    "SELECT length(\"repeat\"('x', 3000000000))",
    "SELECT substring('abcdef' FROM range(400000000)[2]::int)",
  ]) {
    assertEngineRefusal(duckdb(sql, true), /calls \S+ with a size of [\d,]+, building that much in one go in the hub's memory/);
  }
  // Allowed sizes add up within one statement.
  assertEngineRefusal(duckdb(`SELECT ${Array.from({ length: 6 }, () => 'len(range(100000000))').join(' + ')}`), /bringing the values the statement builds to 200,000,000/);
  // As a value, range's bounds must be written out: computed or timestamp bounds can ask for anything, and
  // a timestamp range with a microsecond step ran on past the call's timeout, holding a statement slot for good.
  for (const sql of [
    'SELECT len(range(0, 100000000*4))',
    'SELECT len(range(0, CAST(4e8 AS BIGINT)))',
    'SELECT len(range(0, (400000000)))',
    "SELECT len(range(timestamp '2000-01-01', timestamp '3000-01-01', interval 1 microsecond))",
  ]) {
    assertEngineRefusal(duckdb(sql), /as a value with a bound the hub cannot size .* or select FROM/);
  }
  for (const sql of ["SELECT format('{:>2000000000}', 1)", "SELECT printf('%0400000000d', 1)"]) {
    assertEngineRefusal(duckdb(sql), /with a field a million characters wide or wider/);
  }
  for (const sql of [
    'SELECT len(range(0, 100000000))',
    "SELECT length(repeat('x', 1000))",
    'SELECT count(*) FROM range(0, 4000000000)',
    'SELECT count(*) FROM generate_series(1, 1e9)',
    'SELECT * FROM nation JOIN range(5000000000) r ON true LIMIT 1',
    // Bounds read from the data pass (the engine's own macros build lists this way); their size is not in the text.
    'SELECT len(range(0, n)) FROM (SELECT 10 AS n)',
    'SELECT generate_series(1, len([1, 2, 3]))',
    // As a table (FROM, JOIN, LATERAL, or a FROM list after a comma), range streams whatever its bounds.
    'SELECT * FROM (VALUES (1)) v, range(0, 400000000) r LIMIT 1',
    'SELECT * FROM nation n, range(n.N_NATIONKEY) r',
    "SELECT count(*) FROM generate_series(timestamp '2000-01-01', timestamp '2001-01-01', interval 1 hour)",
    "SELECT format('{:>10}', 1), printf('%05d', 1)",
    // The size is the function's own: a step, a numeric string to repeat, a fill value are not sizes.
    'SELECT range(0, 1000000000, 100000000)',
    "SELECT repeat('100000000000', 2)",
    'SELECT list_resize([1], 3, 999999999999)',
    "SELECT lpad('7', 5, '0')",
  ]) {
    assert.equal(duckdb(sql).allowed, true, sql);
  }
});

test('transaction statements are refused for writers on both dialects (a transaction cannot span pooled calls); a scripting block that holds one is allowed', () => {
  for (const dialect of ['snowflake', 'duckdb'] as const) {
    for (const sql of ['BEGIN', 'BEGIN TRANSACTION', 'START TRANSACTION', 'COMMIT', 'ROLLBACK']) {
      const verdict = checkSql(sql, { allowWrite: true, dialect });
      assert.equal(verdict.allowed, false, `${dialect}: ${sql}`);
      if (verdict.allowed) continue;
      assert.equal(verdict.rule, 'transactions');
      assert.match(verdict.message, /a transaction cannot span calls here[\s\S]*Put the statements in one block/);
    }
  }
  const block = checkSql('BEGIN\n  INSERT INTO t VALUES (1);\n  DELETE FROM u;\nEND', { allowWrite: true, dialect: 'snowflake' });
  assert.equal(block.allowed, true);
  // A reader is refused as before, by the read-only rule.
  const reader = checkSql('BEGIN', { allowWrite: false, dialect: 'snowflake' });
  assert.equal(reader.allowed ? '' : reader.rule, 'read-only');
});
