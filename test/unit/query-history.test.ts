import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { QueryHistory } from '../../src/hub/observe/query-history.js';

let n = 0;
const call = (identity: string, sql: string | null, outcome: CallRecord['outcome'] = 'ok'): CallRecord => ({
  at: new Date(1_700_000_000_000 + n++).toISOString(),
  sessionId: 's',
  identity,
  client: 'c/1',
  clientInfo: { name: 'c', version: '1' },
  tool: sql === null ? 'list_tables' : 'execute_query',
  requestId: String(n),
  outcome,
  errorCode: outcome === 'ok' ? null : 'SQL_REFUSED',
  ms: 1,
  queueWaitMs: 0,
  runMs: 1,
  rows: 1,
  bytes: 10,
  queryId: `q${n}`,
  sql,
  request: sql === null ? {} : undefined,
  profile: 'embedded',
});

test('each identity sees only its own SQL calls, newest first; metadata calls are not queries', () => {
  const h = new QueryHistory();
  h.record(call('alice', 'SELECT 1'));
  h.record(call('bob', 'SELECT 2'));
  h.record(call('alice', null));
  h.record(call('alice', 'DELETE FROM t', 'refused'));
  assert.deepEqual(h.of('alice', 10).map((c) => c.sql), ['DELETE FROM t', 'SELECT 1']);
  assert.deepEqual(h.of('bob', 10).map((c) => c.sql), ['SELECT 2']);
  assert.deepEqual(h.of('carol', 10), []);
});

test('memory is bounded: the last calls per identity, the most recently active identities', () => {
  const h = new QueryHistory(3, 2);
  for (let i = 0; i < 5; i++) h.record(call('alice', `SELECT ${i}`));
  assert.deepEqual(h.of('alice', 10).map((c) => c.sql), ['SELECT 4', 'SELECT 3', 'SELECT 2']);
  h.record(call('bob', 'SELECT b'));
  h.record(call('carol', 'SELECT c'));
  assert.deepEqual(h.of('alice', 10), [], 'the least recently active identity is forgotten');
  assert.equal(h.of('carol', 10).length, 1);
});
