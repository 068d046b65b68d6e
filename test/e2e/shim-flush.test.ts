/**
 * The real shim process leaves only once the editor has everything it was written: Node queues what a
 * pipe cannot take yet (an editor busy for a moment holds only 64 KiB in it), and process.exit dropped
 * that queue — the editor read a last answer cut in the middle. Each test pauses its reader until the shim
 * has nothing more to do (and would have exited without the fix), then reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cliPath } from '../helpers/paths.js';
import { defer, killAtEnd, tempHome } from '../helpers/harness.js';
import { WIRE_VERSION } from '../../src/wire/hello.js';

type Msg = { id?: unknown; result?: { text?: string }; error?: { code: number; message: string } };

/** A stand-in hub at `path`: welcomes one shim and hands its socket and request lines to `serve`. */
async function fakeHub(path: string, serve: (socket: Socket, lines: AsyncIterable<string>) => Promise<void>): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    const queue: string[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        queue.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      wake?.();
    });
    socket.on('end', () => {
      ended = true;
      wake?.();
    });
    const lines = (async function* () {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    })();
    void (async () => {
      const first = await lines.next();
      if (first.done) return;
      socket.write(JSON.stringify({ snowmux: 'welcome', wire: WIRE_VERSION, version: 'fake', hubPid: 4242, sessionId: 'fake-1' }) + '\n');
      await serve(socket, lines);
    })();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

interface Shim {
  proc: ChildProcess;
  /** Starts reading stdout; resolves with everything it carried once it closes. */
  readAll(): Promise<string>;
  /** Reads until the first bytes arrive, then stops reading again. */
  readSome(): Promise<void>;
}

function startShim(t: Parameters<typeof defer>[0], home: string, env: NodeJS.ProcessEnv = {}): Shim {
  const proc = spawn(process.execPath, [cliPath, 'shim', '--home', home], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SNOWMUX_SHIM_QUIET: '1', ...env } });
  killAtEnd(t, proc);
  const out = proc.stdout!;
  const chunks: Buffer[] = [];
  const ended = once(out, 'end');
  out.on('data', (c: Buffer) => chunks.push(c));
  out.pause();
  return {
    proc,
    async readAll() {
      out.resume();
      await ended;
      return Buffer.concat(chunks).toString('utf8');
    },
    async readSome() {
      out.resume();
      await once(out, 'data');
      out.pause();
    },
  };
}

function answers(text: string): Msg[] {
  assert.ok(text.endsWith('\n'), `the last answer arrived whole (${text.length} bytes, ends ${JSON.stringify(text.slice(-40))})`);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Msg);
}

/** The shim exits, or shows it waits for its reader (it is still there a moment after it had nothing left to do). */
async function exitedOrWaiting(shim: ChildProcess): Promise<void> {
  if (shim.exitCode !== null || shim.signalCode !== null) return;
  await Promise.race([once(shim, 'exit'), delay(1_000)]);
}

const PINGS = 300;
const BIG = 600 * 1024;

test('stdin closed with answers owed: the last, large answer and every small one reach an editor that reads only later', async (t) => {
  const home = tempHome(t);
  let linkEnded!: () => void;
  const linkDone = new Promise<void>((r) => (linkEnded = r));
  const hub = await fakeHub(join(home, 'hub.sock'), async (socket, lines) => {
    const ids: unknown[] = [];
    // Every request first, then the answers at once, the large one last.
    for await (const line of lines) {
      const m = JSON.parse(line) as { id?: unknown; method?: string };
      if (m.method === undefined || m.id === undefined) continue;
      ids.push(m.id);
      if (ids.length === PINGS + 1) break;
    }
    for (const id of ids.slice(0, -1)) socket.write(JSON.stringify({ jsonrpc: '2.0', id, result: {} }) + '\n');
    socket.write(JSON.stringify({ jsonrpc: '2.0', id: ids.at(-1), result: { text: 'x'.repeat(BIG) } }) + '\n');
    for await (const _ of lines) { /* until the shim ends its side */ }
    socket.end();
    linkEnded();
  });
  defer(t, () => hub.close());
  const { proc: shim, readAll } = startShim(t, home);
  const requests = Array.from({ length: PINGS }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'ping' }));
  requests.push(JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'tools/call', params: { name: 'describe_table', arguments: {} } }));
  shim.stdin!.end(requests.join('\n') + '\n');
  await linkDone; // the shim owes nothing more and has ended its link…
  await exitedOrWaiting(shim); // …and, unfixed, has exited by now
  const exit = once(shim, 'exit');
  const got = answers(await readAll());
  assert.equal(got.length, PINGS + 1);
  assert.equal(got.at(-1)?.id, 'big');
  assert.equal(got.at(-1)?.result?.text?.length, BIG);
  assert.deepEqual(got.slice(0, -1).map((m) => m.id), Array.from({ length: PINGS }, (_, i) => i + 1));
  assert.deepEqual(await exit, [0, null]);
});

test('a flood of requests the shim answers itself (no hub at the deadline): every answer reaches an editor that reads only later', async (t) => {
  const home = tempHome(t);
  // A listener that never answers the hello: the shim buffers every call until its reconnect deadline.
  let heard!: () => void;
  const hello = new Promise<void>((r) => (heard = r));
  const silent = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => heard());
  });
  await new Promise<void>((resolve) => silent.listen(join(home, 'hub.sock'), resolve));
  defer(t, () => new Promise((r) => silent.close(r)));
  const { proc: shim, readAll } = startShim(t, home, { SNOWMUX_RECONNECT_DEADLINE_MS: '300' });
  const exit = once(shim, 'exit');
  const n = 900;
  shim.stdin!.end(Array.from({ length: n }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }) + '\n').join(''));
  // Answered -32002 at the deadline, all at once (~300 KB): then nothing is owed and the shim leaves. The
  // shim runs once it says hello; on a loaded machine the deadline can pass before it has connected at all,
  // and it answers and leaves without a hello: either way the answers must all reach the editor.
  await Promise.race([hello, exit]);
  await exitedOrWaiting(shim);
  const got = answers(await readAll());
  assert.equal(got.length, n);
  assert.ok(got.every((m) => m.error?.code === -32002));
  await exit;
});

test('a signal ends the shim with the code it stands for, after what it already wrote reached the editor', async (t) => {
  const home = tempHome(t);
  let owed!: () => void;
  const answered = new Promise<void>((r) => (owed = r));
  const hub = await fakeHub(join(home, 'hub.sock'), async (socket, lines) => {
    for await (const line of lines) {
      const m = JSON.parse(line) as { id?: unknown };
      // The large answer now; the other call stays running.
      if (m.id === 1) socket.write(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'y'.repeat(BIG) } }) + '\n', () => owed());
    }
  });
  defer(t, () => hub.close());
  const { proc: shim, readAll, readSome } = startShim(t, home);
  shim.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } }) + '\n');
  shim.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'describe_table', arguments: {} } }) + '\n');
  await answered;
  // Its first bytes reach the editor: the shim wrote the whole answer at once, and most of it waits in the
  // shim (the editor is not reading).
  await readSome();
  const exit = once(shim, 'exit');
  shim.kill('SIGTERM');
  await exitedOrWaiting(shim);
  const got = answers(await readAll());
  assert.equal(got.find((m) => m.id === 1)?.result?.text?.length, BIG);
  assert.deepEqual(await exit, [143, null]);
});
