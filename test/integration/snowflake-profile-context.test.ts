/**
 * A profile's database and schema are names Snowflake resolves at login (`database = "analytics"` in
 * connections.toml is ANALYTICS): the object rules must judge a call's unqualified names in the context the
 * session really has. Judged as written, a call naming the profile's own database in Snowflake's spelling
 * was taken for "another database" (judged in PUBLIC) while the session stayed in the profile's schema,
 * where the statement read a table the role denies; the catalog tools without a database were refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Session } from '../../src/hub/session/session.js';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, textOf } from '../helpers/harness.js';
import { clientOf, coreOverSettings } from '../helpers/in-memory-hub.js';

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWFLAKE_SAMPLE_DATA.*.*']
deny = ['*.WEATHER.*']
`;

test('a profile database and schema written in lower case are judged as Snowflake resolves them: a call naming that database cannot read the denied default schema', async (t) => {
  const double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'pw-alice-1', roles: ['ANALYST', 'PUBLIC'] }] });
  defer(t, () => double.close());
  const { core, warehouses } = coreOverSettings(t, CONFIG);
  // As connections.toml is often written: the names in lower case, unquoted.
  const env = profileEnv(double, { user: 'alice', password: 'pw-alice-1' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'snowflake_sample_data', SNOWFLAKE_SCHEMA: 'weather' });

  const target = warehouses.targetFor(new Session({ id: 'probe', identity: { kind: 'local-user', name: 'rita' }, transport: 'stdio', env }));
  assert.deepEqual([target.defaultDatabase, target.defaultSchema], ['SNOWFLAKE_SAMPLE_DATA', 'WEATHER'], 'the target names the context the login lands in');

  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'rita' }, transport: 'stdio', env }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const rita = await clientOf(t, attached.env);

  for (const args of [{ query: 'SELECT * FROM DAILY_14_TOTAL', database: 'SNOWFLAKE_SAMPLE_DATA' }, { query: 'SELECT * FROM DAILY_14_TOTAL' }]) {
    const refused = await rita.callTool({ name: 'execute_query', arguments: args });
    assert.equal(refused.isError, true, `${JSON.stringify(args)} was answered: ${textOf(refused as never)}`);
    assert.match(textOf(refused as never), /may not read SNOWFLAKE_SAMPLE_DATA\.WEATHER\.DAILY_14_TOTAL \(rule: deny "\*\.WEATHER\.\*"\)/);
  }
  assert.ok(!double.queries.some((q) => /DAILY_14_TOTAL/.test(q.sql)), 'the denied table was never read');

  // The catalog tools without a database use the profile's, as Snowflake spells it.
  const schemas = await rita.callTool({ name: 'list_schemas', arguments: {} });
  assert.ok(!schemas.isError, textOf(schemas as never));
  assert.equal((schemas.structuredContent as { database: string }).database, 'SNOWFLAKE_SAMPLE_DATA');
  const names = (schemas.structuredContent as { schemas: { name: string }[] }).schemas.map((s) => s.name);
  assert.ok(names.includes('TPCH_SF1') && !names.includes('WEATHER'), names.join(', '));
  const tables = await rita.callTool({ name: 'list_tables', arguments: { schema: 'tpch_sf1' } });
  assert.ok(!tables.isError, textOf(tables as never));
  const allowed = await rita.callTool({ name: 'execute_query', arguments: { query: 'SELECT COUNT(*) AS N FROM NATION', schema: 'TPCH_SF1' } });
  assert.ok(!allowed.isError, textOf(allowed as never));
});
