/**
 * Differential test of CTE name resolution against DuckDB's binder: for generated WITH [RECURSIVE]
 * queries where a CTE takes the name of a real table (VAULT), DuckDB's physical plan says whether the real
 * table is read; referencedObjects must report VAULT exactly then. Missing it would let a restricted role
 * launder a denied table through a CTE of the same name; reporting it otherwise would refuse ordinary
 * recursive queries. The optimizer is off so the plan shows what the binder bound (with it on, a scan
 * whose filter statistics rule out was pruned, and a non-RECURSIVE WITH reading the real table passed).
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
  // The plan must show what the binder bound, not what the optimizer kept: with statistics, a scan whose filter
  // can never match (vault's x < 3) is pruned to an empty result, which would hide a read of the real table.
  await connection.run('PRAGMA disable_optimizer');
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
  // Several set operations at the top of the body: they associate to the left, so only the right operand of
  // the last UNION is the recursive term (`a UNION b UNION ALL c` reads the real table in b); a body whose top
  // operation is EXCEPT or INTERSECT, or a UNION BY NAME, is not recursive and reads the real table throughout.
  const middles = [`SELECT x FROM ${N}`, 'SELECT 2 AS x', `SELECT x + 1 FROM ${N} WHERE x < 3`];
  const tails = [`SELECT x + 1 FROM ${N} WHERE x < 3`, 'SELECT 3 AS x', `SELECT x FROM ${N} WHERE x < 0`];
  const ops = ['UNION ALL', 'UNION', 'EXCEPT', 'INTERSECT', 'UNION ALL BY NAME', 'UNION BY NAME'];
  for (const m of middles) {
    for (const t of tails) {
      for (const op1 of ops) for (const op2 of ops) bodies.push(`SELECT 1 AS x ${op1} ${m} ${op2} ${t}`);
      bodies.push(`(SELECT 1 AS x UNION ALL ${m}) UNION ALL ${t}`, `SELECT 1 AS x UNION ALL (${m} UNION ALL ${t})`);
    }
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
  assert.ok(compared > 2000, `only ${compared} queries bound in DuckDB`);
  assert.ok(laundering > 50, 'the corpus must contain CTEs that read the real table');
  assert.deepEqual(mismatches, []);
});

test('a write into a CTE name writes the real table, and is reported as a write of it', async () => {
  const sql = 'WITH vault AS (SELECT 1 AS x) INSERT INTO vault SELECT 7';
  await connection.run(sql);
  const written = await connection.runAndReadAll('SELECT count(*)::INTEGER FROM vault WHERE x = 7');
  assert.equal(written.getRows()[0]?.[0], 1, 'DuckDB writes the real table');
  await connection.run('DELETE FROM vault WHERE x = 7');
  for (const dialect of ['duckdb', 'snowflake'] as const) {
    const refs = referencedObjects(sql, { database: 'MEMORY', schema: 'MAIN' }, { dialect }).objects;
    assert.ok(refs.some((o) => o.name === 'VAULT'), `${dialect}: ${JSON.stringify(refs)}`);
  }
});
