/**
 * An argument a tool does not take is refused, naming it, the parameter most likely meant and the tool's
 * parameters — not dropped: dropped, `describe_table {table_name, schema_name}` described the default
 * schema's table of that name. Every tool, built-in and team-defined, lists `additionalProperties: false`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { hubFace } from '../helpers/in-process-face.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';
import { argumentProblem, meantParameter } from '../../src/hub/tools/tool-arguments.js';
import type { TeamTool } from '../../src/hub/tools/tool-runtime.js';
import type { ObjectKind, ObjectRef, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';

/** Two schemas with a table ORDERS each: which one a call described is in its answer. */
class TwoSchemas implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly described: string[] = [];
  info() {
    return { kind: 'duckdb' as const, name: 'two', detail: {}, defaultDatabase: 'DB', defaultSchema: 'MAIN', capacity: 2 };
  }
  async query(): Promise<QueryResult> {
    return { columns: [{ name: 'N', type: 'INTEGER' }], rows: [[1]], rowCount: 1, truncated: false, elapsedMs: 0 };
  }
  async listDatabases() {
    return [{ name: 'DB' }];
  }
  async listSchemas(database: string) {
    return ['MAIN', 'MIXED'].map((name) => ({ database, name }));
  }
  async listObjects(database: string, schema: string, kind: ObjectKind) {
    return kind === 'table' ? [{ database, schema, name: 'ORDERS', kind }] : [];
  }
  async describeObject(ref: ObjectRef) {
    this.described.push(`${ref.database}.${ref.schema}.${ref.name}`);
    return [{ name: 'ID', type: 'INTEGER', nullable: false }];
  }
  async close() {}
}

const teamTool: TeamTool = { name: 'orders_since', description: 'Orders since a day.', sql: 'SELECT 1 WHERE ? > 0', params: [{ name: 'day', type: 'integer', description: 'Day.', required: true }] };

async function connected(t: { after(fn: () => unknown): void }) {
  const warehouse = new TwoSchemas();
  const core = coreOver(t, warehouse, { name: 'two', defaultSchema: 'MAIN', teamTools: [teamTool] });
  const client = await localClient(t, core);
  const recorded = (tool: string) => core.status().recent.find((c) => c.tool === tool);
  return { client, warehouse, recorded };
}

const text = (result: { content?: unknown }) => (result.content as { text: string }[])[0]!.text;
const code = (result: { _meta?: Record<string, unknown> }) => (result._meta?.['dev.snowmux/error'] as { code: string } | undefined)?.code;

test('an unknown argument is refused with the parameter meant and the tool\'s parameters; nothing is described', async (t) => {
  const { client, warehouse, recorded } = await connected(t);
  const result = await client.callTool({ name: 'describe_table', arguments: { table_name: 'ORDERS', schema_name: 'MIXED' } });
  assert.equal(result.isError, true, JSON.stringify(result));
  assert.equal(code(result), 'INVALID_ARGUMENTS');
  assert.match(text(result), /describe_table does not take "schema_name" \(did you mean "schema"\?\)/);
  assert.match(text(result), /Its parameters: database, table_name \(required\), schema/);
  assert.deepEqual(warehouse.described, [], 'the default schema\'s ORDERS is not described in its place');
  assert.equal(recorded('describe_table')?.errorCode, 'INVALID_ARGUMENTS');
});

test('a missing required argument says which key was sent in its place', async (t) => {
  const { client } = await connected(t);
  const result = await client.callTool({ name: 'describe_table', arguments: { table: 'ORDERS' } });
  assert.equal(result.isError, true);
  assert.match(text(result), /describe_table needs "table_name"; it was sent as "table": pass it as "table_name"\./);
  assert.doesNotMatch(text(result), /does not take "table"/, 'said once');
  const sql = await client.callTool({ name: 'execute_query', arguments: { sql: 'select 1', max_rows: 5 } });
  assert.match(text(sql), /execute_query needs "query"; it was sent as "sql"/);
  assert.match(text(sql), /does not take "max_rows" \(did you mean "limit"\?\)/);
  const wrongType = await client.callTool({ name: 'execute_query', arguments: { query: 42, Schema: 'MIXED' } });
  assert.match(text(wrongType), /does not take "Schema" \(did you mean "schema"\?\)\. execute_query: "query" must be a string; it was 42\./, 'the other problems are said too');
});

test('a value of the wrong type or out of range is refused naming the argument, what it must be and what was sent, with the way on', async (t) => {
  const { client } = await connected(t);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['execute_query', { query: '' }, /^execute_query: "query" must not be empty\. /],
    ['execute_query', { query: 'select 1', limit: -5 }, /^execute_query: "limit" must be at least 1; it was -5\. /],
    ['execute_query', { query: 'select 1', limit: 1e9 }, /^execute_query: "limit" must be at most 10000; it was 1000000000\. /],
    ['execute_query', { query: 'select 1', limit: '10' }, /^execute_query: "limit" must be a number; it was the string "10"\. /],
    ['execute_query', { query: 'select 1', limit: 2.5 }, /^execute_query: "limit" must be a whole number; it was 2\.5\. /],
    // Models send null for an optional argument they mean to leave out: say that leaving it out is the way.
    ['execute_query', { query: 'select 1', limit: null }, /^execute_query: "limit" must be a number; it was null \(leave it out to use its default\)\. /],
    ['query_history', { outcome: 'failed' }, /^query_history: "outcome" must be one of "ok", "error", "refused", "cancelled"; it was the string "failed"\. /],
    ['describe_table', { table_name: 'ORDERS', include_tags: 'yes' }, /^describe_table: "include_tags" must be true or false; it was the string "yes"\. /],
    ['fetch_results', { query_id: 'a b' }, /^fetch_results: query_id: a query id is printable ASCII without spaces, such as [^;]+; it was the string "a b"\. /],
  ];
  for (const [tool, args, expected] of cases) {
    const result = await client.callTool({ name: tool, arguments: args });
    assert.equal(result.isError, true, `${tool} ${JSON.stringify(args)}`);
    assert.equal(code(result), 'INVALID_ARGUMENTS');
    assert.match(text(result), expected);
    assert.match(text(result), /Its parameters: .* Nothing was run; call it again with these values corrected\.$/, text(result));
    assert.doesNotMatch(text(result), /Input validation error|Too small|Too big|Invalid input|Invalid option/, 'the schema library\'s words are not the answer');
  }
});

test('every tool, built-in and team-defined, lists additionalProperties false and refuses an unknown argument', async (t) => {
  const { client } = await connected(t);
  const { tools } = await client.listTools();
  assert.ok(tools.some((tool) => tool.name === 'orders_since'), 'the team tool is listed');
  for (const tool of tools) {
    assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
    const result = await client.callTool({ name: tool.name, arguments: { not_a_parameter: 1 } });
    assert.equal(result.isError, true, tool.name);
    assert.equal(code(result), 'INVALID_ARGUMENTS', tool.name);
    assert.match(text(result), /does not take "not_a_parameter"/, tool.name);
  }
});

test('the 2026-07-28 listing (over HTTP) says additionalProperties false too', async (t) => {
  const { fetch: inProcess } = hubFace(t);
  const client = new Client({ name: 'modern', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL('http://127.0.0.1/mcp'), { fetch: inProcess }));
  t.after(() => client.close());
  const { tools } = await client.listTools();
  assert.ok(tools.length > 10);
  for (const tool of tools) assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
  const result = await client.callTool({ name: 'list_tables', arguments: { schema_name: 'MIXED' } });
  assert.equal(result.isError, true);
  assert.match(text(result), /list_tables does not take "schema_name" \(did you mean "schema"\?\)/);
});

test('a _meta a client puts inside the arguments is not refused (MCP reserves the key)', async (t) => {
  const { client, warehouse } = await connected(t);
  const result = await client.callTool({ name: 'describe_table', arguments: { table_name: 'ORDERS', schema: 'MIXED', _meta: { traceparent: '00-x' } } });
  assert.ok(!result.isError, JSON.stringify(result));
  assert.deepEqual(warehouse.described, ['DB.MIXED.ORDERS']);
});

test('meantParameter: typos, the same word with or without _name, usual guesses; nothing for an unrelated key', () => {
  const names = ['database', 'schema', 'table_name', 'query', 'limit'];
  assert.equal(meantParameter('schema_name', names), 'schema');
  assert.equal(meantParameter('database_name', names), 'database');
  assert.equal(meantParameter('table', names), 'table_name');
  assert.equal(meantParameter('Schema', names), 'schema');
  assert.equal(meantParameter('databse', names), 'database');
  assert.equal(meantParameter('sql', names), 'query');
  assert.equal(meantParameter('max_rows', names), 'limit');
  assert.equal(meantParameter('password', names), undefined);
  assert.equal(meantParameter('_', names), undefined);
  assert.match(argumentProblem('list_databases', { x: 1 }, { names: [], required: new Set() })!, /It takes no arguments/);
  assert.equal(argumentProblem('t', { a: 1 }, { names: ['a'], required: new Set(['a']) }), undefined);
});

test('a call with thousands of unknown keys is refused naming the first few and counting the rest (not 1.5 MB of text)', () => {
  const args: Record<string, unknown> = { query: 'SELECT 1' };
  for (let i = 0; i < 49_000; i++) args[`k${i}`] = 1;
  const problem = argumentProblem('execute_query', args, { names: ['query', 'limit'], required: new Set(['query']) })!;
  assert.match(problem, /^execute_query does not take "k0"\. execute_query does not take "k1"\. .*"k4"\. It does not take 48,995 more of the keys sent either\. Its parameters: query \(required\), limit\./);
  assert.doesNotMatch(problem, /"k5"/);
  assert.ok(problem.length < 1000, `${problem.length} characters`);
  // A key sent in place of a missing parameter is still found among the named ones.
  const misnamed = argumentProblem('execute_query', { sql: 'SELECT 1', ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x${i}`, 1])) }, { names: ['query', 'limit'], required: new Set(['query']) })!;
  assert.match(misnamed, /^execute_query needs "query"; it was sent as "sql": pass it as "query"\./);
});
