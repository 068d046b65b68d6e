/**
 * Nothing a client sends crashes the hub, leaks into another session, or goes unanswered where the
 * protocol asks for an answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, initialize, rawLink, runCli, startHub, tempHome, INIT_PARAMS } from '../helpers/harness.js';
import { defer } from '../helpers/harness.js';

async function queryWorks(link: Awaited<ReturnType<typeof rawLink>>, id: number): Promise<void> {
  const r = await link.request(id, 'tools/call', { name: 'execute_query', arguments: { query: 'SELECT COUNT(*) FROM NATION' } });
  const result = r.result as { structuredContent: { rows: unknown[][] } };
  assert.deepEqual(result.structuredContent.rows, [[25]], JSON.stringify(r));
}

test('bad input on one session gets proper JSON-RPC errors; the session and its neighbours carry on', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  const sock = join(home, 'hub.sock');
  const bystander = await rawLink(t, sock);
  await initialize(bystander);
  const link = await rawLink(t, sock);
  await initialize(link);

  link.send('this is not json\n');
  let m = await link.next();
  assert.equal((m.error as { code: number }).code, -32700);
  assert.equal(m.id, null);
  assert.match((m.error as { message: string }).message, /Parse error/);

  link.send('{"jsonrpc":"2.0","id":41}\n');
  m = await link.next();
  assert.equal((m.error as { code: number }).code, -32600);
  assert.equal(m.id, 41);

  link.send('{"id":42,"method":"tools/list"}\n');
  m = await link.next();
  assert.equal((m.error as { code: number }).code, -32600);
  assert.equal(m.id, 42);
  assert.match((m.error as { message: string }).message, /jsonrpc/);

  link.send('[{"jsonrpc":"2.0","id":43,"method":"tools/list"}]\n');
  m = await link.next();
  assert.equal((m.error as { code: number }).code, -32600);
  assert.match((m.error as { message: string }).message, /batch/i);

  link.send(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":44,"method":"tools/list","params":{"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}\n')]));
  m = await link.next();
  assert.equal((m.error as { code: number }).code, -32700);
  assert.match((m.error as { message: string }).message, /UTF-8/);

  m = await link.request(45, 'no/such/method');
  assert.equal((m.error as { code: number }).code, -32601);
  assert.match((m.error as { message: string }).message, /Method not found: "no\/such\/method" .*tools\/call/);

  // Spec methods with badly typed params: -32602 naming the field, never an internal error or a zod dump.
  for (const [i, method, params, field] of [
    [0, 'resources/read', { uri: 5 }, 'params.uri'],
    [1, 'completion/complete', { ref: { type: 'ref/nope' }, argument: { name: 'a', value: 'b' } }, 'params.ref.type'],
    [2, 'prompts/get', {}, 'params.name'],
    [3, 'tools/call', { name: 123 }, 'params.name'],
    [4, 'tools/list', { cursor: 5 }, 'params.cursor'],
  ] as const) {
    m = await link.request(450 + i, method, params);
    const error = m.error as { code: number; message: string };
    assert.equal(error.code, -32602, `${method}: ${JSON.stringify(m)}`);
    assert.ok(error.message.includes(`Invalid params for ${method}: ${field}:`), error.message);
    assert.ok(!error.message.includes('\n'), 'one line, no zod dump');
  }

  // A line over the cap (8 MiB by default) is dropped with an error; the stream stays in sync.
  const huge = `{"jsonrpc":"2.0","id":46,"method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT '${'x'.repeat(9 * 1024 * 1024)}'"}}}\n`;
  link.send(huge);
  m = await link.next();
  assert.equal((m.error as { code: number }).code, -32600);
  assert.match((m.error as { message: string }).message, /exceeds/);

  // What the SDK would drop unanswered (its schemas are strict) is answered by the hub, under the id sent.
  for (const [line, id] of [
    ['{"jsonrpc":"2.0","id":46.5,"method":"ping"}', 46.5],
    ['{"jsonrpc":"2.0","id":"x","method":"ping","trace":1}', 'x'],
    ['{"jsonrpc":"2.0","id":"y","method":"tools/list","params":[1]}', 'y'],
    ['{"jsonrpc":"2.0","id":"z","method":"tools/call","params":{"name":"execute_query","arguments":{"query":"SELECT 1"},"_meta":[]}}', 'z'],
  ] as const) {
    link.send(`${line}\n`);
    m = await link.next();
    assert.equal(m.id, id, line);
    assert.equal((m.error as { code: number }).code, -32600, line);
  }

  // A line that only opens like one of the shim's link frames (an unknown tag) is a message like any other.
  link.send('{"snowmux":"x","jsonrpc":"2.0","id":"frame-like","method":"ping"}\n');
  m = await link.next();
  assert.equal(m.id, 'frame-like', 'answered, not dropped without a word');
  assert.equal((m.error as { code: number }).code, -32600);
  assert.match((m.error as { message: string }).message, /snowmux/);

  // A broken notification gets no response; the next request is answered normally.
  link.send('{"jsonrpc":"2.0","method":""}\n');
  await queryWorks(link, 47);
  await queryWorks(bystander, 1);

  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { pid: number; sessions: unknown[] };
  assert.equal(status.pid, hub.pid, 'the hub is still the same process');
  assert.equal(status.sessions.length, 2);
});

test('an unsupported protocol version is answered with a version the hub supports', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const link = await rawLink(t, join(home, 'hub.sock'));
  const r = await link.request(1, 'initialize', { ...INIT_PARAMS, protocolVersion: '1999-01-01' });
  const version = (r.result as { protocolVersion: string }).protocolVersion;
  assert.match(version, /^20\d\d-\d\d-\d\d$/);
  assert.notEqual(version, '1999-01-01');
});

test('one connection speaks one MCP era: the other era\'s requests and a second initialize are refused saying what to do; a failed 2026 probe still falls back', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const sock = join(home, 'hub.sock');
  const envelope = (version = '2026-07-28') => ({ _meta: { 'io.modelcontextprotocol/protocolVersion': version, 'io.modelcontextprotocol/clientInfo': { name: 'modern-test', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } });
  const errorOf = (m: Record<string, unknown>) => m.error as { code: number; message: string; data?: { supported?: string[] } } | undefined;

  // A 2025 connection.
  const legacy = await rawLink(t, sock);
  await initialize(legacy);
  let m = await legacy.request(2, 'server/discover', envelope());
  assert.equal(errorOf(m)?.code, -32601, JSON.stringify(m));
  assert.match(errorOf(m)!.message, /server\/discover is MCP 2026-07-28, and this connection was initialized with MCP 2025-06-18\. .*open a new connection/);
  m = await legacy.request(3, 'initialize', { ...INIT_PARAMS, clientInfo: { name: 'someone-else', version: '1' } });
  assert.equal(errorOf(m)?.code, -32600, JSON.stringify(m));
  assert.match(errorOf(m)!.message, /already initialized \(MCP 2025-06-18\).*open a new connection/);
  m = await legacy.request(4, 'tools/list');
  assert.ok(m.result, 'the connection goes on');

  // A 2026-07-28 connection.
  const modern = await rawLink(t, sock);
  m = await modern.request(1, 'tools/list', envelope());
  assert.ok(m.result, JSON.stringify(m));
  m = await modern.request(2, 'initialize', INIT_PARAMS);
  assert.equal(errorOf(m)?.code, -32022, JSON.stringify(m));
  assert.deepEqual(errorOf(m)!.data?.supported, ['2026-07-28'], 'the SDK\'s data is kept');
  assert.match(errorOf(m)!.message, /already speaks MCP 2026-07-28.*open a new connection and send initialize first/);
  m = await modern.request(3, 'ping');
  assert.equal(errorOf(m)?.code, -32601, JSON.stringify(m));
  assert.match(errorOf(m)!.message, /ping is not part of MCP 2026-07-28/);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: { client: { name: string } | null }[] };
  assert.deepEqual(status.sessions.map((s) => s.client?.name).sort(), ['modern-test', 'raw-test'], 'neither a refused initialize nor another era\'s envelope renamed a session');

  // A probe for a version the hub does not serve pins nothing: initialize after it is served.
  const probing = await rawLink(t, sock);
  m = await probing.request(1, 'server/discover', envelope('2099-01-01'));
  assert.equal(errorOf(m)?.code, -32022, JSON.stringify(m));
  m = await probing.request(2, 'initialize', INIT_PARAMS);
  assert.equal((m.result as { protocolVersion?: string } | undefined)?.protocolVersion, '2025-06-18', JSON.stringify(m));

  // Two initialize requests back to back: the first is the connection's, the second is refused.
  const eager = await rawLink(t, sock);
  eager.send(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { ...INIT_PARAMS, clientInfo: { name: 'second', version: '1' } } })}\n`);
  const both = [await eager.next(), await eager.next()].sort((a, b) => Number(a.id) - Number(b.id));
  assert.ok(both[0]!.result, JSON.stringify(both[0]));
  assert.equal(errorOf(both[1]!)?.code, -32600, JSON.stringify(both[1]));
  assert.match(errorOf(both[1]!)!.message, /already sent initialize and is waiting for its answer/);
});

test('junk instead of a hello, a dead socket mid-message, and a plain MCP client without hello', async (t) => {
  const home = tempHome(t);
  const hub = await startHub(t, home);
  const sock = join(home, 'hub.sock');
  // Random bytes then a hang-up.
  const junk = connect(sock);
  await once(junk, 'connect');
  junk.end(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x7b]));
  // Half a message, then the socket dies.
  const half = await rawLink(t, sock);
  await initialize(half);
  half.send('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"exec');
  half.socket.destroy();
  // A client that speaks MCP straight to the socket (no snowmux hello) is served too.
  const plain = await rawLink(t, sock, { hello: false });
  await initialize(plain);
  await queryWorks(plain, 2);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { pid: number };
  assert.equal(status.pid, hub.pid);
});

test('a plain MCP client whose first line is long (over 64 KiB, the most a hello may be) is answered, not left waiting', { timeout: 60_000 }, async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const sock = join(home, 'hub.sock');
  // Just over 64 KiB (its newline in the second read) and several reads long: both are requests like any other.
  for (const size of [70_000, 300_000]) {
    const plain = await rawLink(t, sock, { hello: false });
    const res = await initialize(plain, { ...INIT_PARAMS, clientInfo: { name: 'long-client', version: 'x'.repeat(size) } });
    assert.equal((res.result as { protocolVersion: string }).protocolVersion, INIT_PARAMS.protocolVersion, JSON.stringify(res).slice(0, 300));
    await queryWorks(plain, 2);
    plain.close();
  }
});

test('through the shim: an oversized stdin line is answered, malformed JSON reaches the hub and is answered', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  defer(t, () => shim.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  shim.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
      waiters.shift()?.();
    }
  });
  const nextLine = async () => {
    while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
    return lines.shift()!;
  };
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) + '\n');
  assert.ok(((await nextLine()).result as object) !== undefined);
  shim.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  shim.stdin.write('{not json}\n');
  let m = await nextLine();
  assert.equal((m.error as { code: number }).code, -32700);
  shim.stdin.write(`{"jsonrpc":"2.0","id":2,"method":"x","params":{"p":"${'y'.repeat(9 * 1024 * 1024)}"}}\n`);
  m = await nextLine();
  assert.equal((m.error as { code: number }).code, -32600);
  assert.match((m.error as { message: string }).message, /line limit/);
  assert.equal(m.id, 2, 'answered under the id its first bytes show');
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) + '\n');
  m = await nextLine();
  assert.equal(m.id, 3);
  assert.ok(Array.isArray((m.result as { tools: unknown[] }).tools));
  // Lines the hub would read differently from the shim are answered here, under their id, and not kept in
  // flight: the id is free again (before, invalid UTF-8 after "params" stayed owed for ever, and was sent
  // again to every next hub).
  shim.stdin.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"tools/list","params":{"x":"'), Buffer.from([0xff]), Buffer.from('"},"id":4}\n')]));
  m = await nextLine();
  assert.equal(m.id, 4);
  assert.equal((m.error as { code: number }).code, -32700);
  // An id holding the invalid bytes is unreadable: answered under null, as the hub answers it, not under the
  // lenient reading's "a\uFFFDb" (an id the client never sent, and may have in flight: its real answer would be lost).
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 'a\uFFFDb', method: 'tools/list' }) + '\n');
  shim.stdin.write(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"a'), Buffer.from([0xff]), Buffer.from('b","method":"ping"}\n')]));
  const answers = [await nextLine(), await nextLine()];
  const broken = answers.find((a) => a.error !== undefined)!;
  assert.equal(broken.id, null, 'the unreadable id is not rewritten into one the client sent');
  assert.equal((broken.error as { code: number }).code, -32700);
  assert.ok(answers.some((a) => a.id === 'a\uFFFDb' && a.result !== undefined), 'the request in flight under the look-alike id gets its own answer');
  shim.stdin.write('{"snowmux":"drained","jsonrpc":"2.0","id":5,"method":"ping"}\n');
  m = await nextLine();
  assert.equal(m.id, 5);
  assert.match((m.error as { message: string }).message, /"snowmux"/);
  shim.stdin.write('{"jsonrpc":"2.0","id":"snowmux-shim-replay-1","method":"ping"}\n');
  m = await nextLine();
  assert.equal(m.id, 'snowmux-shim-replay-1');
  assert.equal((m.error as { code: number }).code, -32600);
  shim.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }) + '\n');
  m = await nextLine();
  assert.deepEqual([m.id, m.result], [4, {}], 'the id of the refused line is not held');
  shim.stdin.end();
  const [code] = await once(shim, 'exit');
  assert.equal(code, 0);
});

test('a client that closes stdin right after its requests (the last without its newline) gets every answer, from `snowmux stdio` and through the shim', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  for (const command of ['stdio', 'shim']) {
    const proc = spawn(process.execPath, [cliPath, command, '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
    defer(t, () => proc.kill('SIGKILL'));
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = once(proc, 'exit');
    proc.stdin.end(
      [
        { jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT COUNT(*) AS N FROM LINEITEM' } } },
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      ].map((m) => JSON.stringify(m)).join('\n'), // the last one without its newline: stdin's end ends it
    );
    const [code] = await exited;
    const answers = out.trim().split('\n').map((l) => JSON.parse(l) as { id?: number; result?: { structuredContent?: { rows: unknown[][] } } });
    assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2, 3], `${command}: ${out.slice(0, 500)}`);
    assert.ok((answers.find((a) => a.id === 2)?.result?.structuredContent?.rows[0]?.[0] as number) > 0, `${command}: the query's answer`);
    assert.equal(code, 0, command);
  }
});

type Answer = { id: number; result?: { tools?: unknown[] }; error?: { code: number; message: string } };

/** Sends `messages` (after initialize) to `snowmux <command>`, closes stdin, and returns the answers by id. */
async function answersOf(t: Parameters<typeof defer>[0], home: string, command: string, messages: unknown[]): Promise<Map<number, Answer>> {
  const proc = spawn(process.execPath, [cliPath, command, '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'ignore'] });
  defer(t, () => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(proc, 'exit');
  const opening = [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }, { jsonrpc: '2.0', method: 'notifications/initialized' }];
  proc.stdin.end([...opening, ...messages].map((m) => `${JSON.stringify(m)}\n`).join(''));
  await exited;
  const byId = new Map<number, Answer>();
  for (const line of out.trim().split('\n')) {
    const m = JSON.parse(line) as Answer;
    byId.set(m.id, m);
  }
  return byId;
}

/** The answers other than initialize's, in id order, as one text (to compare two commands). */
const sameText = (answers: Map<number, Answer>) => JSON.stringify([...answers.entries()].filter(([id]) => id !== 1).sort(([a], [b]) => a - b));

test('an unknown tool is answered -32602 naming it (escaped, cut short) and saying to call tools/list, the same from `snowmux stdio` and through the shim', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const hostile = `nope\u202e\u0000${'x'.repeat(100_000)}`;
  const seen: string[] = [];
  for (const command of ['stdio', 'shim']) {
    const answers = await answersOf(t, home, command, [
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_querry', arguments: { query: 'SELECT 1' } } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: hostile, arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'prompts/get', params: { name: 'explore_schemas' } },
      { jsonrpc: '2.0', id: 5, method: 'resources/read', params: { uri: `snowmux://${hostile}` } },
      { jsonrpc: '2.0', id: 6, method: 'resources/read', params: { uri: `snowmux://nowhere/${'y'.repeat(100_000)}` } },
      { jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name: hostile }, argument: { name: 'database', value: 'S' } } },
      { jsonrpc: '2.0', id: 8, method: 'completion/complete', params: { ref: { type: 'ref/resource', uri: `snowmux://${hostile}` }, argument: { name: 'database', value: 'S' } } },
      { jsonrpc: '2.0', id: 9, method: 'resources/read', params: { uri: `snowmux://nowhere/${'z'.repeat(1_100_000)}` } },
    ]);
    const typo = answers.get(2)?.error;
    assert.equal(typo?.code, -32602, `${command}: ${JSON.stringify(answers.get(2))}`);
    assert.match(typo!.message, /^Unknown tool "execute_querry": .*Call tools\/list/, command);
    // The stable code, as every snowmux error carries one (errors.md).
    assert.deepEqual((typo as { data?: unknown }).data, { code: 'UNKNOWN_TOOL', retryable: false }, command);
    const shown = answers.get(3)?.error?.message ?? '';
    assert.ok(shown.length < 400, `${command}: the client's name is cut short, not echoed whole (${shown.length} chars)`);
    assert.ok(!/[\u202e\u0000]/.test(shown), `${command}: no raw control or bidi characters in the error`);
    assert.ok(shown.includes('nope\\u202e\\u0000x'), `${command}: they are shown escaped: ${shown.slice(0, 120)}`);
    // A prompt or resource that does not exist says where the real ones are listed, as safely.
    const prompt = answers.get(4)?.error;
    assert.equal(prompt?.code, -32602, `${command}: ${JSON.stringify(answers.get(4))}`);
    assert.match(prompt!.message, /^Unknown prompt "explore_schemas": .*Call prompts\/list/, command);
    const resource = answers.get(5)?.error;
    assert.equal(resource?.code, -32602, `${command}: ${JSON.stringify(answers.get(5)).slice(0, 300)}`);
    assert.match(resource!.message, /^Resource URI "snowmux:\/\/nope\\u202e\\u0000x+…" is not a valid URI\. Call resources\/list and resources\/templates\/list/, command);
    const missing = answers.get(6)?.error;
    assert.match(missing?.message ?? '', /^Unknown resource "snowmux:\/\/nowhere\/y+…": .*Call resources\/list and resources\/templates\/list/, command);
    assert.match(answers.get(7)?.error?.message ?? '', /^Unknown prompt "nope\\u202e\\u0000x+…": .*Call prompts\/list/, command);
    assert.match(answers.get(8)?.error?.message ?? '', /^Unknown resource template "snowmux:\/\/nope\\u202e\\u0000x+…": .*Call resources\/list/, command);
    // Past the SDK's URI length limit: the client's mistake (-32602), not the server's (-32603).
    assert.equal(answers.get(9)?.error?.code, -32602, `${command}: ${JSON.stringify(answers.get(9)).slice(0, 300)}`);
    assert.match(answers.get(9)!.error!.message, /^Resource URI "snowmux:\/\/nowhere\/z+…" is longer than any this server serves\. Call resources\/list/);
    for (const id of [4, 5, 6, 7, 8, 9]) {
      assert.ok(JSON.stringify(answers.get(id)).length < 1000, `${command} #${id}: the URI is cut short in the message and its data, not echoed whole`);
    }
    seen.push(sameText(answers));
  }
  assert.equal(seen[0], seen[1], 'the same answers from `snowmux stdio` and through the shim');
});

test('a cursor the server never gave (it pages nothing) is refused with -32602, not read as the first page, the same from `snowmux stdio` and through the shim', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const seen: string[] = [];
  for (const command of ['stdio', 'shim']) {
    const answers = await answersOf(t, home, command, [
      { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { cursor: 'page-2' } },
      { jsonrpc: '2.0', id: 5, method: 'resources/list', params: { cursor: 'page-2' } },
      { jsonrpc: '2.0', id: 6, method: 'resources/templates/list', params: { cursor: '' } },
      { jsonrpc: '2.0', id: 7, method: 'prompts/list', params: { cursor: 'x' } },
      { jsonrpc: '2.0', id: 8, method: 'tools/list', params: {} },
    ]);
    for (const id of [4, 5, 6, 7]) {
      const error = answers.get(id)?.error;
      assert.equal(error?.code, -32602, `${command} #${id}: ${JSON.stringify(answers.get(id)).slice(0, 300)}`);
      assert.match(error!.message, /params\.cursor: .* is not a cursor this server gave .*without a cursor/);
    }
    assert.ok((answers.get(8)?.result?.tools?.length ?? 0) > 0, `${command}: without a cursor the list is served`);
    answers.delete(8);
    seen.push(sameText(answers));
  }
  assert.equal(seen[0], seen[1], 'the same answers from `snowmux stdio` and through the shim');
});

test('snowmux stdio: an open 2026-07-28 subscription does not keep the process after stdin ends; the calls owed are answered first', async (t) => {
  const home = tempHome(t);
  const proc = spawn(process.execPath, [cliPath, 'stdio', '--home', home], { env: cliEnv({ SNOWMUX_LOG_LEVEL: 'info' }), stdio: ['pipe', 'pipe', 'pipe'] });
  defer(t, () => proc.kill('SIGKILL'));
  let out = '';
  let log = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = once(proc, 'exit');
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'modern', version: '1' } };
  proc.stdin.end(
    [
      { jsonrpc: '2.0', id: 'listen:0', method: 'subscriptions/listen', params: { _meta: meta, notifications: { toolsListChanged: true } } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: meta, name: 'execute_query', arguments: { query: 'SELECT COUNT(*) AS N FROM ORDERS' } } },
    ].map((m) => `${JSON.stringify(m)}\n`).join(''),
  );
  const [code] = await exited;
  assert.equal(code, 0);
  // Ended by the transport at stdin's end (the orderly stop), not by an event loop that ran out of work.
  assert.match(log, /"why":"stdin ended".*"msg":"session closed"/);
  const answers = out.trim().split('\n').map((l) => JSON.parse(l) as { id?: unknown; result?: { isError?: boolean } });
  const call = answers.find((a) => a.id === 2);
  assert.ok(call?.result && call.result.isError !== true, out.slice(0, 600));
});

test('through the shim: a session the hub cuts for malformed input tells the calls it had running why, not "the hub restarted"', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const shim = spawn(process.execPath, [cliPath, 'shim', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  defer(t, () => shim.kill('SIGKILL'));
  const answers = new Map<unknown, { error?: { message: string } }>();
  let buf = '';
  let wake: (() => void) | undefined;
  shim.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const m = JSON.parse(buf.slice(0, nl)) as { id: unknown; error?: { message: string } };
      buf = buf.slice(nl + 1);
      if (m.id !== null) answers.set(m.id, m);
    }
    wake?.();
  });
  const answerTo = async (id: unknown) => {
    while (!answers.has(id)) await new Promise<void>((r) => (wake = r));
    return answers.get(id)!;
  };
  shim.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS })}\n`);
  await answerTo(1);
  // A call that runs until it is stopped, then more malformed lines than a session may send.
  shim.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT count(*) FROM range(1000000000000) a, range(1000) b WHERE a.range + b.range < 0' } } })}\n`);
  shim.stdin.write('{not json\n'.repeat(150));
  const cut = await answerTo(2);
  assert.match(cut.error?.message ?? '', /the hub ended this session \(the client kept sending malformed input/);
  assert.doesNotMatch(cut.error?.message ?? '', /restarted/);
});
