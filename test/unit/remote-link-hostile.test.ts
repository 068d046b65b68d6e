/**
 * A remote shim's link (`shim --url`) against a server that is not a well-behaved hub: a broken proxy, a
 * hostile host behind a hijacked name, or a hub with a bug. Whatever it sends, the shim's memory stays
 * bounded, the key goes nowhere else, and the editor is told what happened and what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { isSnowmuxError } from '../../src/errors.js';
import { openRemoteLink } from '../../src/shim/remote-link.js';
import type { Hello } from '../../src/wire/hello.js';

const KEY = 'smx_hostile_SECRETKEY0123456789';
const hello = { snowmux: 'hello', wire: 1, version: '0', role: 'shim', pid: process.pid } as unknown as Hello;

interface Cleanup {
  after(fn: () => unknown): void;
}

/** A TCP server answering each connection with `answer` (raw HTTP); its port. */
async function rawServer(t: Cleanup, answer: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => answer(socket));
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('a refusal whose body never ends is said at once from its start; the shim does not read on', async (t) => {
  // A 401 followed by an endless body: read whole, it grew the shim by the link's bandwidth until the
  // handshake timeout (hundreds of MiB), and the editor was told the hub "did not answer the handshake".
  let written = 0;
  let closed!: () => void;
  const serverDone = new Promise<void>((resolve) => (closed = resolve));
  const port = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n{"error":"Unknown API key."}');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk)) written += chunk.length;
    };
    socket.on('drain', pump);
    socket.on('close', () => closed());
    pump();
  });
  const err = await openRemoteLink({ url: `ws://127.0.0.1:${port}/shim`, key: KEY }, hello, 4_000).then(() => assert.fail('linked'), (e: Error) => e);
  assert.ok(isSnowmuxError(err, 'HTTP_UNAUTHORIZED'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, /refused the link \(HTTP 401\)/);
  await serverDone;
  assert.ok(written < 32 * 1024 * 1024, `the server got ${written} bytes through before the shim hung up`);
});
