/** The hub's HTTP face for tests: a hub serving it, an API key, and reading an /mcp answer. */
import assert from 'node:assert/strict';
import { runCli, startHub, type Cleanup, type HubProcess } from './harness.js';

/** Starts a hub whose config.toml (already in `home`) sets hub.http_listen; resolves with the URL it serves. */
export async function startHttpHub(t: Cleanup, home: string): Promise<{ hub: HubProcess; url: string }> {
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(url, hub.stderr());
  return { hub, url };
}

/** A new API key for `identity` (`snowmux keys create`). */
export async function createKey(home: string, identity: string): Promise<string> {
  const created = await runCli(['keys', 'create', '--identity', identity, '--home', home]);
  assert.equal(created.code, 0, created.stderr);
  return created.stdout.trim();
}

/** The JSON-RPC message of an /mcp answer, as JSON or as the one data event of an SSE stream. */
export async function rpcAnswer(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text) as Record<string, unknown>;
  const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  const answer = data.find((m) => 'result' in m || 'error' in m);
  assert.ok(answer, text);
  return answer;
}
