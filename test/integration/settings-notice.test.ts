/**
 * An editor whose own Snowflake settings are partly ignored hears it where it looks: an MCP config with
 * SNOWFLAKE_WAREHOUSE (or any SNOWFLAKE_* setting) but no account is served the embedded sample, and the
 * session's first result says so and what to set. Later results, and editors that brought nothing, are
 * left as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, startHub, tempHome, type ToolResult } from '../helpers/harness.js';

const texts = (r: ToolResult): string => r.content.map((c) => c.text ?? '').join('\n');

test('a session whose SNOWFLAKE_* settings name no account is told, in its first result, that the embedded sample serves it', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const partial = await connectClient(t, { home, kind: 'v2-legacy', name: 'partial-editor', env: { SNOWFLAKE_WAREHOUSE: 'ANALYTICS_WH', SNOWFLAKE_ROLE: 'ANALYST' } });
  const first = await partial.callTool('execute_query', { query: 'SELECT 1 AS X' });
  assert.notEqual(first.isError, true, texts(first));
  assert.match(texts(first), /snowmux: a note on this session's settings — .*SNOWFLAKE_WAREHOUSE.*no Snowflake account is configured; using the embedded warehouse\. Set SNOWFLAKE_ACCOUNT/s);
  assert.deepEqual((first.structuredContent as { rows: unknown[][] }).rows, [[1]], 'the result itself is unchanged');
  const second = await partial.callTool('list_databases', {});
  assert.doesNotMatch(texts(second), /a note on this session's settings/, 'told once per session');

  const plain = await connectClient(t, { home, kind: 'v2-legacy', name: 'plain-editor' });
  assert.doesNotMatch(texts(await plain.callTool('execute_query', { query: 'SELECT 1 AS X' })), /a note on this session's settings/);
  await partial.close();
  await plain.close();
});

test("an editor whose shim names another config file than the running hub's is told the hub keeps its own, and how to switch", async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const other = join(home, 'team.toml');
  writeFileSync(other, '[roles.reader]\nidentities = ["*"]\ntools = ["list_databases"]\n');
  const asked = await connectClient(t, { home, kind: 'v2-legacy', name: 'other-config-editor', args: ['--config', other] });
  const first = await asked.callTool('list_databases', {});
  assert.match(texts(first), new RegExp(`a note on this session's settings — This editor's snowmux shim names the config file ${other.replace(/[.]/g, '\\.')}, but the hub already running uses ${join(home, 'config.toml').replace(/[.]/g, '\\.')}, which does not exist \\(defaults\\).*snowmux hub --replace --home ${home} --config ${other.replace(/[.]/g, '\\.')}\\.`));
  // The hub's own file, named explicitly, is no news.
  const same = await connectClient(t, { home, kind: 'v2-legacy', name: 'same-config-editor', args: ['--config', join(home, 'config.toml')] });
  assert.doesNotMatch(texts(await same.callTool('list_databases', {})), /a note on this session's settings/);
  await asked.close();
  await same.close();
});
