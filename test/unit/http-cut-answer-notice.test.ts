/**
 * An answer an engine cuts because its client does not read it leaves with its bytes already on the
 * connection: a plain JSON answer (a 2026-07-28 request's) cannot be followed by an error, and its client saw
 * only "other side closed". Its session's next request is told what happened and what to do (ANSWER_NOT_READ,
 * under that request's id), once; the one after is served. A tools/call refused so is recorded (status, audit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { hubFace } from '../helpers/in-process-face.js';
import { AnswerBudget } from '../../src/hub/http/answer-budget.js';
import { serveWithNodeHttp } from '../../src/hub/http/node-engine.js';
import { serveWithUws } from '../../src/hub/http/uws-engine.js';
import { createLogger } from '../../src/hub/observe/logger.js';

const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
const ENGINES = { node: serveWithNodeHttp, uws: serveWithUws } as const;
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'agent', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'execute_query' };
const call = (id: number, query: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query }, _meta: MODERN_META } });

for (const engine of ['node', 'uws'] as const) {
  test(`[${engine}] a 2026-07-28 JSON answer the engine cut unread: the session's next request is told why and what to do, once`, async (t) => {
    // A bound of 1 MiB and an answer of ~3 MB: the engine cuts it as it starts writing it.
    const answers = new AnswerBudget(1024 * 1024);
    const { face, warehouse, core } = hubFace(t, { answers });
    const small = warehouse.query.bind(warehouse);
    const big = 'x'.repeat(3_000_000);
    warehouse.query = async (sql, options) => (sql.includes('big') ? { columns: [{ name: 'S', type: 'VARCHAR' }], rows: [[big]], rowCount: 1, truncated: false, elapsedMs: 0 } : small(sql, options));
    const endpoint = await ENGINES[engine](face, '127.0.0.1:0', logger, { bodyTimeoutMs: 5_000, answers });
    t.after(() => endpoint.close());
    const post = (body: string) => fetch(`${endpoint.url}/mcp`, { method: 'POST', headers: HEADERS, body });

    // What the client of the cut answer sees: its connection closed, nothing to say why.
    const cut = await post(call(1, 'select big')).then((res) => res.text()).then(() => 'read whole', (err: Error) => err.message);
    assert.notEqual(cut, 'read whole');
    assert.equal(answers.cuts, 1);

    const next = await post(call(2, 'select 2'));
    assert.equal(next.status, 200);
    const told = (await next.json()) as { id: unknown; error?: { message: string; data?: { code?: string; retryable?: boolean } } };
    assert.equal(told.id, 2);
    assert.equal(told.error?.data?.code, 'ANSWER_NOT_READ');
    assert.equal(told.error?.data?.retryable, true);
    assert.match(told.error?.message ?? '', /cut its answer to this session's earlier request 1 because the client did not read it \(the client did not read its answer: the hub holds \d+ bytes .*\).*Its call had run to its end.*This request was not run: send it again\./);

    // The refused call is audited as every call refused before a tool saw it is (status, audit, metrics): it
    // was answered and logged, and left no record.
    const recent = (core.status() as unknown as { recent: { tool: string; requestId: string; outcome: string; errorCode?: string }[] }).recent;
    const refused = recent.filter((r) => r.requestId === '2');
    assert.equal(refused.length, 1, JSON.stringify(recent));
    assert.equal(refused[0]!.tool, 'execute_query');
    assert.equal(refused[0]!.errorCode, 'ANSWER_NOT_READ');

    // Told once: the same request again is served.
    const again = (await (await post(call(3, 'select 3'))).json()) as { id: unknown; result?: unknown; error?: unknown };
    assert.equal(again.id, 3);
    assert.equal(again.error, undefined);
    assert.ok(again.result);
  });
}
