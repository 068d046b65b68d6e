/**
 * A client that stops reading is cut after stalledOutputMs; one that reads a large answer slowly, but reads,
 * is not: progress (a piece of the answer taken) starts the wait again, and a large answer is written in
 * pieces so that progress shows before all of it was read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { LineTransport } from '../../src/hub/session/line-transport.js';

const STALL_MS = 400;
/** The slow reader takes one write every this often: a tenth of the stall window, so timers' jitter cannot matter. */
const TAKE_EVERY_MS = 40;
const TAKE_BYTES = 512 * 1024;

/** A transport whose client reads its output at `taking` (or never), and answers tools/call with `answer`. */
async function rig(taking: 'slowly' | 'never', answer: string) {
  // The reader takes TAKE_BYTES every TAKE_EVERY_MS, as a socket's peer reading slowly would: a write completes
  // (its callback runs) once all its bytes were taken.
  const pending: Array<{ left: number; done: () => void }> = [];
  let taken = 0;
  const output = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, callback) {
      pending.push({ left: chunk.length, done: callback });
    },
  });
  const take = () => {
    let budget = TAKE_BYTES;
    while (budget > 0 && pending.length > 0) {
      const head = pending[0]!;
      const n = Math.min(budget, head.left);
      head.left -= n;
      budget -= n;
      taken += n;
      if (head.left === 0) pending.shift()!.done();
    }
  };
  const reader = taking === 'slowly' ? setInterval(take, TAKE_EVERY_MS) : undefined;
  const input = new PassThrough();
  const cut: string[] = [];
  const transport = new LineTransport({ input, output, maxLineBytes: 1 << 20, stalledOutputMs: STALL_MS, onOverflow: (_bytes, why) => cut.push(why) });
  transport.onmessage = (m) => {
    const msg = m as { id?: number; method?: string };
    if (msg.method === 'initialize') void transport.send({ jsonrpc: '2.0', id: msg.id!, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'h', version: '1' } } });
    if (msg.method === 'tools/call') void transport.send({ jsonrpc: '2.0', id: msg.id!, result: { content: [{ type: 'text', text: answer }] } });
  };
  await transport.start();
  const line = (m: unknown) => input.write(`${JSON.stringify(m)}\n`);
  line({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  line({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: {} } });
  return {
    cut,
    taken: () => taken,
    async close() {
      clearInterval(reader);
      for (const write of pending.splice(0)) write.done();
      await transport.close();
    },
  };
}

test('a client reading a large answer slowly is not cut while it reads, and gets all of it', async () => {
  // 8 MB at TAKE_BYTES per TAKE_EVERY_MS takes longer than STALL_MS, so one write of it all, or a wait
  // not started again by progress, would cut this reader mid-answer.
  const answer = 'é'.repeat(4_000_000);
  const r = await rig('slowly', answer);
  try {
    const whole = Buffer.byteLength(JSON.stringify({ content: [{ type: 'text', text: answer }] }));
    while (r.taken() < whole && r.cut.length === 0) await new Promise((resolve) => setTimeout(resolve, TAKE_EVERY_MS));
    assert.deepEqual(r.cut, [], 'the slow reader was cut while it read');
    assert.ok(r.taken() >= whole);
  } finally {
    await r.close();
  }
});

test('a client that stops reading is still cut, as stalled', async () => {
  const r = await rig('never', 'x'.repeat(3_000_000));
  try {
    while (r.cut.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(r.cut, ['stalled']);
  } finally {
    await r.close();
  }
});
