/**
 * Results and metadata through the Snowflake backend: JSON-safe cells with Snowflake's types, row and
 * byte caps with the reason, paging a finished result by query id without re-running it, and the
 * metadata calls built on SHOW/DESCRIBE with every identifier quoted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SnowmuxError } from '../../src/errors.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { callContext, doubleProfile, queryOptions, waitForEvent } from '../doubles/snowflake/fixtures.js';
import { truncationNotice } from '../../src/hub/tools/result-format.js';
import { queryResult } from '../../src/hub/tools/query-shape.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';

let double: SnowflakeDouble;
let w: SnowflakeWarehouse;

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }] });
  w = new SnowflakeWarehouse(doubleProfile(double, { pool: { max: 2 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
});

after(async () => {
  await w.close();
  await double.close();
});

describe('Snowflake results', () => {
  it('converts every Snowflake type to JSON-safe values with exact numbers', async () => {
    const result = await w.query('select * from analytics.public.events order by id', queryOptions());
    assert.deepEqual(
      result.columns.map((c) => [c.name, c.type]),
      [
        ['ID', 'NUMBER(38,0)'],
        ['KIND', 'VARCHAR'],
        ['OCCURRED_AT', 'TIMESTAMP_NTZ'],
        ['AT_TIME', 'TIME'],
        ['ON_DAY', 'DATE'],
        ['IS_TEST', 'BOOLEAN'],
        ['AMOUNT', 'NUMBER(18,4)'],
        ['RATIO', 'FLOAT'],
        ['PAYLOAD', 'OBJECT'],
        ['TAGS', 'ARRAY'],
        ['RAW', 'BINARY'],
        ['BIG', 'NUMBER(38,0)'],
      ],
    );
    assert.deepEqual(result.rows, [
      [1, 'click', '2024-01-02T03:04:05.123456', '01:02:03.5', '2024-01-02', false, '12.5000', 0.25, { k: 'a', n: 1 }, ['x', 'y'], 'DEAD', '12345678901234567890'],
      [2, 'view', '1969-12-31T23:59:59.500000', '23:59:59', '1969-12-31', true, '-0.0001', 0.001, null, [], null, -1],
    ]);
    assert.equal(result.rowCount, 2);
    assert.equal(result.truncated, false);
    assert.equal(result.statementType, 'SELECT');
    assert.match(result.queryId ?? '', /^[0-9a-f-]{36}$/);
  });

  it('gives a NULL of every type as null, and the text NULL as text', async () => {
    // The driver hands NULL over as the text "NULL" for cells it gives as text: NUMBER and FLOAT (fetched as
    // string) and TIME (always text); that text must not become "NaN" or the string "NULL".
    const result = await w.query(
      "select cast(null as double) as f, cast(null as time) as t, cast(null as decimal(18,4)) as n, cast(null as bigint) as i, cast(null as date) as d, " +
        "cast(null as timestamp) as ts, cast(null as boolean) as b, cast(null as blob) as bin, cast(null as varchar) as v, 'NULL' as s",
      queryOptions(),
    );
    assert.deepEqual(result.columns.map((c) => c.type), ['FLOAT', 'TIME', 'NUMBER(18,4)', 'NUMBER(38,0)', 'DATE', 'TIMESTAMP_NTZ', 'BOOLEAN', 'BINARY', 'VARCHAR', 'VARCHAR']);
    assert.deepEqual(result.rows, [[null, null, null, null, null, null, null, null, null, 'NULL']]);
  });

  it('gives TIME(n) with its fractional seconds for every scale 0-9, whatever TIME_OUTPUT_FORMAT prints, and FLOAT -0 as -0', async () => {
    // The session's TIME_OUTPUT_FORMAT is Snowflake's default HH24:MI:SS, which has no fraction: the cell
    // must come from the value the driver decoded, not from the text it formats.
    const value = '12:34:56.123456789';
    const select = Array.from({ length: 10 }, (_, n) => `'${value}'::TIME(${n}) AS T${n}`).join(', ');
    const result = await w.query(`select ${select}, CAST('12:34:56.789' AS TIME(3)) AS C3, CAST(NULL AS TIME(3)) AS N3, '00:00:01'::TIME(9) AS WHOLE, ` +
      `cast('-0' as double) as neg_zero, cast('0' as double) as zero`, queryOptions());
    assert.deepEqual(result.rows, [[
      '12:34:56', '12:34:56.1', '12:34:56.12', '12:34:56.123', '12:34:56.1234', '12:34:56.12345', '12:34:56.123456', '12:34:56.1234567',
      '12:34:56.12345678', '12:34:56.123456789', '12:34:56.789', null, '00:00:01', '-0', 0,
    ]]);
    // Paging the same result by its query id reads it the same way.
    const page = await w.fetchResults(result.queryId!, { offset: 0, limit: 1 }, callContext());
    assert.deepEqual(page.rows[0]!.slice(0, 4), ['12:34:56', '12:34:56.1', '12:34:56.12', '12:34:56.123']);
  });

  it('a query id Snowflake keeps no result or statistics for is RESULT_NOT_FOUND, as on the embedded warehouse, never a name to check', async () => {
    const unknown = '01b2c3d4-0000-1111-2222-333344445555';
    await assert.rejects(w.fetchResults(unknown, { offset: 0, limit: 5 }, callContext()), (err: SnowmuxError) => {
      assert.equal(err.code, 'RESULT_NOT_FOUND', err.message);
      assert.match(err.message, /No finished result for query id 01b2c3d4-0000-1111-2222-333344445555.*run the query again/s);
      return true;
    });
    await assert.rejects(w.queryProfile!(unknown, callContext()), (err: SnowmuxError) => {
      assert.equal(err.code, 'RESULT_NOT_FOUND', err.message);
      assert.match(err.message, /^Snowflake has no operator statistics for query id 01b2c3d4-0000-1111-2222-333344445555: it is unknown/);
      assert.match(err.message, /Pass a query id from execute_query or query_history, or run the query again\.$/);
      assert.doesNotMatch(err.message, /quoted names are case-sensitive/);
      return true;
    });
  });

  it('status of a browser-SSO profile with several connections says how to keep to one browser window', async () => {
    const sso = new SnowflakeWarehouse(doubleProfile(double, { name: 'sso', auth: { method: 'externalbrowser' }, pool: { max: 3 } }));
    const one = new SnowflakeWarehouse(doubleProfile(double, { name: 'sso-one', auth: { method: 'externalbrowser' }, pool: { max: 1 } }));
    try {
      assert.match(String(sso.info().detail['signInNote']), /may open up to 3 connections.*ALLOW_ID_TOKEN = TRUE.*set pool\.max to 1/);
      assert.equal(one.info().detail['signInNote'], undefined);
      assert.equal(w.info().detail['signInNote'], undefined);
    } finally {
      await Promise.all([sso.close(), one.close()]);
    }
  });

  it('gives TIMESTAMP_TZ as stored, with its own UTC offset, for every scale; TIMESTAMP_LTZ as the instant in UTC', async () => {
    const result = await w.query(
      "select '2024-06-01 12:00:00.123456789 +05:30'::TIMESTAMP_TZ AS A, '1969-12-31 23:59:58.5 -08:00'::TIMESTAMP_TZ(3) AS B, " +
        "CAST('2024-01-01 00:00:00' AS TIMESTAMP_TZ(0)) AS C, '0001-01-01 00:00:00 -09:30'::TIMESTAMP_TZ AS OLD, " +
        "'9999-12-31 23:59:59.999999999 +14:00'::TIMESTAMP_TZ AS FUTURE, CAST(NULL AS TIMESTAMP_TZ) AS N, '2024-06-01 12:00:00+05:30'::timestamptz AS LTZ",
      queryOptions(),
    );
    assert.deepEqual(result.columns.map((c) => c.type), ['TIMESTAMP_TZ', 'TIMESTAMP_TZ', 'TIMESTAMP_TZ', 'TIMESTAMP_TZ', 'TIMESTAMP_TZ', 'TIMESTAMP_TZ', 'TIMESTAMP_LTZ']);
    assert.deepEqual(result.rows, [[
      '2024-06-01T12:00:00.123456789+05:30', '1969-12-31T23:59:58.500000-08:00', '2024-01-01T00:00:00+00:00', '0001-01-01T00:00:00-09:30',
      '9999-12-31T23:59:59.999999999+14:00', null, '2024-06-01T06:30:00Z',
    ]]);
  });

  it('keeps integers beyond 2^53 inside VARIANT documents exact, as NUMBER columns do', async () => {
    const result = await w.query(
      `select '{"id": 1234567890123456789, "f": 1.5, "xs": [9007199254740993, 7]}'::json as v, '12345678901234567890'::json as bare, ` +
        `cast(1234567890123456789 as bigint) as n`,
      queryOptions(),
    );
    assert.deepEqual(result.columns.map((c) => c.type), ['VARIANT', 'VARIANT', 'NUMBER(38,0)']);
    assert.deepEqual(result.rows, [[{ id: '1234567890123456789', f: 1.5, xs: ['9007199254740993', 7] }, '12345678901234567890', '1234567890123456789']]);
  });

  it('gives a MAP as an OBJECT (a JSON object, at any depth), as the embedded warehouse does', async () => {
    const result = await w.query("select map {'k': 1, 'n': null} as m, map {1: 'x'} as mi, [map {'a': [1, 2]}] as lm, {'s': map {'z': {'q': 1}}} as sm", queryOptions());
    assert.deepEqual(result.columns.map((c) => c.type), ['OBJECT', 'OBJECT', 'ARRAY', 'OBJECT']);
    assert.deepEqual(result.rows, [[{ k: 1, n: null }, { 1: 'x' }, [{ a: [1, 2] }], { s: { z: { q: 1 } } }]]);
  });

  it('binds positional values', async () => {
    const result = await w.query('select c_name from customer where c_custkey = ? and c_mktsegment = ?', queryOptions({ binds: [7, 'FURNITURE'] }));
    assert.deepEqual(result.rows, [['Customer#000000007']]);
  });

  it('caps rows and says so; pages on by query id without running the statement again', async () => {
    const first = await w.query('select c_custkey from customer order by c_custkey', queryOptions({ maxRows: 10 }));
    assert.equal(first.rowCount, 10);
    assert.equal(first.truncated, true);
    assert.equal(first.truncatedBy, 'rows');
    const queries = double.counters.queries;
    const page = await w.fetchResults(first.queryId!, { offset: 10, limit: 5 }, callContext());
    assert.deepEqual(page.rows, [[11], [12], [13], [14], [15]]);
    assert.equal(page.truncated, true);
    assert.equal(page.queryId, first.queryId);
    const last = await w.fetchResults(first.queryId!, { offset: 1495, limit: 100 }, callContext());
    assert.deepEqual(last.rows, [[1496], [1497], [1498], [1499], [1500]]);
    assert.equal(last.truncated, false);
    assert.equal(double.counters.queries, queries, 'paging must not run a statement');
  });

  it('says how many rows a result has: "of N" in the notice, a page past the end says so, a lone oversized row offers no rows after it', async () => {
    const limits = { ...DEFAULT_LIMITS, maxResultBytes: 1000 };
    const text = (r: Awaited<ReturnType<typeof w.query>>, offset = 0): string =>
      queryResult(r, limits, { cap: 100, asked: undefined, most: 1000 }, offset, { toolAllowed: () => true }).content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    const first = await w.query('select c_custkey from customer order by c_custkey', queryOptions({ maxRows: 10 }));
    assert.equal(first.totalRows, 1500);
    assert.match(text(first), /Showing rows 1–10 of 1500;/);
    const past = await w.fetchResults(first.queryId!, { offset: 1500, limit: 5 }, callContext());
    assert.equal(past.totalRows, 1500);
    assert.match(text(past, 1500), /offset 1500 is past the end of the result, which has 1500 rows/);
    const lone = await w.query("select repeat('x', 5000) as wide", queryOptions({ maxRows: 10, maxBytes: 1000 }));
    assert.equal(lone.rowCount, 0);
    assert.equal(lone.truncatedBy, 'bytes');
    assert.match(text(lone), /row 1 alone is larger than the 1000-byte cap/);
    assert.doesNotMatch(text(lone), /rows after it/, 'the result has no second row to page to');
  });

  it('caps bytes and says so', async () => {
    const result = await w.query('select * from customer', queryOptions({ maxRows: 1000, maxBytes: 600 }));
    assert.ok(result.rowCount > 0 && result.rowCount < 20, `${result.rowCount} rows`);
    assert.equal(result.truncated, true);
    assert.equal(result.truncatedBy, 'bytes');
    assert.ok(JSON.stringify(result.rows).length <= 600);
    const page = await w.fetchResults(result.queryId!, { offset: result.rowCount, limit: 1000, maxBytes: 600 }, callContext());
    assert.equal(page.truncatedBy, 'bytes');
    assert.equal(page.rows[0]?.[0], result.rowCount + 1);
  });

  it('reads a large result across the chunks Snowflake hands out from cloud storage, in one call and by paging', async () => {
    const downloads = double.counters.chunkDownloads;
    const all = await w.query('select range as i from range(2500)', queryOptions({ maxRows: 2500 }));
    assert.equal(all.rowCount, 2500);
    assert.deepEqual([all.rows[999], all.rows[1000], all.rows[2499]], [[999], [1000], [2499]]);
    assert.equal(all.truncated, false);
    assert.ok(double.counters.chunkDownloads >= downloads + 2, 'rows past the first 1000 came from chunk downloads');
    const page = await w.fetchResults(all.queryId!, { offset: 2200, limit: 3 }, callContext());
    assert.deepEqual(page.rows, [[2200], [2201], [2202]]);
  });

  it('a chunk the storage refuses is a download failure with the query id and the offset to resume at, not a driver TypeError', async () => {
    const first = await w.query('select range as i from range(2500)', queryOptions({ maxRows: 10 }));
    // A proxy asking for authentication (407) is answered at once: not one of the statuses the driver retries.
    double.inject({ kind: 'httpStatus', endpoint: 'chunk', status: 407 });
    try {
      for (const read of [
        () => w.query('select range as i from range(2500)', queryOptions({ maxRows: 2500 })),
        () => w.fetchResults(first.queryId!, { offset: 1500, limit: 5 }, callContext()),
      ]) {
        await assert.rejects(read(), (err: SnowmuxError) => {
          assert.equal(err.code, 'RESULT_DOWNLOAD_FAILED', err.message);
          assert.match(err.message, /could not be downloaded/);
          assert.match(err.message, /HTTP 407/);
          assert.match(err.message, /SYSTEM\$ALLOWLIST\(\)/);
          assert.match(err.message, /fetch_results\(query_id="[0-9a-f-]{36}", offset=(1000|1500)\)/);
          // Snowflake answered: no outage for the breaker, and the statement is not run again by a retry.
          assert.equal(err.details?.['infrastructure'], false);
          return true;
        });
      }
    } finally {
      double.clearFaults();
    }
    const page = await w.fetchResults(first.queryId!, { offset: 1500, limit: 2 }, callContext());
    assert.deepEqual(page.rows, [[1500], [1501]], 'once the storage answers, the same result pages on');
  });

  it('a read stopped by the call timeout while a later part downloads says time cut it, not the row cap, and pages on by id', async () => {
    const quick = new SnowflakeWarehouse(doubleProfile(double, { name: 'deadline-read', pool: { max: 1 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 }, cancelGraceMs: 100 });
    try {
      // The first part of the result comes with the answer; the storage never answers for the next.
      double.inject({ kind: 'hang', endpoint: 'chunk' });
      const chunkAsked = waitForEvent(double.events, 'request', (endpoint: string) => endpoint === 'chunk', 30_000);
      const reading = quick.query('select range as i from range(2500)', queryOptions({ maxRows: 2500, timeoutMs: 1_000 }));
      await chunkAsked;
      const result = await reading;
      assert.equal(result.truncated, true);
      assert.equal(result.truncatedBy, 'time');
      assert.ok(result.rowCount > 0 && result.rowCount < 2500, `${result.rowCount} rows`);
      const notice = truncationNotice(result, { maxRows: 2500, maxBytes: 1_000_000, canPage: true, canRaise: false }) ?? '';
      assert.match(notice, /stopped when the call was cancelled or reached its time limit/);
      assert.doesNotMatch(notice, /beyond the 2500-row cap/);
      assert.ok(notice.includes(`fetch_results(query_id="${result.queryId}", offset=${result.rowCount})`), notice);
      double.clearFaults();
      const page = await quick.fetchResults(result.queryId!, { offset: result.rowCount, limit: 2 }, callContext());
      assert.deepEqual(page.rows, [[result.rowCount], [result.rowCount + 1]], 'the rest is read by its id');
    } finally {
      double.clearFaults();
      await quick.close();
    }
  });

  it('rejects an unknown or malformed query id clearly', async () => {
    await assert.rejects(w.fetchResults('not-a-query-id', { offset: 0, limit: 5 }, callContext()), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(w.fetchResults('01b2c3d4-0000-4000-8000-000000000000', { offset: 0, limit: 5 }, callContext()), (err: SnowmuxError) => {
      assert.equal(err.code, 'RESULT_NOT_FOUND', 'the code the embedded warehouse gives an id it keeps nothing for');
      assert.equal(err.details?.['infrastructure'], false);
      return true;
    });
  });

  it('lists databases, schemas, tables and views with Snowflake commands', async () => {
    const ctx = callContext();
    assert.deepEqual((await w.listDatabases(ctx)).map((d) => d.name), ['ANALYTICS', 'SNOWFLAKE_SAMPLE_DATA']);
    assert.deepEqual((await w.listSchemas('SNOWFLAKE_SAMPLE_DATA', ctx)).map((s) => s.name), ['PUBLIC', 'TPCH_SF1', 'WEATHER']);
    const tables = await w.listObjects('SNOWFLAKE_SAMPLE_DATA', 'TPCH_SF1', 'table', ctx);
    assert.deepEqual(tables.map((t) => t.name), ['CUSTOMER', 'NATION', 'ORDERS', 'REGION']);
    assert.deepEqual(tables[0], { database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1', name: 'CUSTOMER', kind: 'table', comment: 'TPC-H customers', rowCount: 1500 });
    const views = await w.listObjects('SNOWFLAKE_SAMPLE_DATA', 'TPCH_SF1', 'view', ctx);
    assert.deepEqual(views.map((v) => [v.name, v.kind]), [['CUSTOMER_BY_NATION', 'view']]);
    const sent = double.queries.slice(-4).map((q) => q.sql);
    assert.deepEqual(sent, [
      'SHOW DATABASES',
      'SHOW SCHEMAS IN DATABASE "SNOWFLAKE_SAMPLE_DATA"',
      'SHOW TABLES IN SCHEMA "SNOWFLAKE_SAMPLE_DATA"."TPCH_SF1"',
      'SHOW VIEWS IN SCHEMA "SNOWFLAKE_SAMPLE_DATA"."TPCH_SF1"',
    ]);
  });

  it('describes tables and views, quoting mixed-case and hostile names', async () => {
    const ctx = callContext();
    const columns = await w.describeObject({ database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1', name: 'CUSTOMER' }, 'table', ctx);
    assert.deepEqual(columns.find((c) => c.name === 'C_ACCTBAL'), { name: 'C_ACCTBAL', type: 'NUMBER(12,2)', nullable: false, default: null, comment: 'Account balance' });
    const odd = await w.describeObject({ database: 'ANALYTICS', schema: 'Odd Schema', name: 'Mixed Case' }, 'table', ctx);
    assert.deepEqual(odd.map((c) => [c.name, c.nullable]), [['Col A', true], ['b', true]]);
    assert.equal(double.queries.at(-1)?.sql, 'DESCRIBE TABLE "ANALYTICS"."Odd Schema"."Mixed Case"');
    const view = await w.describeObject({ database: 'ANALYTICS', schema: 'PUBLIC', name: 'CLICKS' }, 'view', ctx);
    assert.deepEqual(view.map((c) => c.name), ['ID', 'OCCURRED_AT']);
    // A name that tries to break out of its quotes stays one (missing) identifier.
    await assert.rejects(w.describeObject({ database: 'ANALYTICS', schema: 'PUBLIC', name: 'x"; DROP TABLE EVENTS; --' }, 'table', ctx), (err: SnowmuxError) => {
      assert.equal(err.code, 'OBJECT_NOT_FOUND');
      return true;
    });
    assert.equal(double.queries.at(-1)?.sql, 'DESCRIBE TABLE "ANALYTICS"."PUBLIC"."x""; DROP TABLE EVENTS; --"');
    assert.deepEqual((await w.query('select count(*) from analytics.public.events', queryOptions())).rows, [[2]]);
  });

  it('maps missing objects to OBJECT_NOT_FOUND with the Snowflake code and query id', async () => {
    await assert.rejects(w.listObjects('ANALYTICS', 'NO_SUCH_SCHEMA', 'table', callContext()), (err: SnowmuxError) => {
      assert.equal(err.code, 'OBJECT_NOT_FOUND');
      assert.equal(err.details?.['snowflakeCode'], '002003');
      assert.match(err.message, /ANALYTICS\.NO_SUCH_SCHEMA/);
      assert.match(String(err.details?.['queryId']), /^[0-9a-f-]{36}$/);
      return true;
    });
    await assert.rejects(w.query('select * from no_such_table', queryOptions()), { code: 'OBJECT_NOT_FOUND' });
  });
});
