/**
 * Beyond tools, through the real shim and hub: warehouse objects as resources (columns as JSON), name
 * completions filtered by the caller's role, and the explore_schema prompt. A denied object is refused
 * like describe_table, and reads are audited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, defer, startHub, tempHome } from '../helpers/harness.js';

test('resources, completions and prompts follow the caller\'s role', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[roles.analyst]\nidentities = ["${userInfo().username}"]\ndeny = ["*.*.CUSTOMER"]\n`);
  const hub = await startHub(t, home);
  const client = new Client({ name: 'resource-reader', version: '1' }, { versionNegotiation: { mode: 'legacy' } });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, 'shim', '--home', home], env: cliEnv(), stderr: 'ignore' }));
  defer(t, () => client.close());

  const templates = await client.listResourceTemplates();
  assert.ok(templates.resourceTemplates.some((x) => x.uriTemplate === 'snowflake://{database}/{schema}/{object}'));
  const read = await client.readResource({ uri: 'snowflake://SNOWMUX_SAMPLE/TPCH/NATION' });
  const nation = JSON.parse((read.contents[0] as { text: string }).text) as { kind: string; columns: { name: string }[] };
  assert.equal(nation.kind, 'table');
  assert.ok(nation.columns.some((c) => c.name === 'N_NAME'));
  await assert.rejects(client.readResource({ uri: 'snowflake://SNOWMUX_SAMPLE/TPCH/CUSTOMER' }), /CUSTOMER/);
  // Crafted URIs: a percent-encoded denied name is the same name; an encoded slash splits nothing; a
  // malformed escape is the caller's mistake, said as such (it was reported as a snowmux bug).
  await assert.rejects(client.readResource({ uri: 'snowflake://SNOWMUX_SAMPLE/TPCH/%43USTOMER' }), /Access denied[\s\S]*CUSTOMER/);
  await assert.rejects(client.readResource({ uri: 'snowflake://SNOWMUX_SAMPLE/TPCH%2FCUSTOMER/x' }), /Schema SNOWMUX_SAMPLE\."TPCH\/CUSTOMER" does not exist/);
  await assert.rejects(client.readResource({ uri: 'snowflake://%ZZ/TPCH/NATION' }), (err: Error) => /not valid percent-encoding/.test(err.message) && !/snowmux bug/.test(err.message));

  const ref = { type: 'ref/resource' as const, uri: 'snowflake://{database}/{schema}/{object}' };
  const objects = await client.complete({ ref, argument: { name: 'object', value: 'C' }, context: { arguments: { database: 'SNOWMUX_SAMPLE', schema: 'TPCH' } } });
  assert.ok(!objects.completion.values.includes('CUSTOMER'), 'a denied table is not offered');
  const all = await client.complete({ ref, argument: { name: 'object', value: '' }, context: { arguments: { database: 'SNOWMUX_SAMPLE', schema: 'TPCH' } } });
  assert.ok(all.completion.values.includes('NATION') && all.completion.values.includes('ORDERS'));
  // The parts already filled in resolve as a read resolves them: unquoted names upper-cased, quoted ones
  // literal, percent-escapes decoded (they were looked up raw, so `tpch` completed nothing).
  for (const [database, schema] of [['snowmux_sample', 'tpch'], ['"SNOWMUX_SAMPLE"', '%22TPCH%22'], ['SNOWMUX_%53AMPLE', 'Tpch']]) {
    const resolved = await client.complete({ ref, argument: { name: 'object', value: 'NAT' }, context: { arguments: { database: database!, schema: schema! } } });
    assert.deepEqual(resolved.completion.values, ['NATION'], `${database}/${schema}`);
  }
  const schemas = await client.complete({ ref, argument: { name: 'schema', value: 't' }, context: { arguments: { database: 'snowmux_sample' } } });
  assert.deepEqual(schemas.completion.values, ['TPCH']);
  const denied = await client.complete({ ref, argument: { name: 'object', value: 'cust' }, context: { arguments: { database: 'snowmux_sample', schema: '"TPCH"' } } });
  assert.ok(!denied.completion.values.includes('CUSTOMER'), 'a denied table is not offered, however its schema is spelled');
  const dbs = await client.complete({ ref, argument: { name: 'database', value: 'snow' } });
  assert.deepEqual(dbs.completion.values, ['SNOWMUX_SAMPLE']);

  // The prompt's arguments complete too (they completed nothing), through the same role.
  const promptRef = { type: 'ref/prompt' as const, name: 'explore_schema' };
  assert.deepEqual((await client.complete({ ref: promptRef, argument: { name: 'database', value: 'snow' } })).completion.values, ['SNOWMUX_SAMPLE']);
  assert.deepEqual((await client.complete({ ref: promptRef, argument: { name: 'schema', value: 'tp' }, context: { arguments: { database: 'snowmux_sample' } } })).completion.values, ['TPCH']);
  assert.deepEqual((await client.complete({ ref: promptRef, argument: { name: 'schema', value: '' } })).completion.values, [], 'no database yet: nothing to list');

  const prompt = await client.getPrompt({ name: 'explore_schema', arguments: { database: 'SNOWMUX_SAMPLE', schema: 'TPCH' } });
  assert.match((prompt.messages[0]!.content as { text: string }).text, /list_tables[\s\S]*SNOWMUX_SAMPLE/);

  await client.close();
  assert.equal(await hub.stop(), 0);
  const dir = join(home, 'audit');
  const reads = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { kind: string; tool: string; outcome: string; request?: { resource?: string } }).filter((r) => r.kind === 'tool_call' && r.request?.resource);
  assert.deepEqual(reads.map((r) => r.outcome), ['ok', 'refused', 'refused', 'error', 'error']);
});
