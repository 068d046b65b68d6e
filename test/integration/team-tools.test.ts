/**
 * Team-defined tools ([tools.<name>] in config.toml) through the real hub: listed with typed parameters,
 * arguments bound (hostile values stay data), governed by roles (a role that does not list the tool is
 * refused; object rules apply to the statement), audited; bad definitions stop the hub at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;
const TOOL = `
[tools.nations_in_region]
description = "Nations of one region, by region name"
sql = "SELECT n.N_NAME FROM NATION n JOIN REGION r ON n.N_REGIONKEY = r.R_REGIONKEY WHERE r.R_NAME = ? AND n.N_NATIONKEY >= COALESCE(?, 0) ORDER BY 1"

[[tools.nations_in_region.params]]
name = "region"
type = "string"
description = "Region name, e.g. ASIA"

[[tools.nations_in_region.params]]
name = "min_key"
type = "integer"
description = "Smallest nation key"
required = false

[tools.customers]
description = "Customers of one nation"
sql = "SELECT C_NAME FROM CUSTOMER WHERE C_NATIONKEY = ?"

[[tools.customers.params]]
name = "nation"
type = "integer"
description = "Nation key"
`;

test('team tools: listed, bound, governed by roles and object rules, audited', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `${TOOL}
[roles.analyst]
identities = ["${me}"]
clients = ["analyst-*"]
deny = ["*.*.CUSTOMER"]

[roles.viewer]
identities = ["${me}"]
clients = ["viewer-*"]
tools = ["list_databases"]
`);
  const hub = await startHub(t, home);
  const analyst = await connectClient(t, { home, kind: 'v2-legacy', name: 'analyst-1' });
  const viewer = await connectClient(t, { home, kind: 'v1', name: 'viewer-1' });

  const listed = (await analyst.listTools()).tools.find((x) => x.name === 'nations_in_region') as { inputSchema: { properties: Record<string, { type: string }>; required?: string[] }; annotations?: { readOnlyHint?: boolean } } | undefined;
  assert.ok(listed, 'the team tool is listed');
  assert.equal(listed.inputSchema.properties.region!.type, 'string');
  assert.equal(listed.inputSchema.properties.min_key!.type, 'integer');
  assert.deepEqual(listed.inputSchema.required, ['region']);
  assert.equal(listed.annotations?.readOnlyHint, true);

  const asia = await analyst.callTool('nations_in_region', { region: 'ASIA' });
  assert.deepEqual((asia.structuredContent as { rows: unknown[][] }).rows.map((r) => r[0]), ['CHINA', 'INDIA', 'INDONESIA', 'JAPAN', 'VIETNAM']);
  const some = await analyst.callTool('nations_in_region', { region: 'ASIA', min_key: 12 });
  assert.deepEqual((some.structuredContent as { rows: unknown[][] }).rows.map((r) => r[0]), ['CHINA', 'JAPAN', 'VIETNAM']);

  // Hostile values are data: no rows, no second statement, the table intact.
  for (const region of ["ASIA' OR '1'='1", "x'; DROP TABLE NATION; --", "ASIA\\' --"]) {
    const r = await analyst.callTool('nations_in_region', { region });
    assert.notEqual(r.isError, true, textOf(r));
    assert.deepEqual((r.structuredContent as { rows: unknown[] }).rows, []);
  }
  const wrongType = await analyst.callTool('nations_in_region', { region: 1 as unknown as string });
  assert.equal(wrongType.isError, true);

  // Object rules apply to the statement; a role that does not list the tool cannot call it.
  const denied = await analyst.callTool('customers', { nation: 1 });
  assert.equal(denied.isError, true);
  assert.match(textOf(denied), /CUSTOMER/);
  const notListed = await viewer.callTool('nations_in_region', { region: 'ASIA' });
  assert.equal(notListed.isError, true);
  assert.match(textOf(notListed), /not allowed/);

  await analyst.close();
  await viewer.close();
  assert.equal(await hub.stop(), 0);
  const dir = join(home, 'audit');
  const calls = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { kind: string; tool: string; sql?: string; outcome: string }).filter((r) => r.kind === 'tool_call' && r.tool === 'nations_in_region');
  assert.equal(calls.length, 7);
  assert.ok(calls.filter((c) => c.outcome === 'ok').every((c) => c.sql?.includes('r.R_NAME = ?')), 'the audit keeps the statement, not interpolated values');
});

test('a bad team tool stops the hub at start, naming the tool and the problem', async (t) => {
  const cases: [string, RegExp][] = [
    ['[tools.wipe]\ndescription = "x"\nsql = "DELETE FROM NATION"\n', /tools\.wipe\.sql[\s\S]*read-only/],
    ['[tools.two]\ndescription = "x"\nsql = "SELECT ? , ?"\n[[tools.two.params]]\nname = "a"\ntype = "string"\ndescription = "a"\n', /tools\.two\.sql: it has 2 "\?" placeholder\(s\) for 1 declared/],
    ['[tools.execute_query]\ndescription = "x"\nsql = "SELECT 1"\n', /built-in tool/],
    ['[tools.Bad-Name]\ndescription = "x"\nsql = "SELECT 1"\n', /tools\.Bad-Name[\s\S]*lower-case/],
    ['[tools.many]\ndescription = "x"\nsql = "SELECT 1; SELECT 2"\n', /tools\.many\.sql/],
  ];
  for (const [config, expected] of cases) {
    const home = tempHome(t);
    writeFileSync(join(home, 'config.toml'), config);
    const r = await runCli(['hub', '--home', home]);
    assert.notEqual(r.code, 0, config);
    assert.match(r.stderr, expected, config);
  }
});
