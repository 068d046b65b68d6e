import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { MIN_WIRE_VERSION, WIRE_VERSION, checkHello, isLinkFrame, makeHello, parseLinkFrame } from '../../src/wire/hello.js';
import { VERSION } from '../../src/version.js';

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('a hello is a link frame and round-trips', () => {
  const hello = makeHello({ role: 'shim', pid: 123, parent: { pid: 1, command: 'code' }, profile: 'dev' });
  const line = Buffer.from(JSON.stringify(hello));
  assert.ok(isLinkFrame(line));
  assert.deepEqual(parseLinkFrame(line), hello);
  assert.equal(hello.wire, WIRE_VERSION);
  assert.equal(hello.version, VERSION);
});

test('JSON-RPC lines are never mistaken for link frames', () => {
  for (const text of ['{"jsonrpc":"2.0","id":1,"method":"ping"}', '{"method":"x","snowmux":"hello"}', '{"snowmux"', '[]', 'garbage']) {
    const line = Buffer.from(text);
    if (isLinkFrame(line)) assert.equal(parseLinkFrame(line), null, text);
  }
  assert.equal(isLinkFrame(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}')), false);
});

test('parseLinkFrame rejects unknown tags and bad JSON', () => {
  assert.equal(parseLinkFrame('{"snowmux":"nonsense"}'), null);
  assert.equal(parseLinkFrame('{"snowmux":'), null);
  assert.equal(parseLinkFrame('null'), null);
});

test('checkHello accepts the current wire version and refuses others with what to do', () => {
  assert.equal(checkHello(makeHello({ role: 'shim', pid: 1 })), null);
  const newer = checkHello({ ...makeHello({ role: 'shim', pid: 1 }), wire: WIRE_VERSION + 1, version: '9.9.9' });
  assert.equal(newer?.code, 'HUB_TOO_OLD');
  assert.match(newer!.message, /snowmux hub --replace/);
  const older = checkHello({ ...makeHello({ role: 'shim', pid: 1 }), wire: MIN_WIRE_VERSION - 1, version: '0.0.1' });
  assert.equal(older?.code, 'SHIM_TOO_OLD');
  assert.match(older!.message, /Upgrade/);
  const malformed = checkHello({ snowmux: 'hello', role: 'nobody' } as never);
  assert.equal(malformed?.code, 'BAD_HELLO');
});
