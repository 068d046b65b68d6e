/**
 * `snowmux stdio` closes a client that keeps sending malformed input (security-model.md: protocol errors up to
 * 20 per second in bursts of 100, after which the session is closed), as the hub cuts such a session. The hub
 * says why (its log, the shim's stderr, the answers to the calls it had running); `snowmux stdio` ended with
 * exit 0 and not a word, the editor's MCP log showing a server that stopped for no reason, and a call it had
 * running went unanswered. Now it says why on stderr, answers that call as cancelled, saying why, and exits 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cliEnv, killAtEnd, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

test('snowmux stdio that closes a client for malformed input says why, answers its running call and exits 1', async (t) => {
  const home = tempHome(t);
  const proc = spawn(process.execPath, [cliPath, 'stdio', '--home', home], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(t, proc);
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: Array<{ id?: unknown; method?: string; result?: { isError?: boolean; content?: Array<{ text?: string }> } }> = [];
  let partial = '';
  let answered!: () => void;
  const initialized = new Promise<void>((resolve) => (answered = resolve));
  let progressed!: () => void;
  const running = new Promise<void>((resolve) => (progressed = resolve));
  proc.stdout.on('data', (c: Buffer) => {
    partial += c.toString();
    const whole = partial.split('\n');
    partial = whole.pop()!;
    for (const l of whole) {
      const m = JSON.parse(l) as (typeof lines)[number];
      lines.push(m);
      if (m.id === 1) answered();
      if (m.method === 'notifications/progress') progressed();
    }
  });
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  proc.stdin.write(
    [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'garbage', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ]
      .map((m) => JSON.stringify(m))
      .join('\n') + '\n',
  );
  await initialized;
  // A call that runs until something ends it (its progress says it runs), then far more garbage than the bound lets through.
  proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select count(*) from range(1000000000000)' }, _meta: { progressToken: 'p' } } }) + '\n');
  await running;
  proc.stdin.write(Array.from({ length: 300 }, (_, i) => `garbage ${i}`).join('\n') + '\n');
  const [code, signal] = await exited;
  assert.equal(signal, null, stderr);
  assert.equal(code, 1, `a client closed for what it sent is a failure, not a clean end (stderr: ${stderr})`);
  assert.match(stderr, /malformed input/, 'stderr (the editor\'s MCP log) says why the server ended');
  const call = lines.find((l) => l.id === 2);
  assert.equal(call?.result?.isError, true, `the running call is answered: ${JSON.stringify(lines.filter((l) => l.id !== null))}`);
  assert.match(call?.result?.content?.[0]?.text ?? '', /malformed input/);
});
