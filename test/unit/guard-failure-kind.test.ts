import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError, type ErrorCode } from '../../src/errors.js';
import { cancellationError, classifyFailure, classifyInProcessFailure, isTransientFailure, type FailureKind } from '../../src/hub/guard/failure-kind.js';
import { toSnowmuxError } from '../../src/hub/warehouse/snowflake/snowflake-errors.js';

function withCode(code: string | number, message = 'boom', extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

function abortError(): Error {
  const controller = new AbortController();
  controller.abort();
  return controller.signal.reason as Error; // DOMException AbortError
}

const table: Array<[string, unknown, FailureKind, boolean]> = [
  // [description, error, kind, transient]
  ['SQL_ERROR', new SnowmuxError('SQL_ERROR', 'x'), 'user', false],
  ['SQL_REFUSED', new SnowmuxError('SQL_REFUSED', 'x'), 'user', false],
  ['OBJECT_NOT_FOUND', new SnowmuxError('OBJECT_NOT_FOUND', 'x'), 'user', false],
  ['INVALID_IDENTIFIER', new SnowmuxError('INVALID_IDENTIFIER', 'x'), 'user', false],
  ['QUOTA_EXCEEDED', new SnowmuxError('QUOTA_EXCEEDED', 'x'), 'user', false],
  ['HUB_BUSY', new SnowmuxError('HUB_BUSY', 'x'), 'user', false],
  ['RATE_LIMITED', new SnowmuxError('RATE_LIMITED', 'x'), 'user', false],
  ['POOL_EXHAUSTED', new SnowmuxError('POOL_EXHAUSTED', 'x'), 'user', false],
  ['user code wins over a network cause', new SnowmuxError('SQL_ERROR', 'x', { cause: withCode('ECONNRESET') }), 'user', false],
  ['WAREHOUSE_UNAVAILABLE', new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'x'), 'infrastructure', true],
  ['AUTH_FAILED (not transient)', new SnowmuxError('AUTH_FAILED', 'x'), 'infrastructure', false],
  ['QUERY_TIMEOUT (not transient)', new SnowmuxError('QUERY_TIMEOUT', 'x'), 'infrastructure', false],
  ['WAREHOUSE_CIRCUIT_OPEN (not transient)', new SnowmuxError('WAREHOUSE_CIRCUIT_OPEN', 'x'), 'infrastructure', false],
  ['details.infrastructure true', new SnowmuxError('SOMETHING_NEW' as ErrorCode, 'x', { details: { infrastructure: true } }), 'infrastructure', true],
  ['details.infrastructure false overrides an infra code', new SnowmuxError('QUERY_TIMEOUT', 'x', { details: { infrastructure: false } }), 'user', false],
  ['details.transient false', new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'x', { details: { transient: false } }), 'infrastructure', false],
  ['unknown SnowmuxError code with network cause', new SnowmuxError('WAREHOUSE_QUERY_FAILED' as ErrorCode, 'x', { cause: withCode('ECONNREFUSED') }), 'infrastructure', true],
  ['ECONNREFUSED', withCode('ECONNREFUSED'), 'infrastructure', true],
  ['ECONNRESET', withCode('ECONNRESET'), 'infrastructure', true],
  ['ETIMEDOUT', withCode('ETIMEDOUT'), 'infrastructure', true],
  ['EPIPE', withCode('EPIPE'), 'infrastructure', true],
  ['ENOTFOUND', withCode('ENOTFOUND'), 'infrastructure', true],
  ['socket hang up (message only)', new Error('socket hang up'), 'infrastructure', true],
  ['network error nested two causes deep', new Error('a', { cause: new Error('b', { cause: withCode('EPIPE') }) }), 'infrastructure', true],
  ['AggregateError of connect failures', new AggregateError([withCode('ECONNREFUSED'), withCode('ENETUNREACH')], 'connect'), 'infrastructure', true],
  ['DOMException TimeoutError', AbortSignal.abort(new DOMException('t', 'TimeoutError')).reason, 'infrastructure', true],
  ['snowflake-sdk 401001 could not connect', withCode(401001, 'Network error. Could not reach Snowflake.', { name: 'NetworkError' }), 'infrastructure', true],
  ['snowflake-sdk 401002 HTTP failure', withCode(401002, 'Request to Snowflake failed.', { name: 'RequestFailedError' }), 'infrastructure', true],
  ['Snowflake 390112 session expired (not renewed)', withCode('390112', 'Session token expired'), 'infrastructure', true],
  ['Snowflake 390114 master token expired', withCode('390114', 'Authentication token has expired'), 'infrastructure', false],
  ['Snowflake 390100 wrong credentials', withCode('390100', 'Incorrect username or password', { data: { sqlState: '08001' } }), 'infrastructure', false],
  ['Snowflake 000603 internal error', withCode('000603', 'SQL execution internal error', { sqlState: 'XX000' }), 'infrastructure', true],
  ['SQLSTATE 08xxx', withCode('250001', 'could not connect', { sqlState: '08001' }), 'infrastructure', true],
  ['Snowflake 002003 object does not exist', withCode('002003', "Object 'X' does not exist", { sqlState: '42S02', name: 'OperationFailedError' }), 'user', false],
  ['Snowflake 001003 syntax error', withCode('001003', 'SQL compilation error: syntax error', { sqlState: '42000' }), 'user', false],
  ['Snowflake 000630 server-side statement timeout', withCode('000630', 'Statement reached its statement timeout', { sqlState: '57014' }), 'user', false],
  ['QUERY_CANCELLED', new SnowmuxError('QUERY_CANCELLED', 'x'), 'cancelled', false],
  ['AbortError', abortError(), 'cancelled', false],
  ['ABORT_ERR code', withCode('ABORT_ERR'), 'cancelled', false],
  ['Snowflake 000604 cancelled', withCode('000604', 'SQL execution canceled', { sqlState: '57014' }), 'cancelled', false],
  ['plain TypeError (a hub bug) is not the warehouse', new TypeError('x is not a function'), 'user', false],
  ['a thrown string', 'oops', 'user', false],
  ['undefined', undefined, 'user', false],
];

for (const [description, err, kind, transient] of table) {
  test(`classifyFailure: ${description} → ${kind}${transient ? ' (transient)' : ''}`, () => {
    assert.equal(classifyFailure(err), kind);
    assert.equal(isTransientFailure(err), transient);
  });
}

test('a cyclic cause chain does not loop forever', () => {
  const a = new Error('a') as Error & { cause?: unknown };
  const b = new Error('b', { cause: a });
  a.cause = b;
  assert.equal(classifyFailure(a), 'user');
});

test('cancellationError keeps a SnowmuxError abort reason and otherwise says QUERY_CANCELLED', () => {
  const timeout = new SnowmuxError('QUERY_TIMEOUT', 'took too long');
  assert.equal(cancellationError(AbortSignal.abort(timeout), 'The query'), timeout);
  const plain = cancellationError(AbortSignal.abort(), 'The queued query');
  assert.equal(plain.code, 'QUERY_CANCELLED');
  assert.match(plain.message, /^The queued query was cancelled/);
  assert.equal(classifyFailure(plain), 'cancelled');
});

test('a Snowflake compilation error is marked as never run (the quota does not count it); a run-time error is not', () => {
  const ctx = { profile: { name: 'p' } as never, phase: 'statement' as const };
  const compile = toSnowmuxError(withCode('001003', "SQL compilation error: syntax error line 1 at position 7 unexpected 'FORM'.", { sqlState: '42000', name: 'OperationFailedError' }), ctx);
  assert.equal(compile.code, 'SQL_ERROR');
  assert.equal(compile.details?.notRun, true);
  const runtime = toSnowmuxError(withCode('100051', 'Division by zero', { sqlState: '22012', name: 'OperationFailedError' }), ctx);
  assert.equal(runtime.code, 'SQL_ERROR');
  assert.equal(runtime.details?.notRun, undefined);
});

test('a Snowflake answer the driver could not read (no code, no message) is an infrastructure failure, not the user\'s SQL error', () => {
  const ctx = { profile: { name: 'p' } as never, phase: 'statement' as const };
  const unread = toSnowmuxError(Object.assign(new Error(''), { name: 'OperationFailedError' }), ctx);
  assert.equal(unread.code, 'WAREHOUSE_ERROR');
  assert.equal(unread.details?.infrastructure, true);
  assert.match(unread.message, /could not be read/);
});

test('the embedded engine ran what it was given: its timeouts are the caller\'s, other failures classify as anywhere', () => {
  // Its own statement timeout, and the hub's call timeout (the abort reason it answers with).
  assert.equal(classifyInProcessFailure(new SnowmuxError('QUERY_TIMEOUT', 'The query ran longer than the 1 s statement timeout.', { details: { timeoutMs: 1000 } })), 'user');
  assert.equal(classifyInProcessFailure(new SnowmuxError('QUERY_TIMEOUT', "The call did not finish within the hub's 3000 ms call timeout.")), 'user');
  assert.equal(classifyInProcessFailure(new SnowmuxError('QUERY_TIMEOUT', 'x', { details: { infrastructure: true } })), 'infrastructure');
  assert.equal(classifyInProcessFailure(new SnowmuxError('WAREHOUSE_ERROR', 'x')), 'infrastructure');
  assert.equal(classifyInProcessFailure(new SnowmuxError('QUERY_CANCELLED', 'x')), 'cancelled');
  assert.equal(classifyInProcessFailure(new SnowmuxError('SQL_ERROR', 'x')), 'user');
});

test("Snowflake's own statement timeout (000630) names the setting the limit came from, never an internal field name", () => {
  const timedOut = () => withCode('000630', 'Statement reached its statement or warehouse timeout of 1 second(s) and was canceled.', { sqlState: '57014' });
  const profile = { name: 'sf', sources: {} } as never;
  const byRole = toSnowmuxError(timedOut(), { profile, phase: 'statement', timeoutSetting: 'roles.to.statement_timeout' });
  assert.equal(byRole.code, 'QUERY_TIMEOUT');
  assert.match(byRole.message, /raise roles\.to\.statement_timeout\.$/);
  const byProfile = toSnowmuxError(timedOut(), { profile, phase: 'statement' });
  assert.match(byProfile.message, /raise statement_timeout_s of \[profiles\.sf\]\.$/);
  const byFlag = toSnowmuxError(timedOut(), { profile: { name: 'sf', sources: { statementTimeoutMs: 'flag --statement-timeout-ms' } } as never, phase: 'statement' });
  assert.match(byFlag.message, /raise statement_timeout_s \(set by flag --statement-timeout-ms\)\.$/);
  for (const err of [byRole, byProfile, byFlag]) assert.doesNotMatch(err.message, /statementTimeoutMs/);
});
