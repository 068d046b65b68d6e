/**
 * The known-secret scrub is no guess oracle: a key holder's own view of its calls (query_history, /status)
 * shows its SQL as it wrote it, while the audit log and everyone else's view keep the hub's secrets out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../helpers/harness.js';
import { createKey, rpcAnswer, startHttpHub } from '../helpers/mcp-http.js';

const INIT_PARAMS = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'guess-test', version: '1' } };
const SECRET = 'Sup3rS3cretPw!';
const GUESS = `SELECT 1 AS g1 WHERE 'x' IN ('Password1','${SECRET}')`;

test("a caller's own calls are not scrubbed with the hub's secrets (no guess oracle); the audit and other viewers' copies are", async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), [
    '[hub]', 'http_listen = "127.0.0.1:0"', '',
    // An answered call is an audited one: the file is read below without waiting.
    '[audit]', 'fsync = "always"', '',
    '[profiles.other]', 'account = "acme-x1"', 'user = "SVC"', `password = '${SECRET}'`, '',
    '[roles.lead]', 'identities = ["carol"]', 'query_history = "all"', '',
  ].join('\n'));
  const { url } = await startHttpHub(t, home);
  const keys = { ops: await createKey(home, 'ops'), carol: await createKey(home, 'carol') };
  const session = async (who: keyof typeof keys) => {
    const headers: Record<string, string> = { authorization: `Bearer ${keys[who]}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const post = (body: unknown) => fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT_PARAMS });
    headers['mcp-session-id'] = init.headers.get('mcp-session-id')!;
    headers['mcp-protocol-version'] = INIT_PARAMS.protocolVersion;
    await rpcAnswer(init);
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    let id = 2;
    return async (name: string, args: Record<string, unknown>) => (await rpcAnswer(await post({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: args } }))) as { result: { structuredContent?: { queries?: { identity: string; sql: string }[] } } };
  };
  const ops = await session('ops');
  await ops('execute_query', { query: GUESS });
  const own = await ops('query_history', {});
  assert.deepEqual(own.result.structuredContent?.queries?.map((q) => q.sql), [GUESS], 'the caller sees its text as written');
  const opsStatus = (await (await fetch(`${url}/status`, { headers: { authorization: `Bearer ${keys.ops}` } })).json()) as { recent: { sql: string | null }[] };
  assert.ok(opsStatus.recent.some((c) => c.sql === GUESS), JSON.stringify(opsStatus.recent));

  // Another viewer (a role that sees everyone's calls) gets the audit's copy.
  const carol = await session('carol');
  const all = await carol('query_history', { all_identities: true });
  const opsCall = all.result.structuredContent?.queries?.find((q) => q.identity === 'ops');
  assert.equal(opsCall?.sql, "SELECT 1 AS g1 WHERE 'x' IN ('Password1','[REDACTED]')");
  const carolStatus = await (await fetch(`${url}/status`, { headers: { authorization: `Bearer ${keys.carol}` } })).text();
  assert.equal(carolStatus.includes(SECRET), false);
  assert.equal(carolStatus.includes('callerView'), false);

  const dir = join(home, 'audit');
  const audit = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  assert.match(audit, /'Password1','\[REDACTED\]'/);
  assert.equal(audit.includes(SECRET), false);
  assert.equal(readFileSync(join(home, 'hub.log'), 'utf8').includes(SECRET), false);
});
