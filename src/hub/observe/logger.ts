/**
 * Structured logs (pino) to a file in the home. Every line from a session carries `session`, and every
 * line about a call carries `request`, via child loggers.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { SnowmuxError } from '../../errors.js';
import { stateFileFix } from '../../wire/bounded-read.js';
import { isSecretLookingKey } from '../audit/audit-redact.js';

export type { Logger } from 'pino';

export const LOG_FILE = 'hub.log';

/** Log bytes held while hub.log cannot be written, before lines are dropped. */
const MAX_UNWRITTEN_LOG_BYTES = 4 * 1024 * 1024;

/** What stands for the value of a secret-looking key in a log line. */
const LOG_CENSOR = '[redacted]';
/** Nesting deeper than this in a log line is not walked for keys (bounds the work). */
const MAX_KEY_DEPTH = 32;

/**
 * Whether a log line's key names a value that is never written: every key the audit log redacts
 * (isSecretLookingKey: password, passphrase, token, private key, secret, authorization, API key, credential,
 * cookie…, at any depth and in any spelling — one list for both), and an environment block (`env`).
 */
function isRedactedLogKey(key: string): boolean {
  return key === 'env' || isSecretLookingKey(key);
}

/** Lowercase text every secret-looking key holds one of, once spelled out (the key parts, `key`, `env`). */
const KEY_HINTS = ['pass', 'pwd', 'token', 'secret', 'key', 'auth', 'credential', 'cookie', 'env'];

/**
 * A finished log line with the value of every secret-looking key replaced, at any depth. The cheap test
 * first: most lines hold no such key and are written untouched. A line that is not JSON is kept.
 */
export function redactLogLineKeys(line: string): string {
  const lower = line.toLowerCase();
  if (!KEY_HINTS.some((hint) => lower.includes(hint))) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return line;
  }
  let changed = false;
  const walk = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value !== 'object' || depth >= MAX_KEY_DEPTH) return value;
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [key, member] of Object.entries(value)) {
      if (isRedactedLogKey(key) && member !== LOG_CENSOR) {
        changed = true;
        out[key] = LOG_CENSOR;
      } else out[key] = walk(member, depth + 1);
    }
    return out;
  };
  const redacted = walk(parsed, 0);
  return changed ? `${JSON.stringify(redacted)}${line.endsWith('\n') ? '\n' : ''}` : line;
}

/**
 * Where the lines go: the home's log file, or a stream (tests; `snowmux stdio` uses stderr). One of the two,
 * always: a logger given neither wrote hub.log into the working directory (a test did, into the checkout).
 */
export type LoggerOptions = LoggerSettings & ({ home: string; destination?: undefined } | { destination: NodeJS.WritableStream; home?: undefined });

interface LoggerSettings {
  level?: string;
  /**
   * Applied to every finished log line: scrubs known secret values (profile passwords, tokens) wherever they
   * appear — an error text or SQL that echoes one — which path-based redaction cannot see. It must return a
   * valid JSON line (the hub's scrubs the line's values, KnownSecrets.scrubLogLine, never its text).
   */
  scrub?: (line: string) => string;
  /** Rotate the home's log file past this size (default 10 MiB, or $SNOWMUX_LOG_MAX_BYTES). */
  maxBytes?: number;
  /** Rotated files kept: hub.log.1 (newest) … hub.log.N (default 5). */
  keep?: number;
}

/** hub.log → hub.log.1 → … → hub.log.<keep>; the oldest goes. */
function shiftLogs(file: string, keep: number): void {
  rmSync(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      /* a gap in the series */
    }
  }
  try {
    renameSync(file, `${file}.1`);
  } catch {
    /* nothing to rotate */
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * $SNOWMUX_LOG_LEVEL, checked: pino's own refusal of an unknown level names neither the variable nor the levels.
 * `fallback` is the level when it is unset: info for the hub's file, warn for `snowmux stdio`'s stderr.
 */
export function logLevelFromEnv(value: string | undefined, fallback = 'info'): string {
  if (!value) return fallback;
  const level = value.trim().toLowerCase();
  if (LOG_LEVELS.includes(level)) return level;
  throw new SnowmuxError('USAGE', `SNOWMUX_LOG_LEVEL=${JSON.stringify(value)} is not a log level: use one of ${LOG_LEVELS.join(', ')} (or leave it unset for ${fallback}).`);
}

/**
 * $SNOWMUX_LOG_MAX_BYTES, checked: read with Number() alone, "10M" or "abc" was the default without a word,
 * and "-1" or "0.5" rotated hub.log at every line (keeping only the last few lines of the log).
 */
export function logMaxBytesFromEnv(value: string | undefined): number {
  if (!value || !value.trim()) return 10 * 1024 * 1024;
  const bytes = Number(value.trim());
  if (Number.isSafeInteger(bytes) && bytes >= 1024) return bytes;
  throw new SnowmuxError('USAGE', `SNOWMUX_LOG_MAX_BYTES=${JSON.stringify(value)} is not a size in bytes: give a whole number of at least 1024 (e.g. 10485760 for 10 MiB), or leave it unset for 10 MiB.`);
}

export function createLogger(opts: LoggerOptions): Logger {
  // An empty $SNOWMUX_LOG_LEVEL (an editor's or a unit file's "" placeholder) is unset, as every variable's is.
  const level = opts.level ?? logLevelFromEnv(process.env.SNOWMUX_LOG_LEVEL);
  const ownScrub = opts.scrub;
  // Secret-looking keys' values out first (the audit's list, any depth), then the known secret values.
  const scrub = ownScrub === undefined ? redactLogLineKeys : (line: string) => ownScrub(redactLogLineKeys(line));
  if (opts.destination) {
    return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: scrub } }, opts.destination as pino.DestinationStream);
  }
  const file = join(opts.home, LOG_FILE);
  const maxBytes = opts.maxBytes ?? logMaxBytesFromEnv(process.env.SNOWMUX_LOG_MAX_BYTES);
  const keep = Math.max(1, opts.keep ?? 5);
  let size = 0;
  let found;
  try {
    found = statSync(file);
    size = found.size;
  } catch {
    /* a new file */
  }
  // The destination opens it on a thread of its own: a FIFO there blocked that thread, and the hub never
  // exited after a stop. A FIFO, socket or directory is refused before the hub starts, named. A character
  // device opens without waiting and is someone's choice (hub.log -> /dev/null discards the log): kept.
  if (found !== undefined && !found.isFile() && !found.isCharacterDevice()) {
    throw new SnowmuxError('HOME_UNUSABLE', `Cannot start a hub: its log ${file} is ${found.isDirectory() ? 'a directory' : found.isFIFO() ? 'a FIFO (named pipe)' : found.isSocket() ? 'a socket' : 'not a regular file'}, not a log file; ${stateFileFix(file)}`);
  }
  if (size >= maxBytes) {
    shiftLogs(file, keep);
    size = 0;
  }
  // Not mkdir: the home exists by now, and a hub whose home was removed must not re-create it.
  // maxLength: lines that cannot be written (a full disk) are dropped past 4 MiB instead of held without bound.
  const destination = pino.destination({ dest: file, mkdir: false, sync: false, mode: 0o600, maxLength: MAX_UNWRITTEN_LOG_BYTES } as Parameters<typeof pino.destination>[0]);
  // A write error (ENOSPC, EFBIG under a file-size limit) loses log lines, never the hub: unheard, it became
  // an uncaught exception, and the fatal line logged for it spun for ever in the destination's flushSync.
  // The destination retries with the next line; the first failure of a spell is said on stderr.
  let failing = false;
  destination.on('error', (err: NodeJS.ErrnoException) => {
    if (failing) return;
    failing = true;
    process.stderr.write(`snowmux hub: cannot write ${file} (${err.code ?? err.message}); log lines are dropped until it can. Free disk space or raise the file-size limit.\n`);
  });
  destination.on('write', () => {
    failing = false;
  });
  // pino flushes the destination synchronously at exit (and on fatal), and that flush retries a failed write
  // every 100 ms for ever: a hub on a full disk never exited. While writes fail, there is nothing to flush.
  const flushSync = destination.flushSync.bind(destination);
  destination.flushSync = () => {
    if (!failing) flushSync();
  };
  const streamWrite = (raw: string): string => {
    const line = scrub(raw);
    size += Buffer.byteLength(line);
    if (size >= maxBytes) {
      // Rotate by size: rename the files, then have the destination reopen the path (its pending
      // writes go to the file they were meant for).
      size = 0;
      try {
        shiftLogs(file, keep);
        destination.reopen();
      } catch {
        /* logging must never take the hub down */
      }
    }
    return line;
  };
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite },
    },
    destination as pino.DestinationStream,
  );
}

/** Flushes an async pino destination; safe to call on any logger. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    /* nothing to flush */
  }
}
