/**
 * A request for a route that does not exist is told which routes do, showing its path cut to 200
 * characters: uWebSockets.js takes a request line of about 128 KiB, and the whole of it was echoed back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubFace } from '../helpers/in-process-face.js';

test('a 404 shows a long path cut, not echoed whole', async (t) => {
  const { fetch } = hubFace(t);
  const path = `/${'a'.repeat(100_000)}`;
  const res = await fetch(`http://127.0.0.1${path}`);
  assert.equal(res.status, 404);
  const { error } = (await res.json()) as { error: string };
  assert.match(error, /^No such route: \/a{199}…\. Routes: \/healthz, /);
  assert.ok(error.length < 400, `${error.length} characters`);
});

test('a WebSocket upgrade to a route that does not exist shows its path cut too', async (t) => {
  const { face } = hubFace(t);
  const refusal = face.checkShimUpgrade(new Request(`http://127.0.0.1/${'b'.repeat(100_000)}`, { headers: { host: '127.0.0.1' } }), { remoteAddress: '127.0.0.1' });
  assert.ok(refusal instanceof Response);
  assert.equal(refusal.status, 404);
  const { error } = (await refusal.json()) as { error: string };
  assert.match(error, /^No WebSocket route \/b{199}…; remote shims connect to \/shim\.$/);
});
