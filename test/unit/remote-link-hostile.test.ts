/**
 * A remote shim's link (`shim --url`) against a server that is not a well-behaved hub: a broken proxy, a
 * hostile host behind a hijacked name, or a hub with a bug. Whatever it sends, the shim's memory stays
 * bounded, the key goes nowhere else, and the editor is told what happened and what to do.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { isSnowmuxError } from '../../src/errors.js';
import { openRemoteLink } from '../../src/shim/remote-link.js';
import { Shim } from '../../src/shim/shim.js';
import type { Hello } from '../../src/wire/hello.js';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../fixtures/self-signed-tls.js';

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

/** `snowmux status --url <url>` run in this process (with SNOWMUX_KEY `key` while it runs): the error it fails with. */
async function statusFailure(t: TestContext, url: string, key?: string): Promise<Error> {
  const { statusCommand } = await import('../../src/cli/commands/status-command.js');
  const io = { stdout: { write: () => true }, stderr: { write: () => true } };
  if (key !== undefined) {
    const before = process.env.SNOWMUX_KEY;
    process.env.SNOWMUX_KEY = key;
    t.after(() => {
      if (before === undefined) delete process.env.SNOWMUX_KEY;
      else process.env.SNOWMUX_KEY = before;
    });
  }
  return statusCommand(['--url', url], io as never).then(() => assert.fail('read'), (e: Error) => e);
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

/** An HTTP(S) server that records every request (a WebSocket upgrade included) and its Authorization header. */
async function recordingServer(t: Cleanup, tls: boolean): Promise<{ port: number; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const server: HttpServer = tls ? createHttpsServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }) : createHttpServer();
  server.on('request', (req, res) => {
    seen.push(req.headers.authorization);
    res.end('{}');
  });
  server.on('upgrade', (req, socket: Socket) => {
    seen.push(req.headers.authorization);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, seen };
}

test('wss:// to a certificate this machine does not trust is refused, saying so and what to do; the key is never sent', async (t) => {
  const { port, seen } = await recordingServer(t, true);
  const err = await openRemoteLink({ url: `wss://127.0.0.1:${port}/shim`, key: KEY }, hello, 4_000).then(() => assert.fail('linked'), (e: Error) => e);
  assert.ok(isSnowmuxError(err, 'HUB_TLS_FAILED'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, /^wss:\/\/127\.0\.0\.1:\d+\/shim presents a TLS certificate this machine does not trust \(self-signed certificate \[DEPTH_ZERO_SELF_SIGNED_CERT\]\); the shim does not link to it, since the API key would go to whoever answers\. [\s\S]*NODE_EXTRA_CA_CERTS/);
  assert.deepEqual(seen, [], 'nothing reached the server');
});

test('wss:// to a port that does not speak TLS is said as such', async (t) => {
  const { port, seen } = await recordingServer(t, false);
  const err = await openRemoteLink({ url: `wss://127.0.0.1:${port}/shim`, key: KEY }, hello, 4_000).then(() => assert.fail('linked'), (e: Error) => e);
  assert.ok(isSnowmuxError(err, 'HUB_TLS_FAILED'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, /^No TLS connection could be set up with wss:\/\/127\.0\.0\.1:\d+\/shim \(wrong version number \[[A-Z_]+\]\); the shim does not link to it\. The port may not speak TLS/);
  assert.ok(!err.message.includes('openssl/'), err.message);
  assert.ok(!seen.includes(`Bearer ${KEY}`), 'the key did not go in the clear');
});

test('an editor\'s call while the hub\'s certificate is not trusted is answered at once with why, not after the reconnect deadline', async (t) => {
  const { port } = await recordingServer(t, true);
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let said = '';
  stderr.on('data', (c: Buffer) => (said += c.toString()));
  const shim = new Shim({ home: '', socketPath: '', hubCommand: [], stdin, stdout, stderr, env: {}, pingIntervalMs: 0, reconnectDeadlineMs: 8_000, remote: { url: `wss://127.0.0.1:${port}/shim`, key: KEY } });
  shim.start();
  t.after(async () => {
    shim.close();
    await shim.exited;
  });
  const answer = new Promise<{ id: number; error: { code: number; message: string; data: { retryable: boolean } } }>((resolve) => {
    let buf = '';
    stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
    });
  });
  // Sent once the shim has said why it cannot link (the first attempt failed), so it is not merely waiting.
  await new Promise<void>((resolve) => stderr.on('data', function first() {
    stderr.off('data', first);
    resolve();
  }));
  const sentAt = performance.now();
  stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_databases', arguments: {} } }) + '\n');
  const { id, error } = await answer;
  assert.equal(id, 1);
  assert.ok(performance.now() - sentAt < 4_000, 'answered at once');
  assert.equal(error.code, -32002);
  assert.match(error.message, /presents a TLS certificate this machine does not trust[\s\S]*NODE_EXTRA_CA_CERTS/);
  assert.equal(error.data.retryable, false);
  assert.match(said, /DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.ok(!said.includes(KEY) && !error.message.includes(KEY));
});

test('status --url https:// to a certificate this machine does not trust says so, not "no hub answered"', async (t) => {
  const { port, seen } = await recordingServer(t, true);
  const err = await statusFailure(t, `https://127.0.0.1:${port}`, KEY);
  assert.ok(isSnowmuxError(err, 'HUB_TLS_FAILED'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, /^https:\/\/127\.0\.0\.1:\d+ presents a TLS certificate this machine does not trust \(self-signed certificate \[DEPTH_ZERO_SELF_SIGNED_CERT\]\); status does not read it[\s\S]*NODE_EXTRA_CA_CERTS/);
  assert.deepEqual(seen, []);
});

test('a redirect answered to the link is said at once, naming where it points (no secret), and never followed', async (t) => {
  let connections = 0;
  const port = await rawServer(t, (socket) => {
    connections += 1;
    socket.end('HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/shim?token=REDIRECT-SECRET\r\nContent-Length: 0\r\n\r\n');
  });
  const err = await openRemoteLink({ url: `ws://127.0.0.1:${port}/shim`, key: KEY }, hello, 4_000).then(() => assert.fail('linked'), (e: Error) => e);
  assert.ok(isSnowmuxError(err, 'HUB_BAD_HANDSHAKE'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, /^ws:\/\/127\.0\.0\.1:\d+\/shim answered with a redirect \(HTTP 301\) to wss:\/\/elsewhere\.example\/shim\?token=\*\*\*: the shim follows no redirect, since the API key would go wherever it points\. If that is the hub's address, give it as --url\.$/);
  assert.ok(!err.message.includes('REDIRECT-SECRET'));
  assert.equal(connections, 1);
});

test('status --url follows no redirect: the key and the reading stay with the address given', async (t) => {
  const elsewhere = await recordingServer(t, false);
  const redirecting = createHttpServer((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/status` }).end());
  await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
  t.after(() => redirecting.close());
  const port = (redirecting.address() as AddressInfo).port;
  const err = await statusFailure(t, `http://127.0.0.1:${port}`, KEY);
  assert.ok(isSnowmuxError(err, 'HUB_BAD_HANDSHAKE'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, new RegExp(`^http://127\\.0\\.0\\.1:${port}/status answered with a redirect \\(HTTP 302\\) to http://127\\.0\\.0\\.1:${elsewhere.port}/status: status follows no redirect`));
  assert.deepEqual(elsewhere.seen, [], 'nothing was asked of the address it pointed to');
});

/** A server at --url that answers /status 200 and then `feed`s its body (never ending it); its port. */
async function feedingServer(t: Cleanup, feed: (res: import('node:http').ServerResponse) => () => void): Promise<{ port: number; sent: () => number }> {
  let sent = 0;
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer | string) => {
      sent += Buffer.byteLength(chunk);
      return write(chunk);
    }) as typeof res.write;
    const stop = feed(res);
    res.on('close', stop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, sent: () => sent };
}

test('status --url to a server sending an endless body stops reading it past the bound of a status, saying so, instead of holding it all for 5 s', async (t) => {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const { port, sent } = await feedingServer(t, (res) => {
    let stopped = false;
    const pump = () => {
      while (!stopped && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
    return () => (stopped = true);
  });
  const err = await statusFailure(t, `http://127.0.0.1:${port}`);
  assert.ok(isSnowmuxError(err, 'HUB_NO_ANSWER'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, new RegExp(`^http://127\\.0\\.0\\.1:${port}/status answered with a body over 33554432 bytes, far more than a hub's status; status stopped reading it\\. Is --url a snowmux hub's HTTP address\\?$`));
  // It stopped at the bound (what the kernel's buffers took besides), not at the deadline.
  assert.ok(sent() < 96 * 1024 * 1024, `the server wrote ${sent()} bytes`);
});

test('status --url to a server that answers and then trickles its body says it answered but sent no whole status in time, not that no hub answered', async (t) => {
  const { port } = await feedingServer(t, (res) => {
    res.write('{');
    const timer = setInterval(() => res.write(' '), 100);
    return () => clearInterval(timer);
  });
  const err = await statusFailure(t, `http://127.0.0.1:${port}`);
  assert.ok(isSnowmuxError(err, 'HUB_NO_ANSWER'), `${(err as { code?: string }).code}: ${err.message}`);
  assert.match(err.message, new RegExp(`^http://127\\.0\\.0\\.1:${port}/status answered \\(HTTP 200\\) but did not send its whole status within 5 s\\.`));
});
