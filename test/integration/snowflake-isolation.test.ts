/**
 * Isolation on pooled connections: one call's context (database/schema/role/warehouse) and whatever a
 * statement does to its session (USE …, ALTER SESSION …) never reach another call. Every statement
 * carries snowmux's QUERY_TAG and MULTI_STATEMENT_COUNT = 1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SnowmuxError } from '../../src/errors.js';
import { readSql } from '../../src/hub/guard/sql/classifier.js';
import { parseQueryTag } from '../../src/hub/warehouse/snowflake/query-tag.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { callContext, doubleProfile, queryOptions, until } from '../doubles/snowflake/fixtures.js';

let double: SnowflakeDouble;
const open: SnowflakeWarehouse[] = [];

/** A pool of one connection, so consecutive calls are guaranteed to share it. */
function warehouse(name: string, profile: Parameters<typeof doubleProfile>[1] = {}): SnowflakeWarehouse {
  const w = new SnowflakeWarehouse(doubleProfile(double, { name, pool: { max: 1 }, ...profile }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
  open.push(w);
  return w;
}

const CONTEXT_SQL = 'select current_database(), current_schema(), current_role(), current_warehouse(), current_session()';

async function context(w: SnowflakeWarehouse, overrides: Parameters<typeof queryOptions>[0] = {}): Promise<unknown[]> {
  return (await w.query(CONTEXT_SQL, queryOptions(overrides))).rows[0] ?? [];
}

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }] });
});

after(async () => {
  await Promise.all(open.map((w) => w.close()));
  await double.close();
});

describe('Snowflake session isolation', () => {
  it("a call's database/schema/role/warehouse apply to that call only", async () => {
    const w = warehouse('ctx');
    const base = await context(w);
    assert.deepEqual(base.slice(0, 4), ['SNOWFLAKE_SAMPLE_DATA', 'TPCH_SF1', 'ANALYST', 'COMPUTE_WH']);
    const session = base[4];
    // Names arrive resolved (the tool layer normalizes once: analytics → ANALYTICS, "Odd Schema" → Odd Schema).
    const other = await context(w, { database: 'ANALYTICS', role: 'PUBLIC', warehouse: 'DEV_WH' });
    assert.deepEqual(other, ['ANALYTICS', 'PUBLIC', 'PUBLIC', 'DEV_WH', session]);
    const quoted = await context(w, { database: 'ANALYTICS', schema: 'Odd Schema' });
    assert.deepEqual(quoted.slice(0, 2), ['ANALYTICS', 'Odd Schema']);
    // The next call without context is back on the profile's context — same connection, same session.
    assert.deepEqual(await context(w), base);
    // Unqualified names resolve in the call's context.
    const region = await w.query('select count(*) from region', queryOptions());
    assert.deepEqual(region.rows, [[5]]);
  });

  it('sends no USE statements when the connection already has the call context', async () => {
    const w = warehouse('no-extra-use');
    await context(w);
    const before = double.counters.sessionStateStatements;
    await context(w);
    await w.listSchemas('ANALYTICS', callContext());
    assert.equal(double.counters.sessionStateStatements, before);
  });

  it('USE SCHEMA run by one client is invisible to the next call (same pooled session)', async () => {
    const w = warehouse('use-leak');
    const base = await context(w);
    await w.query('use schema weather', queryOptions());
    const after = await context(w);
    assert.deepEqual(after, base, 'the next call must run in the profile context');
    const unqualified = await w.query('select count(*) from region', queryOptions());
    assert.deepEqual(unqualified.rows, [[5]]);
  });

  it('ALTER SESSION by one client costs that connection: the next call gets a fresh session', async () => {
    const w = warehouse('alter-leak');
    const session = (await context(w))[4];
    const logouts = double.counters.logouts;
    await w.query("alter session set query_tag = 'mine', timezone = 'Asia/Tokyo'", queryOptions());
    const next = await context(w);
    assert.notEqual(next[4], session, 'a session with changed parameters must not be reused');
    await until(double.events, 'logout', () => double.counters.logouts >= logouts + 1);
    // The next statement's effective QUERY_TAG is snowmux's, not the one set by ALTER SESSION.
    const last = double.queries.at(-1)!;
    assert.ok(parseQueryTag(last.queryTag), last.queryTag);
  });

  it('USE SECONDARY ROLES by one client costs that connection: its privileges never reach the next call', async () => {
    const w = warehouse('secondary-roles');
    const session = (await context(w))[4];
    // Snowflake's answer to it names the same primary role: nothing tracked could restore the session.
    await w.query('use secondary roles all', queryOptions());
    const next = await context(w);
    assert.notEqual(next[4], session, 'a session with secondary roles in use must not serve another call');
    await w.query('/* x */ USE  Secondary ROLES none', queryOptions());
    assert.notEqual((await context(w))[4], next[4]);
  });

  it('a ->> chain whose later part changes the session costs that connection, as the hub reads it and as the text reads', async () => {
    const w = warehouse('flow-leak');
    let session = (await context(w))[4];
    for (const sql of ["select 1 ->> alter session set timezone = 'Asia/Tokyo'", 'select 1 ->> use secondary roles all']) {
      // As a governed call sends it (with the hub's reading) and as a direct caller does (the text alone).
      for (const statement of [readSql(sql, 'snowflake').statements[0], undefined]) {
        await w.query(sql, { ...queryOptions(), statement });
        const next = (await context(w))[4];
        assert.notEqual(next, session, `${sql}: the chained statement's session must not serve another call`);
        session = next;
      }
    }
    // A chain of reads leaves the session as it was.
    await w.query('select 1 ->> select 2', queryOptions());
    assert.equal((await context(w))[4], session);
  });

  it('a role chosen by one call is not kept when the profile sets no role (connection discarded)', async () => {
    const w = warehouse('no-default-role', { role: undefined });
    const first = await context(w);
    assert.equal(first[2], 'ANALYST'); // the user's default role, from login
    const other = await context(w, { role: 'PUBLIC' });
    assert.equal(other[2], 'PUBLIC');
    const back = await context(w);
    assert.equal(back[2], 'ANALYST');
    assert.notEqual(back[4], other[4]);
  });

  it('a failed context (unknown database) fails the call only; the connection serves the next call', async () => {
    const w = warehouse('bad-context');
    const session = (await context(w))[4];
    await assert.rejects(w.query('select 1', queryOptions({ database: 'NOPE_DB' })), (err: SnowmuxError) => {
      assert.equal(err.code, 'OBJECT_NOT_FOUND');
      assert.match(err.message, /NOPE_DB/);
      return true;
    });
    const next = await context(w);
    assert.equal(next[4], session);
    assert.deepEqual(next.slice(0, 2), ['SNOWFLAKE_SAMPLE_DATA', 'TPCH_SF1']);
    assert.equal((await context(w))[4], session);
  });

  it("a profile whose warehouse or database does not exist: the hub's USE is named with the setting, not taken for the caller's SQL", async () => {
    // Snowflake logs in with a warehouse or database that does not exist (the session has none); every later
    // call's USE then fails. The caller wrote `select 1`: "Object does not exist … check the name" named nothing
    // of theirs.
    const w = warehouse('bad-wh', { warehouse: 'NOPE_WH', sources: { warehouse: 'env SNOWFLAKE_WAREHOUSE' } });
    await context(w);
    const sent = double.queries.length;
    for (let i = 0; i < 2; i++) {
      await assert.rejects(w.query('select 1', queryOptions()), (err: SnowmuxError) => {
        assert.equal(err.code, 'OBJECT_NOT_FOUND');
        assert.match(err.message, /USE WAREHOUSE "NOPE_WH"/);
        assert.match(err.message, /warehouse \(set by env SNOWFLAKE_WAREHOUSE\)/);
        assert.match(err.message, /Your statement was not sent/);
        assert.match(err.message, /GRANT USAGE ON WAREHOUSE/);
        assert.equal(err.details?.['setting'], 'warehouse');
        assert.equal(err.details?.['notRun'], true);
        return true;
      });
    }
    assert.ok(double.queries.slice(sent).every((q) => q.sql.startsWith('USE ')), 'select 1 was never sent');
    const db = warehouse('bad-db', { database: 'NOPE_DB' });
    await context(db);
    await assert.rejects(db.query('select 1', queryOptions()), (err: SnowmuxError) => {
      assert.match(err.message, /USE SCHEMA "NOPE_DB"\."TPCH_SF1"/);
      assert.match(err.message, /database of \[profiles\.bad-db\] and schema of \[profiles\.bad-db\]/);
      return true;
    });
    // A value the call chose is named as the call's.
    const role = warehouse('role-wh');
    await assert.rejects(role.query('select 1', queryOptions({ warehouse: 'OTHER_WH' })), (err: SnowmuxError) => {
      assert.match(err.message, /warehouse of the caller's hub role/);
      return true;
    });
  });

  it("a call's schema on a profile with no default database: told to pass database too, not that the schema does not exist", async () => {
    // Snowflake: "Cannot perform USE SCHEMA. This session does not have a current database." The hub's advice
    // was to fix the schema argument (which was right) or GRANT USAGE ON SCHEMA, neither of which helps.
    const w = warehouse('no-db', { database: undefined, schema: undefined });
    await assert.rejects(w.query('select 1', queryOptions({ schema: 'PUBLIC' })), (err: SnowmuxError) => {
      assert.match(err.message, /USE SCHEMA "PUBLIC"/);
      assert.match(err.message, /The session has no current database to find the schema in \(profile "no-db" sets no default database\): pass database too \(the call's database argument\), or qualify the names in the query/);
      assert.doesNotMatch(err.message, /GRANT USAGE ON SCHEMA|fix the call's schema argument/);
      return true;
    });
    const fine = await w.query('select 1', queryOptions({ database: 'ANALYTICS', schema: 'PUBLIC' }));
    assert.equal(fine.rowCount, 1);
  });

  it('every statement — including USE and metadata — carries the QUERY_TAG and MULTI_STATEMENT_COUNT = 1', async () => {
    const w = warehouse('tags');
    const from = double.queries.length;
    await w.query('select 1', queryOptions({ tag: { sessionId: 's-42', requestId: 'r-7', client: 'cursor 1.2', tool: 'execute_query' }, database: 'ANALYTICS' }));
    await w.listDatabases(callContext({ tag: { sessionId: 's-43', requestId: 'r-8', client: 'claude-code', tool: 'list_databases' } }));
    await w.describeObject({ database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1', name: 'CUSTOMER' }, 'table', callContext());
    const sent = double.queries.slice(from);
    assert.ok(sent.length >= 4, `${sent.length} statements`); // USE + SELECT + SHOW (+ USE back) + DESCRIBE
    for (const q of sent) {
      const tag = parseQueryTag(q.queryTag);
      assert.ok(tag, `statement without a snowmux tag: ${q.sql} → ${q.queryTag}`);
      assert.equal(q.parameters['MULTI_STATEMENT_COUNT'], 1);
    }
    const select = sent.find((q) => q.sql === 'select 1')!;
    assert.deepEqual(parseQueryTag(select.queryTag), { s: 's-42', c: 'cursor 1.2', r: 'r-7', t: 'execute_query' });
    assert.ok(sent.some((q) => q.sql.startsWith('USE SCHEMA') || q.sql.startsWith('USE DATABASE')));
    assert.equal(parseQueryTag(sent.find((q) => q.sql === 'SHOW DATABASES')!.queryTag)?.t, 'list_databases');
  });

  it('the server refuses multi-statement text too (MULTI_STATEMENT_COUNT = 1)', async () => {
    const w = warehouse('multi');
    await assert.rejects(w.query('select 1; select 2', queryOptions()), (err: SnowmuxError) => {
      assert.equal(err.code, 'SQL_MULTI_STATEMENT');
      assert.match(err.message, /000008|statement count/);
      assert.equal(err.details?.['infrastructure'], false);
      return true;
    });
    assert.deepEqual((await w.query('select 3;', queryOptions())).rows, [[3]]);
  });
});
