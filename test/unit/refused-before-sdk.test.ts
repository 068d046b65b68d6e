/**
 * A tools/call the session's transport refuses before the MCP server sees it (the session's bounds, a
 * malformed request) is recorded like every other refused call, and the audit log's back-pressure holds
 * the session's input; its client-chosen tool name never becomes a metric label.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openedLineTransport } from '../helpers/line-transport-rig.js';
import { IDLE_METRICS_SOURCES } from '../helpers/metrics-sources.js';
import { HubMetrics } from '../../src/hub/observe/metrics.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';

/** A session transport refusing past `maxOutstanding` unanswered requests, its refused tool calls going to `record`. */
async function rig(maxOutstanding: number, record: (id: string | number, params: unknown, code: string) => Promise<void> | void) {
  const r = await openedLineTransport({ maxOutstanding, onToolCallRefused: record });
  return { ...r, send: (messages: unknown[]) => r.sendLines(messages.map((m) => JSON.stringify(m))) };
}

const call = (id: number | string, params: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params });

test('tools/call refused by the session bounds or for its shape reaches the recorder with its code; other methods do not', async () => {
  const seen: { id: string | number; params: unknown; code: string }[] = [];
  const r = await rig(2, (id, params, code) => void seen.push({ id, params, code }));
  await r.send([
    call(1, { name: 'execute_query', arguments: { query: 'SELECT 1' } }),
    call(1, { name: 'execute_query', arguments: { query: 'SELECT 2' } }), // id still owed an answer
    call(2, { name: 'list_databases', arguments: {} }),
    call(3, { name: 'execute_query', arguments: { query: 'SELECT 3' } }), // past the 2 unanswered
    { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} }, // past the bound too, but no tool call
  ]);
  assert.equal(r.delivered.length, 2);
  assert.equal(r.replies.length, 3, 'every refused request is still answered');
  assert.deepEqual(seen.map((s) => [s.id, s.code]), [[1, 'INVALID_REQUEST'], [3, 'SESSION_BUSY']]);
  assert.deepEqual(seen[1]!.params, { name: 'execute_query', arguments: { query: 'SELECT 3' } });
  const malformed = await rig(10, (id, params, code) => void seen.push({ id, params, code }));
  await malformed.send([call(9, { arguments: { query: 'SELECT 1' } })]); // no tool name: not the MCP shape
  assert.equal(malformed.replies[0]!.error!.code, -32602);
  assert.deepEqual(seen.at(-1), { id: 9, params: { arguments: { query: 'SELECT 1' } }, code: 'INVALID_REQUEST' });
});

test('while the recorder asks to wait (the audit log\'s back-pressure), the session reads no more input', async () => {
  let release!: () => void;
  const waited = new Promise<void>((resolve) => (release = resolve));
  let records = 0;
  const r = await rig(1, () => {
    records++;
    return waited;
  });
  await r.send([call(1, { name: 't' }), call(2, { name: 't' })]);
  assert.equal(records, 1);
  assert.equal(r.input.isPaused(), true, 'input must wait for the refusal\'s record');
  release();
  await waited;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(r.input.isPaused(), false, 'input resumes once the record is taken');
});

const noSources = IDLE_METRICS_SOURCES;

function refused(tool: string, errorCode: string, toolUnverified?: true): CallRecord {
  return {
    at: new Date().toISOString(), sessionId: 's', identity: 'i', client: 'c', clientInfo: { name: 'c', version: '1' }, tool, requestId: '1',
    ...(toolUnverified ? { toolUnverified } : {}), outcome: 'refused', errorCode, ms: 0, queueWaitMs: 0, runMs: 0, rows: null, bytes: 0, queryId: null, sql: null, request: undefined, profile: null,
  };
}

test('a tool name as the client sent it is a metric label only once a looked-up call had it, whatever the code', async () => {
  const m = new HubMetrics(noSources);
  m.record(refused('made_up_1', 'SESSION_BUSY', true));
  m.record(refused('made_up_2', 'INVALID_REQUEST', true));
  m.record(refused('made_up_3', 'UNKNOWN_TOOL', true));
  m.record(refused('execute_query', 'SESSION_BUSY', true));
  m.record(refused('execute_query', 'SQL_REFUSED'));
  m.record(refused('execute_query', 'SESSION_BUSY', true));
  const text = await m.text();
  assert.doesNotMatch(text, /made_up/);
  assert.match(text, /snowmux_tool_calls_total\{tool="\(unknown\)",outcome="refused"\} 4/);
  assert.match(text, /snowmux_tool_calls_total\{tool="execute_query",outcome="refused"\} 2/);
  assert.match(text, /snowmux_tool_call_failures_total\{outcome="refused",code="SESSION_BUSY"\} 3/);
});

test('a tool the hub registers is its own label from the first call, even one refused before any lookup', async () => {
  const m = new HubMetrics({ ...noSources, knownTools: () => new Set(['execute_query', 'team_report']) });
  m.record(refused('execute_query', 'SESSION_BUSY', true));
  m.record(refused('team_report', 'INVALID_REQUEST', true));
  m.record(refused('made_up', 'SESSION_BUSY', true));
  const text = await m.text();
  assert.match(text, /snowmux_tool_calls_total\{tool="execute_query",outcome="refused"\} 1/);
  assert.match(text, /snowmux_tool_calls_total\{tool="team_report",outcome="refused"\} 1/);
  assert.match(text, /snowmux_tool_calls_total\{tool="\(unknown\)",outcome="refused"\} 1/);
  assert.doesNotMatch(text, /made_up/);
});
