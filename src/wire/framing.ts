/**
 * Newline-delimited framing shared by the shim, the hub and the status CLI.
 * One JSON-RPC message per line; `\r\n` is tolerated. No dependencies: the shim's start-up depends on it.
 */

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

export type LineEvent =
  | { kind: 'line'; line: Buffer }
  /** A line longer than the cap was dropped; `bytes` counts what was discarded (at least the cap). */
  | { kind: 'oversize'; bytes: number };

const NEWLINE = 0x0a;
const CR = 0x0d;

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

  constructor(private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {}

  push(chunk: Buffer, emit: (event: LineEvent) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.buffer(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        emit({ kind: 'oversize', bytes: this.discarded + piece.length });
        this.discarding = false;
        this.discarded = 0;
        continue;
      }
      if (this.pendingBytes + piece.length > this.maxLineBytes) {
        emit({ kind: 'oversize', bytes: this.pendingBytes + piece.length });
        this.reset();
        continue;
      }
      let line: Buffer;
      if (this.pendingBytes === 0) line = piece;
      else {
        this.pending.push(piece);
        line = Buffer.concat(this.pending, this.pendingBytes + piece.length);
        this.reset();
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > 0) emit({ kind: 'line', line });
    }
  }

  /** Bytes held for an unfinished line. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private buffer(rest: Buffer): void {
    if (rest.length === 0) return;
    if (this.discarding) {
      this.discarded += rest.length;
      return;
    }
    if (this.pendingBytes + rest.length > this.maxLineBytes) {
      this.discarding = true;
      this.discarded = this.pendingBytes + rest.length;
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
}

/** Serialises one message as a line. JSON.stringify never emits a raw newline, so framing stays intact. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}
