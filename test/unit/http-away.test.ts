/**
 * A 2025 session whose client hung up on an answer and holds nothing else open (cancel probe F5): its client is
 * most likely gone, and never sends DELETE. The session stays (its client may come back by its id), but it no
 * longer counts among its identity's open editors, whose rate it shared, until it sends again. Counted through
 * the governance's own share computation, in process: no timing decides anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Governance } from '../../src/hub/governance/governance.js';
import type { Session } from '../../src/hub/session/session.js';
import { hubFace } from '../helpers/in-process-face.js';

const URL_ = 'http://127.0.0.1/mcp';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function poster(fetchIt: typeof fetch) {
  return (body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    fetchIt(URL_, { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
}

async function open(post: ReturnType<typeof poster>): Promise<Record<string, string>> {
  const res = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  assert.equal(res.status, 200);
  await res.text();
  const headers = { 'mcp-session-id': res.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);
  return headers;
}

/** How many open editors share the identity's rate, as the rate-limit stage sees it for `session`'s next call. */
async function editors(governance: Governance, session: Session): Promise<number> {
  return (await governance.takeToken(session.facts.identity.name, governance.roleFor(session), session)).sessions;
}

const call = (id: number, query: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query } } });

function setup(t: Parameters<typeof hubFace>[0]) {
  const { fetch: inProcess, warehouse, core, governance, sessions } = hubFace(t);
  const post = poster(inProcess);
  /** Posts a held call, waits until it runs, hangs up, and waits until the hub ended the call. */
  const hangUpMidCall = async (headers: Record<string, string>, session: Session, id: number) => {
    const client = new AbortController();
    const started = warehouse.nextStart();
    const answer = await post(call(id, `select ${id} from held`), headers, client.signal);
    assert.equal(answer.status, 200);
    await started;
    const ended = new Promise<void>((resolve) => core.events.on('call', (c) => c.sessionId === session.id && resolve()));
    client.abort();
    await ended;
  };
  return { inProcess, post, warehouse, governance, sessions, hangUpMidCall };
}

test('a 2025 session whose client hung up mid-call stops counting as an open editor, and counts again when its client comes back', async (t) => {
  const { post, governance, sessions, hangUpMidCall } = setup(t);
  const stayingHeaders = await open(post);
  const goneHeaders = await open(post);
  const [staying, gone] = sessions as [Session, Session];
  assert.equal(await editors(governance, staying), 2);

  await hangUpMidCall(goneHeaders, gone, 1);
  assert.equal(gone.away, true);
  // Before: still 2, for the minute after its last call (50 abandoned sessions: a 50th of the rate each).
  assert.equal(await editors(governance, staying), 1, 'the live editor has the identity\'s rate to itself');

  // Its client comes back with its session id: served, and counted again.
  const back = await post(call(2, 'select 2'), goneHeaders);
  assert.equal(back.status, 200);
  assert.match(await back.text(), /"result"/);
  assert.equal(gone.away, false);
  assert.equal(await editors(governance, staying), 2);
  const still = await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, stayingHeaders);
  assert.equal(still.status, 200);
  await still.text();
});

test('a client that hangs up one answer but still listens or waits for another is not taken for gone', async (t) => {
  const { inProcess, post, warehouse, governance, sessions, hangUpMidCall } = setup(t);
  await open(post);
  const listeningHeaders = await open(post);
  const waitingHeaders = await open(post);
  const [staying, listening, waiting] = sessions as [Session, Session, Session];
  assert.equal(await editors(governance, staying), 3);

  // One holds its GET (notification) stream open.
  const stream = await inProcess(URL_, { method: 'GET', headers: { accept: 'text/event-stream', ...listeningHeaders } });
  assert.equal(stream.status, 200);
  await hangUpMidCall(listeningHeaders, listening, 1);
  assert.equal(listening.away, false);

  // The other still waits for the answer of another call, on its own POST.
  const started = warehouse.nextStart();
  const other = await post(call(5, 'select 5 from held'), waitingHeaders);
  assert.equal(other.status, 200);
  await started;
  await hangUpMidCall(waitingHeaders, waiting, 6);
  assert.equal(waiting.away, false);
  assert.equal(await editors(governance, staying), 3);

  warehouse.releases.get('select 5 from held')!();
  assert.match(await other.text(), /"result"/);
  await stream.body!.cancel();
});
