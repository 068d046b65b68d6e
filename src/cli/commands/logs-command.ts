/**
 * `snowmux logs [-f] [--level L] [--lines N] [--json]` — the hub's log, readable: one line per record
 * (time, level, message, then the fields), filtered by level; `-f` follows it across rotations.
 */
import { closeSync, constants, fstatSync, readSync, statSync } from 'node:fs';
import { isNotAFile, openStateFile, stateFileFix } from '../../wire/bounded-read.js';
import { join } from 'node:path';
import { SnowmuxError } from '../../errors.js';
import { resolveHome } from '../../wire/home.js';
import { didYouMean, parseCommandArgs } from '../args.js';
import type { CommandIo } from '../command-io.js';
import { escapeInvisibleJson, escapeLine } from '../../shown-text.js';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const NAMES: Record<number, string> = Object.fromEntries(Object.entries(LEVELS).map(([k, v]) => [v, k.toUpperCase()]));

const USAGE = `Usage: snowmux logs [--home DIR] [-f] [--level LEVEL] [--lines N] [--json]

Prints the last lines of the hub's log (<home>/hub.log; rotated files are hub.log.1 … hub.log.5).
  -f, --follow   keep printing new lines (across rotations) until interrupted
  --level LEVEL  trace, debug, info (default), warn, error or fatal: that level and above
  --lines N      how many of the last lines to start with (default 50)
  --json         the raw JSON lines
`;

export async function logsCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseCommandArgs('logs', argv, {
    home: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    level: { type: 'string' },
    lines: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const min = LEVELS[(values.level ?? 'info').toLowerCase()];
  if (min === undefined) throw new SnowmuxError('USAGE', `--level must be one of ${Object.keys(LEVELS).join(', ')}; got "${values.level}"${didYouMean(values.level!, Object.keys(LEVELS))}.`);
  const count = Number(values.lines ?? 50);
  if (!Number.isSafeInteger(count) || count < 0) throw new SnowmuxError('USAGE', `--lines must be a whole number; got "${values.lines}".`);
  const file = join(resolveHome({ flag: values.home }), 'hub.log');
  const show = (line: string) => {
    const text = render(line, min, values.json === true);
    if (text !== null) io.stdout.write(`${text}\n`);
  };
  let text: string;
  let end = 0;
  try {
    ({ text, end } = readLogTail(file));
  } catch (err) {
    if (isNotAFile(err)) throw new SnowmuxError('HOME_UNUSABLE', `Cannot read the hub's log: ${(err as Error).message}; ${stateFileFix(file)}`);
    if (!values.follow) throw new SnowmuxError('HUB_NOT_RUNNING', `No log at ${file}: no hub has run in this home yet (or use --home).`);
    // Following a log that is not there yet waits for it; say so, or it looks like a hang.
    io.stderr.write(`snowmux logs: no log at ${file} yet (no hub has run in this home; or use --home); waiting for one to start.\n`);
    text = '';
  }
  // Counted as they print: without --json a line that is no record (a stack trace appended by something
  // else) prints nothing, and counted, a few of them at the end left --lines N printing nothing at all.
  const shows = (l: string) => l !== '' && render(l, min, values.json === true) !== null;
  let shown = text.split('\n').filter(shows);
  // Just rotated? Reach into the rotated files (newest first) for the rest of the lines asked for.
  for (let i = 1; i <= 5 && shown.length < count; i++) {
    let older: string;
    try {
      older = readLogTail(`${file}.${i}`).text;
    } catch {
      break;
    }
    shown = [...older.split('\n').filter(shows), ...shown];
  }
  for (const l of shown.slice(Math.max(0, shown.length - count))) show(l);
  if (!values.follow) return 0;
  await follow(file, end, show);
  return 0;
}

/**
 * One record as a line, or null when it is below the level (or not a log record). The log holds clients'
 * text (a hello's version, a warehouse error quoting a table name): nothing of it may act on the terminal or
 * start a line of its own, so a record prints as one line with every invisible character escaped; with
 * --json, as the same JSON with those characters as JSON escapes.
 */
function render(line: string, min: number, json: boolean): string | null {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return json ? escapeInvisibleJson(line) : null;
  }
  if (typeof rec.level !== 'number' || rec.level < min) return null;
  if (json) return escapeInvisibleJson(line);
  const { level, time, msg, pid, ...rest } = rec;
  const when = typeof time === 'string' ? time.slice(11, 23) : '';
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return escapeLine(`${when} ${(NAMES[level as number] ?? String(level)).padEnd(5)} [${String(pid)}] ${String(msg ?? '')}${fields ? `  ${fields}` : ''}`);
}

/** Polls the file for appended bytes every 250 ms (LogFollower), until interrupted. */
async function follow(file: string, from: number, show: (line: string) => void): Promise<never> {
  const follower = new LogFollower(file, from, show);
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    follower.poll();
  }
}

/**
 * Follows a log file across rotations. The file it reads is held open, so when the writer renames it away
 * (hub.log → hub.log.1) and starts a new one, the lines written to the old one since the last poll are read
 * from it before the new one is: reopened by name, they were lost.
 */
export class LogFollower {
  #fd: number | undefined;
  #ino: number | undefined;
  #offset: number;
  #partial = '';

  constructor(
    private readonly file: string,
    from: number,
    private readonly show: (line: string) => void,
  ) {
    this.#offset = from;
    this.#open();
  }

  /** Prints what was appended since the last poll, the rest of a rotated file first. */
  poll(): void {
    const named = safeStat(this.file);
    if (this.#fd === undefined) {
      if (!named) return;
      this.#offset = 0;
      this.#open();
    } else if (named && named.ino !== this.#ino) {
      this.#drain();
      if (this.#partial) this.show(this.#partial);
      this.#partial = '';
      closeSync(this.#fd);
      this.#fd = undefined;
      this.#offset = 0;
      this.#open();
    } else if (fstatSync(this.#fd).size < this.#offset) {
      // Truncated in place: start over.
      this.#offset = 0;
      this.#partial = '';
    }
    this.#drain();
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #open(): void {
    try {
      this.#fd = openStateFile(this.file, constants.O_RDONLY).fd;
      this.#ino = fstatSync(this.#fd).ino;
    } catch {
      this.#fd = undefined;
    }
  }

  #drain(): void {
    if (this.#fd === undefined) return;
    const size = fstatSync(this.#fd).size;
    if (size <= this.#offset) return;
    const buf = Buffer.alloc(size - this.#offset);
    const read = readSync(this.#fd, buf, 0, buf.length, this.#offset);
    this.#offset += read;
    const parts = (this.#partial + buf.subarray(0, read).toString('utf8')).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const p of parts) if (p) this.show(p);
  }
}

function safeStat(file: string) {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * More of one log file than is read to find its last lines: the hub rotates at 10 MiB by default, so a log
 * is read whole unless $SNOWMUX_LOG_MAX_BYTES let it grow. Read whole, a log of hundreds of MiB took a
 * gigabyte of memory, and past Node's longest string it was reported as "no log at …: no hub has run".
 */
export const LOG_TAIL_BYTES = 16 * 1024 * 1024;

/**
 * The last `limit` bytes of a log file, from its first whole line (a line cut by the limit is left out),
 * and the file's size then (where following it starts). Never blocks on what is not a regular file (a
 * FIFO at hub.log).
 */
export function readLogTail(file: string, limit = LOG_TAIL_BYTES): { text: string; end: number } {
  const { fd } = openStateFile(file, constants.O_RDONLY);
  try {
    const end = fstatSync(fd).size;
    const start = Math.max(0, end - limit);
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    let bytes = buf.subarray(0, got);
    if (start > 0) {
      const cut = bytes.indexOf(0x0a);
      bytes = cut < 0 ? bytes.subarray(got) : bytes.subarray(cut + 1);
    }
    return { text: bytes.toString('utf8'), end: start + got };
  } finally {
    closeSync(fd);
  }
}
