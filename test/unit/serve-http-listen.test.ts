/**
 * An HTTP face whose port cannot be had leaves nothing attached to the hub: during a take-over the listen
 * is retried, and each failed attempt used to leave a face's event listeners and timers behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { serveHttp } from '../../src/hub/http/serve-http.js';
import type { ServedHub } from '../../src/hub/http/http-face.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { portInUse } from '../../src/hub/listen/port-in-use.js';

test('a failed HTTP listen detaches the face it built from the hub; the port is reported in use', async (t) => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const address = `127.0.0.1:${(busy.address() as AddressInfo).port}`;
  const home = mkdtempSync(join(tmpdir(), 'smx-serve-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const events = new EventEmitter();
  const hub = { events, status: () => ({ state: 'running', sessions: [] }), isDraining: false } as unknown as ServedHub;
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const settings = { httpAuth: false, httpAllowedOrigins: [], httpHosts: [], httpShimProfiles: [], redisUrl: undefined, teamNamespace: 'snowmux', httpEngine: 'node' as const, httpBodyTimeoutMs: 30_000, httpMaxRequestsPerIdentity: 64 };
  for (let i = 0; i < 3; i++) {
    await assert.rejects(serveHttp({ hub, home, address, settings, metrics: null, logger }), (err: Error & { code?: string }) => err.code === 'HUB_LISTEN_FAILED');
  }
  for (const name of events.eventNames()) assert.equal(events.listenerCount(name), 0, `${String(name)} listeners left behind`);
  assert.equal(await portInUse(address), true);
  assert.equal(await portInUse('127.0.0.1:0'), false);
});
