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
  /**
   * What a caller of the hub (an editor, a remote key holder) is told instead of `message`, when `message` is
   * the operator's: it names the hub machine's own files (the sample database, its directory, the hub's
   * config). The caller's copy says what happened without them and where the operator finds the rest.
   */
  readonly callerMessage: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown>; callerMessage?: string | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SnowmuxError';
    this.code = code;
    this.details = options?.details;
    this.callerMessage = options?.callerMessage;
  }
}

/** An error's text as a caller of the hub may read it: the caller's copy when the message is the operator's (see callerMessage). */
export function callerErrorMessage(err: unknown): string {
  return err instanceof SnowmuxError && err.callerMessage !== undefined ? err.callerMessage : errorMessage(err);
}

/**
 * Where the caller's copy of a hub-side failure sends its reader: the operator (on the hub's machine) sees the
 * whole message, with the path and the fix; an editor's user may be that operator, a remote caller is not.
 */
export const ASK_THE_OPERATOR =
  "On the hub's machine, `snowmux status` shows what failed and how to fix it (`snowmux doctor` checks it, and the hub's log has it too); if the hub is not yours, ask its operator.";

export function isSnowmuxError(err: unknown, code?: ErrorCode): err is SnowmuxError {
  return err instanceof SnowmuxError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
