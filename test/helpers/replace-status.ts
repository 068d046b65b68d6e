/**
 * What the `hub --replace` tests ask of whichever hub holds a home's socket: who it is (status), until it is a
 * given one, and whether it serves a session.
 */
import { join } from 'node:path';
import { initialize, rawLink, runCli, type Cleanup } from './harness.js';

/** The hub answering `snowmux status` for `home` (pid and state), or null when none answers. */
export async function hubStatus(home: string): Promise<{ pid: number; state: string } | null> {
  const r = await runCli(['status', '--json', '--home', home]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { pid: number; state: string }) : null;
}

/** Status until it names `pid` (the old hub takes its socket back a moment after the new one gives up), bounded. */
export async function statusNaming(home: string, pid: number, withinMs = 15_000): Promise<{ pid: number; state: string } | null> {
  const deadline = Date.now() + withinMs;
  let last = await hubStatus(home);
  while (last?.pid !== pid && Date.now() < deadline) last = await hubStatus(home);
  return last;
}

/** How many tools a new session on the home's socket is listed: it is served. */
export async function toolsListed(t: Cleanup, home: string): Promise<number> {
  const link = await rawLink(t, join(home, 'hub.sock'));
  await initialize(link);
  const listed = await link.request(2, 'tools/list');
  link.close();
  return (listed.result as { tools: unknown[] }).tools.length;
}
