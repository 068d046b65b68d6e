/**
 * configuration.md's migration from the Python snowflake-mcp-server v0.2.0, verified: the "Before" entry
 * printed there keeps its env block exactly (SNOWFLAKE_AUTH_TYPE = private_key, an unencrypted key file,
 * SNOWFLAKE_CONN_REFRESH_HOURS…); only command/args change, to what `snowmux setup generic` prints. Pointed at
 * the local Snowflake double (account host and key are the only values replaced), the editor gets the
 * Python server's five tools with their parameters, and its query runs as the configured user and role.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { makeRsaKeyPair, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, killEveryHub, runCli, tempHome } from '../helpers/harness.js';
import { repoRoot } from '../helpers/paths.js';

type Entry = { command: string; args: string[]; env: Record<string, string> };

test('the migration guide\'s before/after: same env block, snowmux shim as the command, the Python tools answer', async (t) => {
  const doc = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Migrating from the Python snowflake-mcp-server'));
  const before = (JSON.parse(/```json\n([\s\S]*?)\n```/.exec(section)![1]!) as { mcpServers: { snowflake: Entry } }).mcpServers.snowflake;
  assert.equal(before.command, 'uv', 'the Before block is the Python server\'s entry');
  assert.equal(before.env.SNOWFLAKE_AUTH_TYPE, 'private_key');

  const key = makeRsaKeyPair(); // unencrypted, as the Python server read them
  const d = await startSnowflakeDouble({ users: [{ name: before.env.SNOWFLAKE_USER!.toUpperCase(), publicKeyPem: key.publicKeyPem, roles: [before.env.SNOWFLAKE_ROLE!, 'PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  const keyFile = join(home, 'rsa_key.p8');
  writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });

  // After: the setup entry's command and args, the Before env with only the double's address and key path.
  const setup = await runCli(['setup', 'generic', '--home', home]);
  const after = (JSON.parse(setup.stdout) as { mcpServers: { snowflake: Entry } }).mcpServers.snowflake;
  const url = new URL(d.url);
  const env = { ...before.env, SNOWFLAKE_ACCOUNT: d.account, SNOWFLAKE_PRIVATE_KEY_PATH: keyFile, SNOWFLAKE_HOST: url.hostname, SNOWFLAKE_PORT: url.port, SNOWFLAKE_PROTOCOL: 'http' };
  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    killEveryHub(home);
  });
  const transport = new StdioClientTransport({ command: after.command, args: after.args, env: { PATH: '/nonexistent', HOME: home, ...env }, stderr: 'ignore' });
  const client = new Client({ name: 'migrated-editor', version: '1' });
  await client.connect(transport);
  defer(t, () => client.close());

  const tools = new Map((await client.listTools()).tools.map((x) => [x.name, Object.keys((x.inputSchema as { properties?: object }).properties ?? {})]));
  const python: Record<string, string[]> = { list_databases: [], list_schemas: ['database'], list_tables: ['database', 'schema'], list_views: ['database', 'schema'], describe_table: ['database', 'table_name', 'schema'] };
  for (const [name, params] of Object.entries(python)) {
    assert.ok(tools.has(name), `${name} is offered`);
    for (const p of params) assert.ok(tools.get(name)!.includes(p), `${name} takes ${p}`);
  }
  const who = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT CURRENT_USER() AS U, CURRENT_ROLE() AS R' } });
  assert.notEqual(who.isError, true, JSON.stringify(who));
  assert.deepEqual((who.structuredContent as { rows: unknown[][] }).rows, [[before.env.SNOWFLAKE_USER!.toUpperCase(), before.env.SNOWFLAKE_ROLE]]);
  assert.ok(d.loginLog.some((l) => l.user === before.env.SNOWFLAKE_USER!.toUpperCase()), 'a key-pair login, from SNOWFLAKE_AUTH_TYPE = private_key');
});
