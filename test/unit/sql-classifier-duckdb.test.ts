/**
 * Differential test against the real DuckDB parser (the embedded warehouse's engine).
 *
 * Wherever DuckDB can parse a text, our DuckDB reading must split it into the same number of
 * statements, and every statement we call read-only must be one DuckDB prepares as a query. A
 * disagreement is exactly the kind of lexer mismatch a bypass is made of. Finally, everything checkSql
 * lets through is run, in memory with external access off, to show it touches no file and changes
 * nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';

import { checkSql, classifySql } from '../../src/hub/guard/sql/classifier.js';
import { SQL_CORPUS } from '../fixtures/sql-corpus.js';

/** DuckDB statement types that only read. */
const DUCKDB_QUERY_TYPES = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:', { enable_external_access: 'false' });
  connection = await instance.connect();
  await connection.run('CREATE TABLE t (a INT, b INT, id INT, x INT, y INT, z INT, name VARCHAR, flag BOOLEAN, is_deleted BOOLEAN)');
  await connection.run('CREATE TABLE u (a INT, id INT, x INT, flag BOOLEAN)');
  await connection.run('CREATE TABLE v (id INT)');
  await connection.run('CREATE TABLE customer (c_custkey INT, c_name VARCHAR, c_nationkey INT)');
  await connection.run('CREATE TABLE orders (o_orderkey INT, o_custkey INT, o_orderdate DATE, o_orderpriority VARCHAR)');
  await connection.run('CREATE TABLE nation (n_nationkey INT, n_name VARCHAR, n_regionkey INT)');
  await connection.run('CREATE TABLE lineitem (l_orderkey INT, l_quantity INT)');
  await connection.run('CREATE TABLE nodes (id INT, parent_id INT)');
  await connection.run('CREATE TABLE audit_log (update_time TIMESTAMP, deleted_at TIMESTAMP, created_by VARCHAR, drop_count INT, insert_id INT)');
});

after(() => {
  connection?.closeSync();
  instance?.closeSync();
});

interface Disagreement {
  sql: string;
  ours: number;
  duckdb: number;
}

/** Statement count DuckDB's parser sees, or undefined when it cannot parse the text. */
async function duckdbCount(sql: string): Promise<number | undefined> {
  try {
    return (await connection.extractStatements(sql)).count;
  } catch {
    return undefined;
  }
}

async function compare(sql: string): Promise<Disagreement | undefined> {
  const ours = classifySql(sql, { dialect: 'duckdb' });
  if (ours.error) return undefined; // we refuse it: never a bypass
  const count = await duckdbCount(sql);
  if (count === undefined) return undefined; // DuckDB cannot parse it: nothing would run
  // DuckDB expands a dynamic PIVOT and COPY FROM DATABASE into several statements (we refuse both).
  if (/pivot|copy\s+from\s+database/i.test(sql) && count >= ours.statements.length) return undefined;
  return count === ours.statements.length ? undefined : { sql, ours: ours.statements.length, duckdb: count };
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Expressions and separators that move lexer state: quotes, escapes, comments, dollar tags, odd spaces. */
const EXPRESSIONS = [
  '1', "'a;b'", "'it''s'", "'x\\'", "E'\\';'", "e'\\\\'", '$$;$$', '$x$ ; $x$', '$x$$y$x$', '"a;b"', 'x', '7 // 2', "'--'",
  '$$--$$', "'/*'", '"c--d"', '$1', "'\u00a0'", 'é$', "'\\\\'", "'$$'", '"$$"', '$q$\'$q$', "'\\n'",
];
const SEPARATORS = [
  ', ', ' || ', ' + ', ' /* ; */ + ', ' -- c;\n, ', ' -- c;\r, ', ' -- c;\u2028, ', '\u00a0||\u00a0', ' /* /* ; */ */ + ', " /*'*/ + ",
  '\t,\f', ',\u200b', ' // 1 + ', '\n,\n',
];
const STATEMENT_SEPARATORS = ['; ', ';\n', ' -- x\n;', ' /* ; */ ;', ';\u00a0', ' ;; ', '\r;\r'];
/** Fragments spliced in at random to knock the lexer out of step. */
const SPLICES = ["'", '"', '$$', '$x$', '/*', '*/', '--', '\\', "E'", '\u00a0', '\u00a0$$', ';', '\r', '//', '$'];

function pick<T>(rand: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('empty list');
  return item;
}

function generate(rand: () => number): string {
  const statements: string[] = [];
  const count = 1 + Math.floor(rand() * 3);
  for (let s = 0; s < count; s++) {
    let sql = `SELECT ${pick(rand, EXPRESSIONS)}`;
    const terms = Math.floor(rand() * 4);
    for (let t = 0; t < terms; t++) sql += pick(rand, SEPARATORS) + pick(rand, EXPRESSIONS);
    if (rand() < 0.3) sql += ` AS ${pick(rand, ['a', '"b"', 'é$', 'x$$'])}`;
    statements.push(sql);
  }
  let text = statements.map((st, i) => (i === 0 ? st : pick(rand, STATEMENT_SEPARATORS) + st)).join('');
  const splices = rand() < 0.5 ? Math.floor(rand() * 3) : 0;
  for (let k = 0; k < splices; k++) {
    const at = Math.floor(rand() * (text.length + 1));
    text = text.slice(0, at) + pick(rand, SPLICES) + text.slice(at);
  }
  return text;
}

describe('classifier vs the DuckDB parser', () => {
  test('splits every corpus entry DuckDB can parse into the same statements', async () => {
    const disagreements: Disagreement[] = [];
    let compared = 0;
    for (const entry of SQL_CORPUS) {
      if (entry.dialect === 'snowflake') continue;
      const d = await compare(entry.sql);
      if (d) disagreements.push(d);
      compared++;
    }
    assert.deepEqual(disagreements, []);
    assert.ok(compared > 300);
  });

  test('splits generated lexer-stress texts the same way DuckDB does', async () => {
    const rand = prng(0xd0c);
    const disagreements: Disagreement[] = [];
    let parsedByBoth = 0;
    for (let i = 0; i < 3000; i++) {
      const sql = generate(rand);
      const d = await compare(sql);
      if (d) disagreements.push(d);
      else if (!classifySql(sql, { dialect: 'duckdb' }).error && (await duckdbCount(sql)) !== undefined) parsedByBoth++;
    }
    assert.deepEqual(disagreements, []);
    assert.ok(parsedByBoth > 1000, `only ${parsedByBoth} texts were parsed by both`);
  });

  test('every statement we call read-only prepares as a DuckDB query', async () => {
    const wrong: string[] = [];
    let prepared = 0;
    for (const entry of SQL_CORPUS) {
      if (entry.dialect === 'snowflake') continue;
      const ours = classifySql(entry.sql, { dialect: 'duckdb' });
      if (ours.error || /pivot/i.test(entry.sql)) continue;
      let extracted;
      try {
        extracted = await connection.extractStatements(entry.sql);
      } catch {
        continue;
      }
      for (let i = 0; i < ours.statements.length && i < extracted.count; i++) {
        if (!ours.statements[i]?.readOnly) continue;
        let type: StatementType;
        try {
          type = (await extracted.prepare(i)).statementType;
        } catch {
          continue; // binder errors (unknown tables, functions): nothing to compare
        }
        prepared++;
        if (!DUCKDB_QUERY_TYPES.has(type)) wrong.push(`${JSON.stringify(entry.sql)} #${i}: DuckDB type ${StatementType[type]}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.ok(prepared > 40, `only ${prepared} read-only statements prepared`);
  });

  test('statements DuckDB prepares as writes are never read-only for us', async () => {
    const writes: string[] = [];
    for (const entry of SQL_CORPUS) {
      if (entry.dialect === 'snowflake') continue;
      const ours = classifySql(entry.sql, { dialect: 'duckdb' });
      if (ours.error || ours.statements.length !== 1 || !ours.statements[0]?.readOnly) continue;
      let type: StatementType | undefined;
      try {
        type = (await (await connection.extractStatements(entry.sql)).prepare(0)).statementType;
      } catch {
        continue;
      }
      if (!DUCKDB_QUERY_TYPES.has(type)) writes.push(`${entry.sql}: ${StatementType[type]}`);
    }
    assert.deepEqual(writes, []);
  });

  test('what checkSql allows touches no file and changes nothing when DuckDB runs it', async () => {
    const fingerprint = async (): Promise<string> => {
      const parts = await Promise.all(
        [
          'SELECT database_name, schema_name, table_name, estimated_size, column_count FROM duckdb_tables() ORDER BY ALL',
          'SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal ORDER BY ALL',
          'SELECT schema_name, type_name FROM duckdb_types() WHERE NOT internal ORDER BY ALL',
          'SELECT sequence_name FROM duckdb_sequences() ORDER BY ALL',
          'SELECT database_name FROM duckdb_databases() ORDER BY ALL',
          'SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM u), (SELECT count(*) FROM customer), (SELECT count(*) FROM orders), (SELECT count(*) FROM nation)',
        ].map(async (q) => JSON.stringify((await connection.runAndReadAll(q)).getRows(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))),
      );
      return parts.join('|');
    };
    const before = await fingerprint();
    const fileAccess: string[] = [];
    let executed = 0;
    for (const entry of SQL_CORPUS) {
      if (entry.dialect === 'snowflake') continue;
      const verdict = checkSql(entry.sql, { allowWrite: false, allowStageListing: true, dialect: 'duckdb' });
      if (!verdict.allowed) continue;
      try {
        await connection.runAndReadAll(verdict.statement.text);
        executed++;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (/file system operations are disabled|Cannot access file|external access/i.test(message)) fileAccess.push(`${entry.sql}: ${message.split('\n')[0]}`);
      }
    }
    assert.equal(await fingerprint(), before, 'the database changed');
    assert.deepEqual(fileAccess, []);
    assert.ok(executed > 60, `only ${executed} allowed statements ran`);
  });

  test('mutated corpus texts: same split as DuckDB, and what we allow binds as a query without file access', async () => {
    const rand = prng(0xbadc0de);
    const disagreements: Disagreement[] = [];
    const problems: string[] = [];
    let allowedAndPrepared = 0;
    const corpus = SQL_CORPUS.filter((e) => e.dialect !== 'snowflake');
    const reads = corpus.filter((e) => e.readOnly);
    for (let i = 0; i < 2000; i++) {
      // Mostly small edits of accepted statements, so that many results still parse and bind.
      let sql = pick(rand, rand() < 0.7 ? reads : corpus).sql;
      for (let k = 1 + Math.floor(rand() * 2); k > 0; k--) {
        const at = Math.floor(rand() * (sql.length + 1));
        const insert = rand() < 0.5 ? pick(rand, SPLICES) : pick(rand, [...SEPARATORS, ...STATEMENT_SEPARATORS, ...EXPRESSIONS]);
        sql = rand() < 0.8 ? sql.slice(0, at) + insert + sql.slice(at) : sql.slice(0, at) + sql.slice(at + 1 + Math.floor(rand() * 4));
      }
      const d = await compare(sql);
      if (d) disagreements.push(d);
      const verdict = checkSql(sql, { allowWrite: false, allowStageListing: true, dialect: 'duckdb' });
      if (!verdict.allowed) continue;
      try {
        const prepared = await (await connection.extractStatements(verdict.statement.text)).prepare(0);
        allowedAndPrepared++;
        if (!DUCKDB_QUERY_TYPES.has(prepared.statementType)) problems.push(`${JSON.stringify(sql)}: DuckDB type ${StatementType[prepared.statementType]}`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (/file system operations are disabled|Cannot access file/i.test(message)) problems.push(`${JSON.stringify(sql)}: ${message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(disagreements, []);
    assert.deepEqual(problems, []);
    assert.ok(allowedAndPrepared > 100, `only ${allowedAndPrepared} allowed texts prepared`);
  });
});

describe('built-in views and macros of the engine', () => {
  /** What a built-in view or macro runs, as a query our classifier can judge. */
  function bodyOf(kind: 'view' | 'macro' | 'table_macro', definition: string): string {
    if (kind === 'view') return definition.replace(/^CREATE (?:TEMP |TEMPORARY )?VIEW .*? AS /s, '').replace(/;\s*$/, '');
    return kind === 'table_macro' ? definition : `SELECT ${definition}`;
  }

  test('a view or macro over a refused reader is refused itself, so no built-in name launders one', async () => {
    const readOnly = (sql: string) => checkSql(sql, { allowWrite: false, dialect: 'duckdb' });
    const definitions: Array<{ kind: 'view' | 'macro' | 'table_macro'; name: string; calls: string[]; definition: string }> = [];
    for (const [schema, name, sql] of (await connection.runAndReadAll('SELECT schema_name, view_name, sql FROM duckdb_views() WHERE internal')).getRows()) {
      const qualified = `${String(schema)}.${String(name)}`;
      definitions.push({ kind: 'view', name: String(name), calls: [`SELECT * FROM ${String(name)}`, `SELECT * FROM ${qualified}`], definition: String(sql) });
    }
    const macros = await connection.runAndReadAll(
      "SELECT DISTINCT function_name, function_type, macro_definition FROM duckdb_functions() WHERE macro_definition IS NOT NULL AND function_type IN ('macro', 'table_macro')",
    );
    for (const [name, type, definition] of macros.getRows()) {
      const kind = type === 'table_macro' ? 'table_macro' : 'macro';
      definitions.push({ kind, name: String(name), calls: [kind === 'table_macro' ? `SELECT * FROM ${String(name)}(NULL)` : `SELECT ${String(name)}(NULL)`], definition: String(definition) });
    }
    // `histogram` is also the everyday aggregate; its table macro (over histogram_values) reads a table named
    // by a string, which the object rules refuse as a table function for restricted roles.
    const sharedWithAggregates = new Set(['histogram']);
    const laundering: string[] = [];
    let refusedBodies = 0;
    for (const d of definitions) {
      const body = readOnly(bodyOf(d.kind, d.definition));
      if (body.allowed) continue;
      refusedBodies++;
      if (sharedWithAggregates.has(d.name)) continue;
      for (const call of d.calls) if (readOnly(call).allowed) laundering.push(`${call}: runs ${body.message}`);
    }
    assert.deepEqual(laundering, []);
    assert.ok(definitions.length > 60 && refusedBodies >= 8, `${definitions.length} definitions, ${refusedBodies} refused bodies`);
  });
});

describe('functions with side effects', () => {
  /**
   * Volatile functions that change nothing a later statement on the connection sees (random() advances an
   * unseeded generator; the ids and clocks only report). Any other function the engine marks as having
   * side effects must be refused as a read, so that it also costs its pooled connection when a writer
   * runs it.
   */
  const STATELESS = new Set([
    'random', 'uuid', 'uuidv4', 'uuidv7', 'gen_random_uuid', 'current_query', 'current_query_id', 'current_connection_id',
    'current_transaction_id', 'error', 'sleep_ms', 'stats', 'currval',
  ]);

  test("every function the engine marks as having side effects is refused as a read, or is known to leave the connection as it was", async () => {
    const rows = (await connection.runAndReadAll('SELECT DISTINCT function_name FROM duckdb_functions() WHERE has_side_effects')).getRows();
    const names = rows.map(([name]) => String(name));
    assert.ok(names.includes('setseed') && names.length > 10, names.join(', '));
    const unjudged = names.filter((name) => !STATELESS.has(name) && checkSql(`SELECT ${name}(1)`, { allowWrite: false, dialect: 'duckdb' }).allowed);
    assert.deepEqual(unjudged, []);
  });
});
