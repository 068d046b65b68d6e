/**
 * Stages are objects: a role denied a schema may not list, read or remove the files of a stage in it,
 * however the statement spells the stage. Through the whole pipeline against the Snowflake double: a
 * refused statement never reaches Snowflake.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, textOf } from '../helpers/harness.js';
import { clientOf, coreOverSettings } from '../helpers/in-memory-hub.js';

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWFLAKE_SAMPLE_DATA.*.*']
deny = ['*.WEATHER.*']
stage_listing = true
`;

const codeOf = (r: { _meta?: Record<string, unknown> }): string | undefined => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

async function restrictedClient(t: TestContext): Promise<{ double: { queries: { sql: string }[] }; call: (query: string) => Promise<{ isError?: boolean; _meta?: Record<string, unknown> }> }> {
  const double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'pw-alice-1', roles: ['ANALYST', 'PUBLIC'] }] });
  defer(t, () => double.close());
  const { core } = coreOverSettings(t, CONFIG);
  const env = profileEnv(double, { user: 'alice', password: 'pw-alice-1' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'rita' }, transport: 'stdio', env }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const rita = await clientOf(t, attached.env);
  return { double, call: async (query) => (await rita.callTool({ name: 'execute_query', arguments: { query } })) as never };
}

test('a stage written as a quoted location in LIST / LS is judged like the bare one: a denied schema\'s stage is not listed', async (t) => {
  const { double, call } = await restrictedClient(t);
  for (const query of ["LIST '@weather.files'", "LS '@SNOWFLAKE_SAMPLE_DATA.WEATHER.FILES/2024/'", "list '@\"WEATHER\".files'", 'LIST @weather.files']) {
    const refused = await call(query);
    assert.equal(codeOf(refused), 'POLICY_DENIED', `${query}: ${textOf(refused as never)}`);
    assert.match(textOf(refused as never), /may not read SNOWFLAKE_SAMPLE_DATA\.WEATHER\.FILES \(rule: deny "\*\.WEATHER\.\*"\)/, query);
  }
  assert.ok(!double.queries.some((q) => /WEATHER/i.test(q.sql)), 'no listing of the denied stage reached Snowflake');
});

test('a stage function whose location is computed when the query runs is refused to a restricted role; an "@" in text is no stage', async (t) => {
  const { double, call } = await restrictedClient(t);
  for (const query of [
    "SELECT AI_PARSE_DOCUMENT(TO_FILE(CONCAT('@weather', '.files'), 'pay.pdf'))",
    "SELECT TO_FILE(file_url) FROM (SELECT '@weather.files/pay.pdf' AS file_url)",
    "SELECT TO_FILE('https://acct.snowflakecomputing.com/api/files/SNOWFLAKE_SAMPLE_DATA/WEATHER/FILES/pay.pdf')",
  ]) {
    const refused = await call(query);
    assert.equal(codeOf(refused), 'POLICY_DENIED', `${query}: ${textOf(refused as never)}`);
    assert.match(textOf(refused as never), /cannot tell which stage TO_FILE\(…\) reads/, query);
  }
  assert.ok(!double.queries.some((q) => /WEATHER/i.test(q.sql)), 'no read of the denied stage reached Snowflake');

  const split = await call("SELECT SPLIT_PART('ann@example.com', '@', 2) AS DOMAIN");
  assert.notEqual(codeOf(split), 'POLICY_DENIED', textOf(split as never));
  assert.ok(double.queries.some((q) => /SPLIT_PART/.test(q.sql)), 'the e-mail split reached Snowflake');
});
