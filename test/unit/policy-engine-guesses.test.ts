/**
 * DuckDB answers a name that does not exist with a guess from its whole catalog (`Did you mean
 * "HR.SALARIES"?`), whatever the caller's role may see: a role denied *.HR.* learned the names of HR's
 * tables, views, macros and types by guessing. The guess now reaches the caller only when every object it may
 * name is one the role may see; a role that may use every object keeps the engine's message whole.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/client';
import { SnowmuxError } from '../../src/errors.js';
import { withoutUnseenGuesses } from '../../src/hub/policy/engine-guesses.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { editedSample, type EditedSample } from '../helpers/edited-sample.js';
import { textOf } from '../helpers/harness.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

let edited: EditedSample;

before(async () => {
  edited = await editedSample(`CREATE SCHEMA HR; CREATE TABLE HR.SALARIES(NAME VARCHAR, SALARY INTEGER); CREATE VIEW HR.PAYROLL_V AS SELECT 1 AS X;
    CREATE TYPE HR.MOOD AS ENUM ('calm'); CREATE SCHEMA "Hr Dept"; CREATE TABLE "Hr Dept"."Pay.Roll"(X INTEGER)`);
});

after(async () => {
  await edited?.close();
});

const CONFIG = `
[roles.restricted]
identities = ["rita"]
allow = ['SNOWMUX_SAMPLE.*.*']
deny = ['*.HR.*', '*."Hr Dept".*']
`;

function sample(t: Parameters<typeof coreOver>[0]) {
  return coreOver(t, edited.warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', config: CONFIG });
}

async function failure(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} was answered`);
  return textOf(result as never);
}

test("a restricted role is not told the denied names DuckDB guesses for a name that does not exist", async (t) => {
  const rita = await localClient(t, sample(t), 'rita');
  for (const [tool, args] of [
    ['execute_query', { query: 'SELECT * FROM SALARIES' }],
    ['execute_query', { query: 'SELECT * FROM SNOWMUX_SAMPLE.TPCH.SALARIE' }],
    ['execute_query', { query: 'SELECT * FROM PAYROLL_V' }],
    ['execute_query', { query: 'SELECT * FROM SNOWMUX_SAMPLE.TPCH."Pay.Roll"' }],
    ['execute_query', { query: "SELECT 'calm'::MOOD" }],
    ['explain_query', { query: 'SELECT * FROM SALARIES' }],
    ['query_view', { view_name: 'SALARIES' }],
  ] as const) {
    const text = await failure(rita, tool, args);
    assert.ok(!/Did you mean/.test(text), `${tool} ${JSON.stringify(args)}: ${text}`);
    assert.ok(!/HR\.|Hr Dept/.test(text), `${tool} ${JSON.stringify(args)} names a denied object: ${text}`);
    assert.match(text, /does not exist/);
  }
  // A guess the role may see is kept: it is the help the engine meant to give.
  assert.match(await failure(rita, 'execute_query', { query: 'SELECT * FROM ORDERZ' }), /Did you mean "ORDERS"\?/);
});

test('a role that may use every object keeps the engine guess', async (t) => {
  const alice = await localClient(t, sample(t), 'alice');
  assert.match(await failure(alice, 'execute_query', { query: 'SELECT * FROM SALARIES' }), /Did you mean "HR\.SALARIES.*"\?/);
});

test('every reading of an unquoted guess must be visible: a dot or " or " inside a name cannot pass a denied one off as allowed', () => {
  const policy = Policy.fromConfig(parseConfigText(`[roles.r]\nidentities = ["r"]\nallow = ['*.*.*']\ndeny = ['DB."Hr Dept".*', 'DB.S."a or b"']\n`, 't.toml'), 't.toml');
  const role = policy.roleFor({ kind: 'local-user', name: 'r' }, null);
  const context = { database: 'DB', schema: 'S' };
  const guess = (inner: string) => new SnowmuxError('OBJECT_NOT_FOUND', `Catalog Error: Table with name X does not exist!\nDid you mean "${inner}"?\nLINE 1: …`);
  const shown = (inner: string) => (withoutUnseenGuesses(guess(inner), role, context) as Error).message.includes('Did you mean');
  assert.equal(shown('S.T'), true);
  assert.equal(shown('T or S.U'), true);
  assert.equal(shown('Hr Dept.Pay.Roll'), false, 'read as "Hr Dept"."Pay.Roll"');
  assert.equal(shown('a or b'), false, 'one name "a or b"');
  assert.equal(shown('OTHER.S.T or Hr Dept.X'), false);
  const kept = withoutUnseenGuesses(guess('Hr Dept.X'), role, context) as SnowmuxError;
  assert.equal(kept.code, 'OBJECT_NOT_FOUND');
  assert.equal(kept.message, 'Catalog Error: Table with name X does not exist!\nLINE 1: …');
});
