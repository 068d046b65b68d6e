import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SnowmuxError, isSnowmuxError } from '../../src/errors.js';
import { readSql } from '../../src/hub/guard/sql/classifier.js';
import { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { SHOWCASE_SCHEMA } from '../../src/hub/warehouse/duckdb/sample-database.js';
import { jsonSize } from '../../src/hub/warehouse/json-values.js';
import type { CallContext, QueryOptions, QueryProgress, QueryResult } from '../../src/hub/warehouse/types.js';

const TAG = { sessionId: 'session-1', requestId: 'request-1', client: 'test', tool: 'execute_query' };
/** A statement that would run for hours: only an interrupt ends it. */
const ENDLESS = 'SELECT count(*) FROM range(1000000000000) a, range(1000) b WHERE a.range + b.range < 0';

function ctx(extra: Partial<CallContext> = {}): CallContext {
  return { signal: new AbortController().signal, tag: TAG, ...extra };
}

function opts(extra: Partial<QueryOptions> = {}): QueryOptions {
  return { ...ctx(), maxRows: 1000, ...extra };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<SnowmuxError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isSnowmuxError(err), `expected a SnowmuxError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

/** Resolves on the first progress report: the statement is running in DuckDB. */
/** Fails (instead of hanging) when a statement is not stopped in the engine within a generous deadline. */
async function stopsInEngine(warehouse: DuckDbWarehouse): Promise<void> {
  let deadline: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error('the statement kept running in DuckDB')), 10_000);
  });
  try {
    await Promise.race([warehouse.idle(), failed]);
  } finally {
    clearTimeout(deadline);
  }
}

function runningSignal(): { onProgress: (p: QueryProgress) => void; running: Promise<QueryProgress> } {
  let resolve: (p: QueryProgress) => void = () => {};
  const running = new Promise<QueryProgress>((r) => {
    resolve = r;
  });
  return {
    onProgress: (p) => {
      if (p.phase === 'running') resolve(p);
    },
    running,
  };
}

describe('DuckDbWarehouse', () => {
  let dataDir: string;
  let warehouse: DuckDbWarehouse;

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'snowmux-duckdb-'));
    warehouse = await DuckDbWarehouse.open({ dataDir, threads: 2, progressIntervalMs: 10, resultCacheRows: 500 });
  });

  after(async () => {
    await warehouse.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('info describes the embedded warehouse', () => {
    const info = warehouse.info();
    assert.equal(info.kind, 'duckdb');
    assert.equal(warehouse.kind, 'duckdb');
    assert.equal(info.name, 'embedded');
    assert.equal(info.defaultDatabase, 'SNOWMUX_SAMPLE');
    assert.equal(info.defaultSchema, 'TPCH');
    assert.equal(info.detail['file'], path.join(dataDir, 'SNOWMUX_SAMPLE.duckdb'));
    assert.match(String(info.detail['duckdbVersion']), /^v1\.\d+\.\d+/);
    assert.equal(info.detail['readOnly'], true);
  });

  test('bad settings are refused with a clear message', async () => {
    await rejectsWith(DuckDbWarehouse.open({ dataDir, memoryLimit: '1 potato' }), 'INVALID_ARGUMENT', /memory limit/);
    await rejectsWith(DuckDbWarehouse.open({ dataDir, threads: 0 }), 'INVALID_ARGUMENT', /thread/);
  });

  describe('queries', () => {
    test('unqualified names resolve in the default schema SNOWMUX_SAMPLE.TPCH', async () => {
      const result = await warehouse.query('SELECT N_NATIONKEY, N_NAME FROM NATION WHERE N_NATIONKEY IN (7, 24) ORDER BY 1', opts());
      assert.deepEqual(result.rows, [
        [7, 'GERMANY'],
        [24, 'UNITED STATES'],
      ]);
      assert.deepEqual(result.columns, [
        { name: 'N_NATIONKEY', type: 'INTEGER' },
        { name: 'N_NAME', type: 'VARCHAR' },
      ]);
      assert.equal(result.rowCount, 2);
      assert.equal(result.truncated, false);
      assert.equal(result.statementType, 'SELECT');
      assert.match(result.queryId ?? '', /^01[0-9a-f]{6}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const context = await warehouse.query('SELECT current_database(), current_schema()', opts());
      assert.deepEqual(context.rows, [['SNOWMUX_SAMPLE', 'TPCH']]);
    });

    test('a call with its own schema does not change the next call, even if it runs USE or SET', async () => {
      const showcase = await warehouse.query('SELECT count(*) FROM TYPE_SAMPLES', opts({ database: 'snowmux_sample', schema: 'showcase' }));
      assert.deepEqual(showcase.rows, [[5]]);
      await warehouse.query('USE SNOWMUX_SAMPLE.SHOWCASE', opts());
      await warehouse.query('SET VARIABLE leaked = 42', opts());
      await warehouse.query('CREATE TEMP TABLE LEAKED AS SELECT 1 AS X', opts());
      const next = await warehouse.query("SELECT current_schema(), getvariable('leaked')", opts());
      assert.deepEqual(next.rows, [['TPCH', null]]);
      await rejectsWith(warehouse.query('SELECT * FROM TYPE_SAMPLES', opts()), 'OBJECT_NOT_FOUND', /TYPE_SAMPLES/);
      await rejectsWith(warehouse.query('SELECT * FROM LEAKED', opts()), 'OBJECT_NOT_FOUND', /LEAKED/);
    });

    test('concurrent calls keep their own contexts', async () => {
      const calls = Array.from({ length: 8 }, (_, i) =>
        warehouse.query('SELECT current_schema()', opts(i % 2 === 0 ? { schema: 'SHOWCASE' } : {})),
      );
      const results = await Promise.all(calls);
      assert.deepEqual(
        results.map((r) => r.rows[0]?.[0]),
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 'SHOWCASE' : 'TPCH')),
      );
    });

    test('bind values go in as parameters, never as SQL', async () => {
      const byKey = await warehouse.query('SELECT N_NAME FROM NATION WHERE N_NATIONKEY = ?', opts({ binds: [7] }));
      assert.deepEqual(byKey.rows, [['GERMANY']]);
      const hostile = await warehouse.query('SELECT count(*) FROM NATION WHERE N_NAME = ?', opts({ binds: ["' OR 1=1 --"] }));
      assert.deepEqual(hostile.rows, [[0]]);
      const many = await warehouse.query('SELECT ?::BIGINT, ?, ?, ?', opts({ binds: [9007199254740991, 'x', null, true] }));
      assert.deepEqual(many.rows, [[9007199254740991, 'x', null, true]]);
      await rejectsWith(warehouse.query('SELECT ?, ?', opts({ binds: [1] })), 'SQL_ERROR');
    });

    test('a parameter in the select list leaves every column its own name (the first was named "unknown")', async () => {
      const named = await warehouse.query('SELECT n.N_NAME, ? AS X, N_NATIONKEY FROM NATION n WHERE N_NATIONKEY = ?', opts({ binds: ['x', 7] }));
      assert.deepEqual(named.columns.map((c) => c.name), ['N_NAME', 'X', 'N_NATIONKEY']);
      assert.deepEqual(named.rows, [['GERMANY', 'x', 7]]);
      const first = await warehouse.query('SELECT ? AS REGION, N_NAME FROM NATION WHERE N_NATIONKEY < 30', opts({ binds: ['ASIA'], maxRows: 3 }));
      assert.deepEqual(first.columns.map((c) => c.name), ['REGION', 'N_NAME']);
      assert.equal(first.rows.length, 3);
      assert.equal(first.truncated, true);
    });

    test('a number past BIGINT\'s range, bound where DuckDB infers BIGINT, compares as that number (it failed "bigint out of int64 range")', async () => {
      const count = async (bound: number) => (await warehouse.query('SELECT count(*) FROM NATION WHERE N_NATIONKEY >= ?', opts({ binds: [bound] }))).rows[0]![0];
      assert.equal(await count(1e19), 0);
      assert.equal(await count(9.3e18), 0);
      assert.equal(await count(1e308), 0);
      assert.equal(await count(-1e19), 25);
      assert.equal(await count(-(2 ** 63)), 25);
      assert.equal(await count(9.2e18), 0, 'in range, as before');
      assert.equal(await count(23.5), 1);
    });

    test('user SQL errors are SQL_ERROR with DuckDB’s message; nothing crashes', async () => {
      await rejectsWith(warehouse.query('SELECT * FROM NOPE', opts()), 'OBJECT_NOT_FOUND', /NOPE/);
      await rejectsWith(warehouse.query('SELEC 1', opts()), 'SQL_ERROR', /syntax error/i);
      await rejectsWith(warehouse.query('SELECT 1; SELECT 2', opts()), 'SQL_ERROR', /more than one statement/);
      // One statement DuckDB expands into several: said as such, with how to write it instead.
      await rejectsWith(warehouse.query('PIVOT (SELECT 1 a, 2 b) ON a USING sum(b)', opts()), 'SQL_ERROR', /a PIVOT without an IN list first queries the values to pivot on.*ON col IN/);
      await rejectsWith(warehouse.query('   ', opts()), 'SQL_ERROR', /empty/);
      await rejectsWith(warehouse.query('-- only a comment', opts()), 'SQL_ERROR');
      await rejectsWith(warehouse.query(42 as unknown as string, opts()), 'SQL_ERROR');
      await rejectsWith(warehouse.query('SELECT 1', opts({ maxRows: -1 })), 'INVALID_ARGUMENT');
      await rejectsWith(warehouse.query('SELECT 1', opts({ maxRows: Number.NaN })), 'INVALID_ARGUMENT');
      await rejectsWith(warehouse.query("SELECT 'a\u0000b'::INTEGER", opts()), 'SQL_ERROR');
      const still = await warehouse.query('SELECT 1 AS OK', opts());
      assert.deepEqual(still.rows, [[1]]);
    });
  });

  describe('read-only at the engine level', () => {
    test('writes, attaches, exports and configuration changes fail inside DuckDB', async () => {
      const outside = path.join(dataDir, 'escape');
      const refused: [string, RegExp][] = [
        ["INSERT INTO NATION VALUES (25, 'ATLANTIS', 0, '')", /read-only/],
        ["UPDATE NATION SET N_NAME = 'X'", /read-only/],
        ['DELETE FROM NATION', /read-only/],
        ['DROP TABLE NATION', /read-only/],
        ['CREATE TABLE SNOWMUX_SAMPLE.TPCH.EXTRA (A INTEGER)', /read-only/],
        ['CREATE TABLE EXTRA AS SELECT 1', /read-only/],
        ['ALTER TABLE NATION ADD COLUMN X INTEGER', /read-only/],
        [`ATTACH '${outside}.duckdb' AS ESCAPE`, /disabled by configuration/],
        ["ATTACH ':memory:' AS ESCAPE", /read-only/],
        ['DETACH SNOWMUX_SAMPLE', /default database/],
        [`COPY NATION TO '${outside}.csv'`, /disabled by configuration/],
        [`EXPORT DATABASE '${outside}'`, /disabled by configuration/],
        ['SET enable_external_access = true', /locked/],
        ['SET lock_configuration = false', /locked/],
        ["SET memory_limit = '100GB'", /locked/],
        ['INSTALL httpfs', /disabled by configuration|not allowed|Permission/i],
      ];
      for (const [sql, reason] of refused) {
        const err = await rejectsWith(warehouse.query(sql, opts()), 'SQL_ERROR', reason);
        // A write role's write is told the sample is read-only for everyone, and what to do instead.
        if (/^(INSERT|UPDATE|DELETE|DROP|CREATE|ALTER)/.test(sql)) assert.match(err.message, /read-only mode!? The embedded sample warehouse is read-only for every role, writers too.*to write, point the hub at Snowflake/, sql);
      }
      const nation = await warehouse.query('SELECT count(*) FROM NATION', opts());
      assert.deepEqual(nation.rows, [[25]]);
      await assert.rejects(fs.access(`${outside}.csv`));
      await assert.rejects(fs.access(`${outside}.duckdb`));
    });

    test('engine errors never quote a path on the hub machine: a relative file resolved in the hub\'s directory, the engine\'s own directories in its home', async () => {
      const local = [process.cwd(), dataDir, os.homedir(), path.join(os.homedir(), '.duckdb')].filter((p) => p.length > 1);
      const cases: [string, RegExp][] = [
        // Relative: DuckDB resolves it against the hub's working directory (its home) and quotes that.
        ["ATTACH 'other.duckdb' AS o", /^Permission Error: Cannot access file "…\/other\.duckdb" - file system operations are disabled/],
        [`ATTACH '${path.join(dataDir, 'elsewhere.duckdb')}' AS o`, /^Permission Error: Cannot access file "…\/elsewhere\.duckdb"/],
        // The engine's own directories, in the hub user's home (the hub refuses these statements first: rule engine-features).
        ['INSTALL httpfs', /^Permission Error: Cannot access directory "…\/linux_\w+" - file system operations are disabled/],
        ['UPDATE EXTENSIONS', /^Permission Error: Cannot access directory "…\/linux_\w+"/],
        ["CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", /^Permission Error: Cannot access directory "…\/stored_secrets"/],
        [`COPY NATION TO '${path.join(dataDir, 'out.csv')}'`, /^Permission Error: Cannot access file "…\/out\.csv"/],
      ];
      for (const [sql, shown] of cases) {
        const err = await rejectsWith(warehouse.query(sql, opts()), 'SQL_ERROR', shown);
        for (const place of local) assert.ok(!err.message.includes(place), `${sql}: the message names ${place}: ${err.message}`);
      }
      // The line quoting the caller's own statement stays as written.
      const quoted = await rejectsWith(warehouse.query("SELECT * FROM read_text('/etc/hostname')", opts()), 'SQL_ERROR', /Cannot access file "…\/hostname"/);
      assert.match(quoted.message, /LINE 1: SELECT \* FROM read_text\('\/etc\/hostname'\)/);
    });

    test('a name that does not exist says where the real names are, and never suggests the engine\'s own catalog functions', async () => {
      const err = await rejectsWith(warehouse.query('SELECT * FROM ORDRS', opts()), 'OBJECT_NOT_FOUND', /^Catalog Error: Table with name ORDRS does not exist! Find the exact name with list_tables/);
      // Looked for in the call's own schema, which the advice must not call the default one.
      await rejectsWith(
        warehouse.query('SELECT * FROM ORDERS', opts({ schema: 'SHOWCASE' })),
        'OBJECT_NOT_FOUND',
        /an unqualified name is looked for in the call's database and schema: its database\/schema arguments, else the defaults; qualify it as SCHEMA\.NAME/,
      );
      assert.doesNotMatch(err.message, /resolve in the default database and schema/);
      await rejectsWith(warehouse.query('SELECT * FROM NOPE.ORDERS', opts()), 'OBJECT_NOT_FOUND', /schema "NOPE" does not exist/);
      await rejectsWith(warehouse.query('SELECT * FROM NOPE.TPCH.ORDERS', opts()), 'OBJECT_NOT_FOUND', /Catalog "NOPE" does not exist/);
      // A function that does not exist is the statement's mistake, not a missing object.
      await rejectsWith(warehouse.query('SELECT NOFN(1)', opts()), 'SQL_ERROR', /^Catalog Error: Scalar Function with name nofn does not exist!\n/i);
      assert.doesNotMatch(err.message, /pragma_|duckdb_/i);
      // An extension's function: DuckDB's advice (INSTALL, LOAD, SET autoload…) is statements the hub refuses.
      const extension = await rejectsWith(warehouse.query('SELECT * FROM dbgen(sf = 1)', opts()), 'SQL_ERROR', /^Catalog Error: Table Function with name "?dbgen"? is not in the catalog, but it exists in the tpch extension\. The embedded warehouse loads no extensions/);
      assert.doesNotMatch(extension.message, /INSTALL|LOAD |SET /);
      // Four parts: DuckDB's parser answers with an internal placeholder ("NameListToString NOT IMPLEMENTED").
      await rejectsWith(warehouse.query('SELECT * FROM SNOWMUX_SAMPLE.TPCH.NATION.N_NAME', opts()), 'SQL_ERROR', /^Parser Error: a table name has at most three parts \(database\.schema\.table\)/);
      // Too deep for the parser: DuckDB advises SET max_expression_depth (locked here), or says "memory exhausted".
      for (const sql of [`SELECT ${'abs('.repeat(3000)}1${')'.repeat(3000)}`, `SELECT ${'CASE WHEN true THEN '.repeat(3000)}1${' END'.repeat(3000)}`]) {
        const deep = await rejectsWith(warehouse.query(sql, opts()), 'SQL_ERROR', /^Parser Error: the query nests expressions or subqueries deeper than the embedded engine parses \(.+\); the limit is fixed\. Write it with fewer levels/);
        assert.doesNotMatch(deep.message, /SET max_expression_depth/);
      }
    });

    test('a statement that outgrows the memory limit fails with what to do, and nothing spills to the disk', async () => {
      const err = await rejectsWith(
        // Not a sort: under the hub's LIMIT a sort is a top-N, which needs little memory.
        warehouse.query('SELECT list(a.L_COMMENT) FROM LINEITEM a, LINEITEM b', opts()),
        'SQL_ERROR',
        /^Out of Memory Error: .*nothing spills to the hub's disk.*narrow the query/,
      );
      assert.doesNotMatch(err.message, /SET temp_directory|SET threads/, 'no advice about settings the hub locks');
      const left = (await fs.readdir(dataDir)).filter((name) => name.includes('.tmp'));
      assert.deepEqual(left, [], 'no temporary files next to the database');
    });

    test('reading files from the local file system fails', async () => {
      const secret = path.join(dataDir, 'secret.csv');
      await fs.writeFile(secret, 'user,password\nroot,hunter2\n');
      for (const fn of ['read_csv', 'read_text', 'read_json', 'read_parquet', 'glob']) {
        await rejectsWith(warehouse.query(`SELECT * FROM ${fn}('${secret}')`, opts()), 'SQL_ERROR', /disabled by configuration/);
      }
    });
  });

  describe('truncation', () => {
    test('by rows: maxRows rows come back and truncation is flagged only when more exist', async () => {
      const cut = await warehouse.query('SELECT N_NATIONKEY FROM NATION ORDER BY 1', opts({ maxRows: 10 }));
      assert.deepEqual(cut.rows, Array.from({ length: 10 }, (_, i) => [i]));
      assert.equal(cut.rowCount, 10);
      assert.equal(cut.truncated, true);
      assert.equal(cut.truncatedBy, 'rows');
      const exact = await warehouse.query('SELECT N_NATIONKEY FROM NATION', opts({ maxRows: 25 }));
      assert.equal(exact.rowCount, 25);
      assert.equal(exact.truncated, false);
      assert.equal(exact.truncatedBy, undefined);
      const none = await warehouse.query('SELECT * FROM NATION', opts({ maxRows: 0 }));
      assert.deepEqual([none.rowCount, none.truncated], [0, true]);
      const empty = await warehouse.query('SELECT * FROM NATION WHERE false', opts({ maxRows: 0 }));
      assert.deepEqual([empty.rowCount, empty.truncated], [0, false]);
    });

    test('a huge result is cut without being computed to the end', async () => {
      const result = await warehouse.query('SELECT * FROM range(10000000000000)', opts({ maxRows: 3 }));
      assert.deepEqual(result.rows, [[0], [1], [2]]);
      assert.equal(result.truncated, true);
    });

    test('a statement with a row bound is run whole and answers, truncates and pages exactly as a streamed one', async () => {
      const forget = ({ queryId: _q, elapsedMs: _e, ...rest }: QueryResult) => rest;
      for (const [sql, bound, extra] of [
        ['SELECT 1 AS ONE', 1, {}],
        ['SELECT * FROM LINEITEM ORDER BY L_ORDERKEY, L_LINENUMBER LIMIT 2000', 2000, { maxRows: 15 }],
        ['SELECT * FROM NATION ORDER BY 1 LIMIT 25', 25, { maxBytes: 300 }],
        ['SELECT * FROM NATION WHERE false LIMIT 5', 5, {}],
      ] as const) {
        const streamed = await warehouse.query(sql, opts(extra));
        const whole = await warehouse.query(sql, opts({ ...extra, rowBound: bound }));
        assert.deepEqual(forget(whole), forget(streamed), sql);
        if (!whole.truncated) continue;
        const offset = whole.rowCount;
        const page = { offset, limit: 40 };
        assert.deepEqual(forget(await warehouse.fetchResults(whole.queryId ?? '', page, ctx())), forget(await warehouse.fetchResults(streamed.queryId ?? '', page, ctx())), `${sql}: the next page`);
      }
    });

    test('a bound above one chunk streams: a huge LIMIT is cut without being computed to the end', async () => {
      const result = await warehouse.query('SELECT * FROM range(10000000000000) LIMIT 9000000000000', opts({ maxRows: 3, rowBound: 9_000_000_000_000 }));
      assert.deepEqual([result.rows, result.truncated], [[[0], [1], [2]], true]);
    });

    test('the LIMIT changes nothing a caller sees: names (duplicates too), order, binds, totals, paging, trailing ; and comments', async () => {
      const dup = await warehouse.query('SELECT 1 AS a, 2 AS a, 3 AS "A" FROM range(3)', opts());
      assert.deepEqual(dup.columns.map((c) => c.name), ['a', 'a', 'A']);
      assert.deepEqual([dup.rowCount, dup.totalRows], [3, 3]);
      const ordered = await warehouse.query('SELECT range AS x FROM range(100000) ORDER BY x DESC;  ', opts({ maxRows: 3 }));
      assert.deepEqual(ordered.rows, [[99999], [99998], [99997]]);
      const commented = await warehouse.query('SELECT range AS x FROM range(10) -- the last line is a comment', opts());
      assert.deepEqual([commented.rowCount, commented.totalRows, commented.truncated], [10, 10, false]);
      const bound = await warehouse.query('SELECT range AS x FROM range(1000) WHERE range >= ? ORDER BY 1', opts({ maxRows: 2, binds: [990] }));
      assert.deepEqual(bound.rows, [[990], [991]]);
      // 500 rows are kept for paging (resultCacheRows), the reader reads no more, and the LIMIT is 501: a
      // result the LIMIT cuts and one it does not both page to the 500th row and have no total.
      for (const n of [501, 502, 100_000]) {
        const cut = await warehouse.query(`SELECT range AS x FROM range(${n})`, opts({ maxRows: 10 }));
        assert.deepEqual([cut.rowCount, cut.truncated, cut.totalRows, cut.pageableRows], [10, true, undefined, 500], `${n} rows`);
        const last = await warehouse.fetchResults(cut.queryId ?? '', { offset: 495, limit: 10 }, ctx());
        assert.deepEqual(last.rows.map((r) => r[0]), [495, 496, 497, 498, 499], `${n} rows`);
      }
      const whole = await warehouse.query('SELECT range AS x FROM range(500)', opts({ maxRows: 10 }));
      assert.deepEqual([whole.rowCount, whole.truncated, whole.totalRows], [10, true, 500]);
    });

    test('by bytes: rows stop before the serialized size passes maxBytes', async () => {
      const all = await warehouse.query('SELECT * FROM NATION ORDER BY N_NATIONKEY', opts());
      const firstThree = all.rows.slice(0, 3).reduce((sum, row) => sum + jsonSize(row), 0);
      const cut = await warehouse.query('SELECT * FROM NATION ORDER BY N_NATIONKEY', opts({ maxBytes: firstThree }));
      assert.deepEqual(cut.rows, all.rows.slice(0, 3));
      assert.equal(cut.truncated, true);
      assert.equal(cut.truncatedBy, 'bytes');
      const roomy = await warehouse.query('SELECT * FROM NATION', opts({ maxBytes: 1_000_000 }));
      assert.deepEqual([roomy.rowCount, roomy.truncated], [25, false]);
      const rowsFirst = await warehouse.query('SELECT * FROM NATION ORDER BY 1', opts({ maxRows: 2, maxBytes: firstThree }));
      assert.deepEqual([rowsFirst.rowCount, rowsFirst.truncatedBy], [2, 'rows']);
    });
  });

  describe('connection reuse', () => {
    const opened = () => (warehouse.info().detail as { connectionsOpened: number }).connectionsOpened;

    test('calls one after another reuse one connection', async () => {
      await warehouse.query('SELECT 1', opts());
      const before = opened();
      for (let i = 0; i < 20; i++) {
        await warehouse.query(`SELECT ${i}`, opts());
        await warehouse.listDatabases(ctx());
      }
      assert.equal(opened(), before, 'no connection opened for 40 sequential calls');
    });

    test('a statement that is not a read never hands its connection on: a variable it sets is gone for the next call', async () => {
      await warehouse.query("SET VARIABLE smx_leak = 'secret'", opts());
      const next = await warehouse.query("SELECT getvariable('smx_leak') AS v", opts());
      assert.deepEqual(next.rows, [[null]]);
    });

    test('a SELECT that changes the connection (setseed) never hands it on: another call\'s random() is not chosen by it', async () => {
      const seeded = 'SELECT setseed(0.5)';
      for (const statement of [readSql(seeded, 'duckdb').statements[0], undefined]) {
        await warehouse.query('SELECT 1', opts());
        const before = opened();
        // As a writer's governed call sends it (with the hub's reading) and as a direct caller does.
        await warehouse.query(seeded, opts({ statement }));
        await warehouse.query('SELECT random()', opts());
        assert.equal(opened(), before + 1, 'the seeded connection was closed, so the next call opened a fresh one');
      }
      // What a shared seeded connection would have answered: the same "random" value every time.
      const fresh = await warehouse.query('SELECT random()', opts());
      const again = await warehouse.query('SELECT random()', opts());
      assert.notDeepEqual(fresh.rows, again.rows);
    });

    test('the current schema never carries over: each call starts in its own (or the default) context', async () => {
      const there = await warehouse.query('SELECT current_schema()', opts({ schema: SHOWCASE_SCHEMA }));
      assert.equal(there.rows[0]![0], SHOWCASE_SCHEMA);
      const next = await warehouse.query('SELECT current_schema()', opts());
      assert.equal(next.rows[0]![0], 'TPCH');
    });

    test('a cancelled call\'s connection is closed, not reused', async () => {
      await warehouse.query('SELECT 1', opts());
      const before = opened();
      const controller = new AbortController();
      const { onProgress, running } = runningSignal();
      const pending = warehouse.query(ENDLESS, opts({ signal: controller.signal, onProgress }));
      await running;
      controller.abort();
      await rejectsWith(pending, 'QUERY_CANCELLED');
      await stopsInEngine(warehouse);
      // The pool held one idle connection (taken by the cancelled call); the next call must open a new one.
      await warehouse.query('SELECT 2', opts());
      assert.equal(opened(), before + 1);
    });
  });

  describe('cancellation and timeouts', () => {
    test('aborting the signal of a running statement rejects promptly with QUERY_CANCELLED', async () => {
      const controller = new AbortController();
      const { onProgress, running } = runningSignal();
      const pending = warehouse.query(ENDLESS, opts({ signal: controller.signal, onProgress }));
      const progress = await running;
      assert.equal(progress.phase, 'running');
      const abortedAt = performance.now();
      controller.abort();
      await rejectsWith(pending, 'QUERY_CANCELLED');
      assert.ok(performance.now() - abortedAt < 2000, 'rejects promptly');
      await stopsInEngine(warehouse);
      const next = await warehouse.query('SELECT 42', opts());
      assert.deepEqual(next.rows, [[42]]);
    });

    test('json_tree over a deeply nested document costs time, not memory: the cancel stops it (security-model §9)', async () => {
      // Its time grows with the square of the depth (300,000 levels: minutes); engine-safety does not refuse it,
      // since the ordinary use, json_tree(column), has a depth no rule can know.
      const deep = "SELECT count(*) FROM json_tree(repeat('[', 400000) || repeat(']', 400000))";
      const controller = new AbortController();
      const { onProgress, running } = runningSignal();
      const pending = warehouse.query(deep, opts({ signal: controller.signal, onProgress }));
      await running;
      const abortedAt = performance.now();
      controller.abort();
      await rejectsWith(pending, 'QUERY_CANCELLED');
      assert.ok(performance.now() - abortedAt < 2000, 'rejects promptly');
      await stopsInEngine(warehouse);
    });

    test('an abort reason that is a SnowmuxError is kept', async () => {
      const controller = new AbortController();
      const { onProgress, running } = runningSignal();
      const pending = warehouse.query(ENDLESS, opts({ signal: controller.signal, onProgress }));
      await running;
      controller.abort(new SnowmuxError('HUB_STOPPING', 'The hub is shutting down.'));
      await rejectsWith(pending, 'HUB_STOPPING');
      await stopsInEngine(warehouse);
    });

    test('an already aborted signal never starts the statement', async () => {
      const controller = new AbortController();
      controller.abort();
      await rejectsWith(warehouse.query('SELECT 1', opts({ signal: controller.signal })), 'QUERY_CANCELLED');
      await rejectsWith(warehouse.listDatabases(ctx({ signal: controller.signal })), 'QUERY_CANCELLED');
    });

    test('timeoutMs stops a long statement with QUERY_TIMEOUT', async () => {
      // The advice names the setting the limit came from, as the pipeline passes it.
      const err = await rejectsWith(warehouse.query(ENDLESS, opts({ timeoutMs: 50, timeoutSetting: 'roles.analyst.statement_timeout' })), 'QUERY_TIMEOUT', /or raise roles\.analyst\.statement_timeout\.$/);
      assert.equal(err.details?.['timeoutMs'], 50);
      await stopsInEngine(warehouse);
      const next = await warehouse.query('SELECT 1', opts({ timeoutMs: 60_000 }));
      assert.deepEqual(next.rows, [[1]]);
    });

    test('a statement run whole (row bound) is stopped by its timeout and its cancel too', async () => {
      const bounded = `${ENDLESS} LIMIT 1`;
      await rejectsWith(warehouse.query(bounded, opts({ timeoutMs: 50, rowBound: 1 })), 'QUERY_TIMEOUT', /timeout/);
      await stopsInEngine(warehouse);
      const controller = new AbortController();
      const { onProgress, running } = runningSignal();
      const pending = warehouse.query(bounded, opts({ signal: controller.signal, onProgress, rowBound: 1 }));
      await running;
      controller.abort();
      await rejectsWith(pending, 'QUERY_CANCELLED');
      await stopsInEngine(warehouse);
      assert.deepEqual((await warehouse.query('SELECT 7', opts({ rowBound: 1 }))).rows, [[7]]);
    });

    test('statements beyond the concurrency limit queue, can be cancelled while queued, and catalog calls still run', async () => {
      const own = await DuckDbWarehouse.open({ dataDir, threads: 1, progressIntervalMs: 10, maxConcurrentStatements: 1 });
      try {
        const long = new AbortController();
        const { onProgress, running } = runningSignal();
        const pending = own.query(ENDLESS, opts({ signal: long.signal, onProgress }));
        pending.catch(() => {});
        await running;

        const waiting = new AbortController();
        let queuedProgress: QueryProgress | undefined;
        let markQueued: () => void = () => {};
        const queued = new Promise<void>((resolve) => {
          markQueued = resolve;
        });
        const second = own.query('SELECT 1', opts({
          signal: waiting.signal,
          onProgress: (p) => {
            if (p.phase === 'queued') {
              queuedProgress ??= p;
              markQueued();
            }
          },
        }));
        await queued;
        assert.match(queuedProgress?.message ?? '', /Waiting/);
        assert.equal(own.info().detail['queuedStatements'], 1);
        // Catalog look-ups have their own slot.
        assert.equal((await own.listObjects('SNOWMUX_SAMPLE', 'TPCH', 'view', ctx())).length, 4);
        waiting.abort();
        await rejectsWith(second, 'QUERY_CANCELLED');
        assert.equal(own.info().detail['queuedStatements'], 0);

        long.abort();
        await rejectsWith(pending, 'QUERY_CANCELLED');
        const after = await own.query('SELECT 2', opts());
        assert.deepEqual(after.rows, [[2]]);
      } finally {
        await own.close();
      }
    });

    test('long statements never starve the hub’s file I/O (libuv thread pool)', async () => {
      const controllers = Array.from({ length: 6 }, () => new AbortController());
      const starts = controllers.map(() => runningSignal());
      const pending = controllers.map((c, i) => warehouse.query(ENDLESS, opts({ signal: c.signal, onProgress: starts[i]?.onProgress })));
      for (const p of pending) p.catch(() => {});
      try {
        await Promise.race(starts.map((s) => s.running));
        let deadline: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(new Error('file I/O stalled behind DuckDB statements')), 10_000);
        });
        try {
          await Promise.race([fs.readFile(path.join(dataDir, 'SNOWMUX_SAMPLE.duckdb')).then((b) => assert.ok(b.length > 0)), stalled]);
        } finally {
          clearTimeout(deadline);
        }
      } finally {
        for (const c of controllers) c.abort();
        await Promise.allSettled(pending);
        await stopsInEngine(warehouse);
      }
    });

    test('close() stops running statements and waits for them', async () => {
      const own = await DuckDbWarehouse.open({ dataDir, threads: 1, progressIntervalMs: 10 });
      const { onProgress, running } = runningSignal();
      const pending = own.query(ENDLESS, opts({ onProgress }));
      pending.catch(() => {});
      await running;
      await own.close();
      await rejectsWith(pending, 'WAREHOUSE_CLOSED');
      await rejectsWith(own.query('SELECT 1', opts()), 'WAREHOUSE_CLOSED');
      await rejectsWith(own.listDatabases(ctx()), 'WAREHOUSE_CLOSED');
      await rejectsWith(own.fetchResults('01000000-0000-0000-0000-000000000000', { offset: 0, limit: 1 }, ctx()), 'WAREHOUSE_CLOSED');
      await own.close();
    });
  });

  describe('value serialisation', () => {
    test('a map key named __proto__ is a member like any other, not the object\'s prototype', async () => {
      const result = await warehouse.query("SELECT MAP {'__proto__': 1, 'x': 2} AS M", opts());
      const m = result.rows[0]![0] as Record<string, unknown>;
      assert.deepEqual(Object.keys(m), ['__proto__', 'x']);
      assert.equal(JSON.stringify(m), '{"__proto__":1,"x":2}');
      assert.equal(Object.getPrototypeOf(m), Object.prototype);
    });

    test('a struct field named __proto__, constructor, toString or hasOwnProperty is a field like any other, also nested', async () => {
      const result = await warehouse.query(
        "SELECT {'a': 1, '__proto__': 3, 'constructor': 4, 'toString': 5, 'hasOwnProperty': 6} AS S, " +
          "[{'__proto__': 1}, NULL, {'__proto__': NULL}] AS L, {'x': {'__proto__': {'y': [2]}}} AS N, " +
          // Inside an ARRAY the struct arrives built by @duckdb/node-api: a nested field is taken back.
          "[{'__proto__': {'k': 1}, 'b': 2}]::STRUCT(\"__proto__\" STRUCT(k INT), b INT)[1] AS A",
        opts(),
      );
      const [s, l, n, a] = result.rows[0]!;
      assert.equal(JSON.stringify(s), '{"a":1,"__proto__":3,"constructor":4,"toString":5,"hasOwnProperty":6}');
      assert.equal(Object.getPrototypeOf(s), Object.prototype);
      assert.equal(JSON.stringify(l), '[{"__proto__":1},null,{"__proto__":null}]');
      assert.equal(JSON.stringify(n), '{"x":{"__proto__":{"y":[2]}}}');
      assert.equal(JSON.stringify(a), '[{"__proto__":{"k":1},"b":2}]');
    });

    test('every column of SHOWCASE.TYPE_SAMPLES serialises as specified', async () => {
      const result = await warehouse.query('SELECT * FROM SHOWCASE.TYPE_SAMPLES ORDER BY ID', opts());
      const types = Object.fromEntries(result.columns.map((c) => [c.name, c.type]));
      assert.equal(types['HUGE_INT'], 'HUGEINT');
      assert.equal(types['EXACT_DECIMAL'], 'DECIMAL(38,10)');
      assert.equal(types['A_TIMESTAMPTZ'], 'TIMESTAMP WITH TIME ZONE');
      assert.equal(types['A_JSON'], 'JSON');
      const rows = result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i]])));
      assert.deepEqual(rows[0], {
        ID: 1,
        LABEL: 'typical values',
        HUGE_INT: '12345678901234567890123456789',
        BIG_INT: '9007199254740993',
        EXACT_DECIMAL: '12345678901234567890.1234567890',
        A_DATE: '2024-02-29',
        A_TIME: '13:45:30.123456',
        A_TIMESTAMP: '2024-02-29T13:45:30.123456',
        A_TIMESTAMPTZ: '2024-02-29T11:45:30.500000Z',
        A_BLOB: 'DEADBEEF',
        A_JSON: { name: 'snowmux', tags: ['mcp', 'duckdb'], nested: { ok: true, n: 1.5 } },
        A_STRUCT: { NAME: 'widget', QTY: 3 },
        A_LIST: [1, 2, 3],
        A_MAP: { a: 1, b: 2 },
        A_UUID: '123e4567-e89b-12d3-a456-426614174000',
        AN_INTERVAL: '1 year 2 months 3 days 04:05:06.5',
        A_BOOLEAN: true,
        A_DOUBLE: 2.5,
        A_FLOAT: 0.1,
      });
      assert.deepEqual(rows[1], {
        ID: 2,
        LABEL: 'extremes and NaN',
        HUGE_INT: '-170141183460469231731687303715884105727',
        BIG_INT: '-9223372036854775808',
        EXACT_DECIMAL: '-0.0000000001',
        A_DATE: '1970-01-01',
        A_TIME: '00:00:00',
        A_TIMESTAMP: '1969-12-31T23:59:59.999999',
        A_TIMESTAMPTZ: '1999-12-31T23:59:59Z',
        A_BLOB: '',
        A_JSON: [1, 'two', null],
        A_STRUCT: { NAME: null, QTY: -1 },
        A_LIST: [],
        A_MAP: {},
        A_UUID: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
        AN_INTERVAL: '-02:00:00',
        A_BOOLEAN: false,
        A_DOUBLE: 'NaN',
        A_FLOAT: -1.5,
      });
      assert.deepEqual(rows[2], {
        ID: 3,
        LABEL: 'safe integers and +Infinity',
        HUGE_INT: 42,
        BIG_INT: 9007199254740991,
        EXACT_DECIMAL: '0.0000000000',
        A_DATE: '0001-01-01',
        A_TIME: '23:59:59.999999',
        A_TIMESTAMP: '2000-01-01T00:00:00',
        A_TIMESTAMPTZ: '2000-01-01T00:00:00Z',
        A_BLOB: '000A',
        A_JSON: 'just a string',
        A_STRUCT: { NAME: 'gadget', QTY: 0 },
        A_LIST: [null, 7],
        A_MAP: { k: null },
        A_UUID: '00000000-0000-0000-0000-000000000000',
        AN_INTERVAL: '00:00:00',
        A_BOOLEAN: true,
        A_DOUBLE: 'Infinity',
        A_FLOAT: 3.4028235e38,
      });
      assert.deepEqual(rows[3], {
        ID: 4,
        LABEL: 'negative infinity',
        HUGE_INT: '-9007199254740992',
        BIG_INT: -9007199254740991,
        EXACT_DECIMAL: '99.9900000000',
        A_DATE: '9999-12-31',
        A_TIME: '12:00:00.500000',
        A_TIMESTAMP: '1900-03-01T12:00:00.000001',
        A_TIMESTAMPTZ: '2024-07-01T05:00:00Z',
        A_BLOB: 'FF',
        // Integers beyond 2^53 inside a JSON document stay exact, as decimal strings (as BIG_INT / HUGE_INT).
        A_JSON: { big: '12345678901234567890', deep: [[[]]] },
        A_STRUCT: { NAME: 'quote"d', QTY: 2147483647 },
        A_LIST: [-2147483648],
        A_MAP: { 'x y': 1 },
        A_UUID: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        AN_INTERVAL: '30 days',
        A_BOOLEAN: false,
        A_DOUBLE: '-Infinity',
        A_FLOAT: 1e-45,
      });
      assert.deepEqual(rows[4], {
        ID: 5,
        LABEL: 'all NULL',
        ...Object.fromEntries(result.columns.slice(2).map((c) => [c.name, null])),
      });
      assert.doesNotThrow(() => JSON.parse(JSON.stringify(result.rows)));
    });

    test('other DuckDB types serialise too', async () => {
      const result = await warehouse.query(
        `SELECT '12:00:00+05:30'::TIMETZ, '2024-01-01 00:00:00.123456789'::TIMESTAMP_NS, '2024-01-01 00:00:01'::TIMESTAMP_S,
                'infinity'::DATE, '-infinity'::TIMESTAMP, 18446744073709551615::UBIGINT, [1, 2]::INTEGER[2], '101'::BIT,
                union_value(n := 5), MAP {1: 'x'}, 12.30::DECIMAL(4,2), 0.1::DOUBLE + 0.2::DOUBLE, [{'k': '{"z": 1}'::JSON}]`,
        opts(),
      );
      assert.deepEqual(result.rows[0], [
        '12:00:00+05:30',
        '2024-01-01T00:00:00.123456789',
        '2024-01-01T00:00:01',
        'infinity',
        '-infinity',
        '18446744073709551615',
        [1, 2],
        '101',
        5,
        { '1': 'x' },
        '12.30',
        0.30000000000000004,
        [{ k: { z: 1 } }],
      ]);
    });
  });

  describe('metadata', () => {
    test('listDatabases shows the sample database only, with a comment', async () => {
      const databases = await warehouse.listDatabases(ctx());
      assert.deepEqual(databases.map((d) => d.name), ['SNOWMUX_SAMPLE']);
      assert.match(databases[0]?.comment ?? '', /sample/i);
    });

    test('listSchemas shows TPCH, SHOWCASE and main (which the other tools and the SQL reach) with comments, not DuckDB internals', async () => {
      const schemas = await warehouse.listSchemas('snowmux_sample', ctx());
      assert.deepEqual(schemas.map((s) => [s.database, s.name]), [
        ['SNOWMUX_SAMPLE', 'SHOWCASE'],
        ['SNOWMUX_SAMPLE', 'TPCH'],
        ['SNOWMUX_SAMPLE', 'main'],
      ]);
      for (const schema of schemas) assert.ok((schema.comment ?? '').length > 0, schema.name);
    });

    test('listObjects lists tables with row counts and views, with comments', async () => {
      const tables = await warehouse.listObjects('SNOWMUX_SAMPLE', 'TPCH', 'table', ctx());
      assert.deepEqual(tables.map((t) => t.name), ['CUSTOMER', 'LINEITEM', 'NATION', 'ORDERS', 'PART', 'PARTSUPP', 'REGION', 'SUPPLIER']);
      const nation = tables.find((t) => t.name === 'NATION');
      assert.deepEqual([nation?.kind, nation?.rowCount, nation?.database, nation?.schema], ['table', 25, 'SNOWMUX_SAMPLE', 'TPCH']);
      assert.ok(tables.every((t) => (t.comment ?? '').length > 0));
      const views = await warehouse.listObjects('SNOWMUX_SAMPLE', 'tpch', 'view', ctx());
      assert.deepEqual(views.map((v) => v.name), ['CUSTOMER_ORDER_SUMMARY', 'PRICING_SUMMARY', 'REVENUE_BY_NATION', 'TOP_PARTS']);
      assert.ok(views.every((v) => v.kind === 'view' && (v.comment ?? '').length > 0));
      assert.deepEqual(await warehouse.listObjects('SNOWMUX_SAMPLE', 'SHOWCASE', 'view', ctx()), []);
    });

    test('describeObject returns columns with types, nullability and comments', async () => {
      const columns = await warehouse.describeObject({ database: 'snowmux_sample', schema: 'tpch', name: 'nation' }, 'table', ctx());
      assert.deepEqual(columns.map((c) => [c.name, c.type, c.nullable]), [
        ['N_NATIONKEY', 'INTEGER', false],
        ['N_NAME', 'VARCHAR', false],
        ['N_REGIONKEY', 'INTEGER', false],
        ['N_COMMENT', 'VARCHAR', false],
      ]);
      assert.match(columns[2]?.comment ?? '', /REGION/);
      const view = await warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: 'REVENUE_BY_NATION' }, 'view', ctx());
      assert.deepEqual(view.map((c) => [c.name, c.type]), [
        ['REGION', 'VARCHAR'],
        ['NATION', 'VARCHAR'],
        ['ORDER_COUNT', 'BIGINT'],
        ['REVENUE', 'DECIMAL(18,2)'],
      ]);
      const showcase = await warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'SHOWCASE', name: 'TYPE_SAMPLES' }, 'table', ctx());
      assert.equal(showcase.find((c) => c.name === 'A_JSON')?.type, 'JSON');
    });

    test('unknown or hostile names are OBJECT_NOT_FOUND with a helpful message, never SQL', async () => {
      const hostile = 'x"; DROP TABLE y; --';
      await rejectsWith(
        warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: 'NOPE' }, 'table', ctx()),
        'OBJECT_NOT_FOUND',
        /^Table SNOWMUX_SAMPLE\.TPCH\.NOPE does not exist\. Use list_tables to see the tables in TPCH\.$/,
      );
      await rejectsWith(
        warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: 'NOPE' }, 'view', ctx()),
        'OBJECT_NOT_FOUND',
        /^View SNOWMUX_SAMPLE\.TPCH\.NOPE does not exist\. Use list_views/,
      );
      await rejectsWith(
        warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: 'TOP_PARTS' }, 'table', ctx()),
        'OBJECT_NOT_FOUND',
        /TOP_PARTS is a view\. Use describe_view/,
      );
      // A name Snowflake would print quoted is shown quoted: one name with dots in it is not a path.
      await rejectsWith(
        warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: 'SNOWMUX_SAMPLE.TPCH.NATION' }, 'table', ctx()),
        'OBJECT_NOT_FOUND',
        /^Table SNOWMUX_SAMPLE\.TPCH\."SNOWMUX_SAMPLE\.TPCH\.NATION" does not exist\./,
      );
      await rejectsWith(warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', name: hostile }, 'table', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.describeObject({ database: 'SNOWMUX_SAMPLE', schema: hostile, name: 'NATION' }, 'table', ctx()), 'OBJECT_NOT_FOUND', /Schema/);
      await rejectsWith(warehouse.listSchemas(hostile, ctx()), 'OBJECT_NOT_FOUND', /^Database .* does not exist\. Use list_databases/);
      await rejectsWith(warehouse.listObjects('SNOWMUX_SAMPLE', hostile, 'table', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.listObjects('SNOWMUX_SAMPLE', "TPCH' OR '1'='1", 'view', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.listSchemas('system', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.listSchemas('temp', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.query('SELECT 1', opts({ schema: hostile })), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.query('SELECT 1', opts({ database: hostile })), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.listSchemas('', ctx()), 'OBJECT_NOT_FOUND');
      await rejectsWith(warehouse.listObjects('SNOWMUX_SAMPLE', 'TPCH', 'index' as 'table', ctx()), 'INVALID_ARGUMENT');
      const nation = await warehouse.query('SELECT count(*) FROM NATION', opts());
      assert.deepEqual(nation.rows, [[25]]);
    });
  });

  describe('fetchResults', () => {
    let result: QueryResult;

    before(async () => {
      result = await warehouse.query('SELECT range AS N FROM range(100) ORDER BY 1', opts({ maxRows: 10 }));
    });

    test('pages through a finished result without re-running it', async () => {
      assert.equal(result.truncated, true);
      const queryId = result.queryId ?? '';
      const second = await warehouse.fetchResults(queryId, { offset: 10, limit: 10 }, ctx());
      assert.deepEqual(second.rows, Array.from({ length: 10 }, (_, i) => [10 + i]));
      assert.deepEqual([second.truncated, second.truncatedBy, second.queryId], [true, 'rows', queryId]);
      assert.deepEqual(second.columns, [{ name: 'N', type: 'BIGINT' }]);
      const last = await warehouse.fetchResults(queryId, { offset: 95, limit: 10 }, ctx());
      assert.deepEqual(last.rows, [[95], [96], [97], [98], [99]]);
      assert.equal(last.truncated, false);
      const beyond = await warehouse.fetchResults(queryId, { offset: 100, limit: 10 }, ctx());
      assert.deepEqual([beyond.rowCount, beyond.truncated], [0, false]);
      const first = await warehouse.fetchResults(queryId, { offset: 0, limit: 3 }, ctx());
      assert.deepEqual(first.rows, [[0], [1], [2]]);
    });

    test('a page honours maxBytes', async () => {
      const page = await warehouse.fetchResults(result.queryId ?? '', { offset: 0, limit: 50, maxBytes: 3 * jsonSize([0]) }, ctx());
      assert.deepEqual([page.rows, page.truncatedBy], [[[0], [1], [2]], 'bytes']);
    });

    test('rows past what was kept, unknown and evicted ids say to re-run the query', async () => {
      const big = await warehouse.query('SELECT * FROM range(100000)', opts({ maxRows: 10 }));
      const kept = await warehouse.fetchResults(big.queryId ?? '', { offset: 490, limit: 20 }, ctx());
      assert.deepEqual([kept.rowCount, kept.truncated], [10, true]);
      await rejectsWith(warehouse.fetchResults(big.queryId ?? '', { offset: 500, limit: 10 }, ctx()), 'RESULT_ROWS_NOT_KEPT', /Re-run/);
      await rejectsWith(warehouse.fetchResults('01000000-0000-0000-0000-000000000000', { offset: 0, limit: 10 }, ctx()), 'RESULT_NOT_FOUND', /Re-run the query/);
      await rejectsWith(warehouse.fetchResults(result.queryId ?? '', { offset: -1, limit: 10 }, ctx()), 'INVALID_ARGUMENT');

      const small = await DuckDbWarehouse.open({ dataDir, threads: 1, resultCacheBytes: 8192 });
      try {
        const early = await small.query('SELECT * FROM NATION', opts({ maxRows: 5 }));
        await small.fetchResults(early.queryId ?? '', { offset: 5, limit: 5 }, ctx());
        for (let i = 0; i < 10; i++) await small.query('SELECT * FROM NATION', opts({ maxRows: 5 }));
        await rejectsWith(small.fetchResults(early.queryId ?? '', { offset: 5, limit: 5 }, ctx()), 'RESULT_NOT_FOUND');
      } finally {
        await small.close();
      }
    });

    test('pageableRows is what the result cache kept, also when an entry\'s byte limit keeps fewer rows than were read', async () => {
      // Entries of at most 50,000 bytes; no read-ahead deadline, so the reader stops at the entry's size only.
      const small = await DuckDbWarehouse.open({ dataDir, threads: 1, resultCacheBytes: 200_000, readAheadMs: 600_000 });
      const wide = (rows: number) => `SELECT range AS I, repeat('q', 400) AS H FROM range(${rows})`;
      try {
        // Cut: the reader holds a whole chunk (2048 rows, ~840 KB), the cache keeps the first ~120.
        const cut = await small.query(wide(5000), opts({ maxRows: 10 }));
        assert.equal(cut.totalRows, undefined);
        const kept = cut.pageableRows ?? 0;
        assert.ok(kept > 10 && kept < 2048, `pageableRows ${kept}`);
        const last = await small.fetchResults(cut.queryId ?? '', { offset: kept - 1, limit: 10 }, ctx());
        assert.deepEqual([last.rows.map((r) => r[0]), last.truncated, last.pageableRows], [[kept - 1], true, kept]);
        const beyond = await rejectsWith(small.fetchResults(cut.queryId ?? '', { offset: kept, limit: 10 }, ctx()), 'RESULT_ROWS_NOT_KEPT');
        assert.deepEqual(beyond.details, { keptRows: kept });

        // Whole in the answer, so read to its end: the total is known, yet only the first rows can be paged.
        const whole = await small.query(wide(1000), opts({ maxRows: 5000 }));
        assert.deepEqual([whole.rowCount, whole.truncated, whole.totalRows], [1000, false, 1000]);
        const pageable = whole.pageableRows ?? 0;
        assert.ok(pageable > 0 && pageable < 1000, `pageableRows ${pageable}`);
        await rejectsWith(small.fetchResults(whole.queryId ?? '', { offset: pageable, limit: 10 }, ctx()), 'RESULT_ROWS_NOT_KEPT');
      } finally {
        await small.close();
      }
    });
  });

  test('a statement run again is run from the connection\'s prepared copy only in the same context, and with its new binds', async () => {
    // The same text in two schemas names two different tables: the copy prepared in one must not serve the other.
    const sql = 'SELECT current_schema() AS s, (SELECT count(*) FROM duckdb_tables() WHERE schema_name = current_schema()) AS n';
    const inTpch = await warehouse.query(sql, opts({ schema: 'TPCH' }));
    const inShowcase = await warehouse.query(sql, opts({ schema: SHOWCASE_SCHEMA }));
    const again = await warehouse.query(sql, opts({ schema: 'TPCH' }));
    assert.equal(inTpch.rows[0]![0], 'TPCH');
    assert.equal(inShowcase.rows[0]![0], SHOWCASE_SCHEMA);
    assert.deepEqual(again.rows, inTpch.rows);
    // An unqualified name is bound when prepared: the copy prepared where it resolves must not run where it does not.
    const showcaseOnly = 'SELECT count(*) FROM TYPE_SAMPLES';
    assert.ok((await warehouse.query(showcaseOnly, opts({ schema: SHOWCASE_SCHEMA }))).rowCount === 1);
    await rejectsWith(warehouse.query(showcaseOnly, opts({ schema: 'TPCH' })), 'OBJECT_NOT_FOUND', /TYPE_SAMPLES/);
    // One text, new values each time (a team tool's parameters).
    const byKey = 'SELECT N_NAME FROM NATION WHERE N_NATIONKEY = ?';
    const names = [];
    for (const key of [0, 1, 2, 1]) names.push((await warehouse.query(byKey, opts({ binds: [key] }))).rows[0]![0]);
    assert.deepEqual(names, ['ALGERIA', 'ARGENTINA', 'BRAZIL', 'ARGENTINA']);
    // A copy left truncated mid-result serves the next run whole.
    const big = 'SELECT O_ORDERKEY FROM ORDERS ORDER BY O_ORDERKEY';
    const first = await warehouse.query(big, opts({ maxRows: 3 }));
    const second = await warehouse.query(big, opts({ maxRows: 5 }));
    assert.deepEqual(second.rows.slice(0, 3), first.rows);
    assert.equal(second.rows.length, 5);
  });
  test('explain: a scan counts the rows it reads, not the rows its filters let through; a generator counts the rows it makes', async () => {
    const all = Number((await warehouse.query('SELECT count(*) FROM LINEITEM', opts())).rows[0]![0]);
    assert.ok(all > 1000);
    // DuckDB estimates a filter it cannot judge at 20 %: the plan said a fifth of LINEITEM, the scan reads all of it.
    for (const sql of ["SELECT * FROM LINEITEM WHERE L_COMMENT <> 'zz' AND L_SHIPMODE <> 'zz'", 'SELECT * FROM LINEITEM WHERE L_ORDERKEY = 5']) {
      const plan = await warehouse.explain(sql, ctx());
      assert.equal(plan.estimate.rows, all, sql);
      const scan = plan.operations.find((o) => o.objects.some((t) => /LINEITEM/i.test(t)));
      assert.equal(scan?.estimate.rows, all);
    }
    assert.equal((await warehouse.explain('SELECT count(*) FROM generate_series(1, 100000000)', ctx())).estimate.rows, 100000000);
    assert.equal((await warehouse.explain('SELECT count(*) FROM range(10) a, range(20) b', ctx())).estimate.rows, 30);
    // A CTE read twice reads its table once.
    const twice = await warehouse.explain('WITH c AS MATERIALIZED (SELECT * FROM LINEITEM) SELECT count(*) FROM c, c AS d', ctx());
    assert.equal(twice.estimate.rows, all);
  });
  test('explain: an engine error quotes the caller\'s query, not the EXPLAIN the hub put before it', async () => {
    const err = await rejectsWith(warehouse.explain('selec 1', ctx()), 'SQL_ERROR', /syntax error at or near "selec"/);
    assert.doesNotMatch(err.message, /FORMAT json/);
    const lines = err.message.split('\n');
    const quoted = lines.findIndex((line) => line.startsWith('LINE 1: '));
    assert.equal(lines[quoted], 'LINE 1: selec 1');
    assert.equal(lines[quoted + 1]!.indexOf('^'), 'LINE 1: '.length, 'the caret still points at "selec"');
  });
});
