/**
 * Differential test of CTE name resolution against DuckDB's binder: for generated WITH [RECURSIVE]
 * queries where a CTE takes the name of a real table (VAULT), DuckDB's physical plan says whether the real
 * table is read; referencedObjects must report VAULT exactly then. Missing it would let a restricted role
 * launder a denied table through a CTE of the same name; reporting it otherwise would refuse ordinary
 * recursive queries.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { referencedObjects } from '../../src/hub/policy/sql-objects.js';

let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run('CREATE TABLE vault(x INTEGER); INSERT INTO vault VALUES (42); CREATE TABLE other(x INTEGER)');
});

after(() => {
  connection?.closeSync();
  instance?.closeSync();
});

/** Whether DuckDB's plan scans the real table; undefined when DuckDB cannot bind the query. */
async function duckdbReadsVault(sql: string): Promise<boolean | undefined> {
  try {
    const reader = await connection.runAndReadAll(`EXPLAIN ${sql}`);
    const plan = reader.getRows().map((r) => String(r[1])).join('\n');
    return /memory\.main\.vault\b/.test(plan);
  } catch {
    return undefined;
  }
}

function corpus(): string[] {
  const N = 'vault';
  const anchors = ['SELECT 1 AS x', `SELECT x FROM ${N}`, `SELECT x FROM (SELECT x FROM ${N}) q`, `SELECT 1 AS x FROM ${N} LIMIT 1`, 'SELECT x FROM other'];
  const recursives = [
    `SELECT x + 1 FROM ${N} WHERE x < 3`,
    `SELECT x + 1 FROM (SELECT x FROM ${N}) s WHERE x < 3`,
    `SELECT x + 1 FROM ${N} JOIN other USING (x) WHERE x < 3`,
    'SELECT x + 1 FROM other WHERE x < 0',
  ];
  const bodies: string[] = [];
  for (const a of anchors) {
    bodies.push(a);
    for (const r of recursives) bodies.push(`${a} UNION ALL ${r}`, `${a} UNION ${r}`, `(${a}) UNION ALL (${r})`);
  }
  const out: string[] = [];
  for (const body of bodies) {
    out.push(
      `WITH RECURSIVE ${N} AS (${body}) SELECT * FROM ${N}`,
      `WITH RECURSIVE ${N}(x) AS (${body}) SELECT * FROM ${N} LIMIT 5`,
      `WITH RECURSIVE a AS (SELECT * FROM ${N}), ${N} AS (${body}) SELECT * FROM a`,
      `WITH RECURSIVE ${N} AS (${body}), b AS (SELECT * FROM ${N}) SELECT * FROM b`,
      `WITH ${N} AS (${body}) SELECT * FROM ${N}`,
      `SELECT * FROM (WITH RECURSIVE ${N} AS (${body}) SELECT * FROM ${N}) t`,
    );
  }
  return out;
}

test('CTE names resolve as DuckDB binds them: the real table is reported exactly when DuckDB reads it', async () => {
  const mismatches: string[] = [];
  let compared = 0;
  let laundering = 0;
  for (const sql of corpus()) {
    const engine = await duckdbReadsVault(sql);
    if (engine === undefined) continue;
    compared += 1;
    if (engine) laundering += 1;
    const ours = referencedObjects(sql, { database: 'MEMORY', schema: 'MAIN' }, { dialect: 'duckdb' }).objects.some((o) => o.name === 'VAULT');
    if (ours !== engine) mismatches.push(`${engine ? 'MISSED (DuckDB reads VAULT)' : 'over-reported'}: ${sql}`);
  }
  assert.ok(compared > 200, `only ${compared} queries bound in DuckDB`);
  assert.ok(laundering > 50, 'the corpus must contain CTEs that read the real table');
  assert.deepEqual(mismatches, []);
});
