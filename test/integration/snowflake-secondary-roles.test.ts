/**
 * A session starts with the user's DEFAULT_SECONDARY_ROLES (`ALL` for users created since Snowflake's 2024_08
 * bundle): every role granted to the user then authorizes its statements, whatever role the hub applies. A
 * call that names its Snowflake role (a hub role's snowflake_role, or the profile's role) runs with that role
 * only. Against the Snowflake double.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, textOf } from '../helpers/harness.js';
import { clientOf, coreOverSettings } from '../helpers/in-memory-hub.js';

const CONFIG = `
[roles.reader]
identities = ["rita"]
snowflake_role = "PUBLIC"
[roles.other]
identities = ["otto"]
`;

type Seen = { secondaryRoles: string; role: string | null }[] & { told?: number };

async function run(t: TestContext, profileRole: Record<string, string>, identity: string): Promise<Seen> {
  const double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'pw-alice-1', roles: ['ANALYST', 'PUBLIC'] }] });
  defer(t, () => double.close());
  const { core } = coreOverSettings(t, CONFIG);
  const env = profileEnv(double, { user: 'alice', password: 'pw-alice-1' }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1', ...profileRole });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: identity }, transport: 'stdio', env }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const client = await clientOf(t, attached.env);
  for (let i = 0; i < 2; i++) {
    const answer = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT COUNT(*) FROM REGION' } });
    assert.ok(!answer.isError, textOf(answer as never));
  }
  const seen: Seen = double.queries.filter((q) => /FROM REGION/.test(q.sql)).map((q) => ({ secondaryRoles: q.secondaryRoles, role: q.role }));
  seen.told = double.queries.filter((q) => /^USE SECONDARY ROLES NONE$/.test(q.sql)).length;
  return seen;
}

test('a hub role\'s snowflake_role runs without the user\'s secondary roles', async (t) => {
  assert.deepEqual([...(await run(t, {}, 'rita'))], [
    { secondaryRoles: 'NONE', role: 'PUBLIC' },
    { secondaryRoles: 'NONE', role: 'PUBLIC' },
  ]);
});

test('the profile\'s role runs without the user\'s secondary roles, and the session is told so once per login', async (t) => {
  const seen = await run(t, { SNOWFLAKE_ROLE: 'ANALYST' }, 'otto');
  assert.equal(seen.told, 1, 'one USE SECONDARY ROLES NONE for the one login');
  assert.deepEqual([...seen], [
    { secondaryRoles: 'NONE', role: 'ANALYST' },
    { secondaryRoles: 'NONE', role: 'ANALYST' },
  ]);
});

test('with no role named anywhere, the login\'s own secondary roles are left as they are', async (t) => {
  assert.deepEqual([...(await run(t, {}, 'otto'))], [
    { secondaryRoles: 'ALL', role: 'ANALYST' },
    { secondaryRoles: 'ALL', role: 'ANALYST' },
  ]);
});
