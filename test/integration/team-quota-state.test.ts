/**
 * A team's shared quota state in Redis (a real redis-server on an ephemeral port), driven through the
 * replicas' own Redis clients without hubs: a reload that changes a quota's window carries the usage into
 * the new window, once, whichever replica reloads first; and a Redis that loses the team's state without a
 * disconnect (FLUSHALL) is noticed by every replica, which says so (once, in its log and in status) and writes
 * its part back — quota usage and the team slots its running calls hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import type { QuotaRule } from '../../src/hub/guard/quota.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { connectRedisTeam } from '../../src/hub/team/redis-team.js';
import { defer, freePort, runCli, startHub, tempHome, type Cleanup } from '../helpers/harness.js';
import { NO_REDIS } from '../helpers/debian-tools.js';
import { startRedis } from '../helpers/redis-server.js';

const HOUR = 3_600_000;
const summary = () => ({ pid: process.pid, version: 'test', state: 'running', sessions: 0, running: 0, queued: 0, breakers: [] });

/** A replica's team client, connected; `logged(re)` counts its log messages matching, `logs(re)` waits for one (10 s at most). */
async function replica(t: Cleanup, port: number, namespace: string, replicaId: string) {
  const out = new PassThrough();
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  out.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
    for (const w of waiters.splice(0)) w();
  });
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const team = connectRedisTeam({
    url: `redis://127.0.0.1:${port}`,
    namespace,
    replicaId,
    summary,
    logger: createLogger({ destination: out, level: 'info' }),
    heartbeatMs: 200,
    onModeChange: (mode) => mode === 'connected' && connected(),
  });
  defer(t, () => team.close());
  await ready;
  const logged = (match: RegExp) => messages.filter((m) => match.test(m)).length;
  const logs = async (match: RegExp) => {
    const deadline = Date.now() + 10_000;
    while (logged(match) === 0) {
      assert.ok(Date.now() < deadline, `${replicaId} never logged ${match}; it logged:\n${messages.join('\n')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { team, logged, logs };
}

/** Waits (10 s at most) until `check` holds, checking as often as the event loop allows Redis replies. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) assert.ok(Date.now() < deadline, `never: ${what}`);
}

const LOST = /Redis lost the team's shared state/;

/**
 * Returns once the current window of `windowMs` (on this machine's clock, which the test's Redis shares) has
 * at least a minute left, so a test's calls all count in one window: waits out the window's last minute.
 */
async function clearOfWindowEnd(windowMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < 60_000) await new Promise((r) => setTimeout(r, left + 100));
}

test("a reload that changes a quota's window carries the team's usage into the new window, once, on every replica whichever reloads first; a loss later keeps it", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Usage was kept per window length: a 1h → 2h change started an empty hash, so every identity had a whole
  // new budget (6 calls spent of 10 under 1h, then 10 more under 2h).
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const [r1, r2] = [await replica(t, port, `w${port}`, 'r1'), await replica(t, port, `w${port}`, 'r2')];
  const holder = 'nina\u0000analyst';
  const hourly: QuotaRule[] = [{ windowMs: HOUR, queries: 10 }];
  const twoHourly: QuotaRule[] = [{ windowMs: 2 * HOUR, queries: 10 }];
  // The windows are on Redis's clock (this machine's): the test does not straddle a window's end.
  await clearOfWindowEnd(2 * HOUR);
  const admit = async (team: typeof r1.team, rules: QuotaRule[]) => (await team.quotaAdmit(holder, rules, true))?.reserved;
  for (let i = 0; i < 6; i++) assert.equal(await admit(i % 2 ? r1.team : r2.team, hourly), true);
  // r2 has reloaded to the 2h window, r1 not yet: each call counts once against both rules.
  const first = await r2.team.quotaAdmit(holder, twoHourly, false);
  assert.equal(first?.usage.get(2 * HOUR)?.queries, 6, 'the new window starts from the 6 calls of the hour within it');
  const outcomes: (boolean | undefined)[] = [];
  for (let i = 0; i < 4; i++) outcomes.push(await admit(r2.team, twoHourly), await admit(r1.team, hourly));
  assert.equal(outcomes.filter(Boolean).length, 4, `10 in all across both rules, not 6 + 10: ${JSON.stringify(outcomes)}`);
  assert.equal(await admit(r1.team, hourly), false);
  assert.equal(await admit(r2.team, twoHourly), false);
  // A call given back (its statement never ran) leaves both windows.
  assert.equal(await r1.team.quotaRecord(holder, [HOUR], { queries: -1, rows: 0, bytes: 0, scanBytes: 0 }), true);
  assert.equal((await r2.team.quotaAdmit(holder, twoHourly, false))?.usage.get(2 * HOUR)?.queries, 9);
  assert.equal((await r1.team.quotaAdmit(holder, hourly, false))?.usage.get(HOUR)?.queries, 9);

  // Redis loses everything: each replica writes its share back, the part carried into the 2h window included.
  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  await direct.flushall();
  await Promise.all([r1.logs(LOST), r2.logs(LOST)]);
  assert.equal((await r2.team.quotaAdmit(holder, twoHourly, false))?.usage.get(2 * HOUR)?.queries, 9);
  assert.equal((await r1.team.quotaAdmit(holder, hourly, false))?.usage.get(HOUR)?.queries, 9);
  assert.equal(await admit(r2.team, twoHourly), true);
  assert.equal(await admit(r1.team, hourly), false, 'the call r2 took just now counts in the hour too');
});

test('a FLUSHALL without a disconnect is noticed by every replica: said once, shown in status, quota usage and the slots of running calls written back', { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Nothing noticed it: budgets restarted silently and a slot held by a running call was granted again.
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const ns = `f${port}`;
  const [r1, r2] = [await replica(t, port, ns, 'r1'), await replica(t, port, ns, 'r2')];
  const holder = 'omar\u0000analyst';
  const rules: QuotaRule[] = [{ windowMs: HOUR, queries: 10 }];
  await clearOfWindowEnd(HOUR);
  for (let i = 0; i < 4; i++) assert.equal((await r1.team.quotaAdmit(holder, rules, true))?.reserved, true);
  for (let i = 0; i < 3; i++) assert.equal((await r2.team.quotaAdmit(holder, rules, true))?.reserved, true);
  const lease = await r1.team.acquireSlot('wh', 1, new AbortController().signal);
  assert.ok(lease, 'r1 runs a call on the one team slot');

  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  await direct.flushall();
  // r2 asks for the slot at once: it notices the loss first, before r1 has written its running call's lease
  // back, and must not take the slot that call holds.
  let granted: Awaited<ReturnType<typeof r2.team.acquireSlot>> | null = null;
  const waiting = r2.team.acquireSlot('wh', 1, new AbortController().signal).then((g) => (granted = g));
  await Promise.all([r1.logs(LOST), r2.logs(LOST)]);
  await until("r2's call is in the slot's line", async () => granted !== null || (await direct.zcard(`${ns}:slots:wh:waiting`)) === 1);
  assert.equal(granted, null, "r2 was granted the slot r1's running call holds");
  assert.equal(await direct.zcard(`${ns}:slots:wh`), 1, "r1's running call holds its slot again");
  assert.equal((await r2.team.quotaAdmit(holder, rules, false))?.usage.get(HOUR)?.queries, 7, 'both shares are back');

  // r2's call gets the slot once r1's call ends.
  lease.release();
  await waiting;
  assert.ok(granted);
  (granted as { release(): void }).release();

  for (const r of [r1, r2]) {
    const snap = r.team.snapshot() as { stateLost?: { times: number; at: string; rebuilt: { quotaWindows: number; slots: number } } };
    assert.equal(snap.stateLost?.times, 1);
    assert.equal(snap.stateLost?.rebuilt.quotaWindows, 1);
    assert.equal(r.logged(LOST), 1, 'said once, not at every heartbeat');
  }
  assert.equal((r1.team.snapshot() as { stateLost: { rebuilt: { slots: number } } }).stateLost.rebuilt.slots, 1);
});

test("a hub whose Redis is flushed says so in its log and in status, once", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "redis://127.0.0.1:${port}"\nteam_namespace = "h${port}"\n`);
  const hub = await startHub(t, home);
  const status = async () => JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { team: { mode: string; stateLost?: { times: number } } };
  await until('the hub joined Redis', async () => (await status()).team.mode === 'connected');
  const direct = new Redis(`redis://127.0.0.1:${port}`);
  defer(t, () => direct.disconnect());
  await until('the hub wrote its state marker', async () => (await direct.exists(`h${port}:state`)) === 1);
  await direct.flushall();
  await until('status shows the loss', async () => (await status()).team.stateLost?.times === 1);
  assert.match((await runCli(['status', '--home', home])).stdout, /STATE LOST\s+Redis lost the team's state once, last at \S+;\s+wrote\s+back\s+0\s+quota\s+windows/);
  const log = readFileSync(join(home, 'hub.log'), 'utf8');
  assert.equal(log.split('\n').filter((l) => LOST.test(l) && /"level":40/.test(l)).length, 1, log);
  assert.equal(hub.proc.exitCode, null, 'the hub serves on');
});
