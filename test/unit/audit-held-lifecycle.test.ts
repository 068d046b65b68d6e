/**
 * Refused HTTP authentications and reloads that come before the audit log is open — the audit-writer
 * hand-over of a take-over, when the new hub already serves HTTP while the old one still appends — are
 * held and written once the log opens, right after hub_start (as finished calls are), not dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/hub/observe/logger.js';
import { createRuntime } from '../../src/hub/runtime.js';
import { tempHome } from '../helpers/harness.js';

test('lifecycle records before the audit log opens wait for it, in order, after hub_start', async (t) => {
  const home = tempHome(t, 'audit-held-');
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const runtime = await createRuntime({ home, logger, env: {} });
  runtime.auditAuthRefusal({ reason: 'unknown', route: '/status', remote: '127.0.0.1', keyId: '0123456789ab' });
  runtime.reload();
  runtime.auditAuthRefusal({ reason: 'revoked', route: '/mcp', remote: '127.0.0.2', keyId: 'ba9876543210', identity: 'alice' });
  await runtime.openAudit();
  await runtime.close('test over');
  const dir = join(home, 'audit');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as { kind: string; identity: string; detail?: Record<string, unknown> });
  assert.deepEqual(records.map((r) => r.kind), ['hub_start', 'auth_refused', 'config_reload', 'auth_refused', 'hub_stop']);
  assert.equal(records[0]!.detail?.heldRecords, 3);
  assert.equal(records[1]!.detail?.route, '/status');
  assert.match(String(records[1]!.detail?.heldFrom), /^\d{4}-\d\d-\d\dT/);
  assert.equal(records[3]!.identity, 'alice');
});

test('with the audit log disabled nothing is held', async (t) => {
  const home = tempHome(t, 'audit-held-');
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const runtime = await createRuntime({ home, logger, env: {}, audit: false });
  runtime.auditAuthRefusal({ reason: 'unknown', route: '/status', remote: '127.0.0.1' });
  await runtime.openAudit();
  await runtime.close('test over');
  assert.deepEqual(readdirSync(home).filter((f) => f === 'audit'), []);
});
