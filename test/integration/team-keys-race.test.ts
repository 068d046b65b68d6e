/**
 * Two operators changing one team key at once (`snowmux keys revoke` on one machine, `keys rotate` on
 * another): a real redis-server on an ephemeral port, the rotate reaching it through a proxy that holds its
 * write until the revoke is done. Each command read the hash and then wrote the record, so the rotate wrote
 * back the key it had read, unrevoked: the revoked key worked again on every replica.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnowmuxError } from '../../src/errors.js';
import { withTeamKeys } from '../../src/hub/team/redis-keys.js';
import { freePort, tempHome } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { redisProxy } from '../helpers/redis-proxy.js';
import { startRedis } from '../helpers/redis-server.js';

test('a key revoked while another operator rotates it stays revoked: the rotate reads again, finds it revoked and makes no key', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const direct = `redis://127.0.0.1:${port}`;
  const made = await withTeamKeys(direct, 'race', (ops) => ops.create('alice', null));
  const proxy = await redisProxy(t, port);
  const rotateWrite = proxy.holdNextWrite(/hset/i);

  const rotating = withTeamKeys(`redis://127.0.0.1:${proxy.port}`, 'race', (ops) => ops.rotate(made.record.id, new Date(Date.now() + 3_600_000), undefined)).then(
    (rotated) => rotated,
    (err: unknown) => err,
  );
  await rotateWrite.held; // the rotate has read the keys and sent its write
  const revoked = await withTeamKeys(direct, 'race', (ops) => ops.revoke(made.record.id));
  assert.ok(revoked.revokedAt);
  rotateWrite.release();
  const outcome = await rotating;

  const records = await withTeamKeys(direct, 'race', (ops) => ops.list());
  assert.ok(records.find((r) => r.id === made.record.id)?.revokedAt, 'the revocation stands');
  assert.equal(records.length, 1, 'no replacement was made for a revoked key');
  assert.ok(isSnowmuxError(outcome, 'INVALID_ARGUMENT'), String(outcome));
  assert.match(outcome.message, /is revoked: there is nothing to rotate/);
});
