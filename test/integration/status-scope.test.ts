/**
 * A key holder sees their own sessions and calls in /status and /events, not their teammates' (their SQL,
 * session ids, rate buckets, quota usage); a role with `query_history = "all"` sees everyone's, and the
 * home's owner (the socket) always does. The hub's own facts (state, warehouses, health, totals) are
 * everyone's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempHome } from '../helpers/harness.js';
import { openEventStream } from '../helpers/event-stream.js';
import { createKey, rpcAnswer, startHttpHub } from '../helpers/mcp-http.js';

const INIT_PARAMS = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'scope-test', version: '1' } };
const MARKER = 'SELECT 4242 AS alice_marker';

interface Status {
  sessions: { id: string; identity: { name: string } }[];
  recent: { identity: string; sql: string | null }[];
  totals: { calls: number };
  view?: { identity: string; scope: string };
  governance: { rateLimits: { identity: string }[]; quotas: { identity: string }[] };
  health: { ok: boolean };
}

test('/status and /events show a key holder only their own sessions and calls, unless their role sees everyone\'s', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), [
    '[hub]', 'http_listen = "127.0.0.1:0"', '',
    '[roles.lead]', 'identities = ["carol"]', 'query_history = "all"', '',
    '[roles.analyst]', 'identities = ["alice", "bob"]', '[roles.analyst.quota]', 'window = "1h"', 'queries = 1000', '',
  ].join('\n'));
  const { url } = await startHttpHub(t, home);
  const keys = { alice: await createKey(home, 'alice'), bob: await createKey(home, 'bob'), carol: await createKey(home, 'carol') };
  const auth = (who: keyof typeof keys) => ({ authorization: `Bearer ${keys[who]}` });
  const bobEvents = await openEventStream(t, url, auth('bob'));
  const carolEvents = await openEventStream(t, url, auth('carol'));

  // Alice: a 2025-era session over /mcp and one query.
  const headers: Record<string, string> = { ...auth('alice'), 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const post = (body: unknown) => fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
  headers['mcp-session-id'] = init.headers.get('mcp-session-id')!;
  headers['mcp-protocol-version'] = INIT_PARAMS.protocolVersion;
  await rpcAnswer(init);
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  const answer = (await rpcAnswer(await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'execute_query', arguments: { query: MARKER } } }))) as { result: { isError?: boolean } };
  assert.notEqual(answer.result.isError, true, JSON.stringify(answer));
  const aliceSession = headers['mcp-session-id'];

  const statusOf = async (who: keyof typeof keys): Promise<Status> => {
    const res = await fetch(`${url}/status`, { headers: auth(who) });
    assert.equal(res.status, 200);
    return (await res.json()) as Status;
  };

  // Alice sees her session, her call and her own quota; the hub's facts are there.
  const alice = await statusOf('alice');
  assert.deepEqual(alice.view, { identity: 'alice', scope: 'own' });
  assert.ok(alice.recent.some((c) => c.sql === MARKER), JSON.stringify(alice.recent));
  assert.ok(alice.sessions.every((s) => s.identity.name === 'alice') && alice.sessions.length > 0);
  assert.deepEqual(alice.governance.quotas.map((q) => q.identity), ['alice']);

  // Bob sees the hub (health, totals) but nothing of Alice's: not her SQL, session id, bucket or quota.
  const bob = await statusOf('bob');
  const bobText = JSON.stringify(bob);
  assert.deepEqual(bob.view, { identity: 'bob', scope: 'own' });
  assert.equal(bob.health.ok, true);
  assert.ok(bob.totals.calls >= 1, 'totals stay hub-wide');
  assert.ok(!bobText.includes('alice_marker'), bobText);
  assert.ok(!bobText.includes(aliceSession), 'another identity\'s session id');
  assert.ok(!bobText.includes('"alice"'), bobText);

  // Carol's role sees everyone's.
  const carol = await statusOf('carol');
  assert.equal(carol.view, undefined);
  assert.ok(carol.recent.some((c) => c.identity === 'alice' && c.sql === MARKER));
  assert.ok(carol.sessions.some((s) => s.id === aliceSession));

  // /events: Carol heard Alice's call; Bob, whose stream was open all along, heard none of Alice's session.
  await carolEvents.waitFor((e) => e.event === 'call' && e.data.sessionId === aliceSession);
  // Bob's own event after Alice's: the stream is in order, so once it arrives anything of Alice's would have too.
  await fetch(`${url}/mcp`, { method: 'POST', headers: { ...auth('bob'), 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS }) }).then(rpcAnswer);
  await bobEvents.waitFor((e) => e.event === 'session_open' && e.data.identity === 'bob');
  assert.ok(!bobEvents.raw().includes(aliceSession), bobEvents.raw());
  assert.ok(!bobEvents.raw().includes('"alice"'), bobEvents.raw());

  // The home's owner, over the socket, sees everything.
  const local = await runCli(['status', '--json', '--home', home]);
  assert.equal(local.code, 0, local.stderr);
  assert.ok(local.stdout.includes('alice_marker'));
});

test('an /events stream open when a reload takes its role\'s query_history = "all" away hears only its own sessions and calls from then on', async (t) => {
  const home = tempHome(t);
  const config = (leads: string) => ['[hub]', 'http_listen = "127.0.0.1:0"', '', '[roles.lead]', `identities = [${leads}]`, 'query_history = "all"', ''].join('\n');
  writeFileSync(join(home, 'config.toml'), config('"carol"'));
  const { url } = await startHttpHub(t, home);
  const keys = { alice: await createKey(home, 'alice'), carol: await createKey(home, 'carol') };
  const auth = (who: keyof typeof keys) => ({ authorization: `Bearer ${keys[who]}` });
  const open = (who: keyof typeof keys, name: string) =>
    fetch(`${url}/mcp`, { method: 'POST', headers: { ...auth(who), 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { ...INIT_PARAMS, clientInfo: { name, version: '1' } } }) }).then(rpcAnswer);
  const carolEvents = await openEventStream(t, url, auth('carol'));
  await open('alice', 'alice-before');
  await carolEvents.waitFor((e) => e.event === 'session_open' && e.data.identity === 'alice');

  // Carol leaves the lead role; her stream stays open.
  writeFileSync(join(home, 'config.toml'), config('"dana"'));
  const reloaded = await runCli(['reload', '--home', home]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  const status = (await (await fetch(`${url}/status`, { headers: auth('carol') })).json()) as Status;
  assert.deepEqual(status.view, { identity: 'carol', scope: 'own' });
  const heard = carolEvents.events.length;
  await open('alice', 'alice-after');
  // Carol's own event after Alice's: the stream is in order, so anything of Alice's would have come first.
  await open('carol', 'carol-own');
  await carolEvents.waitFor((e) => e.event === 'session_open' && e.data.identity === 'carol');
  const since = carolEvents.events.slice(heard);
  assert.ok(!since.some((e) => e.data.identity === 'alice'), JSON.stringify(since));
  assert.ok(!JSON.stringify(since).includes('alice-after'), JSON.stringify(since));
});
