/**
 * Differential test of referencedObjects against the real DuckDB parser (the embedded warehouse's
 * engine): for every query DuckDB can parse, each table DuckDB's parse tree reads (BASE_TABLE nodes,
 * from json_serialize_sql) must be among the objects we report — a table we missed is a table a
 * restricted role could read. On generated queries the sets must be equal, so over-reporting (false
 * refusals) is caught too. Table functions DuckDB sees must make our answer opaque unless they only
 * generate rows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

import { isDuckDbBuiltinFunction } from '../../src/hub/guard/sql/duckdb-builtins.js';
import { analyzeSqlObjects, referencedObjects } from '../../src/hub/policy/sql-objects.js';
import { SQL_CORPUS } from '../fixtures/sql-corpus.js';

const CTX = { database: 'DB0', schema: 'S0' };
const GENERATORS = new Set(['UNNEST', 'RANGE', 'GENERATE_SERIES']);

let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:', { enable_external_access: 'false' });
  connection = await instance.connect();
});

after(() => {
  connection?.closeSync();
  instance?.closeSync();
});

interface ParseFacts {
  tables: string[];
  tableFunctions: string[];
  cteNames: Set<string>;
}

/** What DuckDB's parser sees in a SELECT, or undefined when it cannot serialize it (not a SELECT, or a parse error). */
async function duckdbFacts(sql: string): Promise<ParseFacts | undefined> {
  let json: string;
  try {
    const reader = await connection.runAndReadAll(`SELECT json_serialize_sql($1::VARCHAR)`, [sql]);
    json = String(reader.getRows()[0]?.[0] ?? '');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(json) as { error?: boolean; statements?: unknown[] };
  if (parsed.error !== false || !Array.isArray(parsed.statements)) return undefined;
  const facts: ParseFacts = { tables: [], tableFunctions: [], cteNames: new Set() };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.type === 'BASE_TABLE' && typeof record.table_name === 'string') {
      const catalog = String(record.catalog_name ?? '');
      const schema = String(record.schema_name ?? '');
      const parts = catalog ? [catalog, schema || 'main', record.table_name] : schema ? [CTX.database, schema, record.table_name] : [CTX.database, CTX.schema, record.table_name];
      facts.tables.push(parts.map((p) => p.toUpperCase()).join('.'));
    }
    if (record.type === 'TABLE_FUNCTION') {
      const fn = record.function as { function_name?: unknown } | undefined;
      facts.tableFunctions.push(String(fn?.function_name ?? '?').toUpperCase());
    }
    const cteMap = record.cte_map as { map?: Array<{ key?: unknown }> } | undefined;
    for (const entry of cteMap?.map ?? []) if (typeof entry.key === 'string') facts.cteNames.add(entry.key.toUpperCase());
    for (const value of Object.values(record)) walk(value);
  };
  walk(parsed.statements);
  return facts;
}

function ours(sql: string): { tables: Set<string>; opaque: boolean } {
  const result = referencedObjects(sql, CTX, { dialect: 'duckdb' });
  const tables = new Set(result.objects.filter((o) => o.name !== undefined).map((o) => [o.database, o.schema, o.name].join('.').toUpperCase()));
  return { tables, opaque: result.opaque };
}

function tableName(qualified: string): string {
  return qualified.slice(qualified.lastIndexOf('.') + 1);
}

async function compare(sql: string, exact: boolean): Promise<string | undefined> {
  const facts = await duckdbFacts(sql);
  if (!facts) return undefined;
  const mine = ours(sql);
  // A CTE reference is a BASE_TABLE in the parse tree; names shared with a CTE are left out on both sides.
  const real = (t: string): boolean => !facts.cteNames.has(tableName(t));
  // A string in a table position is a file to DuckDB (a replacement scan): we cannot name it, only refuse it.
  const fileLike = (t: string): boolean => t.split('.').length > 3 || /[^A-Z0-9_$.]/.test(t);
  const missed = facts.tables.filter(real).filter((t) => !mine.tables.has(t) && !(mine.opaque && fileLike(t)));
  if (missed.length > 0) return `${sql}\n  missed ${missed.join(', ')}`;
  const readers = facts.tableFunctions.filter((f) => !GENERATORS.has(f));
  if (readers.length > 0 && !mine.opaque) return `${sql}\n  table functions ${readers.join(', ')} not reported as opaque`;
  if (exact) {
    const expected = new Set(facts.tables.filter(real));
    const extra = [...mine.tables].filter(real).filter((t) => !expected.has(t));
    if (extra.length > 0) return `${sql}\n  reported tables DuckDB does not read: ${extra.join(', ')}`;
    if (readers.length === 0 && mine.opaque) return `${sql}\n  opaque without reason`;
  }
  return undefined;
}

test('every table DuckDB parses out of the classifier corpus is reported', async () => {
  const problems: string[] = [];
  let compared = 0;
  for (const entry of SQL_CORPUS) {
    if (entry.dialect === 'snowflake') continue;
    const problem = await compare(entry.sql, false);
    if ((await duckdbFacts(entry.sql)) !== undefined) compared++;
    if (problem) problems.push(problem);
  }
  assert.ok(compared >= 100, `only ${compared} corpus statements were comparable`);
  assert.deepEqual(problems, []);
});

/** Seeded generator of nested queries: joins, comma joins, parenthesised joins, subqueries, CTEs, set operations. */
function queryGenerator(seed: number): () => string {
  let state = seed >>> 0;
  const rand = (n: number): number => {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return state % n;
  };
  const pick = <T>(items: readonly T[]): T => items[rand(items.length)]!;
  const names = ['t0', 't1', 'T2', 's1.t3', 'db1.s2.t4', '"Quoted"', '"odd name"', 'c0', 'c1', 'start_t', 'x.y'];
  const tableRef = (depth: number): string => {
    const r = rand(depth > 2 ? 2 : 7);
    if (r <= 1) return `${pick(names)}${pick(['', ' a', ' AS b', ' "alias"'])}`;
    if (r === 2) return `(${query(depth + 1)}) q${rand(9)}`;
    if (r === 3) return `(${tableRef(depth + 1)} JOIN ${tableRef(depth + 1)} ON true)`;
    if (r === 4) return `LATERAL (${query(depth + 1)}) l${rand(9)}`;
    if (r === 5) return pick(['unnest([1, 2]) u', 'range(3) r', 'generate_series(1, 2) g']);
    return `${pick(names)} AS z(p, q)`;
  };
  const fromList = (depth: number): string => {
    let out = tableRef(depth);
    const more = rand(3);
    for (let i = 0; i < more; i++) {
      const join = pick([', ', ' JOIN ', ' LEFT JOIN ', ' CROSS JOIN ', ' NATURAL JOIN ', ' FULL OUTER JOIN ']);
      out += join + tableRef(depth);
      if (/^ (LEFT |FULL OUTER )?JOIN $/.test(join)) out += pick([' ON true', ' ON a.start = b.x', ' USING (id, x)']);
    }
    return out;
  };
  const condition = (depth: number): string =>
    depth > 2
      ? pick(['a = 1', "x = 'FROM t9'", 'extract(year FROM d) = 1'])
      : pick([
          'a = 1',
          `a IN (${query(depth + 1)})`,
          `EXISTS (${query(depth + 1)})`,
          `a = (${query(depth + 1)})`,
          "x = 'FROM t9' AND y = 2",
          'trim(BOTH FROM s) = 1',
          'CASE WHEN a THEN 1 END = 1',
        ]);
  const core = (depth: number): string => {
    const select = pick(['*', 'a, b', 'a /* FROM t8 */', depth > 2 ? 'a' : `(${query(depth + 1)}) AS sq`]);
    let out = `SELECT ${select} FROM ${fromList(depth)}`;
    if (rand(2)) out += ` WHERE ${condition(depth)}`;
    if (rand(3) === 0) out += ' GROUP BY a, b';
    return out;
  };
  const query = (depth: number): string => {
    let out = '';
    if (depth <= 2 && rand(3) === 0) {
      const count = 1 + rand(2);
      const ctes = Array.from({ length: count }, (_, i) => `c${i} AS (${core(depth + 1)})`);
      out += `WITH ${rand(4) === 0 ? 'RECURSIVE ' : ''}${ctes.join(', ')} `;
    }
    out += core(depth);
    if (rand(4) === 0) out += ` ${pick(['UNION ALL', 'UNION', 'EXCEPT', 'INTERSECT'])} ${core(depth + 1)}`;
    if (rand(3) === 0) out += ' ORDER BY a, b';
    if (rand(4) === 0) out += ' LIMIT 5';
    return out;
  };
  return () => query(0);
}

test('generated nested queries: exactly the tables DuckDB reads', async () => {
  const next = queryGenerator(20261121);
  const problems: string[] = [];
  let compared = 0;
  for (let i = 0; i < 400; i++) {
    const sql = next();
    if ((await duckdbFacts(sql)) === undefined) continue;
    compared++;
    const problem = await compare(sql, true);
    if (problem) problems.push(problem);
  }
  assert.ok(compared >= 300, `only ${compared} generated queries parsed`);
  assert.deepEqual(problems.slice(0, 5), []);
});

test("a built-in macro that reads DuckDB's catalog is opaque, like the catalog reader it calls", async () => {
  // pg_get_viewdef(oid) is `(SELECT sql FROM duckdb_views() …)`: over range(…) it prints every view's SQL,
  // names in denied schemas included, without a table function in the caller's FROM.
  const macros = await connection.runAndReadAll(
    "SELECT DISTINCT function_name, macro_definition FROM duckdb_functions() WHERE function_type = 'macro' AND macro_definition IS NOT NULL",
  );
  const leaks: string[] = [];
  let catalogReaders = 0;
  for (const [name, definition] of macros.getRows()) {
    if (!referencedObjects(`SELECT ${String(definition)}`, CTX, { dialect: 'duckdb' }).opaque) continue;
    catalogReaders++;
    for (const call of [`SELECT ${String(name)}(i) FROM range(100) r(i)`, `SELECT 1 WHERE ${String(name)}(1) IS NOT NULL`]) {
      if (!referencedObjects(call, CTX, { dialect: 'duckdb' }).opaque) leaks.push(`${call}: the macro runs ${String(definition)}`);
    }
  }
  assert.ok(catalogReaders >= 3, `only ${catalogReaders} catalog-reading macros found`);
  assert.deepEqual(leaks, []);
});

test('a built-in function that reads the catalog through SQL given as text is opaque', async () => {
  // json_serialize_plan('SELECT … FROM hr.sal WHERE x > 41', optimize := true) binds the text: the plan lists
  // hr.sal's columns, and the optimizer drops a filter the statistics rule out, so a role denied hr.sal could
  // read its columns and, by bisection, each column's minimum and maximum. Which functions do that is the
  // engine's business: every deterministic one-argument function is called with the same SQL text in two
  // engines whose hr.sal differs, and any whose answer differs reads the catalog and must be opaque.
  const engines = await Promise.all(
    ['INT', 'BIGINT'].map(async (type, i) => {
      const own = await DuckDBInstance.create(':memory:', { enable_external_access: 'false' });
      const db = await own.connect();
      await db.run(`CREATE SCHEMA hr; CREATE TABLE hr.sal(x ${type}); INSERT INTO hr.sal VALUES (${i === 0 ? 42 : 7})`);
      return { own, db };
    }),
  );
  try {
    const answer = async (db: DuckDBConnection, sql: string): Promise<string> => {
      try {
        return JSON.stringify((await db.runAndReadAll(sql)).getRows(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      } catch (err) {
        return `error: ${err instanceof Error ? err.message : String(err)}`;
      }
    };
    const rows = await engines[0]!.db.runAndReadAll(
      "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('scalar', 'macro') AND len(parameters) = 1 " +
        "AND coalesce(parameter_types[1], 'ANY') IN ('VARCHAR', 'ANY') AND coalesce(stability, '') <> 'VOLATILE' " +
        "AND regexp_full_match(function_name, '[a-z_][a-z0-9_]*')",
    );
    const readers: string[] = [];
    const leaks: string[] = [];
    for (const [name] of rows.getRows()) {
      const call = `SELECT ${String(name)}('SELECT x FROM hr.sal WHERE x > 41')`;
      const [a, b] = await Promise.all(engines.map(({ db }) => answer(db, call)));
      if (a === b) continue;
      readers.push(String(name));
      if (!referencedObjects(call, CTX, { dialect: 'duckdb' }).opaque) leaks.push(call);
    }
    assert.ok(rows.getRows().length > 200 && readers.includes('json_serialize_plan'), `${rows.getRows().length} functions tried; readers: ${readers.join(', ')}`);
    assert.deepEqual(leaks, []);
    // The optimizer's statistics, in every spelling of the call.
    for (const sql of [
      "SELECT json_serialize_plan('SELECT x FROM hr.sal WHERE x > 41', optimize := true)",
      "SELECT 'SELECT * FROM hr.sal'.json_serialize_plan()",
      'SELECT "json_serialize_plan"(q) FROM (SELECT \'SELECT 1\' AS q)',
    ]) {
      assert.equal(referencedObjects(sql, CTX, { dialect: 'duckdb' }).opaque, true, sql);
    }
  } finally {
    for (const { own, db } of engines) {
      db.closeSync();
      own.closeSync();
    }
  }
});

test("a qualified macro is a read of that object, as Snowflake's qualified UDFs are; a built-in after a dot is a method call", async () => {
  // What the engine runs: schema hr's macro (its body reads hr.sal), and for a built-in's name on a column, the method.
  await connection.run(
    'CREATE SCHEMA hr; CREATE TABLE hr.sal(x INT); INSERT INTO hr.sal VALUES (42); CREATE MACRO hr.m() AS (SELECT max(x) FROM hr.sal); ' +
      "CREATE TABLE people(name VARCHAR); INSERT INTO people VALUES ('ann')",
  );
  const value = async (sql: string) => (await connection.runAndReadAll(sql)).getRows()[0]?.[0];
  assert.equal(await value('SELECT hr.m()'), 42);
  assert.equal(await value('SELECT name.upper() FROM people'), 'ANN');
  const functions = (sql: string) =>
    analyzeSqlObjects(sql, CTX, { dialect: 'duckdb' })
      .refs.filter((r) => r.function)
      .map((r) => [r.ref.database, r.ref.schema, r.ref.name].join('.'));
  assert.deepEqual(functions('SELECT hr.m()'), ['DB0.HR.M']);
  assert.deepEqual(functions('SELECT memory.hr.m() + 1 AS n'), ['MEMORY.HR.M']);
  assert.deepEqual(functions('SELECT * FROM people WHERE name = "hr"."m"()'), ['DB0.hr.m']);
  for (const sql of ['SELECT name.upper(), people.name.lower().length() FROM people', "SELECT main.upper('x'), pg_catalog.abs(-1)", 'SELECT upper(name) FROM people']) {
    assert.deepEqual(functions(sql), [], sql);
  }
  await connection.run('DROP SCHEMA hr CASCADE; DROP TABLE people');
});

test("the built-in function list is the engine's own", async () => {
  const rows = (
    await connection.runAndReadAll(
      "SELECT DISTINCT function_name FROM duckdb_functions() WHERE internal AND regexp_full_match(function_name, '[A-Za-z_][A-Za-z0-9_]*')",
    )
  ).getRows();
  const missing = rows.map(([name]) => String(name)).filter((name) => !isDuckDbBuiltinFunction(name));
  assert.ok(rows.length > 800, `only ${rows.length} functions listed`);
  assert.deepEqual(missing, [], 'add them to src/hub/guard/sql/duckdb-builtins.ts');
  assert.equal(isDuckDbBuiltinFunction('MY_MACRO'), false);
});

test("every spelling that reaches one of DuckDB's catalog views is opaque, in every place a name is read", async () => {
  // A role that only denies (`deny = ["*.HR.*"]`) allows SYSTEM.MAIN.DUCKDB_TABLES as an ordinary name, and
  // that view lists the denied tables with their columns, row counts and DDL. Which spellings reach a catalog
  // view is the engine's business, so every view it has is tried in every spelling, and each one it answers
  // must be opaque to us.
  const own = await DuckDBInstance.create(':memory:', { enable_external_access: 'false' });
  const db = await own.connect();
  try {
    await db.run('CREATE SCHEMA tpch; CREATE TABLE tpch.lineitem(x INT); USE memory.tpch');
    const context = { database: 'memory', schema: 'tpch' };
    const views = (
      await db.runAndReadAll(
        'SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE internal UNION ALL SELECT database_name, schema_name, table_name FROM duckdb_tables() WHERE internal',
      )
    )
      .getRows()
      .map((row) => row.map(String) as [string, string, string]);
    assert.ok(views.length >= 40, `only ${views.length} catalog views found`);
    const cases: Array<(part: string) => string> = [(p) => p, (p) => p.toUpperCase(), (p) => `"${p}"`];
    const places: Array<(name: string) => string> = [
      (n) => `SELECT * FROM ${n}`,
      (n) => `SELECT * FROM ${n} AS v`,
      (n) => `FROM ${n} SELECT 1`,
      (n) => `TABLE ${n}`,
      (n) => `SUMMARIZE ${n}`,
      (n) => `DESCRIBE ${n}`,
      (n) => `SELECT * FROM tpch.lineitem, ${n}`,
      (n) => `SELECT * FROM tpch.lineitem JOIN ${n} ON true`,
      (n) => `SELECT (SELECT count(*) FROM ${n})`,
      (n) => `SELECT * FROM tpch.lineitem WHERE x IN (SELECT 1 FROM ${n})`,
      (n) => `WITH c AS (SELECT * FROM ${n}) SELECT * FROM c`,
      (n) => `WITH lineitem AS (SELECT 1) SELECT * FROM (SELECT * FROM ${n}) q`,
    ];
    const leaks: string[] = [];
    const reached = new Set<string>();
    for (const [catalog, schema, view] of views) {
      const spellings = [[view], [schema, view], [catalog, view], [catalog, schema, view], ['temp', schema, view], ['memory', schema, view], ['main', view], ['tpch', view]];
      for (const parts of spellings) {
        for (const spell of cases) {
          const name = parts.map(spell).join('.');
          try {
            await db.runAndReadAll(`SELECT * FROM ${name} LIMIT 0`);
          } catch {
            continue; // the engine does not reach a catalog view by this spelling
          }
          reached.add(parts.length === 3 ? 'three parts' : parts.length === 2 ? 'two parts' : 'one part');
          for (const place of places) {
            const sql = place(name);
            if (!referencedObjects(sql, context, { dialect: 'duckdb' }).opaque) leaks.push(sql);
          }
        }
      }
    }
    assert.deepEqual([...reached].sort(), ['one part', 'three parts', 'two parts']);
    assert.deepEqual(leaks.slice(0, 10), [], `${leaks.length} statements read a catalog view unrefused`);
    // Called as table functions (their own names, or the view's), qualified or not.
    for (const sql of ['SELECT * FROM duckdb_tables()', 'SELECT * FROM system.main.duckdb_columns()', 'SELECT * FROM "SYSTEM"."MAIN"."DUCKDB_VIEWS"()']) {
      assert.ok(referencedObjects(sql, context, { dialect: 'duckdb' }).opaque, sql);
    }
  } finally {
    db.closeSync();
    own.closeSync();
  }
});
