/**
 * Whose fault was a failed call? The circuit breaker trips only on 'infrastructure' failures, retries
 * only repeat transient ones, and neither ever reacts to a user's own SQL error or to a cancellation.
 *
 * Order of decision (first match wins):
 *  1. Cancellation — AbortError / ABORT_ERR, SnowmuxError QUERY_CANCELLED, Snowflake 000604 or SQLSTATE
 *     57014 other than a statement timeout → 'cancelled'.
 *  2. An explicit `details.infrastructure` boolean on a SnowmuxError → that answer (lets a backend mark
 *     e.g. a server-side statement timeout as the user's heavy query, or an odd code as an outage).
 *  3. Known SnowmuxError codes (their fault, from the registry in src/error-codes.ts).
 *  4. Raw network errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ENOTFOUND, "socket hang up", …),
 *     snowflake-sdk network/HTTP failure codes, Snowflake session/auth-expiry codes, SQLSTATE classes 08
 *     (connection exception) and XX (internal error), and DOMException TimeoutError — searched through
 *     `cause` chains and AggregateError members.
 *  5. Anything else → 'user'. Read 'user' as "not the warehouse's fault": an unrecognised error (a bug
 *     in the hub, a driver argument error) must never pause every editor's calls.
 *
 * A timeout (QUERY_TIMEOUT) counts only when the warehouse did not answer at all: a statement it had taken and
 * was running reached the caller's own limit, and one identity's slow queries must not pause every user. The
 * Snowflake backend says which with `details.infrastructure` (a query id known or not); the embedded engine
 * ran everything it was given, so its timeouts are the caller's (classifyInProcessFailure).
 */
import { INFRASTRUCTURE_CODES, NOT_TRANSIENT_CODES, USER_CODES } from '../../error-codes.js';
import { SnowmuxError, isSnowmuxError } from '../../errors.js';

export { INFRASTRUCTURE_CODES, USER_CODES };

export type FailureKind = 'user' | 'infrastructure' | 'cancelled';

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENETRESET',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * snowflake-sdk driver codes (numeric) and Snowflake server codes (strings) that mean infrastructure.
 * Driver: 401001 could not connect, 401002 HTTP failure response, 401003 response not JSON,
 * 402001/402002 result-chunk download failures, 405503/407002 connection disconnected.
 * Server (global services): 390104 session token invalid, 390111 session gone, 390112 session token
 * expired, 390114 master token expired, 390318 OAuth token expired — each reaches us only after the
 * driver failed to renew — and 390100 incorrect username/password (a rotated or revoked secret).
 * 000603 is Snowflake's "SQL execution internal error".
 */
const SNOWFLAKE_INFRASTRUCTURE_CODES: ReadonlySet<string> = new Set([
  '401001', '401002', '401003', '402001', '402002', '405503', '407001', '407002',
  '390100', '390104', '390111', '390112', '390114', '390303', '390318',
  '000603',
]);
/** Of those, the ones that are about credentials: retrying will not help. */
const SNOWFLAKE_AUTH_CODES: ReadonlySet<string> = new Set(['390100', '390104', '390114', '390303', '390318']);
/** Snowflake: "SQL execution canceled". */
const SNOWFLAKE_CANCELLED = '000604';
/** Snowflake: statement reached its (server-side) timeout — SQLSTATE 57014 too, but not a cancel. */
const SNOWFLAKE_STATEMENT_TIMEOUT = '000630';

const MAX_CAUSE_DEPTH = 8;

export function classifyFailure(err: unknown): FailureKind {
  if (isCancellation(err)) return 'cancelled';
  return findInfrastructureCause(err, 0) ? 'infrastructure' : 'user';
}

/**
 * For a warehouse inside the hub's process (the embedded DuckDB): nothing stands between the hub and the engine
 * that could fail to answer, so a statement that timed out was running — the caller's heavy query.
 */
export function classifyInProcessFailure(err: unknown): FailureKind {
  if (isSnowmuxError(err, 'QUERY_TIMEOUT') && typeof err.details?.['infrastructure'] !== 'boolean') return 'user';
  return classifyFailure(err);
}

/**
 * Worth retrying soon: an infrastructure failure that is not about credentials, not the hub's own
 * statement timeout, and not the breaker's fast-fail. A SnowmuxError may say `details.transient`.
 */
export function isTransientFailure(err: unknown): boolean {
  if (classifyFailure(err) !== 'infrastructure') return false;
  if (isSnowmuxError(err)) {
    const explicit = err.details?.['transient'];
    if (typeof explicit === 'boolean') return explicit;
    if (NOT_TRANSIENT_CODES.has(err.code)) return false;
  }
  return !hasAuthCause(err, 0);
}

/**
 * The error a call gets when its signal aborts: the abort reason itself when it is already a
 * SnowmuxError (e.g. the hub's QUERY_TIMEOUT), otherwise QUERY_CANCELLED.
 */
export function cancellationError(signal: AbortSignal | undefined, what: string): SnowmuxError {
  const reason: unknown = signal?.reason;
  if (reason instanceof SnowmuxError) return reason;
  return new SnowmuxError('QUERY_CANCELLED', `${what} was cancelled. Nothing more to do; run it again if you still need it.`, {
    cause: reason,
  });
}

function isCancellation(err: unknown): boolean {
  if (isSnowmuxError(err)) return err.code === 'QUERY_CANCELLED';
  if (!isObject(err)) return false;
  if (err['name'] === 'AbortError' || err['code'] === 'ABORT_ERR') return true;
  const code = stringCode(err['code']);
  if (code === SNOWFLAKE_CANCELLED) return true;
  return err['sqlState'] === '57014' && code !== SNOWFLAKE_STATEMENT_TIMEOUT;
}

/** Steps 2–4: a SnowmuxError's explicit flag or known code decides; otherwise look at it and its causes. */
function findInfrastructureCause(err: unknown, depth: number): boolean {
  if (!isObject(err) || depth > MAX_CAUSE_DEPTH) return false;
  if (isSnowmuxError(err)) {
    const explicit = err.details?.['infrastructure'];
    if (typeof explicit === 'boolean') return explicit;
    if (INFRASTRUCTURE_CODES.has(err.code)) return true;
    if (USER_CODES.has(err.code)) return false;
  } else if (isOwnInfrastructure(err)) {
    return true;
  }
  if (Array.isArray(err['errors']) && err['errors'].some((inner) => findInfrastructureCause(inner, depth + 1))) return true;
  return findInfrastructureCause(err['cause'], depth + 1);
}

function isOwnInfrastructure(err: Record<string, unknown>): boolean {
  const code = stringCode(err['code']);
  if (code !== undefined && (NETWORK_CODES.has(code) || SNOWFLAKE_INFRASTRUCTURE_CODES.has(code))) return true;
  if (err['name'] === 'TimeoutError') return true;
  if (err['name'] === 'NetworkError') return true; // snowflake-sdk's error type for transport failures
  const sqlState = err['sqlState'];
  if (typeof sqlState === 'string' && (sqlState.startsWith('08') || sqlState.startsWith('XX'))) return true;
  const message = err['message'];
  return typeof message === 'string' && /\bsocket hang up\b/i.test(message);
}

function hasAuthCause(err: unknown, depth: number): boolean {
  if (!isObject(err) || depth > MAX_CAUSE_DEPTH) return false;
  const code = stringCode(err['code']);
  if (code !== undefined && (SNOWFLAKE_AUTH_CODES.has(code) || NOT_TRANSIENT_CODES.has(code))) return true;
  return hasAuthCause(err['cause'], depth + 1);
}

function stringCode(code: unknown): string | undefined {
  if (typeof code === 'string') return code;
  if (typeof code === 'number' && Number.isFinite(code)) return String(code);
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
