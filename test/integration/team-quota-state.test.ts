/**
 * A team's shared quota state in Redis (a real redis-server on an ephemeral port), driven through the
 * replicas' own Redis clients without hubs: a reload that changes a quota's window carries the usage into
 * the new window, once, whichever replica reloads first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { QuotaRule } from '../../src/hub/guard/quota.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { connectRedisTeam } from '../../src/hub/team/redis-team.js';
import { defer, freePort, tempHome, type Cleanup } from '../helpers/harness.js';
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

test("a reload that changes a quota's window carries the team's usage into the new window, once, on every replica whichever reloads first", { skip: NO_REDIS, timeout: 60_000 }, async (t) => {
  // Usage was kept per window length: a 1h → 2h change started an empty hash, so every identity had a whole
  // new budget (6 calls spent of 10 under 1h, then 10 more under 2h).
  const port = await freePort();
  await startRedis(t, port, tempHome(t, 'smx-redis-'));
  const [r1, r2] = [await replica(t, port, `w${port}`, 'r1'), await replica(t, port, `w${port}`, 'r2')];
  const holder = 'nina\u0000analyst';
  const hourly: QuotaRule[] = [{ windowMs: HOUR, queries: 10 }];
  const twoHourly: QuotaRule[] = [{ windowMs: 2 * HOUR, queries: 10 }];
  // One moment for every call: the test never straddles a window's end.
  const at = Date.now();
  const admit = async (team: typeof r1.team, rules: QuotaRule[]) => (await team.quotaAdmit(holder, rules, at, true))?.reserved;
  for (let i = 0; i < 6; i++) assert.equal(await admit(i % 2 ? r1.team : r2.team, hourly), true);
  // r2 has reloaded to the 2h window, r1 not yet: each call counts once against both rules.
  const first = await r2.team.quotaAdmit(holder, twoHourly, at, false);
  assert.equal(first?.usage.get(2 * HOUR)?.queries, 6, 'the new window starts from the 6 calls of the hour within it');
  const outcomes: (boolean | undefined)[] = [];
  for (let i = 0; i < 4; i++) outcomes.push(await admit(r2.team, twoHourly), await admit(r1.team, hourly));
  assert.equal(outcomes.filter(Boolean).length, 4, `10 in all across both rules, not 6 + 10: ${JSON.stringify(outcomes)}`);
  assert.equal(await admit(r1.team, hourly), false);
  assert.equal(await admit(r2.team, twoHourly), false);
  // A call given back (its statement never ran) leaves both windows.
  assert.equal(await r1.team.quotaRecord(holder, [HOUR], { queries: -1, rows: 0, bytes: 0, scanBytes: 0 }, at), true);
  assert.equal((await r2.team.quotaAdmit(holder, twoHourly, at, false))?.usage.get(2 * HOUR)?.queries, 9);
  assert.equal((await r1.team.quotaAdmit(holder, hourly, at, false))?.usage.get(HOUR)?.queries, 9);

});

