/**
 * Seeded, deterministic fuzzing of the SQL classifier: it must never throw, always return a
 * well-formed verdict, and never let a write through behind a read-only statement.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ALL_STATEMENT_TYPES, checkSql, classifySql, type SqlDialectChoice, type SqlPolicy, type SqlVerdict } from '../../src/hub/guard/sql/classifier.js';
import { SQL_CORPUS } from '../fixtures/sql-corpus.js';

/** mulberry32: small, fast, and the same sequence on every run. */
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

const KNOWN_TYPES = new Set<string>([...ALL_STATEMENT_TYPES, 'NONE']);
const REFUSAL_CODES = new Set(['SQL_REFUSED', 'SQL_EMPTY', 'SQL_MULTI_STATEMENT', 'SQL_UNPARSEABLE']);
const DIALECTS: SqlDialectChoice[] = ['any', 'snowflake', 'duckdb'];

/** Characters that matter to SQL lexers, weighted towards the troublesome ones. */
const ALPHABET = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ ,.=<>+*%|&!~^#`",
  ...`'"$;-/*\\@:?()[]{}`,
  ...`'"$;-/*\\@:?()`,
  '\t', '\n', '\r', '\f', '\v', '\u00a0', '\u2028', '\u2029', '\u200b', '\u2060', '\ufeff', '\u3000', '\u0085', '\u180e',
  '\u0000', '\u0001', '\u001b', '\u007f', '\ud800', '\udfff', '😀', 'é', 'ſ', 'Ｓ', '\u202e',
];
const FRAGMENTS = [
  'SELECT', 'select', 'WITH', 'AS', '(', ')', 'DELETE FROM t', 'INSERT INTO t VALUES (1)', ';', "'", "''", '"', '$$', '$a$',
  '--', '//', '/*', '*/', '\\', "E'", '@s', ':v', '?', '$1', '->>', 'BEGIN', 'END', 'DECLARE', 'CASE', 'FROM', "'x.csv'",
  'read_csv(', 'SYSTEM$CANCEL_QUERY(', 'TABLE(', 'IDENTIFIER(', 'EXPLAIN', 'ANALYZE', 'INTO', 'FOR UPDATE', '\n', ' ', '\u00a0',
];

function randomText(rand: () => number, maxLength: number): string {
  const length = Math.floor(rand() * maxLength);
  let out = '';
  for (let i = 0; i < length; i++) {
    if (rand() < 0.15) out += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
    else if (rand() < 0.05) out += String.fromCharCode(Math.floor(rand() * 0x10000));
    else out += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  }
  return out;
}

function mutate(rand: () => number, source: string): string {
  let s = source;
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    if (op < 0.3) s = s.slice(0, at) + randomText(rand, 6) + s.slice(at);
    else if (op < 0.5) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 5));
    else if (op < 0.7) s = s.slice(0, at) + (FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)] ?? '') + s.slice(at);
    else if (op < 0.85) {
      const other = SQL_CORPUS[Math.floor(rand() * SQL_CORPUS.length)]?.sql ?? '';
      s = s.slice(0, at) + other.slice(0, Math.floor(rand() * other.length)) + s.slice(at);
    } else s = rand() < 0.5 ? s.toLowerCase() : s.toUpperCase();
  }
  return s;
}

function assertWellFormed(sql: string, policy: SqlPolicy, verdict: SqlVerdict): void {
  const where = `for ${JSON.stringify(sql.slice(0, 120))}`;
  if (verdict.allowed) {
    assert.ok(verdict.statements.length >= 1, where);
    assert.equal(verdict.statement, verdict.statements[0], where);
    if (!policy.allowMultiStatement) assert.equal(verdict.statements.length, 1, where);
    for (const s of verdict.statements) {
      assert.ok(KNOWN_TYPES.has(s.type), where);
      assert.notEqual(s.type, 'UNKNOWN', where);
      assert.equal(sql.slice(s.start, s.end), s.text, where);
      if (!policy.allowWrite) assert.equal(s.readOnly, true, where);
    }
  } else {
    assert.ok(REFUSAL_CODES.has(verdict.code), where);
    assert.ok(KNOWN_TYPES.has(verdict.statementType), where);
    assert.match(verdict.rule, /^[a-z-]+$/, where);
    assert.match(verdict.message, /^Query refused[ :(]/, where);
    assert.ok(verdict.message.includes(`(rule: ${verdict.rule})`), where);
  }
}

function checkEverything(sql: string): void {
  for (const dialect of DIALECTS) {
    const classified = classifySql(sql, { dialect });
    for (const s of classified.statements) {
      assert.ok(s.start >= 0 && s.start <= s.end && s.end <= sql.length);
      assert.equal(s.readOnly, s.hazards.length === 0);
    }
    const readOnly: SqlPolicy = { allowWrite: false, dialect };
    const ro = checkSql(sql, readOnly);
    assertWellFormed(sql, readOnly, ro);
    const write: SqlPolicy = { allowWrite: true, allowMultiStatement: true, dialect };
    const rw = checkSql(sql, write);
    assertWellFormed(sql, write, rw);
    // Monotone: granting more never refuses what a read-only session accepts.
    if (ro.allowed) assert.equal(rw.allowed, true, `write policy refused what read-only allowed: ${JSON.stringify(sql)}`);
  }
}

describe('SQL classifier fuzzing', () => {
  test('random text never throws and always yields a well-formed verdict', () => {
    const rand = prng(0x5eed);
    for (let i = 0; i < 1500; i++) checkEverything(randomText(rand, 120));
  });

  test('mutated corpus statements never throw and always yield a well-formed verdict', () => {
    const rand = prng(0xc0ffee);
    for (let i = 0; i < 1500; i++) {
      const base = SQL_CORPUS[Math.floor(rand() * SQL_CORPUS.length)]?.sql ?? '';
      checkEverything(mutate(rand, base));
    }
  });

  test('a write appended to a read-only statement is always refused', () => {
    const rand = prng(42);
    const separators = [';', '\n;', ';\n', ' ; ', ';/* x */', '\n/* ; */ ;', ';-- c\n', '\r\n;\r\n', '\n;\u00a0', '\n ;;; '];
    const writes = ['DELETE FROM t', 'drop table t', 'INSERT INTO t VALUES (1)', 'COMMIT', 'CALL p()', "COPY INTO @s FROM t", 'USE ROLE accountadmin'];
    const reads = SQL_CORPUS.filter((e) => e.readOnly);
    let checked = 0;
    for (let i = 0; i < 1500; i++) {
      const entry = reads[Math.floor(rand() * reads.length)];
      if (!entry) continue;
      // A newline first: a read-only entry may end inside a line comment.
      const sql = `${entry.sql}\n${separators[Math.floor(rand() * separators.length)]}${writes[Math.floor(rand() * writes.length)]}`;
      const dialect = entry.dialect ?? 'any';
      for (const policy of [
        { allowWrite: false, dialect },
        { allowWrite: false, allowMultiStatement: true, allowStageListing: true, dialect },
      ] satisfies SqlPolicy[]) {
        const verdict = checkSql(sql, policy);
        assert.equal(verdict.allowed, false, `allowed ${JSON.stringify(sql)} with ${JSON.stringify(policy)}`);
        checked++;
      }
    }
    assert.ok(checked >= 3000);
  });

  test('deep nesting and repetition are handled without recursion limits', () => {
    const n = 20_000;
    const inputs = [
      `SELECT ${'('.repeat(n)}1${')'.repeat(n)}`,
      `${'('.repeat(n)}SELECT 1${')'.repeat(n)}`,
      `SELECT * FROM ${'(SELECT * FROM '.repeat(n)}t${')'.repeat(n)}`,
      `${'WITH a AS ('.repeat(5_000)}SELECT 1${') SELECT * FROM a'.repeat(5_000)}`,
      `${'EXPLAIN '.repeat(n)}SELECT 1`,
      `SELECT 1 ${'->> SELECT 1 '.repeat(10_000)}`,
      `${'/*'.repeat(n)}${'*/'.repeat(n)} SELECT 1`,
      `SELECT ${'CASE WHEN 1 THEN '.repeat(n)}1${' END'.repeat(n)}`,
      `${'BEGIN '.repeat(n)}${'END; '.repeat(n)}`,
      `SELECT ${')'.repeat(n)}`,
      `SELECT ${'('.repeat(n)}`,
    ];
    for (const sql of inputs) {
      // 'any' reads the text with both dialects' rules.
      const verdict = checkSql(sql, { allowWrite: false });
      assertWellFormed(sql, { allowWrite: false }, verdict);
    }
    const nested = checkSql(`SELECT ${'('.repeat(n)}1${')'.repeat(n)}`, { allowWrite: false });
    assert.equal(nested.allowed, true);
    const hidden = checkSql(`SELECT * FROM ${'(SELECT * FROM '.repeat(1000)}(DELETE FROM t)${')'.repeat(1000)}`, { allowWrite: false });
    assert.equal(hidden.allowed, false);
  });

  test('huge inputs are handled', () => {
    const mb = 1024 * 1024;
    const quarter = mb / 4;
    const inputs = [
      '('.repeat(mb),
      ')'.repeat(quarter),
      ';'.repeat(quarter),
      `SELECT '${'x'.repeat(mb)}'`,
      `SELECT 1 -- ${'x'.repeat(mb)}`,
      `SELECT ${'a, '.repeat(quarter / 3)}b`,
      `SELECT $$${'$'.repeat(quarter)}`,
      '\u00a0'.repeat(quarter),
      '\ud800'.repeat(quarter),
    ];
    for (const sql of inputs) {
      const verdict = checkSql(sql, { allowWrite: false });
      assertWellFormed(sql, { allowWrite: false }, verdict);
    }
  });
});
