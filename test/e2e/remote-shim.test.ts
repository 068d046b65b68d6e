/**
 * A shim on another machine: `snowmux shim --url ws://…/shim` with a key from the environment reaches a hub
 * through its HTTP face, runs as the key's identity, sends no Snowflake setting, and survives a hub
 * restart like a local shim (the editor does not re-initialise). A bad key reaches the editor as an error
 * that says what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { cliPath } from '../helpers/paths.js';
import { cliEnv, defer, runCli, startHub, tempHome, freePort, type HubProcess } from '../helpers/harness.js';


async function remoteClient(t: Parameters<typeof tempHome>[0], url: string, key: string, name: string, env: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name, version: '1' }, { versionNegotiation: { mode: 'legacy' } });
  // The editor's machine: its own (empty) home, and a Snowflake password that must not travel.
  const editorHome = tempHome(t, 'smx-editor-');
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, 'shim', '--url', url, '--home', editorHome], env: cliEnv({ SNOWMUX_KEY: key, SNOWFLAKE_PASSWORD: 'never-sent', SNOWMUX_RECONNECT_DEADLINE_MS: '20000', ...env }), stderr: 'ignore' }));
  defer(t, () => client.close());
  return client;
}

/** A hub with its HTTP face on a fixed port (so a restarted hub answers the same address) and a key for it. */
async function remoteHub(t: Parameters<typeof tempHome>[0], engine: 'uws' | 'node'): Promise<{ home: string; hub: HubProcess; key: string; url: string }> {
  const home = tempHome(t);
  const port = await freePort();
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:${port}"\nhttp_engine = "${engine}"\n`);
  const hub = await startHub(t, home);
  const key = (await runCli(['keys', 'create', '--identity', 'remote-dev', '--home', home])).stdout.trim();
  return { home, hub, key, url: `ws://127.0.0.1:${port}/shim` };
}

// Both HTTP engines carry remote shims: uWebSockets.js (hyper-express) and node:http with ws.
for (const engine of ['uws', 'node'] as const) {
  test(`[${engine}] a remote shim over /shim: the key's identity, no credentials sent, survives a hub restart`, async (t) => {
    const rig = await remoteHub(t, engine);
    const { home, key, url } = rig;
    let hub = rig.hub;
    const client = await remoteClient(t, url, key, 'far-editor');

    const r = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 7 AS SEVEN' } });
    assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[7]]);
    const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { sessions: { transport: string; identity: { kind: string; name: string }; client: { name: string } | null }[] };
    const s = status.sessions.find((x) => x.client?.name === 'far-editor')!;
    assert.equal(s.transport, 'websocket');
    assert.deepEqual(s.identity, { kind: 'api-key', name: 'remote-dev' });

    // The hub dies and comes back on the same address: a call made right away waits for the shim to re-link
    // (its session resumed on the new hub), and the same client goes on without a new initialize.
    hub.proc.kill('SIGKILL');
    await hub.stop();
    hub = await startHub(t, home);
    const again = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 8 AS EIGHT' } }, { timeout: 30_000 });
    assert.deepEqual((again.structuredContent as { rows: unknown[][] }).rows, [[8]]);

    const bad = await remoteClient(t, url, 'smx_000000000000_' + 'x'.repeat(32), 'bad-key-editor').catch((err: Error) => err);
    const message = bad instanceof Error ? bad.message : JSON.stringify(await bad.callTool({ name: 'list_databases', arguments: {} }).catch((e: Error) => e.message));
    assert.match(message, /refused the link[\s\S]*SNOWMUX_KEY/);

    const usage = await runCli(['shim', '--url', url.replace('127.0.0.1', 'hub.example.com')], { SNOWMUX_KEY: key });
    assert.equal(usage.code, 2, 'a usage error, from the bundled shim as from every command');
    assert.match(usage.stderr, /use wss:\/\//);
  });
}

// The chaos the local shim survives, over the WebSocket link: a take-over (`hub --replace`, the new hub
// taking the fixed HTTP port as the old one lets go) and a frozen hub (declared dead by the link's
// liveness, its call answered with a retryable error; the editor goes on once a hub answers the address).
for (const engine of ['uws', 'node'] as const) {
  test(`[${engine}] a remote shim follows hub --replace, and gets past a frozen hub`, async (t) => {
    const { home, key, url, hub: first } = await remoteHub(t, engine);
    const client = await remoteClient(t, url, key, 'far-editor', { SNOWMUX_LINK_PING_MS: '200' });
    const seven = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 7 AS N' } });
    assert.deepEqual((seven.structuredContent as { rows: unknown[][] }).rows, [[7]]);

    // Take-over: the new hub binds the port once the old one lets it go; the editor notices nothing.
    const second = await startHub(t, home, ['--replace']);
    // The old hub drains and exits on its own.
    if (first.proc.exitCode === null && first.proc.signalCode === null) await once(first.proc, 'exit');
    const eight = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 8 AS N' } }, { timeout: 30_000 });
    assert.deepEqual((eight.structuredContent as { rows: unknown[][] }).rows, [[8]]);
    const onSecond = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { pid: number; sessions: { transport: string; client: { name: string } | null }[] };
    assert.equal(onSecond.pid, second.pid);
    assert.ok(onSecond.sessions.some((s) => s.transport === 'websocket' && s.client?.name === 'far-editor'), 'the remote session moved to the new hub');

    // Frozen: the call in flight gets a retryable error within the link's liveness, not a hang.
    process.kill(second.pid, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(second.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    });
    const lost = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 9 AS N' } }, { timeout: 30_000 }).then(
      () => null,
      (err: Error & { code?: number }) => err,
    );
    assert.ok(lost, 'the call on the frozen hub failed instead of hanging');
    assert.equal(lost.code, -32001, lost.message);
    // It stays frozen: it is ended, and a new hub answers the same address; the same editor goes on.
    process.kill(second.pid, 'SIGKILL');
    await second.stop();
    await startHub(t, home);
    const ten = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 10 AS N' } }, { timeout: 30_000 });
    assert.deepEqual((ten.structuredContent as { rows: unknown[][] }).rows, [[10]]);
  });
}

// A shim that reads slower than the hub answers (a slow network, a busy editor) makes the hub buffer its
// answers. uWebSockets.js drops a message sent while more than its backpressure limit waits, and the engine
// took "dropped" for "sent": answers (and the hub's pings, then the link) were lost. Every answer must
// arrive whole, on both engines.
for (const engine of ['uws', 'node'] as const) {
  test(`[${engine}] a remote shim that reads slowly still gets every large answer, whole`, async (t) => {
    const home = tempHome(t);
    const port = await freePort();
    writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:${port}"\nhttp_engine = "${engine}"\nmax_result_bytes = 4000000\n`);
    await startHub(t, home);
    const key = (await runCli(['keys', 'create', '--identity', 'slow-reader', '--home', home])).stdout.trim();
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/shim`, { headers: { authorization: `Bearer ${key}` }, maxPayload: 64 * 1024 * 1024 });
    defer(t, () => ws.terminate());
    const calls = 8;
    const answers = new Map<number, string>();
    let buffered = '';
    let sent = false;
    const socket = () => (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    let allSent!: () => void;
    const sending = new Promise<void>((resolve) => (allSent = resolve));
    const done = new Promise<void>((resolve, reject) => {
      ws.once('close', (code) => reject(new Error(`the hub closed the link (${code}) with ${answers.size - 1} of ${calls} answers read`)));
      ws.on('message', (data: Buffer) => {
        buffered += data.toString('utf8');
        for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const message = JSON.parse(line) as { snowmux?: string; n?: number; id?: number };
          if (message.snowmux === 'ping') ws.send(`${JSON.stringify({ snowmux: 'pong', n: message.n })}\n`);
          else if (message.snowmux === 'welcome' && !sent) {
            sent = true;
            ws.send(`${JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'slow-reader', version: '1' } } })}\n`);
            ws.send(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
            for (let k = 1; k <= calls; k++) {
              ws.send(`${JSON.stringify({ jsonrpc: '2.0', id: k, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `SELECT ${k} AS K, repeat('x', 30000) AS PAD FROM range(100)` } } })}\n`);
            }
            // Stop reading until the hub has answered a few calls: 3 MB answers pile up on its side, past
            // what the engine buffers for a link; then read on.
            socket().pause();
            allSent();
          } else if (typeof message.id === 'number') {
            answers.set(message.id, line);
            if (answers.size === calls + 1) resolve();
          }
        }
      });
    });
    ws.once('open', () => ws.send(`${JSON.stringify({ snowmux: 'hello', wire: 1, version: '0.0.0', role: 'shim', pid: process.pid, caps: ['drain-ack'] })}\n`));
    await sending;
    for (;;) {
      const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { totals: { calls: number } };
      if (status.totals.calls >= 3) break;
    }
    socket().resume();
    await done;
    for (let k = 1; k <= calls; k++) {
      const answer = JSON.parse(answers.get(k)!) as { result?: { structuredContent?: { rows: unknown[][] } } };
      const rows = answer.result?.structuredContent?.rows ?? [];
      assert.equal(rows.length, 100, `call ${k}: ${answers.get(k)!.slice(0, 200)}`);
      assert.equal(rows[0]![0], k);
    }
  });
}

// `printf … | snowmux shim --url …` while the hub is down (restarting, a network blip): the shim holds the
// requests for the hub and answers each when the wait runs out. It ended at once when stdin closed, every
// request unanswered and exit code 0, since nothing kept its process alive between attempts to reach the hub.
test('a remote shim whose stdin ends while no hub answers still answers every request it took', async () => {
  const port = await freePort(); // nothing listens there
  const requests = [1, 2].map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: id === 1 ? 'initialize' : 'tools/list', params: id === 1 ? { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'script', version: '1' } } : {} }));
  const run = await runCli(['shim', '--url', `ws://127.0.0.1:${port}/shim`], { SNOWMUX_KEY: 'smx_000000000000_' + 'x'.repeat(32), SNOWMUX_RECONNECT_DEADLINE_MS: '1000' }, `${requests.join('\n')}\n`);
  const answers = run.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: number; error?: { code: number; message: string } });
  assert.deepEqual(answers.map((a) => a.id).sort(), [1, 2], `stdout: ${run.stdout} stderr: ${run.stderr}`);
  for (const a of answers) assert.match(a.error?.message ?? '', /no hub answered/);
});

// A key that arrives with a newline (a secret mounted from a file, `echo` into an env file) is still the key;
// it made every link fail with "Invalid character in header content" while the shim retried for ever.
test('a remote shim takes $SNOWMUX_KEY with surrounding whitespace, and refuses one with whitespace inside', async (t) => {
  const { key, url } = await remoteHub(t, 'node');
  const client = await remoteClient(t, url, `${key}\n`, 'newline-key');
  const r = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 3 AS N' } });
  assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[3]]);
  const split = await runCli(['shim', '--url', url], { SNOWMUX_KEY: `${key.slice(0, 10)}\n${key.slice(10)}` });
  assert.equal(split.code, 2);
  assert.match(split.stderr, /SNOWMUX_KEY has spaces or control characters inside/);
  const status = await runCli(['status', '--url', url.replace('ws:', 'http:').replace('/shim', ''), '--json'], { SNOWMUX_KEY: ` ${key}\r\n` });
  assert.equal(status.code, 0, status.stderr);
});

test('a --key-file that cannot be read, or is empty, is a usage error naming the option', async (t) => {
  const dir = tempHome(t);
  const empty = join(dir, 'empty.key');
  writeFileSync(empty, '\n', { mode: 0o600 });
  for (const command of [['shim', '--url', 'ws://127.0.0.1:9/shim'], ['status', '--url', 'http://127.0.0.1:9']]) {
    const missing = await runCli([...command, '--key-file', join(dir, 'nope.key')]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--key-file \S+nope\.key cannot be read \(ENOENT\)/);
    const blank = await runCli([...command, '--key-file', empty]);
    assert.equal(blank.code, 2, blank.stderr);
    assert.match(blank.stderr, /--key-file \S+empty\.key is empty/);
  }
});

/** The editor's first request, alone on stdin: the answer the shim gives when it can reach no hub. */
async function firstAnswer(url: string, key: string): Promise<string> {
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'script', version: '1' } } });
  const run = await runCli(['shim', '--url', url], { SNOWMUX_KEY: key, SNOWMUX_RECONNECT_DEADLINE_MS: '30000' }, `${init}\n`);
  const answer = JSON.parse(run.stdout.trim().split('\n')[0] ?? 'null') as { error?: { message: string } } | null;
  assert.ok(answer?.error, `stdout: ${run.stdout} stderr: ${run.stderr}`);
  return answer.error.message;
}

// The hub's address without /shim (as `status --url` takes it) got a 404 the shim took for a hub not there
// yet: it retried for 30 s and then blamed an absent hub. No retry fixes a wrong URL: it is said at once.
for (const engine of ['uws', 'node'] as const) {
  test(`[${engine}] a remote shim given a URL without /shim is told at once that the URL must end in /shim`, async (t) => {
    const { key, url } = await remoteHub(t, engine);
    const bare = url.replace(/\/shim$/, '');
    for (const wrong of [bare, `${bare}/mcp`]) {
      assert.match(await firstAnswer(wrong, key), /is not a snowmux \/shim endpoint[\s\S]*the URL must end in \/shim \(e\.g\. wss:\/\/host\/shim\)/, wrong);
    }
  });
}

// A 403 on /shim is the hub's Host (or Origin) check, never the key: the shim passes the hub's own reason on
// instead of asking for a valid key.
test('a remote shim refused by the hub\'s Host check says so in the hub\'s words, not "set a valid key"', async (t) => {
  const home = tempHome(t);
  // 127.0.0.2 is loopback but not a name the hub answers to by default.
  writeFileSync(join(home, 'config.toml'), '[hub]\nhttp_listen = "127.0.0.2:0"\nhttp_engine = "node"\n');
  const hub = await startHub(t, home);
  const base = /HTTP on http:\/\/(\S+)/.exec(hub.stderr())?.[1];
  assert.ok(base, hub.stderr());
  const key = (await runCli(['keys', 'create', '--identity', 'remote-dev', '--home', home])).stdout.trim();
  const message = await firstAnswer(`ws://${base}/shim`, key);
  assert.match(message, /Host not allowed[\s\S]*add it to hub\.http_hosts/);
  assert.doesNotMatch(message, /SNOWMUX_KEY/);
});
