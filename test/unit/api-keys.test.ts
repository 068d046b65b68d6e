/**
 * The key file as a person may leave it after editing it by hand: an entry that is not what `snowmux keys`
 * writes makes the file refused with the entry and field named (an expiry that was not a date read as
 * "never expires"), a hub holding the file says so in its log instead of refusing every key silently, and
 * picks the keys up again once the file is fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs, { chmodSync, closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isSnowmuxError } from '../../src/errors.js';
import { ApiKeyStore, checkKey, createKey, findKey, keysPath, readKeys, revokeKey, rotateKey, type ApiKeyRecord } from '../../src/hub/keys/api-keys.js';
import { tempHome } from '../helpers/harness.js';
import { keysCommand } from '../../src/cli/commands/keys-command.js';

function edit(home: string, change: (records: Record<string, unknown>[]) => void): void {
  const file = JSON.parse(readFileSync(keysPath(home), 'utf8')) as { keys: Record<string, unknown>[] };
  change(file.keys);
  writeFileSync(keysPath(home), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}

test('an expiry edited by hand into something that is not a date never lets the key in', (t) => {
  const home = tempHome(t);
  const { key } = createKey(home, 'alice', null);
  const problems: (string | null)[] = [];
  let now = Date.now();
  const store = new ApiKeyStore(keysPath(home), () => now, (p) => problems.push(p));
  assert.equal(store.check(key).ok, true);

  edit(home, (keys) => (keys[0]!.expiresAt = '2020-13-45'));
  assert.throws(() => readKeys(keysPath(home)), /key 1 \(id "[0-9a-f]{12}"\) has "expiresAt": "2020-13-45", which is not a date/);
  now += 1; // a later request: the store sees the changed file
  const refused = store.check(key);
  assert.equal(refused.ok, false, 'a key whose expiry cannot be read is refused, not kept forever');
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /expiresAt/);
  store.check(key);
  assert.equal(problems.length, 1, 'the same problem is reported once');

  edit(home, (keys) => (keys[0]!.expiresAt = null));
  assert.equal(store.check(key).ok, true, 'fixed by hand: the key works again');
  assert.deepEqual(problems.slice(1), [null]);
});

test('other hand edits that break an entry are named too', (t) => {
  const home = tempHome(t);
  createKey(home, 'bob', null);
  const cases: [(k: Record<string, unknown>) => void, RegExp][] = [
    [(k) => (k.identity = 'bob smith'), /has no valid "identity"/],
    [(k) => (k.revokedAt = true), /"revokedAt": true, which is not a date/],
    [(k) => (k.id = 'XYZ'), /has no valid "id"/],
  ];
  for (const [change, expected] of cases) {
    const before = readFileSync(keysPath(home), 'utf8');
    edit(home, (keys) => change(keys[0]!));
    assert.throws(() => readKeys(keysPath(home)), expected);
    writeFileSync(keysPath(home), before, { mode: 0o600 });
  }
});

test('a key record whose expiry is not a date counts as expired wherever it comes from (a team store too)', () => {
  const secret = 'x'.repeat(32);
  const record: ApiKeyRecord = { id: 'abcdefabcdef', identity: 'carol', hash: createHash('sha256').update(secret).digest('hex'), createdAt: '', expiresAt: 'tomorrow', revokedAt: null };
  const check = checkKey(`smx_${record.id}_${secret}`, () => record, Date.now());
  assert.deepEqual(check, { ok: false, reason: 'expired', id: record.id, identity: 'carol' });
});

test('a key id that names no key, or several, is a wrong value (exit 1), not a wrong command line (exit 2); control characters are not echoed', () => {
  const records = ['abcd11110000', 'abcd22220000'].map((id): ApiKeyRecord => ({ id, identity: 'ci', hash: '', createdAt: '', expiresAt: null, revokedAt: null }));
  assert.throws(() => findKey(records, 'ffff\u001b[2J'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /No key id starts with/.test(err.message) && !err.message.includes('\u001b'));
  assert.throws(() => findKey(records, 'abcd'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /matches 2 keys/.test(err.message));
  assert.throws(() => findKey(records, 'abc'), (err: Error & { code?: string }) => err.code === 'USAGE');
  assert.equal(findKey(records, 'abcd2').id, 'abcd22220000');
});

test('a rotation gives the identity a new key and ends the old one after the overlap, never later than it would have', async (t) => {
  const home = tempHome(t);
  const made = new Date('2026-01-01T00:00:00Z');
  const { key: oldKey, record } = createKey(home, 'ci-bot', new Date('2026-01-31T00:00:00Z'), made);
  let now = Date.parse('2026-01-10T00:00:00Z');
  const store = new ApiKeyStore(keysPath(home), () => now, () => {});
  assert.equal(store.check(oldKey).ok, true);

  const rotated = rotateKey(home, record.id, new Date(now + 3_600_000), undefined, new Date(now));
  assert.equal(rotated.record.identity, 'ci-bot');
  assert.notEqual(rotated.record.id, record.id);
  // The new key lives as long as the old one was made to (30 days), from now.
  assert.equal(rotated.record.expiresAt, '2026-02-09T00:00:00.000Z');
  assert.equal(rotated.old.expiresAt, '2026-01-10T01:00:00.000Z');
  now += 1; // a later request: the store sees the changed file
  assert.deepEqual(store.check(rotated.key), { ok: true, id: rotated.record.id, identity: 'ci-bot' });
  assert.equal(store.check(oldKey).ok, true, 'the old key works through the overlap');
  now = Date.parse('2026-01-10T01:00:00Z');
  assert.equal(store.check(oldKey).ok, false);
  assert.equal((store.check(oldKey) as { reason: string }).reason, 'expired');
  assert.equal(store.check(rotated.key).ok, true);

  // An overlap past the old key's own expiry does not extend it; --expires sets the new key's.
  const again = rotateKey(home, rotated.record.id, new Date('2027-01-01T00:00:00Z'), null, new Date(now));
  assert.equal(again.old.expiresAt, rotated.record.expiresAt);
  assert.equal(again.record.expiresAt, null);
  // A revoked or expired key is not rotated: there is nothing to keep working.
  assert.throws(() => rotateKey(home, record.id, new Date(now), undefined, new Date(now)), /Key [0-9a-f]{12} has expired: there is nothing to rotate[\s\S]*keys create --identity ci-bot/);
  assert.equal(readKeys(keysPath(home)).records.length, 3);
});

test('keys list shows what the key file holds one line per key, nothing in it acting on the terminal', async (t) => {
  const home = tempHome(t);
  createKey(home, 'ops', null);
  edit(home, (keys) => (keys[0]!.createdAt = '2026-01-01\u001b]0;PWNED\u0007\n0123456789ab  active   admin  created x\u009b2J\u202e'));
  for (const json of [false, true]) {
    let out = '';
    const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
    assert.equal(await keysCommand(['list', '--local', '--home', home, ...(json ? ['--json'] : [])], { stdout: sink, stderr: sink }), 0);
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/u, JSON.stringify(out));
    if (json) assert.match((JSON.parse(out) as { createdAt: string }[])[0]!.createdAt, /\u001b\]0;PWNED/);
    else {
      assert.equal(out.trimEnd().split('\n').length, 1, out);
      assert.match(out, /created 2026-01-01\\u001b\]0;PWNED\\u0007\\u000a0123456789ab/);
    }
  }
});

/**
 * Runs `body` with every file descriptor this process may open taken (what a flood of idle connections
 * does to a hub), then gives them back. Synchronous: nothing else of the process needs one meanwhile.
 */
function withoutDescriptors<T>(body: () => T): T {
  const taken: number[] = [];
  try {
    for (;;) {
      try {
        taken.push(openSync('/dev/null', 'r'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EMFILE') break;
        throw err;
      }
    }
    return body();
  } finally {
    for (const fd of taken) closeSync(fd);
  }
}

test('a hub out of file descriptors keeps the keys it read: a valid key is served, not told it is "not valid"', (t) => {
  const home = tempHome(t);
  const { key } = createKey(home, 'bob', null);
  const problems: [string | null, boolean][] = [];
  const store = new ApiKeyStore(keysPath(home), Date.now, (p, kept) => problems.push([p, kept]));
  assert.equal(store.check(key).ok, true);
  // Unchanged: seeing that takes no descriptor.
  assert.deepEqual(withoutDescriptors(() => [store.check(key), store.check(key)]), [{ ok: true, id: key.slice(4, 16), identity: 'bob' }, { ok: true, id: key.slice(4, 16), identity: 'bob' }]);
  assert.deepEqual(problems, []);
  // Changed, and cannot be read again now: the keys read last stay in force, and that is said once.
  const other = createKey(home, 'carol', null);
  const checks = withoutDescriptors(() => [store.check(key), store.check(key), store.check(other.key)]);
  assert.deepEqual(checks.map((c) => c.ok), [true, true, false]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]![0]!, /Cannot read .*keys\.json: EMFILE: too many open files/);
  assert.equal(problems[0]![1], true, 'the keys were kept');
  // Once it can be read, the new key is in too.
  assert.equal(store.check(other.key).ok, true);
  assert.deepEqual(problems[1], [null, false]);
});

test('a hub that has never read its key file answers "unavailable" (503, retry), not "not valid", while it cannot read it', (t) => {
  const home = tempHome(t);
  const { key } = createKey(home, 'bob', null);
  const problems: (string | null)[] = [];
  const [first, store] = withoutDescriptors(() => {
    const s = new ApiKeyStore(keysPath(home), Date.now, (p) => problems.push(p));
    return [s.check(key), s] as const;
  });
  assert.equal(first.ok, false);
  assert.equal(!first.ok && first.reason, 'unavailable');
  assert.match(!first.ok && first.reason === 'unavailable' ? first.why : '', /the API key file has not been read yet \(Cannot read .*EMFILE: too many open files/);
  assert.equal(store.check(key).ok, true);
});

test('keys create, revoke and rotate on a full disk: KEYS_WRITE_FAILED says the key was NOT changed, keys.json is as it was, no temp file is left', async (t) => {
  const home = tempHome(t);
  const { record } = createKey(home, 'alice', null);
  const before = readFileSync(keysPath(home), 'utf8');
  // As a full disk does: the temp file is created, then writing into it fails with ENOSPC.
  const realWrite = fs.writeFileSync;
  t.mock.method(fs, 'writeFileSync', (path: fs.PathOrFileDescriptor, _data: unknown, options?: fs.WriteFileOptions) => {
    realWrite(path, '', options);
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  });
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  const notChanged = (what: RegExp) => (err: unknown) => isSnowmuxError(err, 'KEYS_WRITE_FAILED') && what.test((err as Error).message) && /no space left on the home's disk.*unchanged.*Free space/.test((err as Error).message);
  assert.throws(() => createKey(home, 'bob', null), notChanged(/Key [0-9a-f]{12} for identity "bob" was NOT created/));
  assert.throws(() => revokeKey(home, record.id), notChanged(new RegExp(`Key ${record.id} \\(alice\\) was NOT revoked: the hub still accepts it`)));
  assert.throws(() => rotateKey(home, record.id, new Date(Date.now() + 3_600_000), undefined), notChanged(new RegExp(`Key ${record.id} \\(alice\\) was NOT rotated`)));
  const out = { text: '' };
  const io = { stdout: { write: (s: string) => ((out.text += s), true) }, stderr: { write: (s: string) => ((out.text += s), true) } };
  await assert.rejects(keysCommand(['revoke', record.id, '--home', home, '--local'], io as never), notChanged(/NOT revoked/));
  assert.equal(readFileSync(keysPath(home), 'utf8'), before);
  assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('keys.json')), ['keys.json'], 'no keys.json.<pid>.tmp left behind');
});

test("a stored record whose hash is no SHA-256 (a team's Redis can hold anything) authenticates no one, and is refused, not thrown on", () => {
  const secret = 'CvvMSTWcU51QIbDl_veOVavfF_BxL6Yq';
  const id = '00bc48533a57';
  const good = createHash('sha256').update(secret).digest('hex');
  for (const hash of ['abc', '', 'zz'.repeat(32), `${good}00`, good.slice(0, 62)]) {
    const record: ApiKeyRecord = { id, identity: 'mallory', hash, createdAt: new Date(0).toISOString(), expiresAt: null, revokedAt: null };
    assert.deepEqual(checkKey(`smx_${id}_${secret}`, () => record, Date.now()), { ok: false, reason: 'unknown', id }, hash);
  }
  for (const hash of [good, good.toUpperCase()]) {
    const record: ApiKeyRecord = { id, identity: 'alice', hash, createdAt: new Date(0).toISOString(), expiresAt: null, revokedAt: null };
    assert.deepEqual(checkKey(`smx_${id}_${secret}`, () => record, Date.now()), { ok: true, id, identity: 'alice' });
  }
});

test('a key file that is not a file, or is another user\'s, is refused with what to do about it, not only that it is refused', { skip: process.getuid?.() !== 0 && 'needs root to chown (runs in CI as root)' }, (t) => {
  const home = tempHome(t);
  const path = keysPath(home);
  writeFileSync(path, `${JSON.stringify({ version: 1, keys: [] })}\n`, { mode: 0o600 });
  fs.chownSync(path, 12345, 12345);
  assert.throws(() => readKeys(path), (e) => isSnowmuxError(e, 'CONFIG_INVALID') && e.message.includes(`${path} belongs to another user (uid 12345), who could add keys of their own to it`) && e.message.includes(`sudo rm ${path}`) && /snowmux keys create/.test(e.message));
  fs.rmSync(path);
  fs.mkdirSync(path);
  assert.throws(() => readKeys(path), (e) => isSnowmuxError(e, 'CONFIG_INVALID') && /is not a regular file, so no API key can be read from it; .*check what it is \(ls -l .*remove it \(rm -r .*snowmux keys create/.test(e.message));
});

// The store looked for changes by inode, size and mtime: a chmod (or chown) changes none of them, so a key file
// opened to every user while the hub ran went on authenticating everyone, through `snowmux reload` too, while
// the same file stops the hub at its start. The change of mode is seen now, and judged as at the start.
test('a key file opened to other users while the hub runs authenticates no one until it is closed again', (t) => {
  const home = tempHome(t);
  const { key } = createKey(home, 'dana', null);
  const problems: (string | null)[] = [];
  const store = new ApiKeyStore(keysPath(home), Date.now, (p) => problems.push(p));
  assert.equal(store.check(key).ok, true);
  chmodSync(keysPath(home), 0o666);
  assert.equal(store.check(key).ok, false, 'refused as the hub refuses the file at its start');
  assert.match(problems[0]!, /readable or writable by others \(mode 666\)\. Run: chmod 600 /);
  chmodSync(keysPath(home), 0o600);
  assert.equal(store.check(key).ok, true);
  assert.deepEqual(problems.slice(1), [null]);
});
