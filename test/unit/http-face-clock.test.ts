/**
 * The HTTP face against a wall clock that steps (NTP, a resumed VM): sessions' idle time and the throttle of
 * failed authentications are measured on the monotonic clock, so a step by hours neither sweeps every idle
 * session at once, nor keeps an idle one for hours, nor throttles an address for hours.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createHttpFace } from '../../src/hub/http/http-face.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import type { KeyChecker } from '../../src/hub/keys/api-keys.js';
import { hubFace, sessionlessHub } from '../helpers/in-process-face.js';

const HOUR = 3_600_000;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Steps what Date.now() answers by `stepMs` from now on; the face's monotonic clock is the test's to move. */
function stepWallClock(t: TestContext, stepMs: number): void {
  t.mock.restoreAll();
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() + stepMs);
}

test('the idle sweep measures 2025 sessions idle on the monotonic clock: 2 h forward sweeps nothing, 2 h back keeps nothing idle past its time', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let mono = 1_000;
  const { fetch: inProcess } = hubFace(t, { legacyIdleMs: 30 * 60_000, monotonic: () => mono });
  const post = (body: unknown, headers: Record<string, string> = {}) => inProcess('http://127.0.0.1/mcp', { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(init.status, 200);
  await init.text();
  const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);
  const alive = async () => {
    const res = await post({ jsonrpc: '2.0', id: 9, method: 'ping' }, headers);
    await res.text();
    return res.status === 200;
  };
  // 2 h forward, 30 s later: idle for 30 s, not 2 h.
  stepWallClock(t, 2 * HOUR);
  mono += 30_000;
  t.mock.timers.tick(30_000);
  assert.equal(await alive(), true, 'a wall clock stepped forward swept a session idle for 30 s');
  // 2 h back, then 31 idle minutes: closed, not kept until the wall clock catches up.
  stepWallClock(t, -2 * HOUR);
  mono += 31 * 60_000;
  t.mock.timers.tick(30_000);
  assert.equal(await alive(), false, 'a wall clock stepped back kept a session idle for 31 minutes');
});

test('the throttle of failed authentications lasts its minute on the monotonic clock, however far the wall clock is stepped back', async (t) => {
  const hub = sessionlessHub();
  const keys: KeyChecker = { activeCount: 1, check: () => ({ ok: false, reason: 'unknown' }) };
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  let mono = 1_000;
  const f = createHttpFace({ hub, keys, metrics: null, logger, hosts: [], loopbackOnly: true, allowedOrigins: [], maxAuthFailuresPerMinute: 3, monotonic: () => mono });
  t.after(() => f.close());
  const guess = async () => {
    const res = await f.fetch(new Request('http://127.0.0.1/status', { headers: { host: '127.0.0.1', authorization: 'Bearer smx_a_b' } }), { remoteAddress: '192.0.2.7' });
    await res.text();
    return res.status;
  };
  for (let i = 0; i < 3; i++) assert.equal(await guess(), 401);
  assert.equal(await guess(), 429, 'throttled after 3 failures in a minute');
  stepWallClock(t, -3 * HOUR);
  mono += 61_000;
  assert.equal(await guess(), 401, 'a minute later the address is heard again, not 3 h later');
  // And forward: a step does not end the minute early.
  for (let i = 0; i < 2; i++) assert.equal(await guess(), 401);
  assert.equal(await guess(), 429);
  stepWallClock(t, 3 * HOUR);
  mono += 1_000;
  assert.equal(await guess(), 429, 'a wall clock stepped forward ended the throttle early');
});
