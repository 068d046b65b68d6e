/**
 * The team's key space after a load: every key the replicas write expires by itself (a team stopped, or a
 * namespace no longer used, leaves nothing in Redis for good) except the state marker, which must outlive
 * everything (team-hub.md, "When Redis loses the team's state"). Driven through the replicas' own Redis
 * clients against a real redis-server on an ephemeral port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/hub/observe/logger.js';
import { connectRedisTeam, type TeamState } from '../../src/hub/team/redis-team.js';
import { defer, freePort, tempHome, type Cleanup } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';

async function replica(t: Cleanup, port: number, replicaId: string): Promise<TeamState> {
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const team = connectRedisTeam({
    url: `redis://127.0.0.1:${port}`,
    namespace: 'ttl',
    replicaId,
    summary: () => ({ pid: process.pid, version: 'test', state: 'running', sessions: 0, running: 0, queued: 0, breakers: [] }),
    logger: createLogger({ destination: new PassThrough(), level: 'silent' }),
    heartbeatMs: 100,
    onModeChange: (mode) => mode === 'connected' && connected(),
  });
  defer(t, () => team.close());
  await ready;
  return team;
}

test("after a load on two replicas every team key has a TTL (the quota holders' index too, also as written back after a FLUSHALL), but the state marker", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const a = await replica(t, port, 'host-a:1');
  const b = await replica(t, port, 'host-b:2');
  const rules = [{ windowMs: 3_600_000, queries: 100 }];
  for (let i = 0; i < 5; i++) {
    for (const team of [a, b]) {
      const holder = `user${i}\u0000analyst`;
      assert.ok(await team.take(holder, { capacity: 5, refillPerSecond: 1 }));
      assert.equal((await team.quotaAdmit(holder, rules, true))?.reserved, true);
      assert.equal(await team.quotaRecord(holder, [3_600_000], { queries: 0, rows: 5, bytes: 50, scanBytes: 0 }), true);
      assert.equal(await team.rememberOwner(`query-${i}-${team === a ? 'a' : 'b'}`, `user${i}`), true);
    }
  }
  // A team slot held on one replica while the other waits in line for it.
  const cancel = new AbortController();
  const held = await a.acquireSlot('warehouse', 1, cancel.signal);
  assert.ok(held);
  const waiting = b.acquireSlot('warehouse', 1, cancel.signal);
  held.release();
  (await waiting)?.release();

  const raw = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => raw.disconnect());
  const forever: string[] = [];
  for (const key of await raw.keys('ttl:*')) if ((await raw.pttl(key)) === -1) forever.push(key);
  assert.deepEqual(forever, ['ttl:state'], 'only the state marker is kept for good');
  const holdersTtl = await raw.pttl('ttl:quota-holders');
  assert.ok(holdersTtl > 0 && holdersTtl <= 3_600_000 + 60_000, `the holders' index goes when its last window ends (${holdersTtl} ms)`);

  // Redis loses it all (FLUSHALL): the replicas write their quota shares back, the holders' index with them.
  await raw.flushall();
  const deadline = Date.now() + 10_000;
  while ((await raw.exists('ttl:quota-holders')) === 0) assert.ok(Date.now() < deadline, 'the replicas never wrote their shares back');
  const rebuiltTtl = await raw.pttl('ttl:quota-holders');
  assert.ok(rebuiltTtl > 0 && rebuiltTtl <= 3_600_000 + 60_000, `written back, the holders' index still goes when its last window ends (${rebuiltTtl} ms)`);
});
