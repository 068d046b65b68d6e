/**
 * An account or user may set QUOTED_IDENTIFIERS_IGNORE_CASE or SEARCH_PATH, and every session of the
 * profile's Snowflake user starts with them: `"weather"` then names WEATHER, and an unqualified name may
 * fall back to a schema the path lists. The hub reads them once per login and judges names as the session
 * resolves them; a statement judged with other values than its session has is not sent. Through the whole
 * pipeline against the Snowflake double.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { profileEnv, startSnowflakeDouble, type DoubleCortexOptions } from '../doubles/snowflake/index.js';
import { defer, textOf } from '../helpers/harness.js';
import { clientOf, coreOverSettings } from '../helpers/in-memory-hub.js';

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWFLAKE_SAMPLE_DATA.*.*']
deny = ['*.WEATHER.*']
`;
/** Allow patterns compare names exactly: the schema "weather" in lower case is another object than WEATHER. */
const QUOTED_CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.*', 'SNOWFLAKE_SAMPLE_DATA."weather".*']
`;

type Answer = { isError?: boolean; _meta?: Record<string, unknown> };
type Tool = (name: string, args: Record<string, unknown>) => Promise<Answer>;
const codeOf = (r: Answer): string | undefined => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

async function restrictedClient(
  t: TestContext,
  parameters?: Record<string, string>,
  config = CONFIG,
  cortex?: DoubleCortexOptions,
): Promise<{ double: { queries: { sql: string }[]; cortexLog: { target: string }[] }; call: (query: string) => Promise<Answer>; tool: Tool }> {
  const double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'pw-alice-1', roles: ['ANALYST', 'PUBLIC'], ...(parameters ? { parameters } : {}) }], ...(cortex ? { cortex } : {}) });
  defer(t, () => double.close());
  const { core } = coreOverSettings(t, config);
  const env = profileEnv(double, { user: 'alice', password: 'pw-alice-1' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'rita' }, transport: 'stdio', env }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const rita = await clientOf(t, attached.env);
  const tool: Tool = async (name, args) => (await rita.callTool({ name, arguments: args })) as never;
  return { double, call: (query) => tool('execute_query', { query }), tool };
}

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE for the Snowflake user: a quoted lower-case name is judged as the upper-case object the session reads', async (t) => {
  const { double, call } = await restrictedClient(t, { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' }, QUOTED_CONFIG);
  const query = 'SELECT COUNT(*) FROM "weather"."daily_14_total"';
  // The first call of the hub was judged before any login had read the session's settings: not sent.
  const first = await call(query);
  assert.equal(codeOf(first), 'POLICY_DENIED', textOf(first as never));
  assert.match(textOf(first as never), /QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE.*nothing was sent \(rule: session-names\)\. Run the call again/s);
  // Judged again with what the login read: "weather" is WEATHER, which the role's allow list does not hold.
  const again = await call(query);
  assert.equal(codeOf(again), 'POLICY_DENIED', textOf(again as never));
  assert.match(textOf(again as never), /may not read SNOWFLAKE_SAMPLE_DATA\.WEATHER\.DAILY_14_TOTAL/);
  assert.ok(!double.queries.some((q) => /weather/i.test(q.sql)), 'nothing reading the denied schema reached Snowflake');
  // An allowed name still runs, quoted or not.
  const allowed = await call('SELECT COUNT(*) FROM "tpch_sf1"."nation"');
  assert.notEqual(codeOf(allowed), 'POLICY_DENIED', textOf(allowed as never));
});

test('a SEARCH_PATH set for the Snowflake user: an unqualified name is refused with the way to qualify it, a qualified one runs', async (t) => {
  const { double, call } = await restrictedClient(t, { SEARCH_PATH: '$current, $public, SNOWFLAKE_SAMPLE_DATA.WEATHER' });
  assert.equal(codeOf(await call('SELECT COUNT(*) FROM TPCH_SF1.NATION')), 'POLICY_DENIED', 'the first call, judged before any login, is not sent');
  const refused = await call('SELECT COUNT(*) FROM DAILY_14_TOTAL');
  assert.equal(codeOf(refused), 'POLICY_DENIED', textOf(refused as never));
  assert.match(textOf(refused as never), /SEARCH_PATH is \$current, \$public, SNOWFLAKE_SAMPLE_DATA\.WEATHER, so the unqualified name DAILY_14_TOTAL may resolve in another schema; qualify it/);
  const qualified = await call('SELECT COUNT(*) FROM TPCH_SF1.NATION');
  assert.notEqual(codeOf(qualified), 'POLICY_DENIED', textOf(qualified as never));
  assert.ok(double.queries.some((q) => /TPCH_SF1\.NATION/.test(q.sql)), 'the qualified query reached Snowflake');
  assert.ok(!double.queries.some((q) => /DAILY_14_TOTAL/.test(q.sql)), 'the unqualified one did not');
});

test('with Snowflake\'s defaults a restricted role\'s first call runs, and its session\'s settings are read once per login', async (t) => {
  const { double, call } = await restrictedClient(t);
  for (let i = 0; i < 3; i++) {
    const answer = await call('SELECT COUNT(*) FROM NATION');
    assert.notEqual(codeOf(answer), 'POLICY_DENIED', textOf(answer as never));
  }
  assert.equal(double.queries.filter((q) => /^SHOW PARAMETERS/.test(q.sql)).length, 1, 'one read for the one login');
});

/** A restricted client whose session (QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE) was read by one login already. */
async function quotedIgnoreCaseClient(t: TestContext): Promise<{ double: { queries: { sql: string }[] }; tool: Tool }> {
  const { double, call, tool } = await restrictedClient(t, { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' }, QUOTED_CONFIG);
  // The first call logs in and reads the session's settings (it is judged before that, so not sent).
  assert.equal(codeOf(await call('SELECT COUNT(*) FROM NATION')), 'POLICY_DENIED');
  return { double, tool };
}

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: a quoted lower-case name in a tool argument is judged as the upper-case object the session reads', async (t) => {
  const { double, tool } = await quotedIgnoreCaseClient(t);
  const sentBefore = double.queries.length;
  const calls: [string, Record<string, unknown>][] = [
    ['describe_table', { schema: '"weather"', table_name: 'DAILY_14_TOTAL' }],
    ['describe_table', { table_name: 'SNOWFLAKE_SAMPLE_DATA."weather".DAILY_14_TOTAL' }],
    ['list_tables', { schema: '"weather"' }],
    ['execute_query', { schema: '"weather"', query: 'SELECT COUNT(*) FROM DAILY_14_TOTAL' }],
  ];
  for (const [name, args] of calls) {
    const answer = await tool(name, args);
    assert.equal(codeOf(answer), 'POLICY_DENIED', `${name} ${JSON.stringify(args)}: ${textOf(answer as never)}`);
    assert.match(textOf(answer as never), /WEATHER/, textOf(answer as never));
  }
  assert.ok(!double.queries.slice(sentBefore).some((q) => /weather/i.test(q.sql)), 'nothing about the denied schema reached Snowflake');
});

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: a quoted lower-case name of an allowed object in a tool argument is not refused', async (t) => {
  const { tool } = await quotedIgnoreCaseClient(t);
  const calls: [string, Record<string, unknown>][] = [
    ['describe_table', { schema: '"tpch_sf1"', table_name: '"nation"' }],
    ['list_tables', { database: '"snowflake_sample_data"', schema: '"tpch_sf1"' }],
    ['execute_query', { schema: '"tpch_sf1"', query: 'SELECT COUNT(*) FROM NATION' }],
  ];
  for (const [name, args] of calls) {
    const answer = await tool(name, args);
    assert.equal(answer.isError ?? false, false, `${name} ${JSON.stringify(args)}: ${textOf(answer as never)}`);
  }
});

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: a description judged before any login read the settings is not sent', async (t) => {
  const { double, tool } = await restrictedClient(t, { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' }, QUOTED_CONFIG);
  // Judged with Snowflake's defaults, `"weather"` is the allowed schema "weather"; the session reads WEATHER.
  const first = await tool('describe_table', { schema: '"weather"', table_name: 'DAILY_14_TOTAL' });
  assert.equal(codeOf(first), 'POLICY_DENIED', textOf(first as never));
  assert.match(textOf(first as never), /nothing was sent \(rule: session-names\)/);
  const again = await tool('describe_table', { schema: '"weather"', table_name: 'DAILY_14_TOTAL' });
  assert.equal(codeOf(again), 'POLICY_DENIED', textOf(again as never));
  assert.match(textOf(again as never), /SNOWFLAKE_SAMPLE_DATA\.WEATHER\.DAILY_14_TOTAL/);
  assert.ok(!double.queries.some((q) => /weather/i.test(q.sql)), 'nothing about the denied schema reached Snowflake');
});

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: a Cortex Search or Analyst call judged before any login read the settings is not sent', async (t) => {
  // The services and views the session would reach: "weather" is WEATHER there, which the role may not use.
  const cortex: DoubleCortexOptions = {
    searchServices: { 'SNOWFLAKE_SAMPLE_DATA.WEATHER.CITY_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT' } },
    analyst: { 'SNOWFLAKE_SAMPLE_DATA.WEATHER.CITY_SV': [{ when: '', text: 'cities', sql: 'SELECT 1' }] },
  };
  for (const [name, args] of [
    ['cortex_search', { service: 'SNOWFLAKE_SAMPLE_DATA."weather".CITY_SEARCH', query: 'x' }],
    ['cortex_analyst', { semantic_view: 'SNOWFLAKE_SAMPLE_DATA."weather".CITY_SV', question: 'which cities?' }],
  ] as const) {
    const { double, tool } = await restrictedClient(t, { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' }, QUOTED_CONFIG, cortex);
    // Judged with Snowflake's defaults, `"weather"` is the allowed schema "weather"; the session reads WEATHER.
    const first = await tool(name, args);
    assert.equal(codeOf(first), 'POLICY_DENIED', `${name}: ${textOf(first as never)}`);
    assert.match(textOf(first as never), /nothing was sent \(rule: session-names\)/);
    const again = await tool(name, args);
    assert.equal(codeOf(again), 'POLICY_DENIED', `${name}: ${textOf(again as never)}`);
    assert.match(textOf(again as never), /SNOWFLAKE_SAMPLE_DATA\.WEATHER/);
    assert.deepEqual(double.cortexLog, [], `${name}: nothing reached Cortex`);
  }
});

test('QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: an allowed Cortex Search service, once the settings are read, is served', async (t) => {
  const cortex: DoubleCortexOptions = { searchServices: { 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT' } } };
  const { double, tool } = await restrictedClient(t, { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' }, QUOTED_CONFIG, cortex);
  const args = { service: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH', query: 'final' };
  const first = await tool('cortex_search', args);
  assert.equal(codeOf(first), 'POLICY_DENIED', 'judged before any login: not sent');
  const again = await tool('cortex_search', args);
  assert.equal(again.isError ?? false, false, textOf(again as never));
  assert.equal(double.cortexLog.length, 1);
});
