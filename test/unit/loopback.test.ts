/** One loopback test for listeners, config checks and --url (src/wire/loopback.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost } from '../../src/wire/loopback.js';
import { checkRemoteUrl } from '../../src/shim/remote-link.js';

test('loopback: localhost, 127.0.0.0/8 and ::1 (bare or bracketed as in a URL); nothing else', () => {
  for (const host of ['localhost', '127.0.0.1', '127.9.8.7', '::1', '[::1]']) assert.equal(isLoopbackHost(host), true, host);
  // A name that starts like a loopback address resolves wherever its owner likes.
  for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.1', 'hub.example.com', '127.example.com', '127.0.0.1.evil.com', 'localhost.evil.com', '128.0.0.1']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

test('a remote shim may use ws:// to loopback only, IPv6 included', () => {
  assert.doesNotThrow(() => checkRemoteUrl('ws://[::1]:8765/shim'));
  assert.doesNotThrow(() => checkRemoteUrl('ws://127.0.0.1:8765/shim'));
  assert.throws(() => checkRemoteUrl('ws://10.0.0.1:8765/shim'), /use wss:\/\//);
  assert.throws(() => checkRemoteUrl('ws://127.attacker.example:8765/shim'), /use wss:\/\//, 'a name is not a loopback address');
});
