/**
 * A remote shim (WebSocket /shim, API key) chooses among the hub's profiles only those the operator listed
 * in hub.http_shim_profiles: any key holder could pick any profile of the hub (an ACCOUNTADMIN connection
 * of the hub user's connections.toml, say) by naming it in its hello. The refusal names neither the hub's
 * files nor its other profiles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { runCli, startHub, tempHome } from '../helpers/harness.js';

async function hubWithKey(t: Parameters<typeof tempHome>[0], extra: string): Promise<{ url: string; key: string }> {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `[hub]\nhttp_listen = "127.0.0.1:0"\nhttp_engine = "node"\n${extra}`);
  const hub = await startHub(t, home);
  const url = /HTTP on (http:\/\/\S+)/.exec(hub.stderr())?.[1];
  assert.ok(url, hub.stderr());
  const r = await runCli(['keys', 'create', '--identity', 'alice', '--home', home]);
  assert.equal(r.code, 0, r.stderr);
  return { url, key: r.stdout.trim() };
}

/** The hub's first line to a /shim hello naming `profile`. */
async function firstAnswer(t: { after(fn: () => unknown): void }, url: string, key: string, profile: string | undefined): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/shim`, { headers: { authorization: `Bearer ${key}` } });
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const line = new Promise<string>((resolve) => {
    let got = '';
    ws.on('message', (data: Buffer) => {
      got += data.toString('utf8');
      if (got.includes('\n')) resolve(got.slice(0, got.indexOf('\n')));
    });
  });
  ws.send(`${JSON.stringify({ snowmux: 'hello', wire: 1, version: '0.1.0', role: 'shim', pid: 1, caps: [], ...(profile === undefined ? {} : { profile }) })}\n`);
  return JSON.parse(await line) as Record<string, unknown>;
}

test('a remote shim may not name a profile the operator did not list; one listed (or none) is welcome', async (t) => {
  const closed = await hubWithKey(t, '');
  const refused = await firstAnswer(t, closed.url, closed.key, 'admin');
  assert.equal(refused.snowmux, 'refused');
  assert.equal(refused.code, 'PROFILE_NOT_ALLOWED');
  assert.match(String(refused.message), /does not let a remote shim choose profile "admin"\. This hub lets remote shims choose no profile \(hub\.http_shim_profiles\)/);
  assert.doesNotMatch(String(refused.message), /config\.toml|connections\.toml|\//);
  assert.equal((await firstAnswer(t, closed.url, closed.key, undefined)).snowmux, 'welcome');

  const listed = await hubWithKey(t, 'http_shim_profiles = ["analyst"]\n[profiles.analyst]\naccount = "acct"\nuser = "u"\npassword = "p"\n');
  assert.equal((await firstAnswer(t, listed.url, listed.key, 'analyst')).snowmux, 'welcome');
  const other = await firstAnswer(t, listed.url, listed.key, 'admin');
  assert.equal(other.code, 'PROFILE_NOT_ALLOWED');
  assert.match(String(other.message), /Remote shims may choose "analyst"/);
});
