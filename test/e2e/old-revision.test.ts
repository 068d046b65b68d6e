/**
 * A client of MCP 2024-11-05 or 2025-03-26 reads no structuredContent (2025-06-18 added it, with output
 * schemas and titles). It was sent them anyway, and the text table beside them cut every cell past 120
 * characters ("the full value is in structuredContent"): such a client lost the rest of the cell. Now a
 * session's negotiated revision decides, at listing and at call time (over the socket and stdio the server
 * exists before initialize names it): an older client is listed tools as its revision defines them and gets
 * the text alone, every cell whole; a 2025-06-18 or later session is served as before. Over the shim's socket
 * and `snowmux stdio` here; /mcp in test/unit/old-revision-http.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, defer, runCli, startHub, tempHome } from '../helpers/harness.js';

/** A 300-character cell: wider than the 120 a table beside structured content shows. */
const WIDE = `${'w'.repeat(299)}Z`;
const QUERY = `SELECT '${WIDE}' AS wide`;

const session = (version: string) => [
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old-client', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
  { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'execute_query', arguments: { query: QUERY } } },
];

type Answer = { id?: unknown; result?: Record<string, unknown>; error?: unknown };

function answers(stdout: string): Map<unknown, Answer> {
  const byId = new Map<unknown, Answer>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as Answer;
    if (m.id !== undefined) byId.set(m.id, m);
  }
  return byId;
}

function assertServed(byId: Map<unknown, Answer>, version: string, face: string): void {
  const tools = (byId.get(2)?.result?.tools ?? []) as Record<string, unknown>[];
  const query = tools.find((x) => x.name === 'execute_query');
  assert.ok(query, `${face} ${version}: ${JSON.stringify(byId.get(2))}`);
  const call = byId.get(3)?.result as { content: { text: string }[]; structuredContent?: { rows: unknown[][] } } | undefined;
  assert.ok(call, `${face} ${version}: ${JSON.stringify(byId.get(3))}`);
  const text = call.content.map((c) => c.text).join('\n');
  if (version >= '2025-06-18') {
    // Unchanged: output schemas, titles, structured content with the whole cell, a cut cell in the table.
    assert.ok(query.outputSchema, `${face} ${version}: outputSchema`);
    assert.equal(typeof query.title, 'string');
    assert.deepEqual(call.structuredContent?.rows, [[WIDE]]);
    assert.ok(!text.includes(WIDE), `${face} ${version}: the table beside structured content cuts the cell`);
    return;
  }
  for (const tool of tools) {
    assert.deepEqual(Object.keys(tool).filter((k) => !['name', 'description', 'inputSchema', 'annotations'].includes(k)), [], `${face} ${version}: ${tool.name as string} lists only what ${version} defines`);
    if (version < '2025-03-26') assert.equal(tool.annotations, undefined);
  }
  assert.equal(call.structuredContent, undefined, `${face} ${version}: no structuredContent`);
  assert.ok(text.includes(WIDE), `${face} ${version}: the cell arrives whole in the text: ${text.slice(0, 400)}`);
}

const VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

test('snowmux stdio: a 2024-11-05 or 2025-03-26 session gets its revision\'s listing and whole cells; later ones are unchanged', async (t) => {
  const home = tempHome(t);
  for (const version of VERSIONS) {
    const served = await runCli(['stdio', '--home', home], {}, session(version).map((m) => JSON.stringify(m)).join('\n') + '\n');
    assert.equal(served.code, 0, served.stderr);
    assertServed(answers(served.stdout), version, 'stdio');
  }
});

test('the shim over the hub socket: the same, on one hub for every revision', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  for (const version of VERSIONS) {
    const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = once(shim, 'exit');
    defer(t, async () => {
      if (shim.exitCode === null && shim.signalCode === null) {
        shim.kill('SIGKILL');
        await exited;
      }
    });
    let out = '';
    const got = new Promise<void>((resolve) => {
      shim.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (answers(out).has(3)) resolve();
      });
    });
    shim.stdin.write(session(version).map((m) => JSON.stringify(m)).join('\n') + '\n');
    await got;
    shim.stdin.end();
    await exited;
    assertServed(answers(out), version, 'shim');
  }
});
