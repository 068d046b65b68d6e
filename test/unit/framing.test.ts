import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineDecoder, encodeLine, type LineEvent } from '../../src/wire/framing.js';

function feed(decoder: LineDecoder, chunks: (string | Buffer)[]): LineEvent[] {
  const events: LineEvent[] = [];
  for (const c of chunks) decoder.push(typeof c === 'string' ? Buffer.from(c) : c, (e) => events.push(e));
  return events;
}

const lines = (events: LineEvent[]) => events.map((e) => (e.kind === 'line' ? e.line.toString() : `<oversize ${e.bytes}>`));

test('splits lines across arbitrary chunk boundaries', () => {
  const text = '{"a":1}\n{"b":2}\n{"c":"x\\ny"}\n';
  for (let cut = 1; cut < text.length; cut++) {
    const ev = feed(new LineDecoder(1024), [text.slice(0, cut), text.slice(cut)]);
    assert.deepEqual(lines(ev), ['{"a":1}', '{"b":2}', '{"c":"x\\ny"}'], `cut at ${cut}`);
  }
});

test('tolerates CRLF and skips empty lines', () => {
  assert.deepEqual(lines(feed(new LineDecoder(1024), ['{"a":1}\r\n\r\n\n{"b":2}\r\n'])), ['{"a":1}', '{"b":2}']);
});

test('holds an unfinished line until its newline arrives', () => {
  const d = new LineDecoder(1024);
  assert.deepEqual(feed(d, ['{"a":']), []);
  assert.equal(d.bufferedBytes, 5);
  assert.deepEqual(lines(feed(d, ['1}\n'])), ['{"a":1}']);
  assert.equal(d.bufferedBytes, 0);
});

test('drops an oversized line once, without buffering it, and resynchronises on the next newline', () => {
  const d = new LineDecoder(16);
  const big = 'x'.repeat(100);
  const ev = feed(d, ['{"ok":1}\n', big.slice(0, 40), big.slice(40), '\n{"ok":2}\n']);
  assert.deepEqual(lines(ev), ['{"ok":1}', '<oversize 100>', '{"ok":2}']);
  assert.equal(d.bufferedBytes, 0);
});

test('an oversized line within one chunk is reported with its size', () => {
  const ev = feed(new LineDecoder(8), ['0123456789abc\n{"a":1}\n']);
  assert.deepEqual(lines(ev), ['<oversize 13>', '{"a":1}']);
});

test('a line of exactly the cap is accepted', () => {
  const ev = feed(new LineDecoder(8), ['12345678\n']);
  assert.deepEqual(lines(ev), ['12345678']);
});

test('copies buffered bytes so callers may reuse chunk memory', () => {
  const d = new LineDecoder(1024);
  const chunk = Buffer.from('{"a":');
  feed(d, [chunk]);
  chunk.fill(0x20);
  assert.deepEqual(lines(feed(d, ['1}\n'])), ['{"a":1}']);
});

test('encodeLine never embeds a raw newline', () => {
  const line = encodeLine({ text: 'a\nb\r\nc', nested: { s: '\u2028' } });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line), { text: 'a\nb\r\nc', nested: { s: '\u2028' } });
});
