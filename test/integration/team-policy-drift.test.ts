/**
 * Replicas of one team left on different rules (a config.toml rolled out to some replicas only, a reload run
 * on one of them): each applies its own, so a call's outcome depends on which replica the load balancer
 * picks. Driven through the replicas' own Redis clients (a real redis-server on an ephemeral port), each
 * heartbeating a summary with the fingerprint of its rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/hub/observe/logger.js';
import { connectRedisTeam } from '../../src/hub/team/redis-team.js';
import { defer, freePort, tempHome, type Cleanup } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';

/** A replica's team client whose summary carries `policy.now`; `messages` holds its log lines (msg and level). */
async function replica(t: Cleanup, port: number, replicaId: string, policy: { now: string }) {
  const out = new PassThrough();
  const messages: { level: number; msg: string }[] = [];
  out.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push(JSON.parse(line) as { level: number; msg: string });
  });
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const team = connectRedisTeam({
    url: `redis://127.0.0.1:${port}`,
    namespace: 'drift',
    replicaId,
    summary: () => ({ pid: process.pid, version: 'test', state: 'running', sessions: 0, running: 0, queued: 0, breakers: [], policy: policy.now }),
    logger: createLogger({ destination: out, level: 'info' }),
    heartbeatMs: 100,
    onModeChange: (mode) => mode === 'connected' && connected(),
  });
  defer(t, () => team.close());
  await ready;
  return { team, messages };
}

/** Waits (10 s at most) until `check` holds, a heartbeat at a time. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    assert.ok(Date.now() < deadline, `never: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const DRIFT = /replicas apply different rules/;

test('replicas applying different rules say so, once, in their log and status.team (which replica applies which); it clears once they agree', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const aPolicy = { now: 'aaaaaaaaaaaa' };
  const bPolicy = { now: 'bbbbbbbbbbbb' };
  const a = await replica(t, port, 'host-a:1', aPolicy);
  const b = await replica(t, port, 'host-b:2', bPolicy);
  type Drift = { policy: string; replicas: string[] }[] | undefined;
  const drift = (r: typeof a) => (r.team.snapshot() as { policyDrift?: Drift }).policyDrift;

  // Both see both, and the different rules: said at warn, naming which replica applies which.
  await until('both replicas see the drift', () => drift(a) !== undefined && drift(b) !== undefined);
  for (const r of [a, b]) {
    assert.deepEqual(
      [...drift(r)!].sort((x, y) => x.policy.localeCompare(y.policy)),
      [{ policy: 'aaaaaaaaaaaa', replicas: ['host-a:1'] }, { policy: 'bbbbbbbbbbbb', replicas: ['host-b:2'] }],
    );
    const warned = r.messages.filter((m) => DRIFT.test(m.msg));
    assert.equal(warned.length, 1, 'said once, not at every heartbeat');
    assert.equal(warned[0]!.level, 40, 'at warn');
  }

  // b reloads onto a's rules: the drift clears on both, said once.
  bPolicy.now = aPolicy.now;
  await until('the drift clears', () => drift(a) === undefined && drift(b) === undefined);
  for (const r of [a, b]) {
    assert.equal(r.messages.filter((m) => DRIFT.test(m.msg)).length, 1);
    assert.equal(r.messages.filter((m) => /apply the same rules again/.test(m.msg)).length, 1);
  }
});

test("a registry entry that is not a replica's summary is left out: the registry still follows the replicas that come and go", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // One unparsable value under <namespace>:replica:* made every heartbeat's read throw: each replica's registry
  // stayed as it was from then on, listing dead replicas and never the new ones.
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const raw = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => raw.disconnect());
  await raw.set('drift:replica:damaged', 'not a summary {');
  await raw.set('drift:replica:no-breakers', JSON.stringify({ id: 'other:9', pid: 9, version: 'x', state: 'running', sessions: 0, running: 0, queued: 0 }));
  const policy = { now: 'aaaaaaaaaaaa' };
  const a = await replica(t, port, 'host-a:1', policy);
  const ids = () => (a.team.snapshot() as { replicas: { id: string; breakers: unknown }[] }).replicas.map((r) => r.id);
  await until('a sees itself', () => ids().includes('host-a:1'));
  const b = await replica(t, port, 'host-b:2', policy);
  await until('a sees b join', () => ids().includes('host-b:2'));
  assert.deepEqual(ids(), ['host-a:1', 'host-b:2', 'other:9']);
  const other = (a.team.snapshot() as { replicas: { id: string; breakers: unknown }[] }).replicas.find((r) => r.id === 'other:9');
  assert.deepEqual(other?.breakers, [], 'a summary without breakers reads as none (status lists them)');
  await b.team.close();
  await until('a sees b leave', () => !ids().includes('host-b:2'));
});
