/**
 * The JSON-RPC id of a message whose line cannot be parsed whole — too long to keep, not UTF-8, not JSON —
 * so the one request it belonged to is answered with an error under its own id instead of being left
 * hanging (an answer under id null matches no request: the client waits for ever, and a shim keeps the
 * request in flight). Two readers, for what each can see:
 * - `TopLevelIdScanner` reads the whole line as it goes by and finds a top-level `"id"` wherever it sits;
 * - `cutLineId` reads only the first and last bytes a line decoder kept of a dropped line: a top-level
 *   `"id"` among the first keys (`{"jsonrpc":"2.0","id":7,…`, as clients write requests) or as the last key
 *   (`…,"id":7}`, as the SDKs write responses); the fallback for a line that was no balanced object.
 * Only an id that is certainly the message's own is returned; anything else — nested, inside a string,
 * cut off — is not, and the owner falls back to id null or a log line.
 */

import { isUtf8 } from 'node:buffer';
import { ByteSkipper, closingQuote, oddBackslashesBefore } from './byte-search.js';

type Id = string | number;

const VALUE = String.raw`(-?\d+|"(?:[^"\\\n]|\\.){0,200}")`;
/** `{` then only "jsonrpc"/"method" string members, then "id". */
const AT_START = new RegExp(String.raw`^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"(?:[^"\\]|\\.)*"\s*,)*\s*"id"\s*:\s*${VALUE}\s*[,}]`);
/** `"id"` as the last member of the top-level object: its value is followed only by the closing brace. */
const AT_END = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${VALUE}\s*\}\s*$`);

function parseId(text: string | undefined): Id | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v)) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function cutLineId(head: Buffer, tail: Buffer): Id | undefined {
  return parseId(AT_START.exec(head.toString('utf8'))?.[1]) ?? parseId(AT_END.exec(tail.toString('utf8'))?.[1]);
}

/** The longest id (its JSON text) read back from a line that is not parsed whole. */
const MAX_ID_TEXT_BYTES = 1024;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const BOM = new Set([0xef, 0xbb, 0xbf]);
/** What changes a reader's state inside a nested value: quotes and brackets. */
const STRUCTURE = [QUOTE, 0x7b, 0x7d, 0x5b, 0x5d];

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * Finds the top-level `"id"` of one JSON object fed to it in pieces, keeping only a few counters and the
 * id's own text: the way to answer a line the hub or the shim cannot parse whole (longer than the line
 * limit, not UTF-8, not JSON) under its client's id wherever the id sits — a client that writes it after a
 * large `params` (`{"method":…,"params":{…},"id":77}`) otherwise waited for ever for an answer under id
 * null. Strings and nesting are followed, so an `"id"` inside params or inside a string never counts; the id
 * is trusted only when the whole line was one balanced object (a line cut or garbled in its structure may
 * close a nested object early and show a nested id as top-level).
 */
export class TopLevelIdScanner {
  private depth = 0;
  private started = false;
  private closed = false;
  private broken = false;
  private inString = false;
  private escaped = false;
  /** At depth 1: the next string is a member name. */
  private expectName = false;
  /** At depth 1: a ':' was read and the member's value has not started. */
  private afterColon = false;
  /** The member being read at depth 1 is "id". */
  private nameIsId = false;
  /** What the current string or literal is kept for. */
  private capturing: 'name' | 'id' | 'id-literal' | null = null;
  private captured: number[] = [];
  private capturedTooLong = false;
  /** Reading the id's value when it is not a string (a number, or something no id can be). */
  private inIdLiteral = false;
  /** The last top-level id read: null when it is there but cannot be an id (an object, 2^53 + 1, 1.5…). */
  private id: Id | null | undefined;

  push(bytes: Buffer): void {
    if (this.broken) return;
    const n = bytes.length;
    let structure: ByteSkipper | undefined;
    for (let i = 0; i < n; i++) {
      if (this.inString) {
        // What a string holds matters only when it is a top-level name or the id: any other string (nearly
        // every byte of a large message) is skipped to its closing quote with a native search. Byte by byte,
        // an 8 MB line cost the hub ~50 ms of its only thread for each refusal.
        if (!this.escaped && (this.capturing === null || this.capturedTooLong)) {
          const end = closingQuote(bytes, i);
          if (end < 0) {
            this.escaped = oddBackslashesBefore(bytes, n, i);
            return;
          }
          i = end;
        }
        const b = bytes[i]!;
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) {
          this.inString = false;
          this.endCapture();
          continue;
        }
        if (this.capturing) this.capture(b);
        continue;
      }
      if (this.inIdLiteral) {
        const b = bytes[i]!;
        if (!isSpace(b) && b !== 0x2c && b !== 0x7d && b !== 0x5d) {
          this.capture(b);
          continue;
        }
        this.inIdLiteral = false;
        this.endCapture();
      }
      // Bytes that change nothing are passed over: inside a nested value, all but quotes and brackets
      // (searched natively); elsewhere, blanks.
      let b = bytes[i]!;
      if (this.depth >= 2) {
        structure ??= new ByteSkipper(bytes, STRUCTURE);
        i = structure.find(i);
        if (i === n) return;
        b = bytes[i]!;
      } else {
        while (isSpace(b)) {
          if (++i === n) return;
          b = bytes[i]!;
        }
      }
      if (this.depth === 0) {
        // One object, nothing after it but blanks; a byte-order mark before it is tolerated.
        if (!this.started && b === 0x7b) {
          this.started = true;
          this.depth = 1;
          this.expectName = true;
        } else if (!(!this.started && BOM.has(b))) {
          this.broken = true;
          return;
        }
        continue;
      }
      const value = this.depth === 1 && this.afterColon;
      if (value) this.afterColon = false;
      if (b === QUOTE) {
        this.inString = true;
        const name = this.depth === 1 && this.expectName;
        if (name) this.expectName = false;
        this.startCapture(name ? 'name' : value && this.nameIsId ? 'id' : null);
      } else if (b === 0x7b || b === 0x5b) {
        if (value && this.nameIsId) this.id = null;
        this.depth++;
      } else if (b === 0x7d || b === 0x5d) {
        this.depth--;
        if (this.depth === 0) this.closed = true;
      } else if (this.depth === 1 && b === 0x3a) {
        this.afterColon = true;
      } else if (this.depth === 1 && b === 0x2c) {
        this.expectName = true;
        this.nameIsId = false;
      } else if (value && this.nameIsId) {
        this.startCapture('id-literal');
        this.capture(b);
        this.inIdLiteral = true;
      }
    }
  }

  /**
   * The id, once the whole line was fed: undefined when the line was no single balanced object or had no
   * top-level id, null when its id cannot be answered under (not a string or a safe integer).
   */
  result(): Id | null | undefined {
    if (this.inIdLiteral) {
      this.inIdLiteral = false;
      this.endCapture();
    }
    if (this.broken || !this.closed || this.inString || this.depth !== 0) return undefined;
    return this.id;
  }

  private startCapture(what: 'name' | 'id' | 'id-literal' | null): void {
    this.capturing = what;
    this.captured = [];
    this.capturedTooLong = false;
  }

  private capture(b: number): void {
    if (this.captured.length >= MAX_ID_TEXT_BYTES) this.capturedTooLong = true;
    else this.captured.push(b);
  }

  private endCapture(): void {
    const what = this.capturing;
    this.capturing = null;
    if (what === null) return;
    const raw = Buffer.from(this.captured);
    if (what === 'name') {
      this.nameIsId = !this.capturedTooLong && parseText(`"${raw.toString('latin1')}"`) === 'id';
      return;
    }
    // A string id must be UTF-8 for its answer to carry it back as sent.
    if (this.capturedTooLong || !isUtf8(raw)) this.id = null;
    else this.id = asId(parseText(what === 'id' ? `"${raw.toString('utf8')}"` : raw.toString('latin1')));
  }
}

/** AT_START, with the place of what it matched. */
const AT_START_PLACED = new RegExp(AT_START.source, 'd');

/**
 * The id among a line's first keys, read from its bytes (as Latin-1, one character a byte): undefined when
 * there is none, or when a string id is not UTF-8 (the scanner says whether it is answerable).
 */
function leadingId(line: Buffer): Id | undefined {
  const match = AT_START_PLACED.exec(line.toString('latin1', 0, Math.min(line.length, 512)));
  const place = match?.indices?.[1];
  if (place === undefined) return undefined;
  const raw = line.subarray(place[0], place[1]);
  return isUtf8(raw) ? parseId(raw.toString('utf8')) : undefined;
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** What the hub takes as an id (a string, a safe integer), else null: answered under null. */
function asId(v: unknown): Id | null {
  return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v)) ? v : null;
}

/**
 * The id of a whole line that could not be parsed or was refused unparsed (not UTF-8, not JSON, too many
 * values): what its first bytes show (`{"jsonrpc":"2.0","id":7,…`, no scan of the rest), else the scanner's
 * when the line is one balanced object — never its end alone, which may close a nested object. Null when
 * there is none to answer under.
 */
export function brokenLineId(line: Buffer): Id | null {
  const first = leadingId(line);
  if (first !== undefined) return first;
  const scanner = new TopLevelIdScanner();
  scanner.push(line);
  return scanner.result() ?? null;
}
