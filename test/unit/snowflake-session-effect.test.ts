/**
 * Snowflake's session-effect rule over a corpus, read the way the hub reads a call (the one reading in
 * the Snowflake dialect): a statement text that carries more than one statement — `->>` chains, an
 * anonymous procedure, a procedure behind TABLE(…) — is judged by everything it runs, not by its first
 * words. The metadata cache's catalog-change rule reads the same parts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSql, readSql } from '../../src/hub/guard/sql/classifier.js';
import { changesCatalog } from '../../src/hub/pipeline/stages/metadata-cache.js';
import { sessionEffect, statementEffect, type SessionEffect } from '../../src/hub/warehouse/snowflake/session-context.js';

/**
 * The effect the backend applies for a call: the statement sql-policy let through, from its reading. A
 * change of session state that ends a call is refused (see the last test), but the same statement runs
 * when a later one of its call uses it: its effect is judged alike.
 */
function callEffect(sql: string): SessionEffect {
  const verdict = checkSql(sql, { allowWrite: true, dialect: 'snowflake' });
  assert.ok(verdict.allowed || verdict.rule === 'session-state', `a writer may send: ${sql}`);
  const statement = readSql(sql, 'snowflake').statements[0];
  assert.ok(statement);
  return statementEffect(statement);
}

const DIRTY_CHAINS = [
  "SELECT 1 ->> ALTER SESSION SET TIMEZONE = 'UTC'",
  "select 1 ->> alter session set query_tag = 'x'",
  'SELECT 1 ->> USE SECONDARY ROLES ALL',
  'SELECT 1 ->> CREATE TEMPORARY TABLE ORDERS AS SELECT 0 AS O_ORDERKEY',
  'SHOW TABLES ->> SET x = 1',
  'SHOW TABLES ->> UNSET x',
  'SELECT 1 ->> USE ROLE ACCOUNTADMIN',
  'SELECT 1 ->> CALL proc()',
  'SELECT 1 ->> INSERT INTO t VALUES (1) ->> ALTER SESSION SET TIMEZONE = \'UTC\'',
  'SELECT 1 ->> SELECT * FROM $1 ->> CREATE OR REPLACE TEMP TABLE t AS SELECT 1 AS a',
  "EXPLAIN SELECT 1 ->> ALTER SESSION SET TIMEZONE = 'UTC'",
  "(SELECT 1 ->> ALTER SESSION SET TIMEZONE = 'UTC')",
  "SELECT 1 ->> EXECUTE IMMEDIATE 'ALTER SESSION SET TIMEZONE = ''UTC'''",
  // Neutral parts chained are still dirty: the chain is judged as a whole.
  'SELECT 1 ->> INSERT INTO t SELECT * FROM $1',
];

/** Other single statements that run more than their first words say. */
const DIRTY_OTHERS = [
  "WITH p AS PROCEDURE () RETURNS INT LANGUAGE SQL AS $$ BEGIN ALTER SESSION SET TIMEZONE = 'UTC'; RETURN 1; END $$ CALL p()",
  'WITH a AS (SELECT 1), p AS PROCEDURE () RETURNS INT LANGUAGE SQL AS $$ BEGIN RETURN 1; END $$ CALL p()',
  'SELECT * FROM TABLE(my_db.my_schema.my_proc())',
];

test('a writer\'s ->> chain, or a text that runs another statement, is dirty whatever its first part is', () => {
  for (const sql of [...DIRTY_CHAINS, ...DIRTY_OTHERS]) {
    assert.equal(callEffect(sql), 'dirty', sql);
    // The backend's own reading of text it was given without one agrees.
    assert.equal(sessionEffect(sql), 'dirty', sql);
  }
});

test('the same statements alone keep their effect; reads and plain writes stay reusable', () => {
  const cases: Array<[string, SessionEffect]> = [
    ["ALTER SESSION SET TIMEZONE = 'UTC'", 'dirty'],
    ['USE SECONDARY ROLES ALL', 'dirty'],
    ['CREATE TEMPORARY TABLE t (a INT)', 'dirty'],
    ['SET x = 1', 'dirty'],
    ['USE SCHEMA s', 'context'],
    ['INSERT INTO t VALUES (1)', 'none'],
    ['CREATE TABLE t (a INT)', 'none'],
    ['WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM x', 'none'],
    ['SELECT 1', 'none'],
    // A chain of pure reads is read-only: each part was judged a read.
    ['SHOW TABLES ->> SELECT * FROM $1', 'none'],
    ["SELECT '->>' AS arrow, parse_json('{}'):a", 'none'],
  ];
  for (const [sql, effect] of cases) assert.equal(callEffect(sql), effect, sql);
});

test('a read-only role cannot send a ->> chain with a part that is not a read', () => {
  for (const sql of DIRTY_CHAINS) {
    const verdict = checkSql(sql, { allowWrite: false, dialect: 'snowflake' });
    assert.equal(verdict.allowed, false, sql);
  }
  assert.equal(checkSql('SHOW TABLES ->> SELECT * FROM $1', { allowWrite: false, dialect: 'snowflake' }).allowed, true);
});

test('DDL in any part of a chain, or behind a procedure, empties the metadata cache', () => {
  for (const sql of [
    'SELECT 1 ->> CREATE TABLE t (a INT)',
    'SELECT 1 ->> INSERT INTO t VALUES (1) ->> DROP TABLE x',
    'SELECT 1 ->> UPDATE t SET a = 1 ->> ALTER TABLE t RENAME TO u',
    'SELECT * FROM TABLE(my_db.my_schema.my_proc())',
    'DROP TABLE x',
  ]) {
    assert.equal(changesCatalog(readSql(sql, 'snowflake')), true, sql);
  }
  for (const sql of ['SELECT 1', 'SHOW TABLES ->> SELECT * FROM $1', 'INSERT INTO t VALUES (1)']) {
    assert.equal(changesCatalog(readSql(sql, 'snowflake')), false, sql);
  }
  // In DuckDB `->>` is JSON extraction, not a chain.
  assert.equal(changesCatalog(readSql("SELECT '{\"a\":1}'::JSON ->> 'a'", 'duckdb')), false);
});

test("a writer's USE, SET, UNSET or ALTER SESSION that ends its call is refused: it would be undone before the next call", () => {
  const writer = { allowWrite: true, allowMultiStatement: true, dialect: 'snowflake' as const };
  for (const sql of ['USE SCHEMA SNOWFLAKE_SAMPLE_DATA.PUBLIC', 'use role sysadmin', 'USE WAREHOUSE dev_wh', 'SET x = 1', 'UNSET x', "ALTER SESSION SET TIMEZONE = 'UTC'", "alter session set query_tag = 'x'", 'SELECT 1 ->> USE ROLE ACCOUNTADMIN', "SELECT 1 ->> ALTER SESSION SET TIMEZONE = 'UTC'", 'SELECT 1; USE SCHEMA s']) {
    const verdict = checkSql(sql, writer);
    assert.equal(verdict.allowed, false, sql);
    assert.equal(verdict.rule, 'session-state', sql);
    assert.match(verdict.message, /that change would end with this call.*Qualify names instead/, sql);
  }
  // Used by a later statement of the same call, or not a session change at all: allowed.
  for (const sql of ['USE SCHEMA s; SELECT * FROM region', 'SET x = 1; SELECT $x', "ALTER TABLE t SET COMMENT = 'c'", 'ALTER SESSION_POLICY p SET COMMENT = \'c\'']) {
    assert.equal(checkSql(sql, writer).allowed, true, sql);
  }
});
