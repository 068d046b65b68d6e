/**
 * Traces (issue 12): a W3C traceparent arriving in a request's `_meta` is honoured — the hub's span for
 * the call is its child, its stages are children of that span, and they reach an OTLP/HTTP collector
 * (here an in-process receiver) — and the same trace id leaves in Snowflake's QUERY_TAG (as the double
 * received it) and in the hash-chained audit record. Without a traceparent a call starts its own trace.
 * Without an exporter, an incoming trace id still reaches QUERY_TAG and the audit record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parseQueryTag } from '../../src/hub/warehouse/snowflake/query-tag.js';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, defer, freePort, runCli, startHub, tempHome, textOf, type Cleanup } from '../helpers/harness.js';

const me = userInfo().username;
const PASSWORD = 'traces-pw';
const SAMPLE_ENV = (d: { url: string; account: string }) => profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const EDITOR_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${EDITOR_SPAN}-01`;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

interface Receiver {
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
  posts: number;
  /** The HTTP status it answers with (200: accepted; 400: refused, which the exporter does not retry). */
  status: number;
  /** Resolves once `n` export requests have arrived. */
  posted(n: number): Promise<void>;
}

/** An OTLP/HTTP collector in this process: every POST /v1/traces (JSON) is kept. */
async function startReceiver(t: Cleanup): Promise<Receiver> {
  const events = new EventEmitter();
  const state: Receiver = {
    url: '',
    spans: [],
    services: new Set<string>(),
    posts: 0,
    status: 200,
    posted: (n) => (state.posts >= n ? Promise.resolve() : new Promise<void>((resolve) => {
      const check = () => {
        if (state.posts < n) return;
        events.off('post', check);
        resolve();
      };
      events.on('post', check);
    })),
  };
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(404).end();
        return;
      }
      if (state.status !== 200) {
        res.writeHead(state.status, { 'content-type': 'application/json' }).end('{}');
        state.posts++;
        events.emit('post');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        if (service) state.services.add(service);
        for (const ss of rs.scopeSpans) state.spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      state.posts++;
      events.emit('post');
    });
  });
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  defer(t, () => new Promise<void>((r) => server.close(() => r())));
  state.url = `http://127.0.0.1:${port}`;
  return state;
}

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? v.boolValue ?? (v.intValue === undefined ? v.doubleValue : Number(v.intValue));
}

function auditRecords(home: string): Record<string, unknown>[] {
  const dir = join(home, 'audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
}

test('a traceparent in _meta: the call\'s spans reach the OTLP receiver under that trace, which leaves in QUERY_TAG and the audit record', async (t) => {
  const receiver = await startReceiver(t);
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  // A scan limit the query stays under, so the pre-flight (EXPLAIN) runs and is a span too.
  writeFileSync(join(home, 'config.toml'), `
[hub]
otel_endpoint = "${receiver.url}"
otel_service_name = "snowmux-test"
otel_headers = { "x-collector-key" = "collector-secret-123" }
[roles.analyst]
identities = ["${me}"]
max_scan_bytes = 100000000
`);
  const hub = await startHub(t, home, [], SAMPLE_ENV(d));
  const client = await connectClient(t, { home, kind: 'v2-modern', name: 'traced-editor' });

  const result = await client.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY LIMIT 2' }, { meta: { traceparent: TRACEPARENT, tracestate: 'vendor=abc' } });
  assert.ok(!result.isError, textOf(result));
  const queryId = (result.structuredContent as { query_id: string }).query_id;

  // QUERY_TAG as Snowflake (the double) received it: the pre-flight EXPLAIN and the query both carry the trace.
  const select = d.queries.find((q) => q.sql.startsWith('SELECT N_NAME'));
  const explain = d.queries.find((q) => q.sql.startsWith('EXPLAIN') && q.sql.includes('N_NAME'));
  assert.ok(select && explain, d.queries.map((q) => q.sql).join('\n'));
  assert.equal(parseQueryTag(select.queryTag)?.trace, TRACE_ID, select.queryTag);
  assert.equal(parseQueryTag(explain.queryTag)?.trace, TRACE_ID, explain.queryTag);
  assert.equal(parseQueryTag(select.queryTag)?.t, 'execute_query');

  // Without a traceparent, the hub starts a trace of its own, and that id is the one in QUERY_TAG.
  const own = await client.callTool('execute_query', { query: 'SELECT R_NAME FROM REGION ORDER BY R_REGIONKEY LIMIT 1' });
  assert.ok(!own.isError, textOf(own));
  const ownTag = parseQueryTag(d.queries.find((q) => q.sql.startsWith('SELECT R_NAME'))!.queryTag);
  assert.match(ownTag?.trace ?? '', /^[0-9a-f]{32}$/);
  assert.notEqual(ownTag?.trace, TRACE_ID);

  // query_history shows the trace id with each call.
  const history = await client.callTool('query_history', {});
  const rows = (history.structuredContent as { queries: { sql: string; trace_id: string | null }[] }).queries;
  assert.equal(rows.find((r) => r.sql.startsWith('SELECT N_NAME'))?.trace_id, TRACE_ID);

  await client.close();
  // A graceful stop flushes the spans still buffered: they are all at the receiver once the hub exited.
  assert.equal(await hub.stop(), 0);

  assert.deepEqual([...receiver.services], ['snowmux-test']);
  const traced = receiver.spans.filter((s) => s.traceId === TRACE_ID);
  const root = traced.find((s) => s.name === 'tools/call execute_query');
  assert.ok(root, `spans: ${receiver.spans.map((s) => `${s.name}@${s.traceId}`).join(', ')}`);
  assert.equal(root.parentSpanId, EDITOR_SPAN, 'the call is a child of the editor\'s span');
  assert.equal(root.kind, 2, 'SERVER');
  assert.equal(attr(root, 'gen_ai.tool.name'), 'execute_query');
  assert.equal(attr(root, 'snowmux.identity'), me);
  assert.equal(attr(root, 'snowmux.outcome'), 'ok');
  assert.equal(attr(root, 'snowmux.role'), 'analyst');
  assert.equal(attr(root, 'snowmux.query_id'), queryId);
  assert.equal(attr(root, 'snowmux.rows'), 2);
  const children = traced.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name).sort();
  assert.deepEqual(children, ['audit', 'pre-flight', 'queue wait', 'shape', 'warehouse query']);
  const warehouse = traced.find((s) => s.name === 'warehouse query')!;
  assert.equal(attr(warehouse, 'db.system.name'), 'snowflake');
  assert.equal(attr(warehouse, 'snowmux.query_id'), queryId);
  const preflight = traced.find((s) => s.name === 'pre-flight')!;
  assert.equal(typeof attr(preflight, 'snowmux.scan.bytes'), 'number');
  // The hub's own trace for the second call, and the spans of query_history, arrived too.
  assert.ok(receiver.spans.some((s) => s.traceId === ownTag?.trace && s.name === 'tools/call execute_query' && !s.parentSpanId));
  assert.ok(receiver.spans.some((s) => s.name === 'tools/call query_history'));

  // The audit record carries the trace id, and the hash chain still verifies.
  const record = auditRecords(home).find((r) => r.kind === 'tool_call' && r.queryId === queryId);
  assert.equal(record?.traceId, TRACE_ID);
  const verify = await runCli(['audit', 'verify', '--home', home]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  // The collector's key is a secret: never in the hub's log or status.
  assert.ok(!readFileSync(join(home, 'hub.log'), 'utf8').includes('collector-secret-123'));
});

test('no exporter configured: an incoming traceparent still reaches QUERY_TAG and the audit record; an invalid one is ignored', async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  const home = tempHome(t);
  const hub = await startHub(t, home, [], SAMPLE_ENV(d));
  const client = await connectClient(t, { home, kind: 'v2-legacy', name: 'untraced-editor' });
  const ok = await client.callTool('execute_query', { query: 'SELECT 42 AS A' }, { meta: { traceparent: TRACEPARENT } });
  assert.ok(!ok.isError, textOf(ok));
  const bad = await client.callTool('execute_query', { query: 'SELECT 43 AS A' }, { meta: { traceparent: `00-${'0'.repeat(32)}-${EDITOR_SPAN}-01` } });
  assert.ok(!bad.isError, textOf(bad));
  const none = await client.callTool('execute_query', { query: 'SELECT 44 AS A' });
  assert.ok(!none.isError, textOf(none));
  const tagOf = (sql: string) => parseQueryTag(d.queries.find((q) => q.sql === sql)!.queryTag);
  assert.equal(tagOf('SELECT 42 AS A')?.trace, TRACE_ID);
  assert.equal(tagOf('SELECT 43 AS A')?.trace, undefined, 'an all-zero trace id is invalid (W3C)');
  assert.equal(tagOf('SELECT 44 AS A')?.trace, undefined, 'no exporter and no traceparent: no trace id');
  await client.close();
  assert.equal(await hub.stop(), 0);
  const records = auditRecords(home).filter((r) => r.kind === 'tool_call');
  assert.equal(records.find((r) => r.sql === 'SELECT 42 AS A')?.traceId, TRACE_ID);
  assert.ok(!('traceId' in records.find((r) => r.sql === 'SELECT 44 AS A')!));
  assert.equal((await runCli(['audit', 'verify', '--home', home])).code, 0);
});

test('a collector that refuses spans never fails a call: the hub warns once, says when export works again, and status shows it', async (t) => {
  const receiver = await startReceiver(t);
  receiver.status = 400;
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\notel_endpoint = "${receiver.url}/v1/traces"\n`);
  // Export batches every 20 ms (the SDK's standard OTEL_BSP_SCHEDULE_DELAY), so each call's spans go out promptly.
  const hub = await startHub(t, home, [], { OTEL_BSP_SCHEDULE_DELAY: '20' });
  const client = await connectClient(t, { home, kind: 'v2-legacy', name: 'refused-collector' });
  for (let i = 1; i <= 3; i++) {
    const r = await client.callTool('execute_query', { query: `SELECT ${i} AS N` });
    assert.ok(!r.isError, textOf(r));
    await receiver.posted(i);
  }
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { traces: { url: string; spansDropped: number; failing: boolean } };
  assert.equal(status.traces.url, `${receiver.url}/v1/traces`);
  assert.equal(status.traces.failing, true);
  assert.ok(status.traces.spansDropped >= 3, JSON.stringify(status.traces));
  receiver.status = 200;
  const posts = receiver.posts;
  const ok = await client.callTool('execute_query', { query: 'SELECT 4 AS N' });
  assert.ok(!ok.isError, textOf(ok));
  await receiver.posted(posts + 1);
  await client.close();
  assert.equal(await hub.stop(), 0);
  assert.ok(receiver.spans.some((s) => s.name === 'tools/call execute_query'));
  const log = readFileSync(join(home, 'hub.log'), 'utf8');
  assert.equal(log.split('trace export failed').length - 1, 1, 'one warning for the whole outage');
  assert.equal(log.split('trace export works again').length - 1, 1);
});
