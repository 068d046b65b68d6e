/**
 * `snowmux status --watch` redraws in place on a terminal and writes plain, dated frames anywhere else: a
 * watch piped to a file or `tee` must not fill the log with cursor codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { PLAIN_FRAME_HEADER, watchWriter } from '../../src/cli/watch-writer.js';
import type { WatchFrame } from '../../src/cli/watch-screen.js';

const AT = new Date('2026-12-05T10:00:00Z');
const frame: WatchFrame = { kind: 'waiting', reason: 'No hub answered at /tmp/h/hub.sock (ENOENT).', waitedMs: 5_000, last: null };

function sink(tty: { columns: number; rows: number } | null): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  if (tty) Object.assign(stream, { isTTY: true, ...tty });
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

test('not a terminal: each frame is plain text under a dated header, with no escape code at all', () => {
  const out = sink(null);
  const draw = watchWriter(out.stream, () => AT);
  draw(frame);
  draw(frame);
  const text = out.text();
  assert.ok(!text.includes('\x1b'), JSON.stringify(text));
  const frames = text.split(`${PLAIN_FRAME_HEADER} 2026-12-05T10:00:00.000Z\n`);
  assert.deepEqual(frames[0], '');
  assert.equal(frames.length, 3);
  for (const f of frames.slice(1)) {
    assert.match(f, /^snowmux status --watch {2}waiting for the hub \(5s\)\n\nNo hub answered at \/tmp\/h\/hub\.sock \(ENOENT\)\./);
    assert.ok(f.endsWith('Ctrl-C to quit.\n'), f);
  }
});

test('a terminal: each frame is drawn over the last (cursor home, clear to end), fitted to its size, and redrawn on resize', () => {
  const out = sink({ columns: 30, rows: 5 });
  const draw = watchWriter(out.stream, () => AT);
  draw(frame);
  const first = out.text();
  assert.ok(first.startsWith('\x1b[H') && first.endsWith('\x1b[K\x1b[J'), JSON.stringify(first));
  assert.ok(!first.includes('\x1b[2J'), 'no full clear');
  const rows = first.slice(3, -6).split('\x1b[K\n');
  assert.equal(rows.length, 5);
  for (const r of rows) assert.ok(r.length <= 30, r);
  Object.assign(out.stream, { columns: 60, rows: 10 });
  out.stream.emit('resize');
  const redrawn = out.text().slice(first.length);
  assert.ok(redrawn.startsWith('\x1b[H'), 'the last frame is drawn again');
  assert.ok(redrawn.slice(3, -6).split('\x1b[K\n')[0]!.length > 30, 'to the new size');
});
