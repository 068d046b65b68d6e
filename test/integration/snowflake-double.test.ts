/**
 * The Snowflake double itself, driven by the real snowflake-sdk without snowmux in between: what the
 * backend relies on (session state, SHOW/DESCRIBE shapes, statement parameters, errors with SQLSTATE,
 * result polling, token renewal) behaves as Snowflake's REST API does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadSnowflakeSdk } from '../../src/hub/warehouse/snowflake/sdk-loader.js';
import type { SfConnection, SfStatement, SnowflakeSdk } from '../../src/hub/warehouse/snowflake/sdk-types.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';

let double: SnowflakeDouble;
let sdk: SnowflakeSdk;
let conn: SfConnection;

interface Ran {
  rows: Record<string, unknown>[];
  stmt: SfStatement;
}

function run(sqlText: string, extra: { parameters?: Record<string, unknown>; binds?: (string | number | boolean | null)[] } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    conn.execute({
      sqlText,
      ...extra,
      complete: (err, stmt, rows) => (err ? reject(err) : resolve({ rows: (rows ?? []) as Record<string, unknown>[], stmt: stmt as SfStatement })),
    });
  });
}

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'pw', roles: ['ANALYST', 'PUBLIC'], defaultWarehouse: 'COMPUTE_WH' }], syncWaitMs: 50 });
  sdk = await loadSnowflakeSdk();
  conn = sdk.createConnection({ accessUrl: double.url, account: 'fakeacct', username: 'alice', password: 'pw', database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1' });
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
});

after(async () => {
  await new Promise<void>((resolve) => conn.destroy(() => resolve()));
  await double.close();
});

describe('Snowflake double', () => {
  it('reports the session context, and the final context with every result', async () => {
    const { rows, stmt } = await run('select current_database(), current_schema(), current_role(), current_warehouse(), current_user() as who');
    assert.deepEqual(rows, [
      { 'CURRENT_DATABASE()': 'SNOWFLAKE_SAMPLE_DATA', 'CURRENT_SCHEMA()': 'TPCH_SF1', 'CURRENT_ROLE()': 'ANALYST', 'CURRENT_WAREHOUSE()': 'COMPUTE_WH', WHO: 'ALICE' },
    ]);
    const state = stmt.getSessionState() as { getCurrentSchema(): string };
    assert.equal(state.getCurrentSchema(), 'TPCH_SF1');
  });

  it('USE and ALTER SESSION change this session only, and are counted', async () => {
    const counted = double.counters.sessionStateStatements;
    await run('use schema weather');
    await run("alter session set query_tag = 'tagged', timezone = 'UTC'");
    const { rows, stmt } = await run('select current_schema() as s');
    assert.deepEqual(rows, [{ S: 'WEATHER' }]);
    assert.equal((stmt.getSessionState() as { getCurrentSchema(): string }).getCurrentSchema(), 'WEATHER');
    assert.equal(double.queries.at(-1)?.queryTag, 'tagged');
    await run('alter session unset query_tag');
    await run('use schema snowflake_sample_data.tpch_sf1');
    assert.equal(double.counters.sessionStateStatements, counted + 4);
    await assert.rejects(run('use role accountadmin'), { code: '002003', sqlState: '02000' });
    await assert.rejects(run('use database nope'), { code: '002003' });
  });

  it('statement-level parameters override the session: QUERY_TAG, MULTI_STATEMENT_COUNT, STATEMENT_TIMEOUT_IN_SECONDS', async () => {
    await run('select 1', { parameters: { QUERY_TAG: 'per-statement' } });
    assert.equal(double.queries.at(-1)?.queryTag, 'per-statement');
    await assert.rejects(run('select 1; select 2'), { code: '000008', sqlState: '0A000' });
    const multi = await run('select 1 as a; select 2 as b', { parameters: { MULTI_STATEMENT_COUNT: 0 } });
    assert.deepEqual(multi.rows, [{ B: 2 }]);
    const t0 = performance.now();
    await assert.rejects(run("select system$wait(5, 'SECONDS')", { parameters: { STATEMENT_TIMEOUT_IN_SECONDS: 1 } }), { code: '000630', sqlState: '57014' });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 900, `elapsed ${elapsed}`);
  });

  it('answers SQL errors with a SQLSTATE (so the driver does not re-send the statement)', async () => {
    const queries = double.counters.queries;
    await assert.rejects(run('select * from nowhere'), (err: { code?: string; sqlState?: string; data?: { queryId?: string } }) => {
      assert.equal(err.code, '002003');
      assert.equal(err.sqlState, '42S02');
      assert.match(err.data?.queryId ?? '', /^[0-9a-f-]{36}$/);
      return true;
    });
    assert.equal(double.counters.queries, queries + 1);
  });

  it('SHOW and DESCRIBE use Snowflake\'s lower-case column names', async () => {
    const tables = await run('show tables in schema snowflake_sample_data.tpch_sf1');
    assert.deepEqual(Object.keys(tables.rows[0] ?? {}).slice(0, 6), ['created_on', 'name', 'database_name', 'schema_name', 'kind', 'comment']);
    const described = await run('describe table region');
    assert.deepEqual(Object.keys(described.rows[0] ?? {}).slice(0, 6), ['name', 'type', 'kind', 'null?', 'default', 'primary key']);
    assert.deepEqual(described.rows.map((r) => [r['name'], r['type'], r['null?']]), [
      ['R_REGIONKEY', 'NUMBER(38,0)', 'N'],
      ['R_NAME', 'VARCHAR(16777216)', 'N'],
      ['R_COMMENT', 'VARCHAR(16777216)', 'Y'],
    ]);
    const columns = await run("show columns like 'N_%' in table nation");
    assert.deepEqual(columns.rows.map((r) => r['column_name']), ['N_NATIONKEY', 'N_NAME', 'N_REGIONKEY', 'N_COMMENT']);
    const schemas = await run('show schemas in database analytics');
    assert.deepEqual(schemas.rows.map((r) => r['name']), ['Odd Schema', 'PUBLIC']);
  });

  it('upper-cases unquoted names and keeps quoted ones; binds ? and :N', async () => {
    const { rows } = await run('select 1 as lower_alias, 2 as "quoted", ? as p1, :2 as p2', { binds: [5, 'x'] });
    assert.deepEqual(rows, [{ LOWER_ALIAS: 1, quoted: 2, P1: 5, P2: 'x' }]);
  });

  it('encodes cells so the driver decodes Snowflake types', async () => {
    const { rows } = await run('select on_day, occurred_at, raw, payload, tags, is_test, amount from analytics.public.events where id = 1');
    const row = rows[0]!;
    assert.equal((row['ON_DAY'] as Date).toISOString(), '2024-01-02T00:00:00.000Z');
    assert.equal((row['OCCURRED_AT'] as Date).getTime(), Date.UTC(2024, 0, 2, 3, 4, 5, 123));
    assert.equal((row['RAW'] as Buffer).toString('hex'), 'dead');
    assert.deepEqual(row['PAYLOAD'], { k: 'a', n: 1 });
    assert.deepEqual(row['TAGS'], ['x', 'y']);
    assert.equal(row['IS_TEST'], false);
    assert.equal(row['AMOUNT'], 12.5);
  });

  it('serves slow statements through result polling, and their results again by query id', async () => {
    const { rows, stmt } = await run("select system$wait(200, 'MILLISECONDS') as waited");
    assert.deepEqual(rows, [{ WAITED: 'waited 200 milliseconds' }]);
    const queryId = stmt.getQueryId();
    const again = await conn.getResultsFromQueryId({ queryId });
    const fetched = await new Promise<unknown[]>((resolve, reject) => {
      const out: unknown[] = [];
      again.streamRows().on('data', (r: unknown) => out.push(r)).on('end', () => resolve(out)).on('error', reject);
    });
    assert.deepEqual(fetched, [{ WAITED: 'waited 200 milliseconds' }]);
    assert.equal(await conn.getQueryStatus(queryId), 'SUCCESS');
  });

  it('renews an expired session token, and answers heartbeats', async () => {
    const renewals = double.counters.renewals;
    double.expireSessionTokens();
    assert.deepEqual((await run('select 1 as one')).rows, [{ ONE: 1 }]);
    assert.equal(double.counters.renewals, renewals + 1);
    const heartbeats = double.counters.heartbeats;
    assert.equal(await conn.isValidAsync(), true);
    assert.equal(double.counters.heartbeats, heartbeats + 1);
  });
});
