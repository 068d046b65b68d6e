/**
 * A quota's usage outlives the hub process: a daily budget spent before a restart, or before a
 * `hub --replace`, is still spent after it. Before, the usage lived only in memory and every restart gave
 * every identity its whole budget again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { once } from 'node:events';
import { connectClient, runCli, startHub, tempHome, textOf, type AnyClient, type ToolResult } from '../helpers/harness.js';

const me = userInfo().username;

function codeOf(r: ToolResult): string | undefined {
  return (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;
}

/** A role for this user with a daily quota of `queries`. */
function meteredConfig(queries: number): string {
  return `
[roles.metered]
identities = ["${me}"]
[roles.metered.quota]
window = "1d"
queries = ${queries}
`;
}

async function run(c: AnyClient, n: number): Promise<string> {
  const r = await c.callTool('execute_query', { query: `SELECT ${n} AS n` });
  return codeOf(r) ?? (r.isError ? `error: ${textOf(r)}` : 'ran');
}

type Status = { governance: { quotas: { identity: string; windows: { used: { queries: number } }[] }[] } };
async function usedQueries(home: string): Promise<number | undefined> {
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as Status;
  return status.governance.quotas.find((q) => q.identity === me)?.windows[0]?.used.queries;
}

test('a daily quota spent before a hub restart or a hub --replace stays spent after it', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), meteredConfig(3));
  const first = await startHub(t, home);
  const a = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.deepEqual([await run(a, 1), await run(a, 2)], ['ran', 'ran']);
  await a.close();
  assert.equal(await first.stop(), 0);

  const second = await startHub(t, home);
  const b = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.deepEqual([await run(b, 3), await run(b, 4)], ['ran', 'QUOTA_EXCEEDED'], 'one query was left of the day\'s three');
  await b.close();
  assert.equal(lstatSync(join(home, 'quota-usage.json')).mode & 0o077, 0, 'kept in a file closed to others');

  // A replace: the new hub adds what the replaced one counted once that one has exited.
  await startHub(t, home, ['--replace']);
  if (second.proc.exitCode === null && second.proc.signalCode === null) await once(second.proc, 'exit');
  let used: number | undefined;
  // Each status is a process of its own: polled until the hand-over is done (the hub polls the claim every few ms).
  for (let i = 0; i < 100 && (used = await usedQueries(home)) !== 3; i++);
  assert.equal(used, 3, 'status shows the day\'s usage after the replace');
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.equal(await run(c, 5), 'QUOTA_EXCEEDED');
});

test('quota usage that cannot be written to the home is a warning in status (a restart would give it back), gone once it is written again', async (t) => {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), meteredConfig(50));
  const hub = await startHub(t, home);
  // The hub writes quota-usage.json through <file>.<pid>.tmp: a directory in that place makes every write fail
  // (EISDIR), as a full disk would (ENOSPC), whoever runs the test (root passes permission checks).
  const blocker = join(home, `quota-usage.json.${hub.proc.pid}.tmp`);
  mkdirSync(blocker);
  const c = await connectClient(t, { home, kind: 'v2-legacy' });
  assert.equal(await run(c, 1), 'ran');
  const healthOf = async (): Promise<{ ok: boolean; warnings: string[] }> => (JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { health: { ok: boolean; warnings: string[] } }).health;
  const warningOf = async (): Promise<string | undefined> => (await healthOf()).warnings.find((w) => w.startsWith('quota usage could not be written'));
  // The write follows a change of usage within a second; each status is a process of its own.
  let warning: string | undefined;
  for (let i = 0; i < 100 && (warning = await warningOf()) === undefined; i++);
  assert.ok(warning !== undefined, 'status warns that quota usage is not kept');
  assert.match(warning, /quota-usage\.json/);
  assert.match(warning, /EISDIR/);
  assert.match(warning, /a restart or `hub --replace` now would give every identity back what it used since/);
  assert.equal((await healthOf()).ok, true, 'a warning, not unhealthy: calls are still served and counted');
  // The person at the terminal sees it too, not only a JSON reader.
  assert.match((await runCli(['status', '--home', home])).stdout, /warning: quota usage could not be written/);

  rmdirSync(blocker);
  assert.equal(await run(c, 2), 'ran');
  for (let i = 0; i < 100 && (await warningOf()) !== undefined; i++);
  assert.equal(await warningOf(), undefined, 'the warning goes once usage is written again');
});
