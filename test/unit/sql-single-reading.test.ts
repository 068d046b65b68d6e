/**
 * A governed call reads its SQL once (guard/sql/sql-reading.ts) and every check reads that one reading:
 * the read-only verdict, the objects it names, the session effect on Snowflake. Differentially, on the
 * whole classifier corpus in both dialects, the one reading gives what the separate passes gave:
 * - the verdict of checkSqlReading equals checkSql's (which reads the text itself), for several policies;
 * - each statement's tokens equal the slice the object extraction used to cut from a second lexing
 *   (significant tokens between the statement's offsets);
 * - the objects found from the reading equal those found from the text;
 * - Snowflake's session effect from the reading's leading words equals the one scanned from the text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSql, checkSqlReading, readSql, type SqlPolicy } from '../../src/hub/guard/sql/classifier.js';
import { tokenize, type SqlDialect } from '../../src/hub/guard/sql/lexer.js';
import { analyzeSqlObjects, sqlObjectsOfReading } from '../../src/hub/policy/sql-objects.js';
import { sessionEffect, statementEffect } from '../../src/hub/warehouse/snowflake/session-context.js';
import { SQL_CORPUS } from '../fixtures/sql-corpus.js';

const DIALECTS: SqlDialect[] = ['snowflake', 'duckdb'];
const POLICIES: SqlPolicy[] = [{ allowWrite: false }, { allowWrite: true }, { allowWrite: false, allowMultiStatement: true, allowStageListing: true }];
const CONTEXT = { database: 'SNOWMUX_SAMPLE', schema: 'TPCH' };

// Statements the corpus lacks that matter to the session-effect and object checks.
const EXTRA = [
  'USE SCHEMA other.s',
  'use database "Odd"',
  'ALTER SESSION SET QUERY_TAG = \'x\'',
  'ALTER TABLE t ADD COLUMN c INT',
  'CREATE TEMPORARY TABLE t AS SELECT 1',
  'CREATE OR REPLACE TEMP VIEW v AS SELECT 1',
  'CREATE TABLE t (a INT)',
  '((SELECT 1))',
  '/* lead */ -- more\n SELECT * FROM hr.salaries',
  'BEGIN; SELECT 1; COMMIT',
  'SET x = 1',
  'CALL p()',
  'SELECT * FROM a JOIN (b JOIN c ON b.x = c.x) ON a.x = b.x; SELECT * FROM d',
];

const inputs = [...SQL_CORPUS.map((c) => c.sql), ...EXTRA];

test(`one reading gives the verdicts of separate passes (${inputs.length} inputs × 2 dialects)`, () => {
  assert.ok(inputs.length > 200);
  for (const sql of inputs) {
    for (const dialect of DIALECTS) {
      for (const policy of POLICIES) {
        const separate = checkSql(sql, { ...policy, dialect });
        const { verdict } = checkSqlReading(sql, { ...policy, dialect });
        assert.deepEqual(verdict, separate, `${dialect} ${JSON.stringify(policy)}: ${sql}`);
      }
    }
  }
});

test('each statement of the reading holds exactly the tokens a second lexing sliced by offsets', () => {
  let statements = 0;
  for (const sql of inputs) {
    for (const dialect of DIALECTS) {
      const reading = readSql(sql, dialect);
      const lexed = tokenize(sql, { dialect });
      assert.equal(Boolean(reading.error), Boolean(lexed.error), sql);
      if (lexed.error) continue;
      const significant = lexed.tokens.filter((t) => t.kind !== 'comment');
      for (const st of reading.statements) {
        const sliced = significant.filter((t) => t.start >= st.start && t.end <= st.end);
        assert.deepEqual(st.tokens, sliced, `${dialect}: ${sql}`);
        statements++;
      }
    }
  }
  assert.ok(statements > 400);
});

test('objects from the reading equal objects from the text', () => {
  for (const sql of inputs) {
    for (const dialect of DIALECTS) {
      assert.deepEqual(sqlObjectsOfReading(readSql(sql, dialect), CONTEXT), analyzeSqlObjects(sql, CONTEXT, { dialect }), `${dialect}: ${sql}`);
    }
  }
});

test("Snowflake's session effect from the call's reading equals the one the backend reads from the text alone", () => {
  const seen = new Set<string>();
  for (const sql of inputs) {
    const reading = readSql(sql, 'snowflake');
    for (const st of reading.statements) {
      const fromText = sessionEffect(st.text);
      assert.equal(statementEffect(st), fromText, st.text);
      seen.add(fromText);
    }
  }
  assert.deepEqual([...seen].sort(), ['context', 'dirty', 'none']);
});
