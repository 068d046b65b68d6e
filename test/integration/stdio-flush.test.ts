/**
 * `snowmux stdio` leaves only once its client has read every answer written to stdout, as the shim does
 * (docs/operations.md: it "ends the same way"). An answer is written as soon as Node queues it; a pipe the
 * client has not read yet holds only 64 KiB, and process.exit dropped what was still queued: a client that
 * closed stdin after its requests and read its answers a little later (`printf … | snowmux stdio | slow`)
 * lost the last ones, and waited for them for ever. Here the pipe is full before the server starts, so every
 * answer is still queued when it has answered them all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { cliEnv, killAtEnd, tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

const requests =
  [
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'slow-reader', version: '1' } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'select 42 as answer' } } },
    { jsonrpc: '2.0', id: 3, method: 'ping' },
  ]
    .map((m) => JSON.stringify(m))
    .join('\n') + '\n';

/** Fills a pipe's kernel buffer with newlines (empty lines, which the reader skips); returns how many. */
function fill(fd: number): number {
  const chunk = Buffer.alloc(4096, 0x0a);
  let written = 0;
  for (;;) {
    try {
      written += writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return written;
      throw err;
    }
  }
}

/**
 * `snowmux stdio` with its stdout a FIFO whose kernel buffer is already full and which nothing reads yet; the
 * requests sent and stdin closed. `readEnd` is the client's end (the caller reads or closes it); `waiting`
 * resolves once the process says it waits for the client to read.
 */
function stdioBehindFullPipe(t: Parameters<typeof tempHome>[0]) {
  const home = tempHome(t);
  const fifo = join(home, 'stdout.fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  // The client's end, opened first so the server's end opens without a wait; nothing reads it yet.
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  assert.ok(fill(writeEnd) > 0);
  const proc = spawn(process.execPath, [cliPath, 'stdio', '--home', home], {
    env: cliEnv({ SNOWMUX_LOG_LEVEL: 'info' }),
    stdio: ['pipe', writeEnd, 'pipe'],
  });
  closeSync(writeEnd);
  killAtEnd(t, proc);
  let stderr = '';
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const waiting = new Promise<void>((resolve) => {
    proc.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('waiting for the client to read')) resolve();
    });
  });
  proc.stdin!.end(requests);
  return { proc, readEnd, exited, waiting, stderr: () => stderr };
}

test('snowmux stdio whose client reads its answers only after stdin ended still delivers every answer before it exits', async (t) => {
  const { readEnd, exited, waiting, stderr } = stdioBehindFullPipe(t);
  // Either it exits (without this fix, its answers still queued) or it says it waits for the client to read.
  await Promise.race([exited, waiting]);
  // Now the client reads, to the end of the pipe (the server's exit).
  const reader = new Socket({ fd: readEnd, readable: true, writable: false });
  let out = '';
  reader.setEncoding('utf8');
  reader.on('data', (c: string) => (out += c));
  await once(reader, 'end');
  reader.destroy();
  const [code, signal] = await exited;
  assert.equal(signal, null, stderr());
  assert.equal(code, 0, stderr());
  const answers = out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { id?: number; result?: { structuredContent?: { rows?: unknown[][] } } });
  assert.deepEqual(
    answers.map((a) => a.id).sort(),
    [1, 2, 3],
    `every request answered, the last answers too (stderr: ${stderr()})`,
  );
  assert.deepEqual(answers.find((a) => a.id === 2)?.result?.structuredContent?.rows, [[42]]);
});

// The wait for a client to read has no time bound of its own; a signal ends it. An editor shuts a server down
// by closing stdin and then sending SIGTERM: waiting on, the process took the SIGTERM as "ending" and went on
// waiting for a reader that never came, until a second signal or a SIGKILL.
test('snowmux stdio waiting for its client to read its last answers exits on SIGTERM', async (t) => {
  const { proc, readEnd, exited, waiting, stderr } = stdioBehindFullPipe(t);
  t.after(() => closeSync(readEnd));
  await waiting;
  proc.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.equal(signal, null, stderr());
  assert.equal(code, 128 + 15, `the SIGTERM's exit status (stderr: ${stderr()})`);
});
