/**
 * SQL that would end the hub running the embedded engine is refused for every role: a statement joining
 * more than 1,000 queries with set operations (planner memory grows with their square: 50,000 in 950 KB
 * of SQL had the kernel kill the hub at 23 GB), and one value built from a literal size past 100 million
 * (`range(0, 400000000)`: one allocation outside the engine's memory limit that it cannot interrupt).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSql, type SqlVerdict } from '../../src/hub/guard/sql/policy.js';
import { MAX_NESTING, MAX_PATTERN_WILDCARDS, MAX_SET_OPERATIONS, MAX_TOKENS, ROWS_AT_ONCE } from '../../src/hub/guard/sql/engine-limits.js';

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
  // Integer arithmetic and casts over numbers are evaluated; other constants cannot be sized.
  for (const sql of ['SELECT len(range(0, 100000000*4))', 'SELECT len(range(0, CAST(4e8 AS BIGINT)))', 'SELECT len(range(0, (400000000)))']) {
    assertEngineRefusal(duckdb(sql), /calls range with a size of 400,000,000/);
  }
  for (const sql of [
    "SELECT len(range(timestamp '2000-01-01', timestamp '3000-01-01', interval 1 microsecond))",
    'SELECT len(range(0, abs(400000000)))',
    'SELECT len(range(0, (SELECT 400000000)))',
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

test('what a value-building function builds is sized by its class, not by a literal count: constant sizes, multiplied inputs, widths from arguments, growing replacements, lambdas and rows', () => {
  // Each of these made the hub hold gigabytes (or more) outside the engine's memory limit.
  const hazards: [string, RegExp][] = [
    // A constant count that is not one literal: evaluated when it is integer arithmetic, refused when it cannot be.
    ["SELECT length(repeat('x', 1500*1000000))", /calls repeat with a size of 1,500,000,000/],
    ["SELECT length(lpad('x', 1500*1000000, 'y'))", /calls lpad with a size of 1,500,000,000/],
    ["SELECT length(rpad('x', (15 * 100000000)::BIGINT, 'y'))", /calls rpad with a size of 1,500,000,000/],
    ["SELECT length(repeat('x', CAST(1.5e9 AS BIGINT)))", /calls repeat with a size of 1,500,000,000/],
    ["SELECT length(repeat('x', 1500000000::BIGINT + 0))", /calls repeat with a size of 1,500,000,000/],
    ['SELECT list_resize([1], 3000000000 // 2)', /calls list_resize with a size of 1,500,000,000/],
    ["SELECT length(repeat('x', (SELECT 1500000000)))", /calls repeat with a size the hub cannot work out/],
    ["SELECT length(repeat('x', abs(1500000000)))", /calls repeat with a size the hub cannot work out/],
    ["SELECT length(repeat('x', CASE WHEN true THEN 1500000000 END))", /calls repeat with a size the hub cannot work out/],
    ["SELECT length(repeat('x', greatest(1500000000, 1)))", /calls repeat with a size the hub cannot work out/],
    ["SELECT bitstring('1', 10 ^ 10)", /calls bitstring with a size the hub cannot work out/],
    // repeat builds its input's size times the count, and nested builders multiply.
    ["SELECT length(repeat('xxxxxxxxxx', 99999999))", /calls repeat with a size of 999,999,990/],
    ["SELECT length(repeat(repeat('x', 100), 15000000))", /calls repeat with a size of 1,500,000,000/],
    ["SELECT length(repeat(repeat(repeat('x', 1000), 1000), 1000))", /calls repeat with a size of 1,000,000,000/],
    ["SELECT length(repeat('x' || repeat('y', 1000), 99999999))", /calls repeat with a size of/],
    ['SELECT list_resize([], 100000, range(10000))', /calls list_resize with a size of 1,000,000,000/],
    // Format widths taken from a later argument, and format strings the hub cannot read.
    ["SELECT length(format('{:>{}}', 'x', 500000000))", /calls format with a field width of 500,000,000 taken from an argument/],
    ["SELECT length(printf('%*d', 500000000, 1))", /calls printf with a field width of 500,000,000 taken from an argument/],
    ["SELECT length(printf('%.*f', 500000000, 1.5))", /calls printf with a field width of 500,000,000/],
    ["SELECT length(format('{:>{}}', 'x', 5000*100000))", /field width of 500,000,000/],
    ["SELECT length(format('{:>{}}', 'x', abs(500000000)))", /calls format with a size the hub cannot work out/],
    ["SELECT length(format(concat('{:>', '999999999', '}'), 'x'))", /calls format with a format string the hub cannot read/],
    ["SELECT format('{:>999999}{:>999999}', 1, 2) FROM range(100)", /counting each value 100 times/],
    ["SELECT format('{:>999999}{:>999999}', 1, 2) FROM range(10000)", /counting each value 2,048 times/],
    // Replacements that grow their input.
    ["SELECT length(replace(repeat('x', 90000000), 'x', 'xxxxxxxxxx'))", /calls replace with a size of 990,000,000/],
    ["SELECT length(regexp_replace(repeat('x', 90000000), '', 'yy', 'g'))", /calls regexp_replace with a size of 270,000,000/],
    ["SELECT replace(repeat('x', 1000000), 'x', repeat('y', 1000))", /calls replace with a size of/],
    // Lambdas and comprehensions build their body for every element; folds can double on every one.
    ["SELECT len(list_transform(range(100000), x -> repeat('x', 10000)))", /calls list_transform with a size of 1,000,000,000/],
    ["SELECT len(apply(range(100000), lambda x: repeat('x', 10000)))", /calls apply with a size of 1,000,000,000/],
    ["SELECT len([repeat('x', 10000) for x in range(100000)])", /calls a list comprehension with a size of 1,000,000,000/],
    ["SELECT length(list_reduce(list_transform(range(32), x -> 'x'), (a, x) -> a || a))", /calls list_reduce with a lambda that uses its accumulator more than once/],
    ["SELECT length(reduce(list_transform(range(32), x -> 'x'), (a, x) -> repeat(a, 2)))", /calls reduce with a lambda/],
    // Over rows, the engine builds a vector of rows' values at once: 1 MB per row held 2.1 GB.
    ["SELECT sum(length(repeat('x', 1000000) || range::varchar)) FROM range(2048)", /calls repeat bringing the values the statement builds to 2,048,000,000 .*counting each value 2,048 times/],
    ["SELECT length(repeat('x', 1000000) || unnest(range(2048))::varchar)", /counting each value 2,048 times/],
    ['SELECT len(range(0, 100000)) FROM nation', /counting each value 2,048 times/],
    // A derived table reads what its own FROM reads; a table beside it or joined to it reads rows.
    ["SELECT V FROM (SELECT repeat('y', 200000) AS V FROM nation) t", /counting each value 2,048 times/],
    ["SELECT V FROM (SELECT repeat('y', 200000) AS V) t, nation", /counting each value 2,048 times/],
    ["SELECT V FROM (SELECT repeat('y', 200000) AS V) t JOIN nation ON true", /counting each value 2,048 times/],
  ];
  for (const [sql, pattern] of hazards) assertEngineRefusal(duckdb(sql), pattern);
  assert.equal(ROWS_AT_ONCE, 2_048);
  const legitimate = [
    "SELECT repeat('x', 80), lpad('7', 5, '0'), rpad('ab', 10), format('{:>10}', 1), printf('%05d', 1)",
    "SELECT repeat('-', 80) FROM range(100)",
    "SELECT lpad(N_NAME, 30, '.') FROM nation",
    "SELECT repeat('x', 1000 * 10)",
    "SELECT repeat('ab', 40000000)",
    // A size read from a column is the data's (docs/security-model.md §9).
    "SELECT repeat('#', n) FROM (SELECT 10 AS n)",
    "SELECT repeat('#', (N_NATIONKEY * 2)::INT) FROM nation",
    "SELECT repeat('#', (SELECT max(N_NATIONKEY) FROM nation))",
    "SELECT printf('%*d', w, 1) FROM (SELECT 5 AS w)",
    "SELECT format('{:>{}}', 'x', 20), format('{}: {}', 'a', 'b'), printf('%-*s|', 12, 'left')",
    "SELECT format('{:>{}}', N_NAME, 30) FROM nation",
    "SELECT replace(N_NAME, 'A', 'aa'), regexp_replace(N_COMMENT, '[aeiou]', '', 'g') FROM nation",
    'SELECT list_reduce([1, 2, 3], (a, x) -> a + x), list_reduce([1, 2, 3], lambda a, x: a * x)',
    "SELECT list_reduce(['a', 'b'], (acc, x) -> acc || ',' || x)",
    'SELECT [x * 2 for x in range(1000) if x % 2 = 0], list_transform(range(10), x -> x + 1), [1, 2, 3]',
    'SELECT len(range(0, 10*10)), range(1, 13)',
    "SELECT string_agg(repeat('x', 100), ',') FROM range(1000)",
    // Written rows build their values once each (e2e paging pages past a row larger than the byte cap).
    "SELECT V FROM (SELECT 1 AS K, repeat('y', 200000) AS V UNION ALL SELECT 2, 'z') ORDER BY K",
    "SELECT * FROM (SELECT repeat('y', 200000) AS V) AS t WHERE length(V) > 0",
  ];
  for (const sql of legitimate) assert.equal(duckdb(sql).allowed, true, sql);
});

test('CTEs named so often that, written out where used, they exceed the token bound are refused; ordinary CTEs run', () => {
  // Each CTE names the one before twice: NOT MATERIALIZED makes the engine plan 2^n copies, outside its
  // memory limit (20 took the hub past 4 GB); correlated uses are inlined the same way without the hint.
  const chain = (n: number, hint: string, body = (p: string) => `SELECT p.x FROM ${p} p, ${p} q`) =>
    `WITH a0 AS ${hint} (SELECT 1 AS x)${Array.from({ length: n }, (_, i) => `, a${i + 1} AS ${hint} (${body(`a${i}`)})`).join('')} SELECT count(*) FROM a${n}`;
  assertEngineRefusal(duckdb(chain(20, 'NOT MATERIALIZED')), /names its CTEs so often that, with each CTE written out where it is used, it would hold 12,583,\d{3} words.*Remove NOT MATERIALIZED, or name each CTE fewer times/);
  assertEngineRefusal(duckdb(chain(20, '')), /names its CTEs so often/);
  assertEngineRefusal(duckdb(chain(20, '', (p) => `SELECT * FROM ${p}, LATERAL (SELECT * FROM ${p} q WHERE q.x = ${p}.x) l(y)`)), /names its CTEs so often/);
  // The main query's own uses multiply too, and a nested WITH counts the same.
  assertEngineRefusal(duckdb(`${chain(10, 'NOT MATERIALIZED').replace(/ SELECT count\(\*\) FROM a10$/, '')} SELECT count(*) FROM ${Array.from({ length: 60 }, () => 'a10').join(', ')}`), /names its CTEs so often/);
  assertEngineRefusal(duckdb(`SELECT * FROM (${chain(20, 'NOT MATERIALIZED')})`), /names its CTEs so often/);
  for (const sql of [
    chain(10, 'NOT MATERIALIZED'),
    chain(30, '', (p) => `SELECT ${p}.x, ${p}.x + 1 AS y FROM ${p} WHERE ${p}.x > 0`),
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r',
    'WITH t AS (SELECT 1 AS a), u AS (SELECT * FROM t) SELECT t.a, t.*, u.a FROM t, t AS t2, u',
  ]) {
    assert.equal(duckdb(sql).allowed, true, sql);
  }
});

test('value-building functions and lists nested deeper than the bound are refused before anything is sized; plain brackets are not bounded', () => {
  const repeats = (n: number) => `SELECT ${'repeat('.repeat(n)}'x'${', 1)'.repeat(n)}`;
  assert.equal(duckdb(repeats(MAX_NESTING)).allowed, true);
  assertEngineRefusal(duckdb(repeats(MAX_NESTING + 1)), /nests value-building functions or lists more than 64 deep/);
  assertEngineRefusal(duckdb(`SELECT ${'['.repeat(5000)}1${']'.repeat(5000)}`), /more than 64 deep/);
  assert.equal(duckdb(`SELECT ${'('.repeat(5000)}1${')'.repeat(5000)}`).allowed, true);
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

test('a statement over one range(n) of constant n counts each value n times; the advice over rows is a size per value, not FROM range', () => {
  // All the rows of range(n) below a vector's 2,048 are built at once, and no more: one value per row.
  for (const sql of [
    "SELECT repeat('x', 100000) AS big FROM range(1)",
    "SELECT repeat('x', 100000) FROM range(1000)",
    "SELECT repeat('x', 60000) FROM generate_series(1000)",
    "SELECT repeat('x', 100000) FROM range(1) t(i) WHERE i >= 0 ORDER BY 1 LIMIT 1",
    "FROM range(1) SELECT repeat('x', 100000)",
    "SELECT repeat('x', 100000) FROM range(0, 10, 2) AS r",
  ]) assert.equal(duckdb(sql).allowed, true, sql);
  // Anything else that could bring rows counts a whole vector, and the advice is the size one value may have.
  const perValue = /build at most 48,828 elements or characters per value here, or read fewer rows/;
  for (const sql of [
    "SELECT repeat('x', 100000) FROM range(5000)",
    "SELECT repeat('x', 100000) FROM range(1001)",
    "SELECT rpad(N_NAME, 50000) FROM nation",
    "SELECT repeat('x', 100000) FROM range(1), nation",
    "SELECT repeat('x', 100000) FROM range(1) JOIN nation ON true",
    "SELECT repeat('x', 100000) FROM range(1) a NATURAL JOIN range(1) b",
    "SELECT repeat('x', 100000) FROM range(1) WHERE range IN (SELECT N_NATIONKEY FROM nation)",
    "SELECT repeat('x', 100000) FROM range(1) GROUP BY CUBE (range)",
    "SELECT repeat('x', 100000), unnest(range(5000)) FROM range(1)",
    "SELECT repeat('x', 100000) FROM range(1) USING SAMPLE 1",
    "SELECT repeat('x', 100000) FROM range(n) t, (SELECT 1 AS n)",
  ]) {
    const verdict = duckdb(sql);
    assertEngineRefusal(verdict, sql.includes('1001') ? /counting each value 1,001 times/ : /counting each value 2,048 times/);
    if (!sql.includes('1001')) assert.match(JSON.stringify(verdict), perValue, sql);
    assert.doesNotMatch(JSON.stringify(verdict), /aggregate over FROM range/, sql);
  }
  // Over range(1001) a value may be up to 99,900 (100 million / 1,001); what other values built is taken off.
  assert.match(JSON.stringify(duckdb("SELECT repeat('x', 100000) FROM range(1001)")), /build at most 99,900 elements or characters per value here[^,]/);
  assert.match(JSON.stringify(duckdb("SELECT repeat('x', 40000), repeat('y', 40000) FROM nation")), /build at most 8,828 elements or characters per value here/);
  // One value past the statement's bound over one row: the bound per value is the statement's.
  assert.match(JSON.stringify(duckdb("SELECT repeat('x', 200000000) FROM range(1)")), /with a size of 200,000,000.*build at most 100,000,000 elements or characters per value here/);
  // Without rows, building in FROM range(…) is still the way.
  assert.match(JSON.stringify(duckdb("SELECT repeat('x', 200000000)")), /aggregate over FROM range/);
});

test('what the engine recurses through once per nesting level of a document is refused for every role: JSON walkers, json_deserialize_sql, a VARIANT type', () => {
  // Each of these, over a document of 30,000 to 300,000 levels built in the query itself, ended the hub with
  // SIGSEGV (DuckDB 1.5.6); json_structure and the other walkers were refused only to read-only roles.
  const deep = "repeat('[', 300000) || repeat(']', 300000)";
  for (const sql of [
    `SELECT json_structure(${deep})`,
    `SELECT json_contains(${deep}, '1')`,
    `SELECT json_merge_patch(${deep}, '{}')`,
    `SELECT json_pretty(${deep})`,
    `SELECT json_group_structure(x) FROM (SELECT ${deep} AS x)`,
    `SELECT (${deep}).json_pretty()`,
    `SELECT main."json_structure"(${deep})`,
    `SELECT json_deserialize_sql('{"statements":[' || repeat('{"children":[', 100000) || '1' || repeat(']}', 100000) || ']}')`,
    'SELECT variant_bytes_to_variant(x) FROM (SELECT NULL::BLOB AS x)',
  ]) {
    for (const allowWrite of [false, true]) assertEngineRefusal(duckdb(sql, allowWrite), /calls .*level by level with no depth limit.*ends the hub process/);
  }
  for (const sql of [
    `SELECT (${deep})::JSON::VARIANT`,
    `SELECT CAST((${deep})::JSON AS variant)`,
    `SELECT TRY_CAST(x AS "Variant") FROM (SELECT (${deep})::JSON AS x)`,
    `SELECT x::main.VARIANT[] FROM t`,
    'SELECT x::STRUCT(a VARIANT) FROM t',
    'SELECT CAST(x AS MAP(VARCHAR, VARIANT)) FROM t',
    'CREATE TEMP TABLE v (x VARIANT)',
    'ALTER TABLE t ALTER x TYPE VARIANT',
  ]) {
    for (const allowWrite of [false, true]) {
      assertEngineRefusal(duckdb(sql, allowWrite), /uses the type "?variant"?: the embedded engine converts a JSON document to VARIANT level by level with no depth limit.*Keep the value as JSON/i);
    }
  }
  // The functions that read a document without recursing, and a name that is only an alias, still run.
  for (const sql of [
    `SELECT json_extract(${deep}, '$[0]'), json_valid(${deep}), (${deep})::JSON::VARCHAR`,
    "SELECT 1 AS variant, CAST(x AS INT) AS variant FROM t ORDER BY variant",
    "SELECT json_transform('{\"a\": 1}', '{\"a\": \"INTEGER\"}')",
  ]) assert.equal(duckdb(sql).allowed, true, sql);
  // Snowflake's VARIANT is its everyday semi-structured type, parsed elsewhere.
  assert.equal(checkSql('SELECT x::VARIANT FROM t', { allowWrite: false, dialect: 'snowflake' }).allowed, true);
});

test('a pattern the engine matches by backtracking may have at most 4 wildcards, for every role; a plain LIKE any number', () => {
  // `repeat('e', 199) ILIKE '%e%e%e%e%e%z'` over CUSTOMER: the call timed out at 1 s, and the statement went on
  // holding a CPU and a statement slot (interrupts are not seen inside the match) for many minutes.
  const many = '%e'.repeat(MAX_PATTERN_WILDCARDS) + '%z';
  const refusal = /matches text with .+ against a pattern with 5 [%*] wildcards; the embedded engine matches .+ by backtracking.*Use at most 4 wildcards/;
  for (const sql of [
    `SELECT count(*) FROM customer WHERE repeat('e', 199) ILIKE '${many}'`,
    `SELECT c_comment NOT ILIKE '${many}' FROM customer`,
    `SELECT c_comment ~~* '${many}', 1 FROM customer`,
    `SELECT c_comment!~~*'${many}' FROM customer`,
    `SELECT c_comment LIKE '${many.replace('%z', '_%z')}' FROM customer`,
    `SELECT c_comment LIKE '${many}' ESCAPE '!' FROM customer`,
    `SELECT c_comment COLLATE nocase LIKE '${many}' FROM customer`,
    `SELECT like_escape(c_comment, '${many}', '!') FROM customer`,
    `SELECT not_ilike_escape(c_comment, '${many}', '!') FROM customer`,
    `SELECT "~~*"(c_comment, '${many}') FROM customer`,
    `SELECT c_comment ILIKE '%e%e' || '%e%e%z' FROM customer`,
    "SELECT c_comment GLOB '*e*e*e*e*z' FROM customer",
    "SELECT c_comment ~~~ '*e*e*e*e*z' FROM customer",
  ]) {
    for (const allowWrite of [false, true]) assertEngineRefusal(duckdb(sql, allowWrite), refusal);
  }
  // A pattern a value-building function makes cannot be counted.
  assertEngineRefusal(duckdb("SELECT c_comment ILIKE repeat('%e', 30) FROM customer"), /against a pattern built by repeat, whose wildcards the hub cannot count/);
  for (const sql of [
    // A plain LIKE without _ or ESCAPE is matched piece by piece: any number of %.
    `SELECT c_comment LIKE '${many}', c_comment NOT LIKE '${many}', c_comment ~~ '${many}' FROM customer`,
    `SELECT lower(c_comment) LIKE '${many}' FROM customer`,
    // Four wildcards, and each pattern counted on its own.
    "SELECT count(*) FROM customer WHERE c_comment ILIKE '%e%e%e%z' AND c_name ILIKE '%a%b%c%d' OR c_phone GLOB '*1*2*3*'",
    "SELECT c_comment ILIKE '%a%b%' = (c_name ILIKE '%c%d%') FROM customer",
    // A bound or column pattern is the caller's value (the hub does not read binds).
    "SELECT c_comment ILIKE '%' || ? || '%' FROM customer",
    `SELECT c_comment SIMILAR TO '.*e.*e.*e.*e.*z', regexp_matches(c_comment, '${'e.*'.repeat(9)}') FROM customer`,
  ]) assert.equal(duckdb(sql).allowed, true, sql);
  assert.equal(checkSql(`SELECT c ILIKE '${many}' FROM t`, { allowWrite: false, dialect: 'snowflake' }).allowed, true);
});

test('an edit distance is bounded by the character comparisons it makes, for every role; over short texts and columns it runs', () => {
  // levenshtein of two 200,000-character texts ran for minutes after its call was cancelled (no interrupt
  // inside one value), holding a CPU and a statement slot.
  for (const sql of [
    "SELECT levenshtein(repeat('a', 200000), repeat('b', 200000))",
    "SELECT editdist3(repeat('a', 30000), repeat('b', 30000))",
    "SELECT damerau_levenshtein(repeat('a', 10000), repeat('b', 10000))",
    "SELECT levenshtein(c_comment, repeat('x', 10000)) FROM customer",
  ]) {
    for (const allowWrite of [false, true]) {
      assertEngineRefusal(duckdb(sql, allowWrite), /calls \w+ on texts that make [\d,]+ character comparisons .*inside one step its interrupt cannot stop.*at most 400,000,000.*Compare shorter texts/);
    }
  }
  assert.match(JSON.stringify(duckdb("SELECT levenshtein(c_comment, repeat('x', 10000)) FROM customer")), /4,096,000,000 character comparisons \(over the 2,048 rows the engine computes at once/);
  for (const sql of [
    "SELECT levenshtein(repeat('a', 20000), repeat('b', 20000))",
    "SELECT damerau_levenshtein(repeat('a', 5000), repeat('b', 5000))",
    "SELECT levenshtein(c_name, c_comment), damerau_levenshtein(c_name, 'Customer#1') FROM customer",
    "SELECT levenshtein(c_comment, repeat('x', 900)) FROM customer",
  ]) assert.equal(duckdb(sql).allowed, true, sql);
});

test('statements that install, load or update engine extensions, or create or drop secrets, are refused by the hub for every role on the embedded engine', () => {
  const refusedFor = (sql: string, pattern: RegExp) => {
    for (const allowWrite of [false, true]) {
      const verdict = duckdb(sql, allowWrite);
      assert.equal(verdict.allowed, false, `${sql}: ${JSON.stringify(verdict)}`);
      if (verdict.allowed) continue;
      assert.equal(verdict.code, 'SQL_REFUSED');
      assert.equal(verdict.rule, 'engine-features', `${sql}: ${verdict.message}`);
      assert.match(verdict.message, pattern);
      assert.match(verdict.message, /for every role \(rule: engine-features\)\. (Use the functions|Its file and network readers are off)/);
    }
  };
  for (const sql of ['INSTALL httpfs', 'install httpfs FROM community', 'FORCE INSTALL httpfs', "INSTALL 'https://example.com/x.duckdb_extension'"]) refusedFor(sql, /^Query refused: INSTALL installs an engine extension/);
  for (const sql of ['LOAD httpfs', "LOAD '/tmp/x.duckdb_extension'", 'load json']) refusedFor(sql, /^Query refused: LOAD loads an engine extension/);
  for (const sql of ['UPDATE EXTENSIONS', 'update extensions (httpfs, json)', 'UPDATE EXTENSIONS;']) refusedFor(sql, /^Query refused: UPDATE EXTENSIONS downloads new versions/);
  for (const sql of [
    "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "create or replace temporary secret s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "CREATE TEMP SECRET IF NOT EXISTS s (TYPE http, BEARER_TOKEN 't')",
  ]) refusedFor(sql, /^Query refused: CREATE SECRET stores credentials/);
  for (const sql of ['DROP SECRET s', 'DROP PERSISTENT SECRET IF EXISTS s', 'drop temporary secret s']) refusedFor(sql, /^Query refused: DROP SECRET removes stored engine credentials/);
  // Inside a multi-statement call, each statement is judged.
  const multi = checkSql('SELECT 1; LOAD httpfs', { allowWrite: true, allowMultiStatement: true, dialect: 'duckdb' });
  assert.equal(multi.allowed, false);
  if (!multi.allowed) assert.equal(multi.rule, 'engine-features');
  // A table named EXTENSIONS or SECRET is updated, created and dropped as any table (by the other rules).
  for (const sql of ['UPDATE extensions SET x = 1', 'UPDATE extensions e SET x = 1', 'CREATE TABLE secret (x INT)', 'DROP TABLE secret', 'SELECT * FROM extensions']) {
    const verdict = duckdb(sql, true);
    assert.equal(verdict.allowed, true, `${sql}: ${JSON.stringify(verdict)}`);
  }
  // Snowflake's own CREATE SECRET is an object of the account, judged by the usual rules.
  assert.equal(checkSql("CREATE SECRET s TYPE = PASSWORD USERNAME = 'u' PASSWORD = 'p'", { allowWrite: true, dialect: 'snowflake' }).allowed, true);
});

test("a writer is refused what shows the hub machine rather than the data (the database file's path, the engine's directories and settings, the hub's environment), as a reader is", () => {
  for (const sql of [
    'SELECT * FROM pragma_database_list',
    'SELECT path FROM duckdb_databases()',
    'SELECT database_name, path FROM duckdb_databases',
    'SELECT path FROM "duckdb_databases"',
    'SELECT path FROM system.main.duckdb_databases',
    "SELECT current_setting('secret_directory')",
    "SELECT * FROM duckdb_settings() WHERE value LIKE '/%'",
    "SELECT * FROM pg_settings WHERE setting LIKE '/%'",
    'SELECT install_path FROM duckdb_extensions()',
    "SELECT getenv('HOME')",
    'CREATE TEMP TABLE t AS SELECT * FROM duckdb_databases()',
    'PRAGMA database_list',
    'pragma platform',
    'CALL pragma_database_list()',
    "INSERT INTO t SELECT path FROM duckdb_databases() RETURNING *",
  ]) {
    const verdict = duckdb(sql, true);
    assert.equal(verdict.allowed, false, `${sql}: ${JSON.stringify(verdict)}`);
    if (verdict.allowed) continue;
    assert.equal(verdict.rule, 'engine-features', `${sql}: ${verdict.message}`);
    assert.match(verdict.message, /on the hub machine|hub machine's platform|the hub's environment/);
    assert.match(verdict.message, /for every role on the embedded warehouse \(rule: engine-features\)\. Query the data instead/);
    // A reader is refused it by the read-only rule, as before.
    const reader = duckdb(sql);
    assert.equal(reader.allowed, false, sql);
  }
  // What shows the data's own catalog (names, columns) still runs for a writer.
  // A read whose words merely spell a reader (a column alias) runs for a writer as for a reader: granting write
  // never refuses what read-only runs (the classifier fuzz's invariant).
  for (const sql of ['SELECT 1 AS pg_database', 'SELECT N_NAME duckdb_databases FROM NATION']) {
    assert.equal(duckdb(sql).allowed, true, sql);
    assert.equal(duckdb(sql, true).allowed, true, sql);
  }
  for (const sql of ["SELECT * FROM NATION WHERE N_NAME GLOB 'A*'", 'SELECT table_name FROM duckdb_tables()', 'SELECT * FROM duckdb_columns()', 'PRAGMA table_info(\'NATION\')', 'PRAGMA show_databases', 'SELECT current_schema()']) {
    assert.equal(duckdb(sql, true).allowed, true, sql);
  }
});

test('ATTACH and DETACH are refused for every role on the embedded engine: an attached database is every session\'s', () => {
  for (const sql of ["ATTACH '/home/u/.snowmux/warehouse/SNOWMUX_SAMPLE.duckdb' AS s2 (READ_ONLY)", "attach if not exists ':memory:' AS m", 'DETACH s2', 'DETACH DATABASE IF EXISTS s2']) {
    for (const allowWrite of [false, true]) {
      const verdict = duckdb(sql, allowWrite);
      assert.equal(verdict.allowed, false, sql);
      if (verdict.allowed) continue;
      assert.equal(verdict.rule, 'engine-features', `${sql}: ${verdict.message}`);
      assert.match(verdict.message, /^Query refused: (ATTACH attaches a database to|DETACH detaches a database from) the engine, which every session shares, for every role on the embedded warehouse \(rule: engine-features\)\. Query the sample database/);
    }
  }
});
