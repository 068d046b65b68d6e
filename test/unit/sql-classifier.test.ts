import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { checkSql, classifySql, type SqlPolicy, type StatementType } from '../../src/hub/guard/sql/classifier.js';
import { tokenize } from '../../src/hub/guard/sql/lexer.js';
import { SQL_CORPUS, type CorpusEntry } from '../fixtures/sql-corpus.js';

const READ_ONLY_WITH_STAGES: SqlPolicy = { allowWrite: false, allowStageListing: true };

function show(entry: CorpusEntry): string {
  return `${JSON.stringify(entry.sql)} [${entry.dialect ?? 'any'}]${entry.note ? ` (${entry.note})` : ''}`;
}

function refusal(sql: string, policy: SqlPolicy) {
  const verdict = checkSql(sql, policy);
  assert.equal(verdict.allowed, false, `expected ${JSON.stringify(sql)} to be refused`);
  if (verdict.allowed) throw new Error('unreachable');
  return verdict;
}

describe('SQL corpus', () => {
  test('has at least 320 statements, both accepted and refused, with no duplicates per dialect', () => {
    assert.ok(SQL_CORPUS.length >= 320, `corpus has ${SQL_CORPUS.length} entries`);
    const accepted = SQL_CORPUS.filter((e) => e.readOnly).length;
    assert.ok(accepted >= 120 && SQL_CORPUS.length - accepted >= 150, `accepted ${accepted} / refused ${SQL_CORPUS.length - accepted}`);
    const keys = SQL_CORPUS.map((e) => `${e.dialect ?? 'any'}|${e.sql}`);
    const duplicates = keys.filter((k, i) => keys.indexOf(k) !== i);
    assert.deepEqual(duplicates, []);
  });

  test('classifySql reports the expected type for every entry', () => {
    const failures: string[] = [];
    for (const entry of SQL_CORPUS) {
      const result = classifySql(entry.sql, { dialect: entry.dialect ?? 'any' });
      const first = result.statements[0];
      const got = result.error || first === undefined ? 'NONE' : first.type;
      if (got !== entry.type) failures.push(`${show(entry)}: type ${got}, expected ${entry.type}${result.error ? ` (${result.error.message})` : ''}`);
    }
    assert.deepEqual(failures, []);
  });

  test('checkSql allows exactly the read-only entries in a read-only session', () => {
    const failures: string[] = [];
    for (const entry of SQL_CORPUS) {
      const verdict = checkSql(entry.sql, { ...READ_ONLY_WITH_STAGES, dialect: entry.dialect ?? 'any' });
      if (verdict.allowed !== entry.readOnly) {
        failures.push(`${show(entry)}: ${verdict.allowed ? 'allowed' : `refused: ${verdict.message}`}, expected ${entry.readOnly ? 'allowed' : 'refused'}`);
        continue;
      }
      if (!verdict.allowed) {
        const expectedCode = entry.code ?? 'SQL_REFUSED';
        if (verdict.code !== expectedCode) failures.push(`${show(entry)}: code ${verdict.code}, expected ${expectedCode}: ${verdict.message}`);
        if (!/\(rule: [a-z-]+\)/.test(verdict.message)) failures.push(`${show(entry)}: message names no rule: ${verdict.message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('classifySql agrees with checkSql on read-only-ness for single statements', () => {
    const failures: string[] = [];
    for (const entry of SQL_CORPUS) {
      const result = classifySql(entry.sql, { dialect: entry.dialect ?? 'any' });
      if (result.error || result.statements.length !== 1 || entry.code) continue;
      const statement = result.statements[0];
      if (statement === undefined) continue;
      if (statement.readOnly !== entry.readOnly) failures.push(`${show(entry)}: readOnly ${statement.readOnly}`);
      if (statement.readOnly !== (statement.hazards.length === 0)) failures.push(`${show(entry)}: readOnly disagrees with hazards`);
    }
    assert.deepEqual(failures, []);
  });

  test('every refused read-type statement explains itself with a hazard', () => {
    for (const entry of SQL_CORPUS.filter((e) => !e.readOnly && !e.code)) {
      const statement = classifySql(entry.sql, { dialect: entry.dialect ?? 'any' }).statements[0];
      if (statement === undefined) continue;
      assert.ok(statement.hazards.length > 0 || statement.type === 'UNKNOWN', `${show(entry)} has no hazard`);
    }
  });

  test('every accepted entry is still refused when "; DELETE FROM t" follows it', () => {
    for (const entry of SQL_CORPUS.filter((e) => e.readOnly)) {
      // Each suffix starts with a newline: an entry may end inside a line comment.
      for (const suffix of ['\n; DELETE FROM t', '\n;\nDELETE FROM t', '\n/* x */;delete from t;', '\n;DROP TABLE t --']) {
        const verdict = checkSql(entry.sql + suffix, { ...READ_ONLY_WITH_STAGES, dialect: entry.dialect ?? 'any' });
        assert.equal(verdict.allowed, false, `${show(entry)} + ${JSON.stringify(suffix)}`);
        const multiOk = checkSql(entry.sql + suffix, { ...READ_ONLY_WITH_STAGES, allowMultiStatement: true, dialect: entry.dialect ?? 'any' });
        assert.equal(multiOk.allowed, false, `${show(entry)} + ${JSON.stringify(suffix)} with multi-statement allowed`);
      }
    }
  });
});

describe('refusal messages', () => {
  test('the hostile text a refusal quotes (file, function, stage names) comes back cut short and with control characters escaped', () => {
    const junk = '\u001b[2J\u001b[31mFAKE: approved\r\n\u0007\u202e' + 'A'.repeat(200_000);
    for (const [dialect, sql] of [
      ['duckdb', `SELECT * FROM '${junk}'`],
      ['duckdb', `SELECT "read_${junk}"(1)`],
      ['snowflake', `SELECT "SYSTEM$${junk}"(1)`],
      ['snowflake', `SELECT $1 FROM '@st${junk}/f.csv'`],
    ] as const) {
      const v = checkSql(sql, { dialect, allowWrite: false });
      assert.equal(v.allowed, false, sql.slice(0, 40));
      const message = (v as { message: string }).message;
      assert.ok(message.length < 1_000, `${message.length} characters`);
      assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u202e]/u, JSON.stringify(message.slice(0, 120)));
      assert.match(message, /\\u001b\[2J/);
    }
  });

  const readOnly: SqlPolicy = { allowWrite: false };

  test('a write names the type, the rule and what to do', () => {
    const verdict = refusal('DELETE FROM t', readOnly);
    assert.equal(verdict.code, 'SQL_REFUSED');
    assert.equal(verdict.statementType, 'DELETE');
    assert.equal(verdict.rule, 'read-only');
    assert.equal(
      verdict.message,
      'Query refused: statement type DELETE is not allowed in a read-only session (rule: read-only). Only SELECT, WITH … SELECT, SHOW, DESCRIBE and EXPLAIN run here. Ask an admin for a role with write access, or run it in Snowsight.',
    );
  });

  test('a write hidden in a CTE says where it hid', () => {
    const verdict = refusal('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', readOnly);
    assert.equal(verdict.statementType, 'SELECT');
    assert.match(verdict.message, /^Query refused: DELETE inside a WITH clause is a write/);
    assert.match(verdict.message, /\(rule: read-only\)/);
    assert.match(verdict.message, /This SELECT statement is not read-only/);
  });

  test('a write after a CTE list is typed as the write, with the reason', () => {
    const verdict = refusal('WITH a AS (SELECT 1) DELETE FROM t', readOnly);
    assert.equal(verdict.statementType, 'DELETE');
    assert.match(verdict.message, /statement type DELETE is not allowed in a read-only session — DELETE after a WITH clause is a write \(rule: read-only\)/);
  });

  test('side-effecting functions are named', () => {
    const verdict = refusal('SELECT SYSTEM$CANCEL_ALL_QUERIES(42)', readOnly);
    assert.match(verdict.message, /calls SYSTEM\$CANCEL_ALL_QUERIES, which cancels/);
    const duck = refusal("SELECT * FROM read_csv('/etc/passwd')", { allowWrite: false, dialect: 'duckdb' });
    assert.match(duck.message, /calls read_csv, which reads files/);
  });

  test('multi-statement input says how many and what to do', () => {
    const verdict = refusal('SELECT 1; SELECT 2', readOnly);
    assert.equal(verdict.code, 'SQL_MULTI_STATEMENT');
    assert.equal(verdict.rule, 'single-statement');
    assert.equal(verdict.statementType, 'SELECT');
    assert.equal(verdict.message, 'Query refused: found 2 statements; send one statement per call (rule: single-statement).');
  });

  test('empty, unparseable and unknown input', () => {
    const empty = refusal('  -- nothing\n', readOnly);
    assert.equal(empty.code, 'SQL_EMPTY');
    assert.equal(empty.statementType, 'NONE');
    assert.equal(empty.rule, 'non-empty');

    const broken = refusal("SELECT 'oops", readOnly);
    assert.equal(broken.code, 'SQL_UNPARSEABLE');
    assert.equal(broken.rule, 'parseable');
    assert.match(broken.message, /string literal is not closed at offset 7/);

    const unknown = refusal('FROBNICATE ALL THE THINGS', { allowWrite: true });
    assert.equal(unknown.code, 'SQL_REFUSED');
    assert.equal(unknown.statementType, 'UNKNOWN');
    assert.equal(unknown.rule, 'recognised-statement');
    assert.match(unknown.message, /statement type UNKNOWN: the statement starting with "FROBNICATE"/);
  });

  test('the dialect that could not read the text is named when both are tried', () => {
    const verdict = refusal("SELECT 'it\\'s'", readOnly);
    assert.match(verdict.message, /when read as DuckDB SQL/);
    assert.equal(checkSql("SELECT 'it\\'s'", { allowWrite: false, dialect: 'snowflake' }).allowed, true);
  });

  test('USE explains that context goes through tool parameters', () => {
    const verdict = refusal('USE DATABASE prod', readOnly);
    assert.equal(verdict.statementType, 'USE');
    assert.match(verdict.message, /\(rule: read-only\)\. .* Pass database and schema as tool parameters instead/);
  });

  test('messages never echo more than the opening word of unrecognised SQL', () => {
    const verdict = refusal(`NOTSQL ${'x'.repeat(500)} password='hunter2'`, readOnly);
    assert.doesNotMatch(verdict.message, /hunter2/);
    assert.ok(verdict.message.length < 400);
  });
});

describe('policy', () => {
  test('allowWrite lets writes through but still refuses multi-statement input', () => {
    const write: SqlPolicy = { allowWrite: true };
    for (const sql of ['DELETE FROM t', 'CREATE TABLE t (a INT)', 'WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a', 'SELECT SYSTEM$CANCEL_QUERY(\'x\')']) {
      const verdict = checkSql(sql, write);
      assert.equal(verdict.allowed, true, sql);
    }
    // A lone USE would be undone with its call (rule session-state, test/unit/snowflake-session-effect.test.ts).
    assert.equal(refusal('USE ROLE analyst', write).rule, 'session-state');
    assert.equal(refusal('INSERT INTO t VALUES (1); DELETE FROM t', write).code, 'SQL_MULTI_STATEMENT');
    assert.equal(refusal('DELETE FROM t; SELECT 1', write).statementType, 'DELETE');
  });

  test("PUT and GET are refused for every role on Snowflake: the driver moves the hub machine's files, not the caller's", () => {
    // snowflake-sdk runs a statement whose text starts with PUT or GET as a file transfer on the machine it runs
    // on: PUT file:///… uploads a file of the hub machine (its config, a private key), GET writes into a directory
    // of it. A writer's key on a team hub must not reach the hub's file system.
    const write: SqlPolicy = { allowWrite: true, allowMultiStatement: true };
    for (const sql of [
      'PUT file:///etc/passwd @~',
      "put 'file:///home/hub/.snowmux/config.toml' @mystage AUTO_COMPRESS = FALSE",
      'GET @mystage/x.csv file:///home/hub/.ssh/',
      "  get '@~/x' 'file:///tmp/'",
      'SELECT 1; PUT file:///etc/hosts @~',
    ]) {
      for (const dialect of ['snowflake', 'any'] as const) {
        const verdict = refusal(sql, { ...write, dialect });
        assert.equal(verdict.rule, 'hub-files', `${sql} [${dialect}]: ${verdict.message}`);
        assert.equal(verdict.code, 'SQL_REFUSED');
        assert.match(verdict.message, /for every role \(rule: hub-files\)\. Upload or download files with SnowSQL, the Snowflake CLI or Snowsight/);
      }
      // Read-only roles: refused as before, now with the same reason.
      assert.equal(refusal(sql, { allowWrite: false, allowMultiStatement: true, dialect: 'snowflake' }).rule, 'hub-files', sql);
    }
    // The other stage statements run on Snowflake alone and stay a writer's (and LIST a stage lister's).
    for (const sql of ['REMOVE @mystage/x.csv', 'LIST @mystage', "COPY INTO t FROM @mystage"]) {
      assert.equal(checkSql(sql, { allowWrite: true, dialect: 'snowflake' }).allowed, true, sql);
    }
  });

  test('allowMultiStatement checks every statement and reports which one failed', () => {
    const verdict = checkSql('SELECT 1; SHOW TABLES; VALUES (1)', { allowWrite: false, allowMultiStatement: true });
    assert.equal(verdict.allowed, true);
    if (verdict.allowed) {
      assert.deepEqual(verdict.statements.map((s) => s.type), ['SELECT', 'SHOW', 'VALUES']);
      assert.equal(verdict.statement.text, 'SELECT 1');
    }
    const refused = refusal('SELECT 1; DELETE FROM t; SELECT 2', { allowWrite: false, allowMultiStatement: true });
    assert.equal(refused.statementType, 'DELETE');
    assert.match(refused.message, /^Query refused \(statement 2 of 3\): statement type DELETE/);
    assert.equal(checkSql('INSERT INTO t VALUES (1); DELETE FROM t', { allowWrite: true, allowMultiStatement: true }).allowed, true);
  });

  test('LIST and stage reads need allowStageListing in read-only sessions', () => {
    // PARSE_DOCUMENT takes its stage as a string too ('@stage'): the document's text is a staged file read.
    const stageReads = ['LIST @mystage', 'LS @~', 'SELECT $1 FROM @mystage/file.csv', "SELECT GET_PRESIGNED_URL(@s, 'f')", "SELECT SNOWFLAKE.CORTEX.PARSE_DOCUMENT('@docs', 'a.pdf')"];
    for (const sql of stageReads) {
      const verdict = refusal(sql, { allowWrite: false, dialect: 'snowflake' });
      assert.equal(verdict.rule, 'stage-listing', sql);
      assert.match(verdict.message, /stage access is not enabled for this role \(rule: stage-listing\)/);
      assert.equal(checkSql(sql, { allowWrite: false, allowStageListing: true, dialect: 'snowflake' }).allowed, true, sql);
      assert.equal(checkSql(sql, { allowWrite: true, dialect: 'snowflake' }).allowed, true, sql);
    }
    const listing = classifySql('LIST @db.sch.stg/path/', { dialect: 'snowflake' }).statements[0];
    assert.deepEqual(listing?.stages, ['@db.sch.stg/path/']);
    assert.equal(listing?.readOnly, true);
  });

  test('allowedTypes restricts further, in both read-only and write sessions', () => {
    const onlySelect: SqlPolicy = { allowWrite: false, allowedTypes: new Set<StatementType>(['SELECT']) };
    assert.equal(checkSql('SELECT 1', onlySelect).allowed, true);
    const show = refusal('SHOW TABLES', onlySelect);
    assert.equal(show.rule, 'allowed-types');
    assert.match(show.message, /statement type SHOW is not allowed for this role \(rule: allowed-types\)\. Allowed here: SELECT\./);
    const writer: SqlPolicy = { allowWrite: true, allowedTypes: new Set<StatementType>(['SELECT', 'INSERT']) };
    assert.equal(checkSql('INSERT INTO t VALUES (1)', writer).allowed, true);
    assert.equal(refusal('DELETE FROM t', writer).rule, 'allowed-types');
    assert.equal(refusal('DELETE FROM t', { ...onlySelect }).rule, 'read-only', 'read-only is reported before the type list');
  });

  test('the dialect option selects the engine rules', () => {
    assert.equal(checkSql('SELECT 7 // 2', { allowWrite: false, dialect: 'duckdb' }).allowed, true);
    assert.equal(checkSql('SELECT 7 // 2; DELETE FROM t', { allowWrite: false, dialect: 'snowflake' }).allowed, true, 'a comment in Snowflake');
    assert.equal(refusal('SELECT 7 // 2; DELETE FROM t', { allowWrite: false, dialect: 'duckdb' }).code, 'SQL_MULTI_STATEMENT');
    assert.equal(refusal('SELECT 7 // 2; DELETE FROM t', { allowWrite: false }).code, 'SQL_MULTI_STATEMENT', "'any' keeps the stricter reading");
    assert.equal(checkSql("SELECT * FROM read_csv('x')", { allowWrite: false, dialect: 'snowflake' }).allowed, true, 'no such function in Snowflake');
    assert.equal(checkSql("SELECT * FROM read_csv('x')", { allowWrite: false }).allowed, false);
  });

  test('the allowed verdict carries the statement to run, without the trailing semicolon or comment', () => {
    const verdict = checkSql('  /* tag */ SELECT 1 AS x -- note\n;  ', { allowWrite: false });
    assert.equal(verdict.allowed, true);
    if (!verdict.allowed) return;
    assert.equal(verdict.statement.text, '/* tag */ SELECT 1 AS x');
    assert.equal(verdict.statement.start, 2);
    assert.equal(verdict.statement.end, 25);
    assert.equal(verdict.statement.type, 'SELECT');
    assert.equal(verdict.statement.readOnly, true);
  });

  test('checkSql never throws on hostile arguments', () => {
    const hostile: unknown[] = [undefined, null, 42, {}, ['SELECT 1'], Symbol('x')];
    for (const value of hostile) {
      const verdict = checkSql(value as string, { allowWrite: false });
      assert.equal(verdict.allowed, false);
    }
    assert.equal(checkSql('SELECT 1', null as unknown as SqlPolicy).allowed, true, 'a missing policy means read-only');
    assert.equal(checkSql('DELETE FROM t', undefined as unknown as SqlPolicy).allowed, false);
    assert.equal(refusal('x'.repeat(4 * 1024 * 1024 + 1), { allowWrite: false }).code, 'SQL_UNPARSEABLE');
  });
});

describe('classifySql', () => {
  test('reports each statement with its source range', () => {
    const sql = 'SELECT 1; -- c\nDELETE FROM t ;\n\nSHOW TABLES';
    const result = classifySql(sql);
    assert.equal(result.error, undefined);
    assert.deepEqual(
      result.statements.map((s) => [s.type, s.text, s.readOnly]),
      [
        ['SELECT', 'SELECT 1', true],
        ['DELETE', '-- c\nDELETE FROM t', false],
        ['SHOW', 'SHOW TABLES', true],
      ],
    );
    for (const s of result.statements) assert.equal(sql.slice(s.start, s.end), s.text);
  });

  test('collects every hazard in a statement', () => {
    const statement = classifySql("SELECT SYSTEM$ABORT_SESSION(1), x INTO y FROM t FOR UPDATE", { dialect: 'snowflake' }).statements[0];
    assert.equal(statement?.type, 'SELECT');
    assert.deepEqual(statement?.hazards, [
      'calls SYSTEM$ABORT_SESSION, which cancels or aborts running queries, sessions, transactions or tasks',
      'SELECT … INTO writes the result into a table or variable',
      'SELECT … FOR UPDATE locks rows, which needs write access',
    ]);
  });

  test("keeps a Snowflake Scripting block whole, but DuckDB splits it", () => {
    const sql = 'BEGIN\n  DELETE FROM t;\n  RETURN 1;\nEND;';
    const snowflake = classifySql(sql, { dialect: 'snowflake' });
    assert.deepEqual(snowflake.statements.map((s) => s.type), ['SCRIPT']);
    const duckdb = classifySql(sql, { dialect: 'duckdb' });
    assert.deepEqual(duckdb.statements.map((s) => s.type), ['BEGIN', 'UNKNOWN', 'COMMIT']);
  });

  test('reports lexing errors with an offset', () => {
    const result = classifySql('SELECT 1 /* open', { dialect: 'snowflake' });
    assert.deepEqual(result.statements, []);
    assert.equal(result.error?.code, 'UNTERMINATED_COMMENT');
    assert.equal(result.error?.offset, 9);
  });

  test("'any' merges hazards that only one engine sees", () => {
    const statement = classifySql("SELECT * FROM 'data.csv'").statements[0];
    assert.equal(statement?.readOnly, false);
    assert.deepEqual(statement?.hazards, ["reads the file 'data.csv' directly (DuckDB replacement scan)"]);
  });
});

describe('tokenize', () => {
  test('produces typed tokens with offsets', () => {
    const { tokens, error } = tokenize(`SELECT "a""b", 'c''d', $$e;f$$, 1.5e3, :v, ?, $1, @st/x -- tail`, { dialect: 'snowflake' });
    assert.equal(error, undefined);
    assert.deepEqual(
      tokens.map((t) => [t.kind, t.text]),
      [
        ['word', 'SELECT'],
        ['quoted_ident', '"a""b"'],
        ['punct', ','],
        ['string', "'c''d'"],
        ['punct', ','],
        ['dollar_string', '$$e;f$$'],
        ['punct', ','],
        ['number', '1.5e3'],
        ['punct', ','],
        ['variable', ':v'],
        ['punct', ','],
        ['variable', '?'],
        ['punct', ','],
        ['variable', '$1'],
        ['punct', ','],
        ['stage', '@st/x'],
        ['comment', '-- tail'],
      ],
    );
    assert.equal(tokens[1]?.upper, 'A"B');
    assert.equal(tokens[0]?.start, 0);
    assert.equal(tokens[0]?.end, 6);
  });

  test('follows each engine on the rules where they differ', () => {
    const kinds = (sql: string, dialect: 'snowflake' | 'duckdb') => tokenize(sql, { dialect }).tokens.map((t) => t.kind).join(' ');
    assert.equal(kinds('a // b', 'snowflake'), 'word comment');
    assert.equal(kinds('a // b', 'duckdb'), 'word punct word');
    assert.equal(kinds("'a\\'b'", 'snowflake'), 'string');
    assert.equal(kinds("'a\\'b'", 'duckdb'), 'string word');
    assert.equal(kinds('$t$x$t$', 'duckdb'), 'dollar_string');
    assert.equal(kinds('$t$x$t$', 'snowflake'), 'variable', 'a session variable name may contain $');
    assert.equal(kinds('/* a /* b */ c */', 'duckdb'), 'comment');
    assert.equal(tokenize('/* a /* b */ c */', { dialect: 'snowflake' }).error?.code, 'AMBIGUOUS_NESTED_COMMENT');
    assert.equal(kinds('-- a\rb', 'duckdb'), 'comment word');
    assert.equal(tokenize('-- a\rb', { dialect: 'snowflake' }).error?.code, 'AMBIGUOUS_LINE_BREAK');
    assert.equal(kinds('@x', 'duckdb'), 'punct word');
  });

  test('upper-cases ASCII letters only', () => {
    assert.equal(tokenize('ſelect').tokens[0]?.upper, 'ſELECT');
    assert.equal(tokenize('select').tokens[0]?.upper, 'SELECT');
  });
});

test('a lone UTF-16 surrogate is refused, as NUL is: the engine would run U+FFFD in its place; a whole pair is read', () => {
  for (const sql of ["select '\ud800' as b", 'select 1 as "x\udfff"', "select 'a' -- \udbff", "select '\udc00\ud800'"]) {
    const verdict = refusal(sql, READ_ONLY_WITH_STAGES);
    assert.equal(verdict.code, 'SQL_UNPARSEABLE', sql);
    assert.match(verdict.message, /lone UTF-16 surrogate \(\\u[0-9a-f]{4}\), which has no UTF-8 form/, sql);
    // The refusal quotes no raw surrogate of its own.
    assert.equal(LONE.test(verdict.message), false, verdict.message);
  }
  assert.equal(checkSql("select '😀' as \"😀\"", READ_ONLY_WITH_STAGES).allowed, true);
});

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
