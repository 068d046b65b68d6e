/**
 * The hub's exclusive listen: a start that fails after the listener is bound lets go of it, so the failed
 * hub exits instead of living on as a half-started hub that shims reach.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenExclusive } from '../../src/hub/listen/unix-listener.js';

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('a listen that fails after binding (a socket path the system cut short: the chmod finds no such file) closes the listener', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'smx-l-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Past sun_path (108 bytes on Linux): bound under a truncated name, which the chmod of the full name misses.
  const path = join(dir, `${'s'.repeat(130)}.sock`);
  await assert.rejects(listenExclusive(path, { home: dir }, (socket) => socket.destroy()), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'HUB_LISTEN_FAILED');
    return true;
  });
  const bound = readdirSync(dir).map((name) => join(dir, name));
  for (const name of bound) assert.equal(await connects(name), false, `nothing listens at ${name}`);
});
