/**
 * A Cortex REST call (cortex_search, cortex_analyst) runs as the Snowflake session's current role, on a
 * pooled session whose previous call may have been another hub role's (another user's), with another
 * `snowflake_role`. The call's own role is applied first, as for a statement. Against the Snowflake double.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, textOf } from '../helpers/harness.js';
import { clientOf, coreOverSettings } from '../helpers/in-memory-hub.js';

const CONFIG = `
[roles.lead]
identities = ["ada"]
snowflake_role = "ANALYST"
[roles.reader]
identities = ["rita"]
snowflake_role = "PUBLIC"
`;

async function searchRoles(t: TestContext, profileRole: Record<string, string>): Promise<(string | null)[]> {
  const double = await startSnowflakeDouble({
    users: [{ name: 'alice', password: 'pw-alice-1', roles: ['ANALYST', 'PUBLIC'] }],
    cortex: { searchServices: { 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT', attributes: ['R_NAME'] } } },
  });
  defer(t, () => double.close());
  const { core } = coreOverSettings(t, CONFIG);
  const env = profileEnv(double, { user: 'alice', password: 'pw-alice-1' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1', ...profileRole });
  const clientFor = async (name: string) => {
    const attached = core.attachSession({ identity: { kind: 'local-user', name }, transport: 'stdio', env }, { drain: () => {}, outstanding: () => 0, close: () => {} });
    defer(t, () => attached.detach('test over'));
    return clientOf(t, attached.env);
  };
  const ada = await clientFor('ada');
  const rita = await clientFor('rita');
  const search = { service: 'REGION_SEARCH', query: 'final', columns: ['R_NAME'], limit: 1 };

  const leadQuery = await ada.callTool({ name: 'execute_query', arguments: { query: 'SELECT COUNT(*) FROM REGION' } });
  assert.ok(!leadQuery.isError, textOf(leadQuery as never));
  const found = await rita.callTool({ name: 'cortex_search', arguments: search });
  assert.ok(!found.isError, textOf(found as never));
  const leadSearch = await ada.callTool({ name: 'cortex_search', arguments: search });
  assert.ok(!leadSearch.isError, textOf(leadSearch as never));
  return double.cortexLog.map((e) => e.role);
}

test('cortex_search runs as the caller\'s snowflake_role, not the role the pooled session\'s previous call left', async (t) => {
  // The profile names a role: the session the lead's query moved to ANALYST goes back to the pool, and the
  // reader's search took it as it was.
  assert.deepEqual(await searchRoles(t, { SNOWFLAKE_ROLE: 'PUBLIC' }), ['PUBLIC', 'ANALYST'], 'each search ran as its caller\'s Snowflake role');
});

test('cortex_search runs as the caller\'s snowflake_role, not the login\'s default role, when the profile names none', async (t) => {
  assert.deepEqual(await searchRoles(t, {}), ['PUBLIC', 'ANALYST'], 'each search ran as its caller\'s Snowflake role');
});
