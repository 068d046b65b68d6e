/**
 * A replica's team API keys when its connections to Redis die without a reset (a NAT or firewall that lost
 * the flows, a network path that drops packets): a real redis-server on an ephemeral port, reached through a
 * proxy that stops carrying bytes on the connections open at a moment, without FIN or RST, while new
 * connections pass. The replica's key store must notice, reconnect and re-read: a key revoked meanwhile is
 * refused and a key created meanwhile accepted. It kept the dead connections instead, for as long as the
 * kernel took to give up on them, accepting the revoked key and refusing the new one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiKeyStore } from '../../src/hub/keys/api-keys.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { RedisKeyStore, withTeamKeys } from '../../src/hub/team/redis-keys.js';
import { defer, freePort, tempHome } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { redisProxy } from '../helpers/redis-proxy.js';
import { startRedis } from '../helpers/redis-server.js';
import { watchKeyStore } from '../helpers/key-store-watch.js';

test('a replica whose key connections to Redis die silently reconnects: a key revoked meanwhile is refused, one created meanwhile accepted', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const proxy = await redisProxy(t, port);
  const logged = new PassThrough();
  const messages: string[] = [];
  logged.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
  });
  const store = new RedisKeyStore(`redis://127.0.0.1:${proxy.port}`, 'silent', new ApiKeyStore(join(tempHome(t), 'keys.json')), createLogger({ destination: logged, level: 'info' }));
  defer(t, () => store.close());
  const { after, verdict } = watchKeyStore(store);
  await store.loaded();
  const direct = `redis://127.0.0.1:${port}`;
  const made = await withTeamKeys(direct, 'silent', (ops) => ops.create('alice', null));
  await after(() => verdict(made.key) === 'ok', 10_000, 'the new key reached the store');

  // Both of the store's connections (commands and pub/sub) go silent; the CLI's own new connection works.
  assert.equal(proxy.blackhole(), 2);
  await withTeamKeys(direct, 'silent', (ops) => ops.revoke(made.record.id));
  const later = await withTeamKeys(direct, 'silent', (ops) => ops.create('bob', null));
  // A ping every 2 s, a 1 s timeout, a reconnect and a re-read: well within 10 s (never, before).
  await after(() => verdict(made.key) === 'revoked' && verdict(later.key) === 'ok', 10_000, 'the revocation and the new key reached the store');
  // A failed re-read is said (at warn), and so is the recovery.
  if (messages.some((m) => /could not be re-read/.test(m))) assert.ok(messages.includes('team API keys re-read from Redis again'), messages.join('\n'));
});
