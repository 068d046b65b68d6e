/** A hub session's line transport on in-memory streams, for tests of what it does before the SDK sees a message. */
import { PassThrough } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { LineTransport, type LineTransportOptions } from '../../src/hub/session/line-transport.js';

/** The id of the initialize that opens a rig's connection. */
const OPEN = 'open';

/**
 * A line transport whose connection is opened (initialize answered, hidden from the test) before it returns.
 * `answer` says which delivered requests get an empty result at once (the others stay unanswered).
 */
export async function openedLineTransport(opts: Partial<LineTransportOptions>, answer: (m: { id?: unknown; method?: string }) => boolean = () => false) {
  const input = new PassThrough();
  const output = new PassThrough();
  const replies: { id?: unknown; error?: { code: number; message: string; data?: unknown } }[] = [];
  let buffered = '';
  output.on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const reply = JSON.parse(buffered.slice(0, nl)) as { id?: unknown };
      if (reply.id !== OPEN) replies.push(reply);
      buffered = buffered.slice(nl + 1);
    }
  });
  const delivered: JSONRPCMessage[] = [];
  const transport = new LineTransport({ input, output, maxLineBytes: 1 << 20, ...opts });
  transport.onmessage = (m) => {
    const msg = m as { id?: unknown; method?: string };
    if (msg.id === OPEN) return void transport.send({ jsonrpc: '2.0', id: OPEN, result: { protocolVersion: '2025-06-18' } });
    delivered.push(m);
    if (answer(msg)) void transport.send({ jsonrpc: '2.0', id: msg.id as number, result: {} });
  };
  void transport.start();
  /** Writes the lines in one chunk, then lets the transport read them. */
  const sendLines = async (lines: string[]) => {
    input.write(lines.map((l) => `${l}\n`).join(''));
    await new Promise((r) => setImmediate(r));
  };
  await sendLines([JSON.stringify({ jsonrpc: '2.0', id: OPEN, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })]);
  return { transport, replies, delivered, sendLines, input };
}
