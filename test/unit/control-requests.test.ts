/**
 * The hub's control connection (status, stop, reload…): any line gets an answer, and one bad line never
 * costs the requests after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { MAX_UNREAD_OUTPUT_BYTES, handleControl, type ControlHandlers } from '../../src/hub/socket/control.js';
import { createLogger } from '../../src/hub/observe/logger.js';

/** A client that reads every answer at once: its answers' lines, in order. */
function readingClient(): { socket: Duplex; written: string[] } {
  const written: string[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      written.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { socket, written };
}

/** Handlers whose status answers `status()`; the other operations do nothing. */
function answering(status: () => unknown): ControlHandlers {
  return { status, stop: () => null, replace: () => null, 'prepare-replace': () => null, 'hand-back': () => null, disconnect: () => null, reload: () => null, 'keys-changed': () => null };
}

test('null, arrays, numbers and unknown operations are answered BAD_REQUEST/UNKNOWN_OP; the request after them in the same read is served', () => {
  const { socket, written } = readingClient();
  const handlers = answering(() => ({ up: true }));
  const op = `x${'\u001b'.repeat(10)}${'y'.repeat(10_000)}`;
  handleControl(socket, Buffer.from(`null\n[1]\n7\n{"id":1,"op":${JSON.stringify(op)}}\n{"id":2,"op":"status"}\n`), handlers, createLogger({ destination: new PassThrough(), level: 'silent' }));
  const answers = written.map((l) => JSON.parse(l) as { id: unknown; ok: boolean; error?: { code: string; message: string }; result?: unknown });
  assert.deepEqual(answers.map((a) => a.error?.code ?? 'ok'), ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'UNKNOWN_OP', 'ok']);
  assert.ok(answers[3]!.error!.message.length < 300, 'the unknown operation is shown cut short');
  assert.deepEqual(answers[4], { id: 2, ok: true, result: { up: true } });
});

test('a client that never reads its answers stops being read: the answers waiting for it stay bounded, and the rest are served once it reads', () => {
  // Writes complete only when the test says so: a client that does not read.
  const pending: (() => void)[] = [];
  let answered = 0;
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      answered += chunk.toString().split('\n').filter(Boolean).length;
      pending.push(() => done());
    },
  });
  socket.on('error', () => {});
  let asked = 0;
  const big = 'x'.repeat(10_000);
  const handlers = answering(() => ({ n: ++asked, big }));
  const requests = 2_000;
  handleControl(socket, Buffer.from('{"id":1,"op":"status"}\n'.repeat(requests)), handlers, createLogger({ destination: new PassThrough(), level: 'silent' }));
  const bound = Math.ceil(MAX_UNREAD_OUTPUT_BYTES / big.length) + 2;
  assert.ok(asked <= bound, `${asked} answers built for a client that read none (at most ${bound})`);
  assert.ok(socket.writableLength <= MAX_UNREAD_OUTPUT_BYTES + 20_000, `${socket.writableLength} bytes wait`);
  assert.ok(socket.isPaused(), 'the link is no longer read');
  // The client reads: everything it asked is answered, in order.
  for (let rounds = 0; answered < requests && rounds < 10_000; rounds++) {
    const done = pending.splice(0);
    for (const d of done) d();
  }
  for (const d of pending.splice(0)) d();
  assert.equal(asked, requests);
  assert.equal(answered, requests);
  assert.ok(!socket.isPaused(), 'reading resumes once every request is answered');
});

test('a control request too long to read is answered BAD_REQUEST under its id, and the next is served', () => {
  const { socket, written } = readingClient();
  const handlers = answering(() => ({ up: true }));
  handleControl(socket, Buffer.from(`${JSON.stringify({ id: 7, op: 'status', pad: 'x'.repeat(70_000) })}\n{"id":8,"op":"status"}\n`), handlers, createLogger({ destination: new PassThrough(), level: 'silent' }));
  const answers = written.map((l) => JSON.parse(l) as { id: unknown; ok: boolean; error?: { code: string; message: string } });
  assert.equal(answers.length, 2, JSON.stringify(answers));
  assert.equal(answers[0]!.id, 7);
  assert.equal(answers[0]!.error?.code, 'BAD_REQUEST');
  assert.match(answers[0]!.error!.message, /longer than the 65536-byte limit/);
  assert.deepEqual(answers[1], { id: 8, ok: true, result: { up: true } });
});
