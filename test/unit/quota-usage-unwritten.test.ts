/**
 * quota-usage.json that could not be written (a full disk, EIO) while the hub ran was said in status, but the
 * next start restored the older file without a word: every identity got back what it had used since, and no
 * one was told. The failure is now noted in place in quota-usage.unwritten (made at start, while there is
 * room), and the next start says so: hub.log, status's governance.quotaUsageFile and health.warnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { assessHealth } from '../../src/hub/core/hub-health.js';
import { newCallMeter } from '../../src/hub/governance/call-meter.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';

const policy = Policy.fromConfig(parseConfigText('[roles.capped]\nidentities = ["jo"]\n[roles.capped.quota]\nwindow = "1h"\nqueries = 4\n', 't.toml'), 't.toml');
const role = policy.role('capped')!;

function hubProcess(home: string): { g: Governance; log: () => string } {
  const out = new PassThrough();
  let log = '';
  out.on('data', (c: Buffer) => (log += c.toString()));
  const g = new Governance({ policy, logger: createLogger({ destination: out, level: 'info' }), quotaHome: home });
  g.restoreQuotas();
  return { g, log: () => log };
}

async function spend(g: Governance, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const meter = newCallMeter();
    assert.equal(await g.chargeQuota('jo', role, meter), undefined);
    await g.settle('jo', role, meter, true);
  }
}

type QuotaFile = { path: string; failing: unknown; lostBefore?: { since: string; to: string; code: string } };
const quotaFileOf = (g: Governance) => g.snapshot()['quotaUsageFile'] as QuotaFile;
const warningsOf = (g: Governance) => assessHealth({ state: 'running', warehouses: [], governance: g.snapshot() }).warnings;

test('quota usage the previous hub could not write before it stopped is said at the next start, once', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-quota-unwritten-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const first = hubProcess(home);
  await spend(first.g, 1);
  first.g.close(); // written: 1 query used

  const second = hubProcess(home);
  // Every write of quota-usage.json fails from now on (EISDIR, as ENOSPC would), the one as it stops too.
  const blocker = join(home, `quota-usage.json.${process.pid}.tmp`);
  mkdirSync(blocker);
  await spend(second.g, 2);
  second.g.close();
  rmdirSync(blocker);

  const third = hubProcess(home);
  const lost = quotaFileOf(third.g).lostBefore;
  assert.ok(lost !== undefined, 'status says the usage restored is older than what was counted');
  assert.match(lost.code, /EISDIR/);
  const warning = warningsOf(third.g).find((w) => w.startsWith('quota usage was given back at this start'));
  assert.ok(warning !== undefined, `health warns: ${JSON.stringify(warningsOf(third.g))}`);
  assert.match(warning, /quota-usage\.json/);
  assert.match(warning, /EISDIR/);
  assert.match(third.log(), /could not write quota usage to .*quota-usage\.json.*EISDIR/, 'hub.log says so');
  third.g.close();

  // Said by the start that found it: the one after that (usage written again meanwhile) has nothing to say.
  const fourth = hubProcess(home);
  assert.equal(quotaFileOf(fourth.g).lostBefore, undefined);
  assert.equal(warningsOf(fourth.g).find((w) => w.startsWith('quota usage was given back')), undefined);
  fourth.g.close();
});
