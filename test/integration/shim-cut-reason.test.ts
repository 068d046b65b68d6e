/**
 * A remote shim the hub cuts for not reading its answers: the cut frame waits behind the unread answers, so
 * once the hub lets the link go it says why in the link's own end (a /shim WebSocket's close frame, 1008
 * and the reason, see test/unit/http-engines.test.ts); it was let go without a reason (1006 or 1005).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { SocketFace } from '../../src/hub/socket/socket-face.js';
import { coreOver } from '../helpers/in-memory-hub.js';
import { Held } from '../helpers/in-process-face.js';
import { tempHome } from '../helpers/harness.js';
import type { QueryOptions, QueryResult } from '../../src/hub/warehouse/types.js';

/** Every query answers 200 rows of 1 KB: about the default max_result_bytes. */
class Wide extends Held {
  override async query(_sql: string, _options: QueryOptions): Promise<QueryResult> {
    return { columns: [{ name: 'PAD', type: 'VARCHAR' }], rows: Array.from({ length: 200 }, () => ['x'.repeat(1024)]), rowCount: 200, truncated: false, elapsedMs: 0 };
  }
}

test('a remote shim cut for not reading its answers is let go with the reason, not without one', { timeout: 30_000 }, async (t) => {
  const home = tempHome(t);
  const core = coreOver(t, new Wide());
  const face = new SocketFace(core, { home, socketPath: join(home, 'hub.sock'), stalledOutputMs: 100 });
  // A link whose shim reads nothing: the engine never takes a byte of what the hub writes.
  let endedWith: Error | null | undefined;
  const link = new Duplex({
    read() {},
    write() {},
    destroy(err, callback) {
      endedWith = err;
      callback(err);
    },
  });
  link.on('error', () => {});
  t.after(() => link.destroy());
  face.acceptRemoteLink(link, 'alice', []);
  const line = (message: unknown) => link.push(`${JSON.stringify(message)}\n`);
  line({ snowmux: 'hello', wire: 1, version: '0.0.0', role: 'shim', pid: process.pid });
  line({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'deaf', version: '1' } } });
  line({ jsonrpc: '2.0', method: 'notifications/initialized' });
  for (let id = 1; id <= 12; id++) line({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: `SELECT ${id}` } } });
  const deadline = Date.now() + 20_000;
  while (endedWith === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(endedWith instanceof Error, `the link was let go ${endedWith === undefined ? 'never' : 'without a reason'}`);
  assert.match(endedWith.message, /^The hub cut this session: the client did not read its answers \(\d+ bytes waiting, none read for too long\)$/);
});
