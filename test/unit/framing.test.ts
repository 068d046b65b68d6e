import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineDecoder, encodeLine, type LineEvent } from '../../src/wire/framing.js';
import { TopLevelIdScanner, brokenLineId, cutLineId } from '../../src/wire/cut-line.js';

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

test('a line whole in its chunk comes with its newline as a view of the chunk (framed); a split or CRLF line without', () => {
  const chunk = Buffer.from('{"a":1}\n{"b":2}\r\n{"c":');
  const events = feed(new LineDecoder(1024), [chunk, '3}\n']);
  const framed = events.map((e) => (e.kind === 'line' ? e.framed?.toString() : undefined));
  assert.deepEqual(framed, ['{"a":1}\n', undefined, undefined]);
  const first = events[0] as Extract<LineEvent, { kind: 'line' }>;
  assert.equal(first.framed!.buffer, chunk.buffer, 'no copy');
  assert.deepEqual(lines(events), ['{"a":1}', '{"b":2}', '{"c":3}']);
});

test('tolerates CRLF and skips empty lines', () => {
  assert.deepEqual(lines(feed(new LineDecoder(1024), ['{"a":1}\r\n\r\n\n{"b":2}\r\n'])), ['{"a":1}', '{"b":2}']);
});

test('a leading UTF-8 byte-order mark is dropped from each line (then no framed view), a second one is kept', () => {
  const bom = '\uFEFF';
  const events = feed(new LineDecoder(1024), [`${bom}{"a":1}\n${bom}${bom}{"b":2}\r\n${bom}\n{"c":3}\n`]);
  assert.deepEqual(lines(events), ['{"a":1}', `${bom}{"b":2}`, '{"c":3}']);
  assert.equal((events[0] as Extract<LineEvent, { kind: 'line' }>).framed, undefined, 'the framed view would carry the mark on');
  const d = new LineDecoder(1024);
  feed(d, [`${bom}{"d":`, '4}']);
  const last: LineEvent[] = [];
  d.end((e) => last.push(e));
  assert.deepEqual(lines(last), ['{"d":4}']);
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

test('a dropped line keeps copies of its first and last bytes, however it arrived', () => {
  const line = `{"jsonrpc":"2.0","id":7,"method":"x","params":{"p":"${'y'.repeat(5000)}"},"tail":"end"}`;
  const ends = (events: LineEvent[]) => events.flatMap((e) => (e.kind === 'oversize' ? [[e.head.toString(), e.tail.toString(), e.bytes]] : []));
  const expected = [[line.slice(0, 256), line.slice(-256), line.length]];
  // In one chunk, across many small chunks (some landing on the cap), with a CRLF ending.
  assert.deepEqual(ends(feed(new LineDecoder(1024), [`${line}\n`])), expected);
  const pieces: string[] = [];
  for (let i = 0; i < line.length; i += 100) pieces.push(line.slice(i, i + 100));
  // (the byte count includes the \r: it was dropped too)
  assert.deepEqual(ends(feed(new LineDecoder(1000), [...pieces, '\r\n'])), [[line.slice(0, 256), line.slice(-256), line.length + 1]]);
  assert.deepEqual(ends(feed(new LineDecoder(1000), [line.slice(0, 990), line.slice(990), '\n'])), expected);
  const chunk = Buffer.from(line.slice(0, 2000));
  const d = new LineDecoder(1000);
  const events: LineEvent[] = [];
  d.push(chunk, (e) => events.push(e));
  chunk.fill(0x20); // the caller reuses its memory: the kept bytes are copies
  d.push(Buffer.from(`${line.slice(2000)}\n`), (e) => events.push(e));
  assert.deepEqual(ends(events), expected);
});

test('the id of a dropped message is read from its ends only when it is certainly the message\'s own', () => {
  const id = (text: string) => {
    const b = Buffer.from(text);
    return cutLineId(b.subarray(0, 256), b.subarray(Math.max(0, b.length - 256)));
  };
  const filler = 'z'.repeat(1000);
  // As clients write requests (id among the first members) and SDKs write responses (id last).
  assert.equal(id(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"q":"${filler}"}}`), 42);
  assert.equal(id(`{"method":"tools/call","jsonrpc":"2.0","id":"a-1","params":{"q":"${filler}"}}`), 'a-1');
  assert.equal(id(`{"result":{"text":"${filler}"},"jsonrpc":"2.0","id":9}`), 9);
  assert.equal(id(`{"result":{"text":"${filler}"},"jsonrpc":"2.0","id":"q\\"7"}`), 'q"7');
  // Never a nested id, one inside a string, one cut off, or a non-integer.
  assert.equal(id(`{"jsonrpc":"2.0","method":"x","params":{"id":5,"q":"${filler}"}}`), undefined);
  assert.equal(id(`{"result":{"rows":[{"id":5}]},"x":"${filler}","y":{"id":6}}`), undefined);
  assert.equal(id(`{"result":"${filler},\\"id\\":5}"}`), undefined);
  assert.equal(id(`{"result":"${filler}","id":"${'k'.repeat(300)}"}`), undefined);
  assert.equal(id(`{"result":"${filler}","id":1.5}`), undefined);
  assert.equal(id(`${filler}`), undefined);
});

test('a dropped line is answered under its top-level id wherever the id sits, however the line arrived', () => {
  const filler = 'z'.repeat(5000);
  const dropped = (line: string, chunkBytes: number) => {
    const pieces: string[] = [];
    for (let i = 0; i < line.length; i += chunkBytes) pieces.push(line.slice(i, i + chunkBytes));
    return feed(new LineDecoder(1000), [...pieces, '\n']).flatMap((e) => (e.kind === 'oversize' ? [e.id] : []));
  };
  const cases: [string, string | number | null][] = [
    // In the middle, after a large params: the ends alone do not show it.
    [`{"method":"tools/call","params":{"q":"${filler}"},"id":77,"jsonrpc":"2.0"}`, 77],
    [`{"params":{"id":5,"q":"${filler}","s":"\\"id\\":6"},"id":"r-\\u0031","method":"x"}`, 'r-1'],
    [`{"jsonrpc":"2.0","method":"x","params":{"q":"${filler}"}, "id" : -4 }`, -4],
    // Not an id the hub answers under (object, past 2^53, fraction), or no top-level id at all.
    [`{"method":"x","params":{"q":"${filler}"},"id":{"a":1},"jsonrpc":"2.0"}`, null],
    [`{"method":"x","params":{"q":"${filler}"},"id":9007199254740993,"jsonrpc":"2.0"}`, null],
    [`{"method":"x","params":{"q":"${filler}","id":3},"jsonrpc":"2.0"}`, null],
    // A line that is no balanced object: only its ends count (here they show nothing).
    [`{"method":"x","params":{"q":"${filler}"},"id":8,"jsonrpc":"2.0"`, null],
    [`{"method":"x","params":{"q":"${filler}"}},"id":8,"x":{"a":1}`, null],
  ];
  for (const [line, id] of cases) {
    for (const chunk of [line.length, 999, 7]) assert.deepEqual(dropped(line, chunk), [id], `${line.slice(-40)} in chunks of ${chunk}`);
  }
  // The ends still serve when the line was cut: its first keys show the id.
  assert.deepEqual(dropped(`{"jsonrpc":"2.0","id":12,"method":"x","params":{"q":"${filler}"`, 999), [12]);
  // Ended by the input's end, not a newline.
  const d = new LineDecoder(1000);
  const ev: LineEvent[] = [];
  d.push(Buffer.from(`{"params":{"q":"${filler}"},"id":"last"}`), (e) => ev.push(e));
  d.end((e) => ev.push(e));
  assert.deepEqual(ev.map((e) => e.kind === 'oversize' && e.id), ['last']);
});

test('a whole line that cannot be parsed is answered under its top-level id when it is one balanced object', () => {
  const id = (text: string | Buffer) => brokenLineId(Buffer.isBuffer(text) ? text : Buffer.from(text));
  assert.equal(id('{"method":"x","params":{"a":1,},"id":3,"jsonrpc":"2.0"}'), 3, 'a trailing comma inside params');
  assert.equal(id(Buffer.concat([Buffer.from('{"method":"x","params":{"q":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"},"id":"u","jsonrpc":"2.0"}')])), 'u', 'invalid UTF-8 inside a value');
  assert.equal(id('{"jsonrpc":"2.0","id":4,"method":"x","params":{'), 4, 'cut: its first keys');
  assert.equal(id('{"method":"x","params":{"q":1,"id":5}'), null, 'cut: a nested id is never taken');
  assert.equal(id('{"method":"x","params":{"id":6}} {"id":7}'), null, 'two objects');
  assert.equal(id('[{"id":1}]'), null);
  const scanner = new TopLevelIdScanner();
  scanner.push(Buffer.from('\ufeff{"id":'));
  scanner.push(Buffer.from('99}\r'));
  assert.equal(scanner.result(), 99, 'a byte-order mark and a CR around the object');
});

test('encodeLine never embeds a raw newline', () => {
  const line = encodeLine({ text: 'a\nb\r\nc', nested: { s: '\u2028' } });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line), { text: 'a\nb\r\nc', nested: { s: '\u2028' } });
});

test("end(): the input's end ends an unfinished last line (CR dropped), or reports the one being dropped; nothing is held after", () => {
  const events: LineEvent[] = [];
  const d = new LineDecoder(16);
  d.push(Buffer.from('{"a":1}\n{"b":2}\r'), (e) => events.push(e));
  d.end((e) => events.push(e));
  assert.deepEqual(events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)), ['{"a":1}', '{"b":2}']);
  assert.equal(d.bufferedBytes, 0);
  d.end((e) => events.push(e));
  assert.equal(events.length, 2, 'a second end emits nothing');
  const big = new LineDecoder(16);
  const dropped: LineEvent[] = [];
  big.push(Buffer.from('x'.repeat(40)), (e) => dropped.push(e));
  big.end((e) => dropped.push(e));
  assert.deepEqual(dropped.map((e) => e.kind), ['oversize']);
});
