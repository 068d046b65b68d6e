/**
 * A hub behind a corporate proxy: the driver's logins go through the proxy the hub's environment names
 * (`hub.use_env_proxy`, on by default, as in Snowflake's drivers), hosts in NO_PROXY and a hub with the
 * setting off connect directly. The proxy here notes each CONNECT and refuses it, so no Snowflake is
 * needed: what is checked is where the driver went, and that the editor hears why the call failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

/** `.invalid` never resolves (RFC 6761): a direct connection fails at once, and only the proxy can be reached. */
const HOST = 'acme.snowmux-proxy-test.invalid';

async function refusingProxy(t: { after(fn: () => unknown): void }): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = [];
  const proxy = createServer((req, res) => {
    targets.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  proxy.on('connect', (req: IncomingMessage, socket: Socket) => {
    targets.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { proxy.closeAllConnections(); proxy.close(() => r()); }));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, targets };
}

const profile = { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'alice', SNOWFLAKE_PASSWORD: 'proxy-test-pw', SNOWFLAKE_HOST: HOST, SNOWFLAKE_PROTOCOL: 'https', SNOWFLAKE_PORT: '443' };

async function firstCall(t: Parameters<typeof tempHome>[0], config: string, env: Record<string, string>) {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), config);
  await startHub(t, home, [], { ...profile, ...env });
  const client = await connectClient(t, { home, kind: 'v2-legacy' });
  return await client.callTool('execute_query', { query: 'SELECT 1' });
}

test('the driver logs in through HTTPS_PROXY; NO_PROXY and use_env_proxy = false connect directly', async (t) => {
  const proxy = await refusingProxy(t);

  const viaProxy = await firstCall(t, '', { HTTPS_PROXY: proxy.url });
  assert.equal(viaProxy.isError, true);
  assert.ok(proxy.targets.includes(`CONNECT ${HOST}:443`), `the login went through the proxy: ${JSON.stringify(proxy.targets)}`);
  assert.doesNotMatch(textOf(viaProxy), /proxy-test-pw/);

  const seen = proxy.targets.length;
  const exempt = await firstCall(t, '', { HTTPS_PROXY: proxy.url, NO_PROXY: '.snowmux-proxy-test.invalid' });
  assert.equal(exempt.isError, true);
  const off = await firstCall(t, '[hub]\nuse_env_proxy = false\n', { HTTPS_PROXY: proxy.url });
  assert.equal(off.isError, true);
  assert.equal(proxy.targets.length, seen, `NO_PROXY and use_env_proxy = false went direct: ${JSON.stringify(proxy.targets.slice(seen))}`);
  assert.match(textOf(off), /could not be reached|ENOTFOUND|network/i);
});

test('doctor reaches the account through the same proxy, and names it (never its password) when it fails', async (t) => {
  const proxy = await refusingProxy(t);
  const home = tempHome(t);
  const proxyUrl = proxy.url.replace('http://', 'http://corp:proxy-secret@');
  const out = await runCli(['doctor', '--json', '--home', home], { ...profile, HTTPS_PROXY: proxyUrl });
  const reach = (JSON.parse(out.stdout) as { check: string; status: string; detail: string; fix?: string }[]).find((c) => c.check === 'reach env');
  assert.equal(reach?.status, 'fail', out.stdout);
  assert.ok(proxy.targets.includes(`CONNECT ${HOST}:443`), JSON.stringify(proxy.targets));
  assert.match(reach!.detail, new RegExp(`through the proxy ${proxy.url.replace(/[.]/g, '\\.')}`));
  assert.match(reach!.fix ?? '', /HTTPS_PROXY/);
  assert.doesNotMatch(out.stdout + out.stderr, /proxy-secret|proxy-test-pw/);
});

test('a login through a proxy that does not answer names the proxy (never its password), not a Snowflake host that "does not answer"', async (t) => {
  // A port nothing listens on: taken from a server that is closed again.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const failed = await firstCall(t, '', { HTTPS_PROXY: `http://corp:proxy-secret@127.0.0.1:${port}` });
  assert.equal(failed.isError, true);
  const text = textOf(failed);
  assert.match(text, new RegExp(`the proxy 127\\.0\\.0\\.1:${port} \\(HTTPS_PROXY\\) it reaches ${HOST.replace(/[.]/g, '\\.')} through does not answer \\(connection refused`), text);
  assert.doesNotMatch(text, /the host \S+ does not answer/);
  assert.doesNotMatch(text, /proxy-secret|proxy-test-pw/);
});
