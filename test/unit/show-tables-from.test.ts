/**
 * DuckDB's `SHOW TABLES FROM x` with one name lists the schema x of the current database when it has one, and
 * otherwise every schema of the database x. The object rules judge it so: the schema, and the database only when
 * the catalog says the schema is not there. Before, a role needed to list both the schema and a database x,
 * so a role allowed SNOWMUX_SAMPLE.TPCH.* was refused `SHOW TABLES FROM TPCH`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';
import { defer } from '../helpers/harness.js';

const textOf = (r: { content: unknown }) => (r.content as { text: string }[])[0]!.text;

test('SHOW TABLES FROM x is judged as the schema x of the current database, or the database x where that schema does not exist', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'snowmux-show-from-'));
  defer(t, () => fs.rm(dataDir, { recursive: true, force: true }));
  const warehouse = await DuckDbWarehouse.open({ dataDir, threads: 1 });
  defer(t, () => warehouse.close());
  const config = [
    '[policy]',
    'default_role = "tpch"',
    '[roles.tpch]',
    'allow = ["SNOWMUX_SAMPLE.TPCH.*", "SNOWMUX_SAMPLE.NOPE.*"]',
    '[roles.sample]',
    'identities = ["sam"]',
    'allow = ["SNOWMUX_SAMPLE.*.*"]',
  ].join('\n');
  const core = coreOver(t, warehouse, { config, defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH' });
  const alice = await localClient(t, core, 'alice');
  const run = (client: typeof alice, query: string) => client.callTool({ name: 'execute_query', arguments: { query } });

  for (const query of ['SHOW TABLES FROM TPCH', 'SHOW TABLES FROM tpch', 'SHOW TABLES FROM "TPCH"', 'SHOW TABLES FROM SNOWMUX_SAMPLE.TPCH']) {
    const answer = await run(alice, query);
    assert.equal(answer.isError, undefined, `${query}: ${textOf(answer)}`);
    assert.match(textOf(answer), /LINEITEM/);
    assert.doesNotMatch(textOf(answer), /TYPE_SAMPLES|SNOWMUX_SAMPLE_INFO/, 'only TPCH is listed');
  }
  // An allowed schema that is not there: the engine would list every schema of a database NOPE instead.
  const missing = await run(alice, 'SHOW TABLES FROM NOPE');
  assert.equal(missing.isError, true);
  assert.match(textOf(missing), /^Access denied: SNOWMUX_SAMPLE\.NOPE does not exist, and the embedded engine then lists every schema of the database NOPE, which role "tpch" may not list in full \(rule: allow \["SNOWMUX_SAMPLE\.TPCH\.\*", "SNOWMUX_SAMPLE\.NOPE\.\*"\] — no pattern matches\); SHOW output is not filtered\. .*list_tables/);
  // A schema the role may not list in full is refused as before.
  for (const query of ['SHOW TABLES FROM SHOWCASE', 'SHOW TABLES FROM SNOWMUX_SAMPLE']) {
    const refused = await run(alice, query);
    assert.equal(refused.isError, true, query);
    assert.match(textOf(refused), /may not list everything in (SHOWCASE|SNOWMUX_SAMPLE) \(rule: allow/);
  }
  // A role that may list the whole database lists it, by its one name.
  const sam = await localClient(t, core, 'sam');
  const whole = await run(sam, 'SHOW TABLES FROM SNOWMUX_SAMPLE');
  assert.equal(whole.isError, undefined, textOf(whole));
  assert.match(textOf(whole), /TYPE_SAMPLES/);
});
