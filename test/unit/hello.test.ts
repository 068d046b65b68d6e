import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { MIN_WIRE_VERSION, WIRE_VERSION, checkHello, helloProblem, isLinkFrame, makeHello, parseLinkFrame } from '../../src/wire/hello.js';
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

test('every field of a hello is checked before the hub reads it', () => {
  const good = makeHello({ role: 'shim', pid: 7, parent: { pid: 1, command: 'code' }, profile: 'dev', env: { SNOWFLAKE_USER: 'u' }, caps: ['drain-ack'] });
  assert.equal(helloProblem(good), null);
  assert.equal(checkHello(good), null);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ caps: 'drain-ack' }, /caps/],
    [{ caps: [1] }, /caps/],
    [{ env: { SNOWFLAKE_USER: 5 } }, /env\.SNOWFLAKE_USER/],
    [{ env: ['x'] }, /env/],
    [{ env: null }, /env/],
    [{ profile: 42 }, /profile/],
    [{ profile: '' }, /profile/],
    [{ profile: { name: 'x' } }, /profile/],
    [{ parent: 'code' }, /parent/],
    [{ parent: { pid: 'x' } }, /parent\.pid/],
    [{ resumeOf: 9 }, /resumeOf/],
    [{ pid: -1 }, /pid/],
    [{ pid: 1.5 }, /pid/],
    [{ wire: '1' }, /wire/],
    [{ version: 1 }, /version/],
  ];
  for (const [patch, reason] of bad) {
    const hello = { ...good, ...patch } as never;
    const refusal = checkHello(hello);
    assert.equal(refusal?.code, 'BAD_HELLO', JSON.stringify(patch));
    assert.match(refusal.message, reason, JSON.stringify(patch));
  }
  assert.match(helloProblem([]) ?? '', /not an object/);
});
