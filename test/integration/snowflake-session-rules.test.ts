/**
 * The Snowflake backend's pure rules: which statements may change session state, which USE statements
 * move a connection to a call's context, the QUERY_TAG format, NUMBER text → JSON, and error mapping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_POOL } from '../../src/hub/config/config-schema.js';
import type { SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import { parseQueryTag, queryTagText } from '../../src/hub/warehouse/snowflake/query-tag.js';
import { fixedToJson } from '../../src/hub/warehouse/snowflake/result-values.js';
import { baselineContext, contextStatements, desiredContext, sessionEffect, TrackedContext } from '../../src/hub/warehouse/snowflake/session-context.js';
import { isSessionLost, toSnowmuxError } from '../../src/hub/warehouse/snowflake/snowflake-errors.js';

const profile: SnowflakeProfile = {
  name: 'dev',
  account: 'acct',
  user: 'alice',
  auth: { method: 'password', password: 'hunter2-secret' },
  role: 'analyst',
  warehouse: 'COMPUTE_WH',
  database: 'sales',
  schema: 'public',
  pool: DEFAULT_POOL,
  statementTimeoutMs: 60_000,
  sources: { password: 'env SNOWFLAKE_PASSWORD', user: 'flag --user' },
};

describe('sessionEffect', () => {
  it('reads and writes leave the session alone', () => {
    for (const sql of ['select 1', '  -- note\n/* c */ (SELECT 1)', 'with x as (select 1) select * from x', 'show tables', 'describe table t', 'insert into t values (1)', 'create table t (a int)', 'alter table t add column b int', 'drop table t']) {
      assert.equal(sessionEffect(sql), 'none', sql);
    }
  });
  it('USE is tracked context', () => {
    assert.equal(sessionEffect('use schema x'), 'context');
    assert.equal(sessionEffect('/* hi */ USE ROLE r'), 'context');
  });
  it('anything that may change other session state is dirty', () => {
    for (const sql of ["alter session set timezone = 'UTC'", 'set x = 1', 'unset x', 'begin', 'start transaction', 'call proc()', 'execute immediate $$select 1$$', 'create temporary table t (a int)', 'create or replace temp table t as select 1', 'declare c cursor for select 1', 'use secondary roles all', 'USE SECONDARY ROLES NONE', 'something new']) {
      assert.equal(sessionEffect(sql), 'dirty', sql);
    }
  });
});

describe('context statements', () => {
  const baseline = baselineContext(profile);
  it('normalizes the profile the way Snowflake resolves names', () => {
    assert.deepEqual(baseline, { role: 'ANALYST', warehouse: 'COMPUTE_WH', database: 'SALES', schema: 'PUBLIC' });
  });
  it('sends nothing when the connection already has the context', () => {
    assert.deepEqual(contextStatements(new TrackedContext(baseline), desiredContext(baseline, {})), []);
  });
  it('role first, then warehouse, then database+schema in one USE SCHEMA; names quoted', () => {
    const tracked = new TrackedContext(baseline);
    // Role and warehouse come from config text (normalized here); database and schema arrive resolved.
    const desired = desiredContext(baseline, { role: 'Loader', warehouse: '"wh x"', database: 'OTHER', schema: 'Odd "S"' });
    assert.deepEqual(
      contextStatements(tracked, desired).map((s) => s.sql),
      ['USE ROLE "LOADER"', 'USE WAREHOUSE "wh x"', 'USE SCHEMA "OTHER"."Odd ""S"""'],
    );
  });
  it("another database without a schema does not borrow the profile's schema", () => {
    const desired = desiredContext(baseline, { database: 'OTHER' });
    assert.equal(desired.schema, null);
    assert.deepEqual(contextStatements(new TrackedContext(baseline), desired).map((s) => s.sql), ['USE DATABASE "OTHER"']);
  });
  it('another database without a schema is where USE DATABASE lands, also on a connection an earlier call left in a schema of that database', () => {
    const desired = desiredContext(baseline, { database: 'OTHER' });
    const tracked = new TrackedContext(baseline);
    tracked.set('database', 'OTHER');
    tracked.set('schema', 'SECRET');
    assert.deepEqual(contextStatements(tracked, desired, baseline).map((s) => s.sql), ['USE DATABASE "OTHER"']);
    // Already where USE DATABASE lands: nothing to send.
    tracked.set('schema', 'PUBLIC');
    assert.deepEqual(contextStatements(tracked, desired, baseline), []);
    tracked.set('schema', null);
    assert.deepEqual(contextStatements(tracked, desired, baseline), []);
  });
  it('a field without a profile default is restorable only while it still holds the login value', () => {
    const open = baselineContext({ ...profile, role: undefined });
    const tracked = new TrackedContext(open);
    tracked.observe({ role: 'ANALYST' });
    assert.equal(tracked.restorable(open), true);
    tracked.set('role', 'PUBLIC');
    assert.equal(tracked.restorable(open), false);
    const withDefault = new TrackedContext(baseline);
    withDefault.set('database', 'OTHER');
    assert.equal(withDefault.restorable(baseline), true);
  });
});

describe('QUERY_TAG', () => {
  it('names snowmux, session, client, request and tool, and parses back', () => {
    const text = queryTagText({ sessionId: 's1', client: 'cursor "1.2"', requestId: '42', tool: 'execute_query' });
    assert.equal(text, 'snowmux:{"s":"s1","c":"cursor \\"1.2\\"","r":"42","t":"execute_query"}');
    assert.deepEqual(parseQueryTag(text), { s: 's1', c: 'cursor "1.2"', r: '42', t: 'execute_query' });
  });
  it('stays within Snowflake\'s 2000-character limit', () => {
    const long = 'x'.repeat(5000);
    assert.ok(queryTagText({ sessionId: long, client: long, requestId: long, tool: long }).length <= 2000);
    // Characters JSON escapes (a quote: 2, a control character: 6) count as written.
    const escaped = '\u0001"'.repeat(300);
    const hostile = queryTagText({ sessionId: escaped, client: escaped, requestId: escaped, tool: escaped, traceId: escaped });
    assert.ok(hostile.length <= 2000, `${hostile.length} characters`);
    assert.equal(parseQueryTag(hostile)?.c.slice(0, 4), '\u0001"\u0001"');
    assert.equal(parseQueryTag(queryTagText({ sessionId: 's', client: '😀'.repeat(300), requestId: 'r', tool: 't' }))?.c, '😀'.repeat(128), 'never half a character');
  });
});

describe('NUMBER text to JSON', () => {
  it('keeps integers exact and decimals at their scale', () => {
    assert.equal(fixedToJson('42', 0), 42);
    assert.equal(fixedToJson('-9007199254740993', 0), '-9007199254740993');
    assert.equal(fixedToJson('12.3', 2), '12.30');
    assert.equal(fixedToJson('-0.05', 2), '-0.05');
    assert.equal(fixedToJson('7', 3), '7.000');
  });
});

describe('driver error mapping', () => {
  it('tells user errors from infrastructure and keeps the Snowflake code', () => {
    const sql = toSnowmuxError({ name: 'OperationFailedError', code: '001003', sqlState: '42000', message: 'SQL compilation error:\nsyntax error', data: { queryId: 'q-1' } }, { profile, phase: 'statement' });
    assert.equal(sql.code, 'SQL_ERROR');
    assert.deepEqual(sql.details, { snowflakeCode: '001003', sqlState: '42000', queryId: 'q-1', profile: 'dev', infrastructure: false, notRun: true });
    assert.equal(toSnowmuxError({ code: 401001, message: 'Network error. Could not reach Snowflake.' }, { profile, phase: 'statement' }).code, 'WAREHOUSE_UNAVAILABLE');
    assert.equal(toSnowmuxError({ code: '000604', sqlState: '57014', message: 'SQL execution canceled' }, { profile, phase: 'statement' }).code, 'QUERY_CANCELLED');
    assert.equal(toSnowmuxError({ code: '002003', sqlState: '42S02', message: "Object 'X' does not exist" }, { profile, phase: 'statement' }).code, 'OBJECT_NOT_FOUND');
  });
  it('names the setting and its source on a refused login, never the secret', () => {
    const err = toSnowmuxError({ code: '390100', sqlState: '08004', message: 'Incorrect username or password was specified.' }, { profile, phase: 'login' });
    assert.equal(err.code, 'AUTH_FAILED');
    assert.match(err.message, /user \(set by flag --user\) and password \(set by env SNOWFLAKE_PASSWORD\)/);
    assert.ok(!err.message.includes('hunter2-secret'));
  });
  it('a statement without a warehouse names the profile setting that gives one, not a USE that lasts one call', () => {
    const err = toSnowmuxError(
      { name: 'OperationFailedError', code: '000606', sqlState: '57P03', message: "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.", data: { queryId: 'q-2' } },
      { profile, phase: 'statement' },
    );
    assert.equal(err.code, 'SQL_ERROR');
    assert.match(err.message, /warehouse of \[profiles\.dev\]|warehouse \(set by/);
    assert.match(err.message, /lasts that call only/);
    assert.equal(err.details?.['notRun'], true);
    assert.equal(err.details?.['infrastructure'], false);
  });
  it('recognises a lost session (retry once on a fresh connection)', () => {
    for (const code of ['390104', '390111', '390114', 407002]) assert.equal(isSessionLost({ code }), true, String(code));
    assert.equal(isSessionLost({ code: '002003' }), false);
  });
});
