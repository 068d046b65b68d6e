import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AUDIT_MAX_TEXT_CHARS } from '../../src/hub/audit/audit-redact.js';
import type { AuditEntry } from '../../src/hub/audit/audit-record.js';
import type { AuditLog } from '../../src/hub/audit/audit-log.js';
import { AuditSink } from '../../src/hub/governance/audit-sink.js';
import { SnowmuxError, isSnowmuxError } from '../../src/errors.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { createRuntime } from '../../src/hub/runtime.js';
import { tempHome } from '../helpers/harness.js';

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
  void team.sink.record(call);
  assert.equal(team.entries[0]!.replica, 'host-a:123');
  assert.deepEqual(team.entries[0]!.scanEstimate, { bytes: 5e9, partitions: 40, partitionsTotal: 100 });
  const single = sink();
  void single.sink.record(call);
  assert.equal('replica' in single.entries[0]!, false, 'a per-user hub writes no replica field');
});

test('a write that may have run says so in its tool_call record (detail.mayHaveRun), beside a held record\'s heldFrom; other records carry no detail', () => {
  const { entries, sink: s } = sink();
  void s.record({ ...call, outcome: 'cancelled', errorCode: 'QUERY_CANCELLED', mayHaveRun: true, queryId: 'q1' });
  void s.record({ ...call, mayHaveRun: true, heldFrom: '2026-01-01T00:00:00.000Z' });
  void s.record(call);
  assert.deepEqual(entries.map((e) => e.detail), [{ mayHaveRun: true }, { heldFrom: '2026-01-01T00:00:00.000Z', mayHaveRun: true }, undefined]);
});

test("a record that could not be written is logged with its cause in `reason` (a second `msg` was dropped by log readers); the answer waits only when the log holds answers", async () => {
  const lines: Record<string, unknown>[] = [];
  const out = new PassThrough();
  out.on('data', (c: Buffer) => c.toString('utf8').split('\n').filter(Boolean).forEach((l) => lines.push(JSON.parse(l) as Record<string, unknown>)));
  let holds = false;
  const log = {
    append: async () => ({ ok: false, error: { code: 'AUDIT_WRITE_FAILED', message: 'Could not write audit record seq 7: ENOSPC: no space left on device' } }),
    get holdsAnswers() {
      return holds;
    },
  } as unknown as AuditLog;
  const failing = new AuditSink(log, createLogger({ destination: out, level: 'info' }), undefined, { onFailure: 'serve' });
  assert.equal(failing.record(call), undefined);
  holds = true;
  const held = failing.record(call);
  assert.ok(held instanceof Promise);
  await held;
  await new Promise((r) => setImmediate(r));
  assert.equal(lines[0]!.msg, 'audit write failed');
  assert.match(String(lines[0]!.reason), /ENOSPC/);
});

test('on_failure "refuse" (the default): a call whose record failed gets AUDIT_UNAVAILABLE, and new calls are refused while the log fails; "serve" only warns; a write_started that failed stops the statement either way', async () => {
  let failing: { since: string; code: string; message: string } | null = null;
  let ok = true;
  const log = {
    append: async () => (ok ? { ok: true, seq: 1, hash: 'h' } : { ok: false, error: new SnowmuxError('AUDIT_WRITE_FAILED', 'Could not write audit record seq 7: ENOSPC: no space left on device') }),
    holdsAnswers: false,
    get failingNow() {
      return failing;
    },
    directory: '/var/audit',
  } as unknown as AuditLog;
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const refuse = new AuditSink(log, logger);
  const serve = new AuditSink(log, logger, undefined, { onFailure: 'serve' });
  // Written: the answer waits for its record (one write, not an fsync under "interval") and goes out.
  await refuse.record(call);
  assert.equal(refuse.unavailable(), undefined);
  ok = false;
  failing = { since: '2026-01-01T00:00:00.000Z', code: 'AUDIT_WRITE_FAILED', message: 'ENOSPC' };
  await assert.rejects(refuse.record(call) as Promise<void>, (err: unknown) => isSnowmuxError(err, 'AUDIT_UNAVAILABLE') && /\/var\/audit/.test(err.message) && /ENOSPC/.test(err.message) && /withheld/.test(err.message));
  const trouble = refuse.unavailable();
  assert.equal(trouble?.refuse, true);
  assert.equal(trouble?.error.code, 'AUDIT_UNAVAILABLE');
  assert.match(trouble?.error.message ?? '', /Free space on the disk holding \/var\/audit/);
  assert.equal(serve.record(call), undefined, 'serve: answered without waiting, as before');
  assert.equal(serve.unavailable()?.refuse, false);
  for (const s of [refuse, serve]) {
    await assert.rejects(s.recordStarted(call), (err: unknown) => isSnowmuxError(err, 'AUDIT_UNAVAILABLE') && /not sent/.test(err.message));
  }
});

test('a call with huge SQL or arguments is bounded once, before every sink: status and the audit keep the same prefix and sha256', async (t) => {
  const home = tempHome(t, 'audit-held-');
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const runtime = await createRuntime({ home, logger, env: {} });
  await runtime.openAudit();
  const seen: CallRecord[] = [];
  runtime.sinks.push({ record: (c) => void seen.push(c) });
  const base: CallRecord = {
    at: new Date(0).toISOString(), sessionId: 's', identity: 'alice', client: 'c/1', clientInfo: { name: 'c', version: '1' },
    tool: 'execute_query', requestId: '1', outcome: 'refused', errorCode: 'SQL_REFUSED', ms: 1, queueWaitMs: 0, runMs: 0,
    rows: 0, bytes: 0, queryId: null, sql: null, request: undefined, profile: 'embedded',
  };
  const sql = `DELETE FROM t WHERE c = '${'x'.repeat(4 * 1024 * 1024)}'`;
  for (const call of [{ ...base, sql }, { ...base, tool: 'nope', errorCode: 'UNKNOWN_TOOL', request: { junk: 'j'.repeat(1024 * 1024) } }]) {
    const scrubbed = runtime.scrubCall(call);
    for (const sink of runtime.sinks) void sink.record(scrubbed);
  }
  await runtime.close('test over');
  const [query, unknown] = seen;
  assert.equal(query?.sql?.length, AUDIT_MAX_TEXT_CHARS);
  assert.equal(query?.sqlTruncated?.sha256, createHash('sha256').update(sql).digest('hex'));
  assert.equal(query?.sqlTruncated?.bytes, sql.length);
  assert.deepEqual(Object.keys(unknown?.request ?? {}), ['truncatedJson']);
  assert.ok(unknown?.requestTruncated);
  const dir = join(home, 'audit');
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.kind === 'tool_call');
  assert.equal(records.length, 2);
  assert.equal(records[0]?.sql, query?.sql);
  assert.deepEqual(records[0]?.sqlTruncated, query?.sqlTruncated);
  assert.deepEqual(records[1]?.request, unknown?.request);
  assert.deepEqual(records[1]?.requestTruncated, unknown?.requestTruncated);
});

test("a query call's arguments beside its SQL reach the audit entry with the SQL, bounded as handed", () => {
  const { entries, sink: s } = sink();
  const requestTruncated = { bytes: 99_999, sha256: 'a'.repeat(64) };
  void s.record({ ...call, outcome: 'ok', errorCode: null, tool: 'nation_by_region', sql: 'SELECT n FROM t WHERE r = ?', request: { region: 'ASIA' } });
  void s.record({ ...call, outcome: 'ok', errorCode: null, request: { truncatedJson: '{"database":"' }, requestTruncated });
  assert.equal(entries[0]!.sql, 'SELECT n FROM t WHERE r = ?');
  assert.deepEqual(entries[0]!.request, { region: 'ASIA' });
  assert.deepEqual([entries[1]!.request, entries[1]!.requestTruncated], [{ truncatedJson: '{"database":"' }, requestTruncated]);
});
