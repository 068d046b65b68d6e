/**
 * A team's Redis that comes back holding an older copy of the keys (restarted from an older snapshot, or failed
 * over to a replica that lagged): a key rotated out since must still stop working at the end of its overlap.
 * A real redis-server on an ephemeral port; the older copy is written into it as such a restart would leave it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { ApiKeyStore } from '../../src/hub/keys/api-keys.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { RedisKeyStore, withTeamKeys } from '../../src/hub/team/redis-keys.js';
import { defer, freePort, tempHome } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';
import { watchKeyStore } from '../helpers/key-store-watch.js';

test("a key rotated out stops at the end of its overlap even when Redis comes back with an older copy of it that never expires", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Only a revocation was written back over an older copy: the old key's expiry, set by the rotation, was
  // taken from Redis as it came back (none), and the rotated-out key (often rotated because it leaked) worked on.
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const logged = new PassThrough();
  const messages: string[] = [];
  logged.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
  });
  const store = new RedisKeyStore(url, 'stale', new ApiKeyStore(join(tempHome(t), 'keys.json')), createLogger({ destination: logged, level: 'info' }));
  defer(t, () => store.close());
  const direct = new Redis(url);
  defer(t, () => direct.disconnect());
  const { after, verdict } = watchKeyStore(store);
  await store.loaded();
  const made = await withTeamKeys(url, 'stale', (ops) => ops.create('alice', null));
  await after(() => verdict(made.key) === 'ok', 10_000, 'the key reached the store');
  const older = await direct.hget('stale:keys', made.record.id);
  assert.ok(older);

  const overlapEnds = new Date(Date.now() + 3_600_000);
  const rotated = await withTeamKeys(url, 'stale', (ops) => ops.rotate(made.record.id, overlapEnds, undefined));
  await after(() => verdict(rotated.key) === 'ok', 10_000, 'the rotation reached the store');
  // Redis comes back with the copy from before the rotation (a message, or the 30 s re-read, makes the store read it).
  await direct.hset('stale:keys', made.record.id, older);
  const reread = new Promise<void>((resolve) => store.onChange(resolve));
  await direct.publish('stale:keys-changed', 'test');
  await reread;
  const held = JSON.parse((await direct.hget('stale:keys', made.record.id))!) as { expiresAt: string | null };
  assert.equal(held.expiresAt, overlapEnds.toISOString(), "the rotation's end is written back to Redis for every replica");

  assert.equal(verdict(made.key), 'ok', 'the old key works through the overlap');
  // The overlap is over (this process's clock a minute past its end).
  t.mock.method(Date, 'now', () => overlapEnds.getTime() + 60_000);
  try {
    assert.equal(verdict(made.key), 'expired', 'the rotated-out key stops at the end of its overlap');
    assert.equal(verdict(rotated.key), 'ok');
  } finally {
    t.mock.restoreAll();
  }
  // Said once, at warn, for the operator who wonders why Redis's copy changed.
  assert.ok(messages.some((m) => /older state/.test(m)), messages.join('\n'));
});
