/**
 * A client that hangs up before the hub has read its first line (a liveness probe, `snowmux hub` checking
 * for a running hub, a shim killed while connecting, or any connection while the hub is still starting) is
 * let go by the hub. The socket server is half-open: such a connection kept the hub's side open for good,
 * one descriptor each, until the hub could accept no editor (EMFILE) and every shim got ECONNRESET.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { SocketFace } from '../../src/hub/socket/socket-face.js';
import { coreOver } from '../helpers/in-memory-hub.js';
import { Held } from '../helpers/in-process-face.js';
import { tempHome } from '../helpers/harness.js';

/** Connects, sends `bytes`, half-closes and resolves whether the hub ended its side within `withinMs`. */
async function hangUp(path: string, bytes: string, withinMs: number): Promise<boolean> {
  const socket: Socket = connect({ path, allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.resume();
  const ended = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.end(bytes);
  const result = await ended;
  socket.destroy();
  return result;
}

test('connections that hang up before their first line is complete are let go, not held for ever', { timeout: 60_000 }, async (t) => {
  const home = tempHome(t);
  const core = coreOver(t, new Held());
  // The hello timeout is far beyond the test's waits: only the hang-up itself may free the connection.
  const face = new SocketFace(core, { home, socketPath: join(home, 'hub.sock'), handshakeTimeoutMs: 600_000 });
  await face.start();
  t.after(() => core.stop('test over'));
  const sock = join(home, 'hub.sock');
  for (const [what, bytes] of [
    ['nothing sent (a liveness probe)', ''],
    ['part of a hello', '{"snowmux":"hello","wire":1'],
    ['part of a plain MCP request', '{"jsonrpc":"2.0","id":1,"method":"ping"'],
  ] as const) {
    assert.ok(await hangUp(sock, bytes, 10_000), `${what}: the hub kept its side of the connection open`);
  }
});

test('a connection that hangs up while the hub is still starting is let go once it is ready', { timeout: 60_000 }, async (t) => {
  const home = tempHome(t);
  const core = coreOver(t, new Held());
  const face = new SocketFace(core, { home, socketPath: join(home, 'hub.sock'), handshakeTimeoutMs: 600_000 });
  await face.start({ holdUntilReady: true });
  t.after(() => core.stop('test over'));
  const sock = join(home, 'hub.sock');
  // A plain MCP client's whole first line, then the hang-up, while its session is held.
  const socket: Socket = connect({ path: sock, allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.resume();
  const ended = once(socket, 'end');
  socket.end(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  // Start-up completes only once the hub has read the line (the session is held) and the hang-up is sent.
  const held = (face as unknown as { heldSessions: unknown[] | null }).heldSessions;
  const deadline = Date.now() + 10_000;
  while ((held?.length ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(held?.length, 1, 'the session is held');
  if (!socket.writableFinished) await new Promise<void>((resolve) => socket.once('finish', resolve));
  const sessionsBefore = core.status().sessions.length;
  face.ready();
  const timer = setTimeout(() => socket.emit('end-timeout'), 10_000);
  const outcome = await Promise.race([ended.then(() => 'ended'), once(socket, 'end-timeout').then(() => 'held')]);
  clearTimeout(timer);
  socket.destroy();
  assert.equal(sessionsBefore, 0);
  assert.equal(outcome, 'ended', 'the held session of a client that had hung up was opened and kept');
  const closing = Date.now() + 10_000;
  while (core.status().sessions.length > 0 && Date.now() < closing) await new Promise((r) => setTimeout(r, 20));
  assert.equal(core.status().sessions.length, 0, 'its session is closed');
});

test('what a plain client sends while its session waits for the hub to start is all answered once it is ready', { timeout: 60_000 }, async (t) => {
  const home = tempHome(t);
  const core = coreOver(t, new Held());
  const face = new SocketFace(core, { home, socketPath: join(home, 'hub.sock') });
  await face.start({ holdUntilReady: true });
  t.after(() => core.stop('test over'));
  const socket: Socket = connect(join(home, 'hub.sock'));
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString('utf8');
  });
  socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'early', version: '1' } } })}\n`);
  const held = (face as unknown as { heldSessions: unknown[] | null }).heldSessions;
  const deadline = Date.now() + 10_000;
  while ((held?.length ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(held?.length, 1, 'the session is held');
  // More lines while it waits; start-up completes only once the hub has read them.
  const more = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' })}\n`;
  await new Promise<void>((resolve) => socket.write(more, () => resolve()));
  const sent = socket.bytesWritten;
  const hubSide = [...(face as unknown as { connections: Set<{ socket: Socket }> }).connections][0]!.socket;
  while (hubSide.bytesRead < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(hubSide.bytesRead, sent, 'the hub has read every line');
  face.ready();
  const until = Date.now() + 10_000;
  while (!/"id":2/.test(got) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.match(got, /"id":1/, 'initialize is answered');
  assert.match(got, /"id":2/, 'the ping sent while the session was held is answered');
});
