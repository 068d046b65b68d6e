/**
 * What a role decides about its results and statements: long text cells cut with a notice
 * (max_cell_chars), rows returned once in structured form instead of twice (result_form), and a
 * statement timeout below the hub's that the warehouse enforces (statement_timeout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;

test('max_cell_chars cuts long cells with a notice; result_form = "structured" sends the rows once; statement_timeout cancels in the warehouse', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.lean]
identities = ["${me}"]
clients = ["lean-*"]
max_cell_chars = 5
result_form = "structured"
statement_timeout = "1s"
[roles.plain]
identities = ["${me}"]
`);
  await startHub(t, home);
  const lean = await connectClient(t, { home, kind: 'v2-legacy', name: 'lean-editor' });
  const plain = await connectClient(t, { home, kind: 'v2-legacy', name: 'plain-editor' });
  const sql = 'SELECT N_NAME, N_COMMENT FROM NATION ORDER BY N_NATIONKEY LIMIT 2';

  const full = await plain.callTool('execute_query', { query: sql });
  const fullRows = (full.structuredContent as { rows: string[][] }).rows;
  assert.ok(fullRows[0]![1]!.length > 5);
  assert.match(textOf(full), /N_COMMENT/, 'the plain role gets the table as text too');

  const r = await lean.callTool('execute_query', { query: sql });
  assert.ok(!r.isError, textOf(r));
  const s = r.structuredContent as { rows: string[][]; notice: string };
  assert.deepEqual(s.rows[0], [fullRows[0]![0]!.slice(0, 5) + (fullRows[0]![0]!.length > 5 ? '…' : ''), `${fullRows[0]![1]!.slice(0, 5)}…`]);
  assert.match(s.notice, /cut \(max_cell_chars/);
  assert.doesNotMatch(textOf(r), /N_COMMENT/, 'rows are not repeated as a text table');
  assert.match(textOf(r), /2 rows.*structured result/);

  const slow = await lean.callTool('execute_query', { query: 'SELECT count(*) FROM range(1000000000000)' });
  assert.equal((slow._meta?.['dev.snowmux/error'] as { code: string }).code, 'QUERY_TIMEOUT', textOf(slow));
});

test('result_form = "text": the role\'s tools have no output schemas and answer with the text table alone; other roles keep both', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.texty]
identities = ["${me}"]
clients = ["texty-*"]
result_form = "text"
[roles.plain]
identities = ["${me}"]
`);
  await startHub(t, home);
  for (const kind of ['v2-legacy', 'v2-modern', 'v1'] as const) {
    const texty = await connectClient(t, { home, kind, name: `texty-${kind}` });
    const plain = await connectClient(t, { home, kind, name: `plain-${kind}` });
    const listed = await texty.listTools();
    assert.ok(listed.tools.length > 10);
    assert.deepEqual(listed.tools.filter((tool) => tool.outputSchema !== undefined).map((tool) => tool.name), [], kind);
    assert.ok((await plain.listTools()).tools.some((tool) => tool.name === 'execute_query' && tool.outputSchema !== undefined), 'another role keeps the schemas');

    const r = await texty.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY LIMIT 2' });
    assert.ok(!r.isError, textOf(r));
    assert.equal(r.structuredContent, undefined, kind);
    assert.match(textOf(r), /N_NAME[\s\S]*ALGERIA[\s\S]*ARGENTINA/);
    const listedDbs = await texty.callTool('list_databases', {});
    assert.equal(listedDbs.structuredContent, undefined);
    assert.match(textOf(listedDbs), /SNOWMUX_SAMPLE/);
    // Refusals still carry their code.
    const refused = await texty.callTool('execute_query', { query: 'DROP TABLE NATION' });
    assert.equal((refused._meta?.['dev.snowmux/error'] as { code: string }).code, 'SQL_REFUSED');
  }
});

test('query_history: each caller sees their own calls; a role with query_history = "all" may see every identity\'s', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[hub]
http_listen = "127.0.0.1:0"
[roles.lead]
identities = ["alice"]
query_history = "all"
`);
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())![1]!;
  const keyOf = async (identity: string) => (await runCli(['keys', 'create', '--identity', identity, '--home', home])).stdout.trim();
  const alice = await connectClient(t, { home, kind: 'v2-modern', command: 'http', http: { url, key: await keyOf('alice') } });
  const bob = await connectClient(t, { home, kind: 'v2-legacy', command: 'http', http: { url, key: await keyOf('bob') } });
  assert.ok(!(await alice.callTool('execute_query', { query: 'SELECT 1 AS alice_was_here' })).isError);
  assert.ok(!(await bob.callTool('execute_query', { query: 'SELECT 2 AS bob_was_here' })).isError);

  type History = { queries: { identity: string; sql: string }[] };
  const own = (await bob.callTool('query_history', {})).structuredContent as History;
  assert.deepEqual(own.queries.map((q) => [q.identity, q.sql]), [['bob', 'SELECT 2 AS bob_was_here']]);
  const refused = await bob.callTool('query_history', { all_identities: true });
  assert.equal((refused._meta?.['dev.snowmux/error'] as { code: string }).code, 'POLICY_DENIED');
  assert.match(textOf(refused), /query_history = "own"/);

  const everyone = await alice.callTool('query_history', { all_identities: true });
  assert.ok(!everyone.isError, textOf(everyone));
  const seen = (everyone.structuredContent as History).queries.map((q) => q.identity).sort();
  assert.deepEqual(seen, ['alice', 'bob']);
  assert.match(textOf(everyone), /identity[\s\S]*bob[\s\S]*bob_was_here/);
  const aliceOwn = (await alice.callTool('query_history', {})).structuredContent as History;
  assert.deepEqual(aliceOwn.queries.map((q) => q.identity), ['alice'], 'without all_identities, only one\'s own');
});

test('one user\'s editor under a narrower role (clients) is not offered, and cannot page, the results of a wider role\'s editor', async (t) => {
  // The narrow role's deny held for execute_query, but query_history listed the other editor's query id and
  // fetch_results paged the denied table's rows from it: both editors are the same user.
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.narrow]
clients = ["narrow-*"]
deny = ["*.TPCH.CUSTOMER"]
`);
  await startHub(t, home);
  const wide = await connectClient(t, { home, kind: 'v2-legacy', name: 'wide-editor' });
  const narrow = await connectClient(t, { home, kind: 'v2-legacy', name: 'narrow-editor' });
  const codeOf = (r: { _meta?: Record<string, unknown> }) => (r._meta?.['dev.snowmux/error'] as { code: string } | undefined)?.code;
  const customers = await wide.callTool('execute_query', { query: 'SELECT C_NAME, C_PHONE FROM SNOWMUX_SAMPLE.TPCH.CUSTOMER', limit: 2 });
  assert.ok(!customers.isError, textOf(customers));
  const queryId = (customers.structuredContent as { query_id: string }).query_id;
  assert.ok(queryId);
  assert.equal(codeOf(await narrow.callTool('execute_query', { query: 'SELECT C_NAME FROM SNOWMUX_SAMPLE.TPCH.CUSTOMER' })), 'POLICY_DENIED');
  assert.ok(!(await narrow.callTool('execute_query', { query: 'SELECT N_NAME FROM SNOWMUX_SAMPLE.TPCH.NATION', limit: 1 })).isError);

  type History = { queries: { sql: string; query_id: string | null }[] };
  const offered = (await narrow.callTool('query_history', {})).structuredContent as History;
  assert.deepEqual(offered.queries.map((q) => q.sql), ['SELECT C_NAME FROM SNOWMUX_SAMPLE.TPCH.CUSTOMER', 'SELECT N_NAME FROM SNOWMUX_SAMPLE.TPCH.NATION'].reverse(), 'only the narrow role\'s own calls');
  const paged = await narrow.callTool('fetch_results', { query_id: queryId, offset: 2, limit: 3 });
  assert.equal(codeOf(paged), 'POLICY_DENIED', textOf(paged));
  assert.match(textOf(paged), /run under role "default".*role "narrow" may only use some objects/s);
  // The wider role sees and pages everything its user ran.
  assert.equal(((await wide.callTool('query_history', {})).structuredContent as History).queries.length, 3);
  assert.ok(!(await wide.callTool('fetch_results', { query_id: queryId, offset: 2, limit: 3 })).isError);
});
