/**
 * Who ran which query outlives the hub process: after a restart, and after a `hub --replace`, another
 * identity still cannot page (fetch_results), profile (query_profile) or list the statistics of a result
 * by its id, while its owner still reaches it. Before, the owners lived only in the hub's memory, and an
 * unknown owner let every unrestricted role through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { connectClient, startHub, tempHome, textOf, type AnyClient, type Cleanup, type HubProcess, type ToolResult } from '../helpers/harness.js';
import { createKey } from '../helpers/mcp-http.js';

const CONFIG = `
[hub]
http_listen = "127.0.0.1:0"
`;

function codeOf(r: ToolResult): string | undefined {
  return (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;
}

/** The URL the hub serves HTTP on, once it says so (a replacing hub opens HTTP after its socket). */
async function httpUrl(hub: HubProcess): Promise<string> {
  const said = () => /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  while (said() === undefined) {
    const [chunk] = (await Promise.race([once(hub.proc.stderr!, 'data'), once(hub.proc, 'exit').then(() => [undefined])])) as [unknown];
    if (chunk === undefined) throw new Error(`the hub exited before serving HTTP:\n${hub.stderr()}`);
  }
  return said()!;
}

async function clientsOf(t: Cleanup, home: string, hub: HubProcess, keys: { alice: string; bob: string }): Promise<{ alice: AnyClient; bob: AnyClient }> {
  const url = await httpUrl(hub);
  return {
    alice: await connectClient(t, { home, kind: 'v2-modern', command: 'http', http: { url, key: keys.alice } }),
    bob: await connectClient(t, { home, kind: 'v2-modern', command: 'http', http: { url, key: keys.bob } }),
  };
}

/** Bob is refused every read of alice's result by id, as the owner's; alice gets past the owner rule. */
async function assertOwnerKept(alice: AnyClient, bob: AnyClient, queryId: string, when: string): Promise<void> {
  for (const [tool, args] of [
    ['fetch_results', { query_id: queryId }],
    ['fetch_results', { query_id: queryId.toUpperCase() }],
    ['query_profile', { query_id: queryId }],
  ] as const) {
    const refused = await bob.callTool(tool, args);
    assert.equal(codeOf(refused), 'POLICY_DENIED', `${when}: bob's ${tool}: ${textOf(refused)}`);
    assert.match(textOf(refused), /run by another user[\s\S]*rule: result-owner/, when);
  }
  const own = await alice.callTool('fetch_results', { query_id: queryId });
  assert.notEqual(codeOf(own), 'POLICY_DENIED', `${when}: the owner is not refused: ${textOf(own)}`);
}

test('after a hub restart and after hub --replace, another identity still cannot page a result by its id; the owner still can', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), CONFIG);
  const keys = { alice: await createKey(home, 'alice'), bob: await createKey(home, 'bob') };

  const first = await startHub(t, home);
  const before = await clientsOf(t, home, first, keys);
  const ran = await before.alice.callTool('execute_query', { query: 'SELECT N_NAME FROM NATION ORDER BY N_NATIONKEY LIMIT 3' });
  assert.ok(!ran.isError, textOf(ran));
  const queryId = (ran.structuredContent as { query_id: string | null }).query_id;
  assert.ok(queryId, 'the embedded warehouse gives a query id');
  await assertOwnerKept(before.alice, before.bob, queryId, 'same hub');
  await before.alice.close();
  await before.bob.close();

  // The journal is the user's own, closed to others.
  const journal = lstatSync(join(home, 'result-owners.jsonl'));
  assert.ok(journal.isFile());
  assert.equal(journal.mode & 0o077, 0);
  assert.ok(!readFileSync(join(home, 'result-owners.jsonl'), 'utf8').includes('smx_'), 'no key in it');

  assert.equal(await first.stop(), 0);
  const second = await startHub(t, home);
  const restarted = await clientsOf(t, home, second, keys);
  await assertOwnerKept(restarted.alice, restarted.bob, queryId, 'after a restart');
  // A result run on the restarted hub is kept too, through a replace that takes over from it.
  const again = await restarted.alice.callTool('execute_query', { query: 'SELECT 42 AS answer' });
  const secondId = (again.structuredContent as { query_id: string | null }).query_id;
  assert.ok(secondId, textOf(again));
  await restarted.alice.close();
  await restarted.bob.close();

  const third = await startHub(t, home, ['--replace']);
  const replaced = await clientsOf(t, home, third, keys);
  await assertOwnerKept(replaced.alice, replaced.bob, queryId, 'after a replace');
  await assertOwnerKept(replaced.alice, replaced.bob, secondId, 'after a replace (run on the replaced hub)');
  await second.stop();
});
