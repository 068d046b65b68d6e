/**
 * When DuckDB reads a table name as a file, checked against the engine itself: each form below is run on a
 * DuckDB with file access (the hub's own has none) in a temp directory holding the file the joined name
 * would open, and the read-only check must refuse every form the engine reads. A qualified name the engine
 * never reads as a file ("Mixed"."a.b", a schema with a dot in it) is a table name and must pass; a lone
 * quoted name that looks like a path is refused even where the engine would not read it. No refusal calls
 * the name "the file": it may be a table's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { classifySql } from '../../src/hub/guard/sql/classifier.js';
import { referencedObjects } from '../../src/hub/policy/sql-objects.js';

let dir: string;
let instance: DuckDBInstance;
let connection: DuckDBConnection;

const CSV = 'marker\nfrom-file\n';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smx-scan-'));
  for (const file of ['s.x.csv', 'f.csv', 's.y.csv.gz.csv', 's.a.b', 's.star', 'lone.csv', 'a.b', 's.x.csv_y', 'm.main.f.csv', 'nosuch.x.csv']) {
    writeFileSync(join(dir, file), CSV);
  }
  instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  connection = await instance.connect();
  // "<dir>/s" exists as a schema (its tables do not), so the engine's own fallback from schema.table is seen.
  await connection.run(`CREATE SCHEMA "${dir}/s"`);
  const other = await DuckDBInstance.create(join(dir, 'o.ddb'));
  const writer = await other.connect();
  await writer.run("CREATE TABLE t AS SELECT 'from-file' AS marker");
  writer.closeSync();
  other.closeSync();
});

after(() => {
  connection?.closeSync();
  instance?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether the engine opened a file for `FROM <name>` (a file it could not match counts: it tried). */
async function engineReads(name: string): Promise<boolean> {
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM ${name}`);
    return reader.getRows().some((row) => row.some((cell) => String(cell) === 'from-file'));
  } catch (err) {
    const message = (err as Error).message;
    if (/^(Catalog|Binder) Error/.test(message)) return false;
    if (/^IO Error/.test(message)) return true;
    throw err;
  }
}

function refusal(name: string): string | undefined {
  const statement = classifySql(`SELECT * FROM ${name}`, { dialect: 'duckdb' }).statements[0];
  assert.ok(statement, name);
  return statement.readOnly ? undefined : (statement.hazards[0] ?? 'refused');
}

const q = (part: string): string => `"${part.replace(/"/g, '""')}"`;

test('a qualified name is refused exactly when DuckDB reads it as a file', async () => {
  const forms: Array<{ parts: string[]; reads: boolean }> = [
    { parts: [`${dir}/s`, 'x.csv'], reads: true }, // schema exists, table does not: the file s.x.csv
    { parts: [`${dir}/nosuch`, 'x.csv'], reads: true }, // no such schema either
    { parts: [`${dir}/f`, 'csv'], reads: true }, // the extension alone, quoted
    { parts: [`${dir}/s`, 'y.csv.gz.csv'], reads: true },
    { parts: [`${dir}/s`, 'x.csv?y'], reads: true }, // `?` after the extension: a glob the csv reader takes
    { parts: [`${dir}/m`, 'main', 'f.csv'], reads: true }, // three parts
    { parts: [`${dir}/o`, 'ddb'], reads: true }, // a database file, attached
    { parts: [`${dir}/s`, 'a.b'], reads: false }, // the file s.a.b exists; no extension DuckDB reads
    { parts: [`${dir}/s`, 'star'], reads: false },
    { parts: [`${dir}/s`, '*'], reads: false },
    { parts: [`${dir}/s`, 'back\\slash'], reads: false },
    { parts: [`${dir}/s`, 'csv '], reads: false },
  ];
  for (const { parts, reads } of forms) {
    const name = parts.map(q).join('.');
    assert.equal(await engineReads(name), reads, `the engine on ${name}`);
    const refused = refusal(name);
    assert.equal(refused !== undefined, reads, `the read-only check on ${name}: ${refused ?? 'passed'}`);
    assert.equal(referencedObjects(`SELECT * FROM ${name}`, { database: 'DB', schema: 'S' }, { dialect: 'duckdb' }).opaque, reads, `the object rules on ${name}`);
    if (refused !== undefined) assert.doesNotMatch(refused, /reads the file/, 'a name may be a table: never called a file');
  }
});

test('every lone name DuckDB reads as a file is refused, and so is any lone quoted name that looks like a path', async () => {
  for (const name of [q(join(dir, 'lone.csv')), `'${join(dir, 'lone.csv')}'`]) {
    assert.equal(await engineReads(name), true, name);
    assert.ok(refusal(name), name);
  }
  // Not read by the engine (no extension), refused all the same: a table of that name is reached qualified.
  const lone = q(join(dir, 'a.b'));
  assert.equal(await engineReads(lone), false);
  assert.match(refusal(lone) ?? '', /may open as the file .*a\.b when no table has that name .*qualify a table of that name with its schema/);
});

test('names of tables with dots, stars and backslashes pass when qualified by their schema', () => {
  for (const name of ['"Mixed"."a.b"', 'Mixed."a.b"', '"Mixed"."*"', '"Mixed"."back\\slash"', '"my.schema".t', 'SNOWMUX_SAMPLE."my.schema"."v.dot"']) {
    assert.equal(refusal(name), undefined, name);
    for (const statement of [`DESCRIBE ${name}`, `SUMMARIZE ${name}`, `SHOW ${name}`]) {
      assert.equal(classifySql(statement, { dialect: 'duckdb' }).statements[0]?.readOnly, true, statement);
    }
  }
  for (const statement of ['DESCRIBE "a.b"', 'DESCRIBE "x"."y.csv"', 'SELECT * FROM other.ddb']) {
    assert.equal(classifySql(statement, { dialect: 'duckdb' }).statements[0]?.readOnly, false, statement);
  }
});
