import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { AuditEntry } from '../../src/hub/audit/audit-record.js';
import type { AuditLog } from '../../src/hub/audit/audit-log.js';
import { AuditSink } from '../../src/hub/governance/audit-sink.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';

const call: CallRecord = {
  at: new Date(0).toISOString(),
  sessionId: 's',
  identity: 'alice',
  client: 'c/1',
  clientInfo: { name: 'c', version: '1' },
  tool: 'execute_query',
  requestId: '1',
  outcome: 'refused',
  errorCode: 'SCAN_LIMIT',
  ms: 1,
  queueWaitMs: 0,
  runMs: 0,
  rows: 0,
  bytes: 0,
  queryId: null,
  sql: 'SELECT * FROM big',
  request: undefined,
  profile: 'prod',
  scanEstimate: { bytes: 5e9, partitions: 40, partitionsTotal: 100 },
};

function sink(replica?: string) {
  const entries: AuditEntry[] = [];
  const log = { append: async (e: AuditEntry) => (entries.push(e), { ok: true }) } as unknown as AuditLog;
  return { entries, sink: new AuditSink(log, createLogger({ destination: new PassThrough(), level: 'silent' }), replica) };
}

test("a team replica writes its id into every record; the scan estimate is kept", () => {
  const team = sink('host-a:123');
  team.sink.record(call);
  assert.equal(team.entries[0]!.replica, 'host-a:123');
  assert.deepEqual(team.entries[0]!.scanEstimate, { bytes: 5e9, partitions: 40, partitionsTotal: 100 });
  const single = sink();
  single.sink.record(call);
  assert.equal('replica' in single.entries[0]!, false, 'a per-user hub writes no replica field');
});
