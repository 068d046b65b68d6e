/**
 * A URL given to `shim --url` or `status --url` may carry a password (`user:password@` for a proxy's basic
 * auth, `?password=`): every message about it, which reaches the editor's MCP log and the terminal, shows
 * it without. And the API key goes unencrypted only to this machine, for status as for the shim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSnowmuxError } from '../../src/errors.js';
import { checkRemoteUrl, checkStatusUrl, openRemoteLink } from '../../src/shim/remote-link.js';
import type { Hello } from '../../src/wire/hello.js';

const PW = 'URL-PW-4711';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'USAGE'), String(err));
    return err.message;
  }
  assert.fail('not refused');
}

test('shim --url refusals do not show the password in the URL, parsed or not', () => {
  for (const url of [`ws://uu:${PW}@hub.example.com/shim`, `ws://uu:${PW}@[bad/shim`, `http://uu:${PW}@127.0.0.1/shim`]) {
    const message = refusal(() => checkRemoteUrl(url));
    assert.ok(!message.includes(PW), message);
    assert.match(message, /\*\*\*@/);
  }
});

test('shim --url with a user:password@ is refused, saying why, never showing it: the key takes the Authorization header', () => {
  // The ws client sends a URL's basic auth only when no Authorization header is set, and the link sets one
  // (the key): the credentials were dropped without a word, and a proxy asking for them answered 401, which
  // the editor was told meant a bad SNOWMUX_KEY.
  for (const url of [`ws://uu:${PW}@127.0.0.1:9/shim`, `wss://uu:${PW}@hub.example.com/shim`, 'ws://uu@localhost:9/shim', `wss://:${PW}@hub.example.com/shim`]) {
    const message = refusal(() => checkRemoteUrl(url));
    assert.ok(!message.includes(PW), message);
    assert.match(message, /\*\*\*@[\s\S]*holds a user:password@, which the shim cannot send: the link's Authorization header carries the hub's API key/, url);
  }
  assert.doesNotThrow(() => checkRemoteUrl('ws://127.0.0.1:9/shim'));
});

test('status --url: https:// unless loopback, in the shim\'s words; no user:password@; neither shown', () => {
  for (const url of ['https://hub.example.com', 'http://127.0.0.1:8765', 'http://localhost:8765', 'http://[::1]:8765']) assert.equal(checkStatusUrl(url).href, new URL(url).href);
  assert.match(refusal(() => checkStatusUrl('http://hub.example.com:8765')), /^--url http:\/\/hub\.example\.com:8765: use https:\/\/ \(http:\/\/ only to a loopback address\), so the key is not sent in the clear\.$/);
  assert.match(refusal(() => checkStatusUrl('http://192.0.2.2:8765/?token=abc')), /http:\/\/192\.0\.2\.2:8765\/\?token=\*\*\*: use https:\/\//);
  for (const url of [`http://uu:${PW}@127.0.0.1:8765`, `https://uu:${PW}@hub.example.com`, `http://uu:${PW}@[bad`]) {
    const message = refusal(() => checkStatusUrl(url));
    assert.ok(!message.includes(PW), message);
  }
  assert.match(refusal(() => checkStatusUrl(`http://uu:${PW}@127.0.0.1:8765`)), /holds a user:password@[\s\S]*\$SNOWMUX_KEY or --key-file/);
});

test('a hub (or proxy) refusing the link is named without the password in --url', async (t) => {
  for (const status of [401, 403, 404, 502]) {
    const server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"no"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const url = `ws://uu:${PW}@127.0.0.1:${(server.address() as AddressInfo).port}/shim?password=${PW}`;
    const hello = { snowmux: 'hello', wire: 1, version: '0', role: 'client', pid: process.pid } as unknown as Hello;
    const err = await openRemoteLink({ url, key: 'smx_x_y' }, hello, 5_000).then(() => assert.fail('linked'), (e: Error) => e);
    assert.ok(!err.message.includes(PW), err.message);
    assert.match(err.message, /ws:\/\/\*\*\*@127\.0\.0\.1:\d+\/shim\?password=\*\*\*/);
  }
});

test('snowmux status --url refuses plain http off loopback and a user:password@ before sending anything', async () => {
  const { statusCommand } = await import('../../src/cli/commands/status-command.js');
  const io = { stdout: { write: () => true }, stderr: { write: () => true } };
  for (const url of ['http://192.0.2.2:8765', `http://uu:${PW}@127.0.0.1:8765`]) {
    const err = await statusCommand(['--url', url], io as never).then(() => assert.fail('read'), (e: Error) => e);
    assert.ok(isSnowmuxError(err, 'USAGE'), String(err));
    assert.ok(!err.message.includes(PW), err.message);
  }
});
