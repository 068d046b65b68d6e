/**
 * Typed errors with a stable `code`. Every message says what happened and what to do next.
 * Kept dependency-free: the shim imports this module (the registry of codes is imported as a type only).
 */
import type { ErrorCode } from './error-codes.js';

export type { ErrorCode };

export class SnowmuxError extends Error {
  readonly code: ErrorCode;
  /** Extra, secret-free facts for logs and structured tool errors. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SnowmuxError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isSnowmuxError(err: unknown, code?: ErrorCode): err is SnowmuxError {
  return err instanceof SnowmuxError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
