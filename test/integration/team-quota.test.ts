/**
 * A team's quota counts and query slots in Redis (a real redis-server on an ephemeral port), driven through
 * the replica's own Redis client and governance without hubs: a replica rejoining an emptied Redis writes its
 * share back without undoing counts taken meanwhile, status shows the team's count, not one replica's part,
 * and a freed team slot goes to the caller that waited longest, whichever replica it is on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { newCallMeter } from '../../src/hub/governance/call-meter.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { windowStartOf, type QuotaRule } from '../../src/hub/guard/quota.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy, type EffectiveRole } from '../../src/hub/policy/policy.js';
import { connectRedisTeam, type TeamState } from '../../src/hub/team/redis-team.js';
import { defer, freePort, tempHome, type Cleanup } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';

const HOUR = 3_600_000;
const summary = () => ({ pid: process.pid, version: 'test', state: 'running', sessions: 0, running: 0, queued: 0, breakers: [] });

/** A replica's team client; `logLines` gets its log messages, `modes` each change of mode as it happens. */
function replica(t: Cleanup, port: number, replicaId: string, onMode?: (mode: 'connected' | 'local') => void, slotLeaseMs?: number) {
  const logged = new PassThrough();
  const messages: string[] = [];
  const waiters: { match: RegExp; resolve: () => void }[] = [];
  logged.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      const msg = String((JSON.parse(line) as { msg?: unknown }).msg);
      messages.push(msg);
      for (const w of waiters.filter((x) => x.match.test(msg))) w.resolve();
    }
  });
  const logger = createLogger({ destination: logged, level: 'info' });
  const modeWaiters: { mode: string; resolve: () => void }[] = [];
  const team = connectRedisTeam({
    url: `redis://127.0.0.1:${port}`,
    namespace: 'smx-quota-test',
    replicaId,
    summary,
    logger,
    heartbeatMs: 200,
    ...(slotLeaseMs === undefined ? {} : { slotLeaseMs }),
    onModeChange: (mode) => {
      onMode?.(mode);
      for (const w of modeWaiters.filter((x) => x.mode === mode)) w.resolve();
    },
  });
  defer(t, () => team.close());
  const mode = (wanted: 'connected' | 'local') =>
    team.mode === wanted ? Promise.resolve() : new Promise<void>((resolve) => modeWaiters.push({ mode: wanted, resolve }));
  const logs = (match: RegExp) => (messages.some((m) => match.test(m)) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve })));
  return { team, logger, mode, logs };
}

/** One query charged to `identity` on `g` as a call that ran would be: its refusal, or undefined once settled. */
async function chargeOne(g: Governance, identity: string, role: EffectiveRole) {
  const meter = newCallMeter();
  const refusal = await g.chargeQuota(identity, role, meter);
  if (!refusal) await g.settle(identity, role, meter, true);
  return refusal;
}

/** One Governance per replica id, each on its own team client over the Redis at `port`, connected. */
function teamGovernances(t: Cleanup, port: number, policy: Policy, ids: string[]) {
  const silent = createLogger({ destination: new PassThrough(), level: 'silent' });
  return Promise.all(ids.map(async (id) => {
    const r = replica(t, port, id);
    await r.mode('connected');
    const g = new Governance({ policy, logger: silent });
    g.useTeam(r.team);
    defer(t, () => g.close());
    return { g, r };
  }));
}

test('a replica rejoining an emptied Redis writes its quota share back without undoing the counts calls took meanwhile', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // The rejoin took a snapshot of the share, wrote every result owner, then wrote the snapshot as absolute
  // values: a call counted in between (the replica was already connected) was overwritten and lost.
  const dir = tempHome(t);
  const port = await freePort();
  let server = await startRedis(t, port, dir);
  const holder = 'lara\u0000counted';
  const rules: QuotaRule[] = [{ windowMs: HOUR, queries: 1_000_000 }];
  let team!: TeamState;
  // A call counts its query the moment the replica is back on Redis, as calls under load do.
  let countOnRejoin = false;
  const r1 = replica(t, port, 'r1', (mode) => {
    if (mode === 'connected' && countOnRejoin) void team.quotaRecord(holder, [HOUR], { queries: 1, rows: 0, bytes: 0, scanBytes: 0 });
  });
  team = r1.team;
  await r1.mode('connected');
  for (let i = 0; i < 5; i++) assert.equal((await team.quotaAdmit(holder, rules, true))?.reserved, true);
  // Enough result owners that writing them back takes several round trips.
  for (let i = 0; i < 2_500; i++) await team.rememberOwner(`q-${i}`, 'lara\u0000counted');

  server.kill('SIGKILL');
  await once(server, 'exit');
  await r1.mode('local');
  countOnRejoin = true;
  server = await startRedis(t, port, dir);
  await r1.logs(/written to Redis again/);

  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  const key = `smx-quota-test:quota:${holder}:${HOUR}:${windowStartOf(Date.now(), HOUR)}`;
  assert.equal(await direct.hget(key, 'r1|queries'), '6', 'the 5 counted before Redis restarted, and the one counted as the replica rejoined');
  assert.equal((await team.quotaAdmit(holder, rules, false))?.usage.get(HOUR)?.queries, 6);
});

test("a replica's share written back on rejoin lands in Redis's window, even when this machine's wall clock stepped 2 h forward while Redis was away", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // The share was kept on Redis's clock as Date.now() plus the skew last seen: with the wall clock stepped
  // forward while Redis was away, the rejoin took every open window for ended and wrote nothing back.
  const dir = tempHome(t);
  const port = await freePort();
  let server = await startRedis(t, port, dir);
  const holder = 'lara\u0000stepped';
  const rules: QuotaRule[] = [{ windowMs: HOUR, queries: 1_000_000 }];
  const r1 = replica(t, port, 'r1');
  await r1.mode('connected');
  for (let i = 0; i < 3; i++) assert.equal((await r1.team.quotaAdmit(holder, rules, true))?.reserved, true);
  server.kill('SIGKILL');
  await once(server, 'exit');
  await r1.mode('local');
  const real = Date.now.bind(Date);
  const windowKey = `smx-quota-test:quota:${holder}:${HOUR}:${windowStartOf(real(), HOUR)}`;
  t.mock.method(Date, 'now', () => real() + 2 * HOUR);
  server = await startRedis(t, port, dir);
  await r1.mode('connected');
  // The rejoin writes the share back once it sees Redis lost the team's state: asked until then (bounded).
  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  const deadline = performance.now() + 5_000;
  let written: string | null = null;
  while (written === null && performance.now() < deadline) {
    await r1.team.quotaAdmit('someone else', rules, false);
    written = await direct.hget(windowKey, 'r1|queries');
  }
  t.mock.restoreAll();
  assert.equal(written, '3', "the replica's 3 queries are back in the window Redis counts in");
});

test("status on a team hub shows the team's quota count (what refuses calls), and this replica's part of it", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Each replica showed its own count as the budget: 10 calls on one and 5 on the other read "15 left" and
  // "20 left" for a budget of 25, while 10 were left.
  const dir = tempHome(t);
  const port = await freePort();
  await startRedis(t, port, dir);
  const policy = Policy.fromConfig(parseConfigText(`[roles.quotaonly]\nidentities = ["gina"]\n[roles.quotaonly.quota]\nwindow = "1h"\nqueries = 25\n`, 'test.toml'), 'test.toml');
  const governance = (await teamGovernances(t, port, policy, ['r1', 'r2'])).map(({ g }) => g);
  const role = policy.role('quotaonly')!;
  const run = async (g: Governance) => {
    const meter = newCallMeter();
    assert.equal(await g.chargeQuota('gina', role, meter), undefined);
    await g.settle('gina', role, meter, true);
  };
  for (let i = 0; i < 10; i++) await run(governance[0]!);
  for (let i = 0; i < 5; i++) await run(governance[1]!);
  await governance[0]!.refreshTeamQuotas();
  type Window = { used: { queries: number }; remaining: { queries: number }; team?: { own: { queries: number } } };
  const window = (governance[0]!.snapshot() as { quotas: { identity: string; windows: Window[] }[] }).quotas.find((q) => q.identity === 'gina')!.windows[0]!;
  assert.equal(window.used.queries, 15);
  assert.equal(window.remaining.queries, 10, "the team's budget left, not this replica's");
  assert.equal(window.team?.own.queries, 10, "and this replica's part, said as such");
});

test("a replica that loses Redis counts on from the team's usage of an identity that only called other replicas, not from a fresh budget", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Each replica read the team's usage only of the identities that had called it: one that had used 3 of 4
  // on replica a got 4 more on replica b when Redis went away (each replica of the outage a whole budget).
  const dir = tempHome(t);
  const port = await freePort();
  const server = await startRedis(t, port, dir);
  const policy = Policy.fromConfig(parseConfigText(`[roles.capped]\nidentities = ["ines"]\n[roles.capped.quota]\nwindow = "1h"\nqueries = 4\n`, 'test.toml'), 'test.toml');
  const [a, b] = await teamGovernances(t, port, policy, ['ra', 'rb']);
  const role = policy.role('capped')!;
  const charge = (g: Governance) => chargeOne(g, 'ines', role);
  for (let i = 0; i < 3; i++) assert.equal(await charge(a!.g), undefined);
  // Replica b's periodic read of the team's usage (every 5 s), before Redis goes away.
  await b!.g.refreshTeamQuotas();
  type Window = { used: { queries: number }; team?: { own: { queries: number } } };
  const seenOnB = (b!.g.snapshot() as { quotas: { identity: string; windows: Window[] }[] }).quotas.find((q) => q.identity === 'ines')?.windows[0];
  assert.equal(seenOnB?.used.queries, 3, "b's status shows the team's count of an identity that called only a");
  assert.equal(seenOnB?.team?.own.queries, 0);

  server.kill('SIGSTOP');
  defer(t, () => server.kill('SIGCONT'));
  // Redis does not answer: b falls back to its own count on its first call, within the command timeout.
  const outage = [];
  for (let i = 0; i < 3; i++) outage.push((await charge(b!.g))?.code ?? 'ran');
  assert.equal(b!.r.team.mode, 'local');
  assert.deepEqual(outage, ['ran', 'QUOTA_EXCEEDED', 'QUOTA_EXCEEDED'], 'b gives the one query the team had left, not a budget of its own');
});

test("a replica whose clock is ahead counts in the team's window, not the next one: one budget, one reset time on every replica", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Each replica passed its own Date.now() as the window's time: one whose clock had passed the next hour
  // counted in that hour's fresh budget, and the identity ran 4 queries in one real hour under a limit of 2.
  const dir = tempHome(t);
  const port = await freePort();
  await startRedis(t, port, dir);
  // Redis's clock is this machine's: keep the real hour from ending during the test.
  const left = HOUR - (Date.now() % HOUR);
  if (left < 60_000) await new Promise((r) => setTimeout(r, left + 100));
  const policy = Policy.fromConfig(parseConfigText(`[roles.capped]\nidentities = ["hana"]\n[roles.capped.quota]\nwindow = "1h"\nqueries = 2\n`, 'test.toml'), 'test.toml');
  const [a, b] = (await teamGovernances(t, port, policy, ['ra', 'rb'])).map(({ g }) => g);
  const role = policy.role('capped')!;
  const charge = (g: Governance) => chargeOne(g, 'hana', role);
  assert.equal(await charge(a!), undefined);
  const resetAt = new Date(windowStartOf(Date.now(), HOUR) + HOUR).toISOString().replace('.000Z', 'Z');
  // Replica b's clock is five minutes past the next hour (a skew of up to an hour).
  const skew = HOUR - (Date.now() % HOUR) + 5 * 60_000;
  const real = Date.now.bind(Date);
  const onB = async <T>(fn: () => Promise<T>): Promise<T> => {
    t.mock.method(Date, 'now', () => real() + skew);
    try {
      return await fn();
    } finally {
      t.mock.restoreAll();
    }
  };
  assert.equal(await onB(() => charge(b!)), undefined, "b's query counts in the team's hour: the second of 2");
  const refusedOnB = await onB(() => charge(b!));
  assert.equal(refusedOnB?.code, 'QUOTA_EXCEEDED', 'b does not hand out the next hour\'s budget');
  assert.equal(refusedOnB?.details?.['resetAt'], resetAt, "b gives the team's reset time, not its own clock's");
  const refusedOnA = await charge(a!);
  assert.equal(refusedOnA?.code, 'QUOTA_EXCEEDED');
  assert.equal(refusedOnA?.details?.['resetAt'], resetAt);
  assert.ok(Math.abs(Number(refusedOnB?.details?.['retryAfterMs']) - Number(refusedOnA?.details?.['retryAfterMs'])) < 5_000, 'and the same wait');
});

test('a freed team slot goes to the longest waiting caller on any replica, not to the newest one on the busiest; a caller that gives up leaves the line', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Waiters polled with growing back-off: the flooding replica's newest call (polling at 20 ms) took each
  // freed slot, and a single call on another replica waited for the whole flood.
  const dir = tempHome(t);
  const port = await freePort();
  await startRedis(t, port, dir);
  const a = replica(t, port, 'ra');
  const b = replica(t, port, 'rb');
  await Promise.all([a.mode('connected'), b.mode('connected')]);
  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  const line = 'smx-quota-test:slots:wh:waiting';
  const waiting = async (n: number) => {
    while ((await direct.zcard(line)) !== n) await new Promise((r) => setImmediate(r));
  };
  const never = new AbortController().signal;
  const held = await a.team.acquireSlot('wh', 1, never);
  assert.ok(held);
  const order: string[] = [];
  const onB = b.team.acquireSlot('wh', 1, never).then((lease) => (order.push('b'), lease));
  await waiting(1);
  const gaveUp = new AbortController();
  const quitter = a.team.acquireSlot('wh', 1, gaveUp.signal).catch(() => 'gave up');
  await waiting(2);
  const onA = a.team.acquireSlot('wh', 1, never).then((lease) => (order.push('a'), lease));
  await waiting(3);
  gaveUp.abort(new Error('cancelled'));
  assert.equal(await quitter, 'gave up');
  await waiting(2);

  held.release();
  const first = await onB;
  assert.deepEqual(order, ['b'], 'the caller on the other replica, first in line, got the slot');
  first!.release();
  (await onA)!.release();
  assert.deepEqual(order, ['b', 'a']);
  assert.equal(await direct.zcard(line), 0);
});

test("a running call's team slot whose lease left Redis (expired during an outage longer than a lease) is put back at its next renewal: the cap holds", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // The renewal extended only a lease Redis still held: one that expired while Redis was unreachable stayed
  // out, and other replicas' calls took the slot while the call ran on, past team_max_concurrent_queries.
  const dir = tempHome(t);
  const port = await freePort();
  await startRedis(t, port, dir);
  const a = replica(t, port, 'ra', undefined, 600);
  const b = replica(t, port, 'rb', undefined, 600);
  await Promise.all([a.mode('connected'), b.mode('connected')]);
  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  const leases = 'smx-quota-test:slots:wh';
  const held = await a.team.acquireSlot('wh', 1, new AbortController().signal);
  assert.ok(held);
  defer(t, () => held.release());
  // The lease leaves Redis as an expiry during an outage leaves it (a renewal runs every 200 ms here).
  await direct.zremrangebyrank(leases, 0, -1);
  const deadline = performance.now() + 5_000;
  while ((await direct.zcard(leases)) === 0) {
    assert.ok(performance.now() < deadline, 'the lease of the call still running never came back');
    await new Promise((r) => setImmediate(r));
  }
  await a.logs(/put back/);
  // The call still runs: another replica's call waits for the slot instead of taking it.
  const gaveUp = new AbortController();
  const other = b.team.acquireSlot('wh', 1, gaveUp.signal).then(() => 'granted', () => 'waited');
  await new Promise<void>((resolve) => {
    const check = async () => ((await direct.zcard('smx-quota-test:slots:wh:waiting')) === 1 ? resolve() : setImmediate(() => void check()));
    void check();
  });
  gaveUp.abort(new Error('gave up'));
  assert.equal(await other, 'waited');
});

test("a replica that starts while Redis is down starts from the team's usage its previous process knew, not from whole budgets", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // A replica rescheduled (or restarted) during a Redis outage knew no team usage at all: every identity got
  // its whole budget again on it. It now keeps what it saw in its home (quota-usage.json) and goes on from it.
  const dir = tempHome(t);
  const home = tempHome(t);
  const port = await freePort();
  const server = await startRedis(t, port, dir);
  const silent = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText(`[roles.capped]\nidentities = ["jo"]\n[roles.capped.quota]\nwindow = "1h"\nqueries = 4\n`, 'test.toml'), 'test.toml');
  const role = policy.role('capped')!;
  const onTeam = async (id: string) => {
    const r = replica(t, port, id);
    const g = new Governance({ policy, logger: silent, quotaHome: home, teamReplica: true });
    g.restoreQuotas();
    g.useTeam(r.team);
    defer(t, () => g.close());
    return { g, r };
  };
  const first = await onTeam('ra');
  await first.r.mode('connected');
  const [other] = await teamGovernances(t, port, policy, ['rb']);
  for (let i = 0; i < 2; i++) assert.equal(await chargeOne(first.g, 'jo', role), undefined);
  assert.equal(await chargeOne(other!.g, 'jo', role), undefined);
  await first.g.refreshTeamQuotas();
  first.g.close(); // the replica stops (its usage as last seen is written to its home)
  await first.r.team.close();

  server.kill('SIGSTOP');
  defer(t, () => server.kill('SIGCONT'));
  // The same replica's next process starts while Redis does not answer.
  const next = await onTeam('ra-restarted');
  const outage = [];
  for (let i = 0; i < 2; i++) outage.push((await chargeOne(next.g, 'jo', role))?.code ?? 'ran');
  assert.equal(next.r.team.mode, 'local');
  assert.deepEqual(outage, ['ran', 'QUOTA_EXCEEDED'], 'the one query the team had left, not a fresh budget of 4');
});
