/**
 * Newline-delimited framing shared by the shim, the hub and the status CLI.
 * One JSON-RPC message per line; `\r\n` and a leading UTF-8 byte-order mark are tolerated.
 * No dependencies: the shim's start-up depends on it.
 */
import { TopLevelIdScanner, cutLineId } from './cut-line.js';

/** The longest line a client (editor, shim) may send the hub by default (`hub.max_line_bytes`). */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

/**
 * The longest line a hub writes to a client (a shim, or an editor on `snowmux stdio`): the hub answers a
 * request whose answer would be longer with an error instead, and the shim reads hub lines up to this and
 * no further. An answer is bounded by `hub.max_result_bytes` (default 256 KiB) twice (the text table and
 * the structured rows) plus escaping and padding: a few MiB at the default, so this leaves room for
 * `max_result_bytes` of several MiB while a broken hub cannot grow a shim without limit.
 */
export const MAX_HUB_LINE_BYTES = 32 * 1024 * 1024;

/** Bytes kept from each end of a dropped line: enough to find the id of a JSON-RPC message in it. */
const SAMPLE_BYTES = 256;

export type LineEvent =
  /**
   * `framed`, when present, is the same line with its newline, a view of the chunk it came in: a forwarder
   * writes it on without copying the line to add the newline back (a line split across chunks, or ending
   * in \r\n, has none).
   */
  | { kind: 'line'; line: Buffer; framed?: Buffer }
  /**
   * A line longer than the cap was dropped; `bytes` counts what was discarded (at least the cap), `head`
   * and `tail` are copies of its first and last bytes (up to 256 each). `id` is the dropped message's
   * top-level JSON-RPC id, read as the line went by wherever it sat (`TopLevelIdScanner`, or its ends when
   * the line was no balanced object): its request is answered under it. Null when there is none to use.
   */
  | { kind: 'oversize'; bytes: number; head: Buffer; tail: Buffer; id: string | number | null };

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * A line without the UTF-8 byte-order mark it may open with (Windows tools and PowerShell pipes write one).
 * Dropped here, where every reader of lines gets them (the shim and the hub alike), so both read the same
 * message: the hub's strict decoder used to drop it on its own, the shim's JSON.parse failed on it, and the
 * shim forwarded a request it could not track (never answered when its hub went away).
 */
function withoutBom(line: Buffer): Buffer {
  return line.length >= 3 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? line.subarray(3) : line;
}

/** A copy of the first `n` bytes of the concatenation of `parts`. */
function firstBytes(parts: Buffer[], n: number): Buffer {
  const out: Buffer[] = [];
  let got = 0;
  for (const p of parts) {
    if (got >= n) break;
    const piece = p.subarray(0, n - got);
    out.push(piece);
    got += piece.length;
  }
  return Buffer.concat(out, got);
}

/** A copy of the last `n` bytes of the concatenation of `parts`, a trailing `\r` left out. */
function lastBytes(parts: Buffer[], n: number): Buffer {
  const out: Buffer[] = [];
  let got = 0;
  // One byte more, in case the last one is a \r to leave out.
  for (let i = parts.length - 1; i >= 0 && got <= n; i--) {
    const p = parts[i]!;
    const piece = p.subarray(Math.max(0, p.length - (n + 1 - got)));
    out.unshift(piece);
    got += piece.length;
  }
  let tail = Buffer.concat(out, got);
  if (tail.length > 0 && tail[tail.length - 1] === CR) tail = tail.subarray(0, tail.length - 1);
  return tail.subarray(Math.max(0, tail.length - n));
}

/**
 * Splits a byte stream into lines without ever buffering more than `maxLineBytes` of one line.
 * An oversized line is discarded up to its newline and reported once, so one bad message cannot
 * exhaust memory or desynchronise the stream.
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  private discarded = 0;
  /** While discarding: the dropped line's first and latest bytes. */
  private head: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);
  /** While discarding: reads the dropped line's id as its bytes go by (none of them is kept). */
  private idScanner: TopLevelIdScanner | null = null;

  constructor(private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {}

  push(chunk: Buffer, emit: (event: LineEvent) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.buffer(chunk.subarray(start));
        return;
      }
      const lineStart = start;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.idScanner?.push(piece);
        emit(this.dropped(this.discarded + piece.length, this.head, lastBytes([this.tail, piece], SAMPLE_BYTES)));
        continue;
      }
      if (this.pendingBytes + piece.length > this.maxLineBytes) {
        const parts = [...this.pending, piece];
        this.idScanner = scannerOver(parts);
        emit(this.dropped(this.pendingBytes + piece.length, firstBytes(parts, SAMPLE_BYTES), lastBytes(parts, SAMPLE_BYTES)));
        this.reset();
        continue;
      }
      let line: Buffer;
      const whole = this.pendingBytes === 0;
      if (whole) line = piece;
      else {
        this.pending.push(piece);
        line = Buffer.concat(this.pending, this.pendingBytes + piece.length);
        this.reset();
      }
      const crlf = line.length > 0 && line[line.length - 1] === CR;
      if (crlf) line = line.subarray(0, line.length - 1);
      const bare = withoutBom(line);
      if (bare.length > 0) emit(whole && !crlf && bare === line ? { kind: 'line', line, framed: chunk.subarray(lineStart, nl + 1) } : { kind: 'line', line: bare });
    }
  }

  /**
   * The input ended: an unfinished last line is a line (an editor's last message without its newline),
   * or the oversize event of the line being dropped. Nothing is held afterwards.
   */
  end(emit: (event: LineEvent) => void): void {
    if (this.discarding) {
      emit(this.dropped(this.discarded, this.head, this.tail));
      return;
    }
    if (this.pendingBytes === 0) return;
    let line = Buffer.concat(this.pending, this.pendingBytes);
    this.reset();
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    const bare = withoutBom(line);
    if (bare.length > 0) emit({ kind: 'line', line: bare });
  }

  /** Bytes held for an unfinished line. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private buffer(rest: Buffer): void {
    if (rest.length === 0) return;
    if (this.discarding) {
      this.discarded += rest.length;
      this.tail = lastBytes([this.tail, rest], SAMPLE_BYTES);
      this.idScanner?.push(rest);
      return;
    }
    if (this.pendingBytes + rest.length > this.maxLineBytes) {
      const parts = [...this.pending, rest];
      this.idScanner = scannerOver(parts);
      this.discarding = true;
      this.discarded = this.pendingBytes + rest.length;
      this.head = firstBytes(parts, SAMPLE_BYTES);
      this.tail = lastBytes(parts, SAMPLE_BYTES);
      this.reset();
      return;
    }
    // Copy: the caller may reuse the chunk's memory.
    this.pending.push(Buffer.from(rest));
    this.pendingBytes += rest.length;
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The event of the line just dropped; the decoder then starts afresh on the next line. */
  private dropped(bytes: number, head: Buffer, tail: Buffer): LineEvent {
    const scanned = this.idScanner?.result();
    const id = scanned !== undefined ? scanned : cutLineId(head, tail) ?? null;
    this.discarding = false;
    this.discarded = 0;
    this.head = this.tail = Buffer.alloc(0);
    this.idScanner = null;
    return { kind: 'oversize', bytes, head, tail, id };
  }
}

function scannerOver(parts: Buffer[]): TopLevelIdScanner {
  const scanner = new TopLevelIdScanner();
  for (const p of parts) scanner.push(p);
  return scanner;
}

/** Serialises one message as a line. JSON.stringify never emits a raw newline, so framing stays intact. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}
