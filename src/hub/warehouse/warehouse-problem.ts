/**
 * Why a warehouse cannot serve calls now, as status, `/readyz` and `snowmux status` show it: built from the
 * error of the failed login (or of the pool that could not be built, or the close), secret-free.
 *
 * How long a problem counts: a failure that needs a person (credentials Snowflake refuses, settings the
 * driver refuses, a missing driver, a closed warehouse) until a login succeeds; a transient one (the
 * network, a login that did not finish) only for LOGIN_RETRY_AFTER_MS, the time before the next attempt
 * — after that the next call tries again, and a hub with no traffic must not stay "unready" forever on
 * a blip (a load balancer would never send it the call that shows it recovered).
 */
import { ERROR_CODES, type ErrorCode } from '../../error-codes.js';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { WarehouseProblem } from './types.js';

/**
 * A failed login is not retried on every call: editors retry quickly, and Snowflake locks a user after
 * repeated failed logins. Calls in this window get the same error at once.
 */
export const LOGIN_RETRY_AFTER_MS = 15_000;

/** Longest no login is tried after repeated refusals of the same credentials. */
const LOGIN_REFUSED_MAX_WAIT_MS = 30 * 60_000;

/**
 * How long no login with credentials Snowflake refused `refusals` times in a row is tried: `first`, then four
 * times as long after each further refusal, at most 30 min. A fixed wait still locked the user (five failed
 * logins in a row do, however far apart), and only the credentials' owner can fix them.
 */
export function loginRefusedWaitMs(refusals: number, first: number = LOGIN_RETRY_AFTER_MS): number {
  return Math.min(first * 4 ** Math.max(0, refusals - 1), LOGIN_REFUSED_MAX_WAIT_MS);
}

/**
 * A login (or pool) failure as it is kept: the error, when it last happened, and how many in a row. `at` is
 * the wall-clock time, shown; `mono` the same moment on the monotonic clock (performance.now()), which is
 * what how long the failure counts is measured on: a wall clock stepped back by hours must not keep a blip
 * "unready" for those hours, nor one stepped forward hide a failure at once.
 */
export interface LoginFailure {
  error: unknown;
  at: number;
  mono: number;
  failures: number;
}

/** A failure happening now: its wall-clock time (shown) and its monotonic time (measured). */
export function failureNow(error: unknown, failures: number): LoginFailure {
  return { error, at: Date.now(), mono: performance.now(), failures };
}

/** True when waiting is enough (the next attempt may succeed); false when a person must change something. */
export function isTransientFailure(err: unknown): boolean {
  if (!(err instanceof SnowmuxError)) return false;
  if (typeof err.details?.['transient'] === 'boolean') return err.details['transient'] as boolean;
  return (ERROR_CODES[err.code as ErrorCode] as { transient?: boolean }).transient === true;
}

/**
 * The problem to show for `failure` at `monoNow` (performance.now()), or undefined when it no longer counts
 * (a transient failure older than the retry window, measured on the monotonic clock). The hub's messages name settings, never their values; the registry
 * masks every known secret from what it lists as a last guard.
 */
export function warehouseProblem(failure: LoginFailure | null, monoNow: number = performance.now()): WarehouseProblem | undefined {
  if (failure === null) return undefined;
  const transient = isTransientFailure(failure.error);
  if (transient && monoNow - failure.mono >= LOGIN_RETRY_AFTER_MS) return undefined;
  const err = failure.error;
  const code = err instanceof SnowmuxError ? err.code : 'WAREHOUSE_UNAVAILABLE';
  const snowflakeCode = err instanceof SnowmuxError && typeof err.details?.['snowflakeCode'] === 'string' ? (err.details['snowflakeCode'] as string) : undefined;
  const message = errorMessage(err).replace(/\s*\n\s*/g, ' ').trim();
  const callerMessage = err instanceof SnowmuxError ? err.callerMessage?.replace(/\s*\n\s*/g, ' ').trim() : undefined;
  return {
    code,
    ...(snowflakeCode === undefined ? {} : { snowflakeCode }),
    message,
    ...(callerMessage === undefined ? {} : { callerMessage }),
    at: new Date(failure.at).toISOString(),
    failures: failure.failures,
    transient,
  };
}
