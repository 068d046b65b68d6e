/**
 * The hub's control connection (status, stop, reload…): any line gets an answer, and one bad line never
 * costs the requests after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { handleControl, type ControlHandlers } from '../../src/hub/socket/control.js';
import { createLogger } from '../../src/hub/observe/logger.js';

test('null, arrays, numbers and unknown operations are answered BAD_REQUEST/UNKNOWN_OP; the request after them in the same read is served', () => {
  const written: string[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      written.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const handlers: ControlHandlers = { status: () => ({ up: true }), stop: () => null, replace: () => null, disconnect: () => null, reload: () => null };
  const op = `x${'\u001b'.repeat(10)}${'y'.repeat(10_000)}`;
  handleControl(socket, Buffer.from(`null\n[1]\n7\n{"id":1,"op":${JSON.stringify(op)}}\n{"id":2,"op":"status"}\n`), handlers, createLogger({ destination: new PassThrough(), level: 'silent' }));
  const answers = written.map((l) => JSON.parse(l) as { id: unknown; ok: boolean; error?: { code: string; message: string }; result?: unknown });
  assert.deepEqual(answers.map((a) => a.error?.code ?? 'ok'), ['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'UNKNOWN_OP', 'ok']);
  assert.ok(answers[3]!.error!.message.length < 300, 'the unknown operation is shown cut short');
  assert.deepEqual(answers[4], { id: 2, ok: true, result: { up: true } });
});
