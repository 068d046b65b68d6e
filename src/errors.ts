/**
 * Typed errors with a stable `code`. Every message says what happened and what to do next.
 * Kept dependency-free: the shim imports this module.
 */
export class SnowmuxError extends Error {
  readonly code: string;
  /** Extra, secret-free facts for logs and structured tool errors. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SnowmuxError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isSnowmuxError(err: unknown, code?: string): err is SnowmuxError {
  return err instanceof SnowmuxError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
