/**
 * Structured logs (pino) to a file in the home. Every line from a session carries `session`, and every
 * line about a call carries `request`, via child loggers.
 */
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_FILE = 'hub.log';

/** Keys whose values are never written, wherever they appear in a log object. */
const REDACT_PATHS = [
  'password', '*.password', '*.*.password',
  'token', '*.token', '*.*.token',
  'privateKey', '*.privateKey', 'privateKeyPem', '*.privateKeyPem', '*.*.privateKeyPem',
  'passphrase', '*.passphrase', '*.*.passphrase',
  'env', '*.env',
  'authorization', '*.authorization',
];

export interface LoggerOptions {
  home?: string;
  /** Write to this stream instead of the home's log file (tests, `snowmux stdio` uses stderr). */
  destination?: NodeJS.WritableStream;
  level?: string;
  /**
   * Applied to every finished log line: scrubs known secret values (profile passwords, tokens) wherever they
   * appear — an error text or SQL that echoes one — which path-based redaction cannot see.
   */
  scrub?: (line: string) => string;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.SNOWMUX_LOG_LEVEL ?? 'info';
  const destination = opts.destination
    ? opts.destination
    : pino.destination({ dest: join(opts.home ?? '.', LOG_FILE), mkdir: true, sync: false, mode: 0o600 } as Parameters<typeof pino.destination>[0]);
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(opts.scrub ? { hooks: { streamWrite: opts.scrub } } : {}),
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
