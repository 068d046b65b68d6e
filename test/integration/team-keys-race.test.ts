/**
 * Two operators changing one team key at once (`snowmux keys revoke` on one machine, `keys rotate` on
 * another): a real redis-server on an ephemeral port, the rotate reaching it through a proxy that holds its
 * write until the revoke is done. Each command read the hash and then wrote the record, so the rotate wrote
 * back the key it had read, unrevoked: the revoked key worked again on every replica.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { isSnowmuxError } from '../../src/errors.js';
import { withTeamKeys } from '../../src/hub/team/redis-keys.js';
import { defer, freePort, tempHome, type Cleanup } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';

/** A TCP proxy to Redis that holds the first client write carrying an HSET (and what follows it) until `release()`. */
async function holdingProxy(t: Cleanup, redisPort: number): Promise<{ port: number; held: Promise<void>; release: () => void }> {
  let armed = true;
  let holding: Buffer[] | null = null;
  let flush: (() => void) | undefined;
  let heldNow!: () => void;
  const held = new Promise<void>((resolve) => (heldNow = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) sockets.add(s);
    client.on('data', (d: Buffer) => {
      if (holding !== null) return void holding.push(d);
      if (armed && /hset/i.test(d.toString('latin1'))) {
        armed = false;
        holding = [d];
        flush = () => {
          for (const chunk of holding ?? []) upstream.write(chunk);
          holding = null;
        };
        heldNow();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(t, async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  return { port: (server.address() as net.AddressInfo).port, held, release: () => flush?.() };
}

test('a key revoked while another operator rotates it stays revoked: the rotate reads again, finds it revoked and makes no key', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const direct = `redis://127.0.0.1:${port}`;
  const made = await withTeamKeys(direct, 'race', (ops) => ops.create('alice', null));
  const proxy = await holdingProxy(t, port);

  const rotating = withTeamKeys(`redis://127.0.0.1:${proxy.port}`, 'race', (ops) => ops.rotate(made.record.id, new Date(Date.now() + 3_600_000), undefined)).then(
    (rotated) => rotated,
    (err: unknown) => err,
  );
  await proxy.held; // the rotate has read the keys and sent its write
  const revoked = await withTeamKeys(direct, 'race', (ops) => ops.revoke(made.record.id));
  assert.ok(revoked.revokedAt);
  proxy.release();
  const outcome = await rotating;

  const records = await withTeamKeys(direct, 'race', (ops) => ops.list());
  assert.ok(records.find((r) => r.id === made.record.id)?.revokedAt, 'the revocation stands');
  assert.equal(records.length, 1, 'no replacement was made for a revoked key');
  assert.ok(isSnowmuxError(outcome, 'INVALID_ARGUMENT'), String(outcome));
  assert.match(outcome.message, /is revoked: there is nothing to rotate/);
});
