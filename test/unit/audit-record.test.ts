import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, canonicalJson, computeRecordHash, hubLifecycleEntry, recordShapeDefect } from '../../src/hub/audit/audit-record.js';
import { AUDIT_MAX_TEXT_CHARS, REDACTED, SecretScrubber, isSecretLookingKey, redactEntry, redactValue } from '../../src/hub/audit/audit-redact.js';
import { AuditLog } from '../../src/hub/audit/audit-log.js';
import { verifyAudit } from '../../src/hub/audit/verify.js';
import { sampleEntry } from '../fixtures/audit-sample.js';

/** A real PEM private key: only a well-formed key is scrubbed as one (markers alone hide nothing). */
function testPrivateKey(encryption: { cipher: string; passphrase: string } | Record<string, never> = {}): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem', ...encryption }) as string;
}

test('canonicalJson sorts keys at every depth and ignores insertion order', () => {
  const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } };
  const b = { a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 };
  assert.equal(canonicalJson(a), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson(a), canonicalJson(b));
});

test('canonicalJson equals the canonical form of the JSON round trip (what verify sees)', () => {
  const samples: unknown[] = [
    { u: undefined, n: null, nan: Number.NaN, inf: -Infinity, neg0: -0, big: 1e21, small: 5e-7, arr: [undefined, 1, () => 1] },
    { s: 'quote " backslash \\ newline \n tab \t nul \u0000 ls \u2028 emoji 😀 lone \ud800' },
    { __proto__key: 1, ['__proto__']: { x: 1 }, 'ключ': 'значение', '': 'empty key' },
    [[], {}, [{}], 0, false, true, ''],
  ];
  for (const value of samples) {
    const roundTripped: unknown = JSON.parse(JSON.stringify(value));
    assert.equal(canonicalJson(value), canonicalJson(roundTripped));
  }
});

test('computeRecordHash is sha256(prev + canonical(record without hash))', () => {
  const record = { seq: 1, ts: '2026-01-01T00:00:00.000Z', kind: 'tool_call', prev: GENESIS_HASH, rows: 3, hash: 'ignored' };
  const { hash: _hash, ...body } = record;
  const expected = createHash('sha256').update(GENESIS_HASH + canonicalJson(body)).digest('hex');
  assert.equal(computeRecordHash(record), expected);
  assert.notEqual(computeRecordHash({ ...record, rows: 4 }), expected);
  assert.notEqual(computeRecordHash({ ...record, prev: 'f'.repeat(64) }), expected);
});

test('recordShapeDefect names what is wrong with a parsed line', () => {
  const good = { seq: 1, ts: 'x', kind: 'tool_call', prev: GENESIS_HASH, hash: 'a'.repeat(64) };
  assert.equal(recordShapeDefect(good), undefined);
  assert.match(String(recordShapeDefect([])), /object/);
  assert.match(String(recordShapeDefect({ ...good, seq: 0 })), /seq/);
  assert.match(String(recordShapeDefect({ ...good, kind: 'other' })), /kind/);
  assert.match(String(recordShapeDefect({ ...good, hash: 'XYZ' })), /hash/);
});

test('secret-looking keys are redacted at any depth, whatever the value', () => {
  for (const key of ['password', 'PASSWORD', 'db_password', 'token', 'access_token', 'private_key', 'privateKeyPem', 'passphrase', 'client_secret', 'Authorization', 'apiKey', 'x-api-key', 'credentials', 'passcode']) {
    assert.equal(isSecretLookingKey(key), true, key);
  }
  for (const key of ['database', 'schema', 'sql', 'limit', 'pattern']) assert.equal(isSecretLookingKey(key), false, key);

  const scrubber = new SecretScrubber();
  const out = redactValue(
    { database: 'DB', options: [{ headers: { Authorization: 'Bearer abc' } }, { nested: { private_key: { pem: 'x' } } }], password: 12345 },
    scrubber,
  );
  assert.deepEqual(JSON.parse(JSON.stringify(out)), {
    database: 'DB',
    options: [{ headers: { Authorization: REDACTED } }, { nested: { private_key: REDACTED } }],
    password: REDACTED,
  });
});

test('known secrets are scrubbed from every string, longest first; short ones are left alone', () => {
  const scrubber = new SecretScrubber(['s3cret-pass', 's3cret', 'ab']);
  assert.equal(scrubber.scrub("CREATE USER x PASSWORD = 's3cret-pass' -- s3cret ab"), `CREATE USER x PASSWORD = '${REDACTED}' -- ${REDACTED} ab`);
  const pem = testPrivateKey({ cipher: 'aes-256-cbc', passphrase: 'pw' }).trimEnd();
  assert.equal(scrubber.scrub(`key: ${pem} end`), `key: ${REDACTED} end`);
  scrubber.add(['later-token']);
  assert.equal(scrubber.scrub('use later-token'), `use ${REDACTED}`);
});

test('redactValue produces a JSON-safe copy: bigint, Date, binary, cycles, depth, __proto__', () => {
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < 100; i++) {
    const next: Record<string, unknown> = {};
    deep.next = next;
    deep = next;
  }
  const hostile = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  const out = redactValue({ big: 10n, when: new Date(0), bin: Buffer.from('abc'), cyclic, root, hostile, f: () => 1 }, new SecretScrubber()) as Record<string, unknown>;
  const json = JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
  assert.equal(json.big, '10');
  assert.equal(json.when, '1970-01-01T00:00:00.000Z');
  assert.equal(json.bin, '[binary 3 bytes]');
  assert.deepEqual(json.cyclic, { name: 'c', self: '[circular]' });
  assert.match(JSON.stringify(json.root), /too deeply nested/);
  assert.equal('f' in json, false);
  assert.deepEqual(Object.keys(json.hostile as object), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(canonicalJson(out), canonicalJson(json));
});

test('redactEntry keeps only known fields and scrubs every string field', () => {
  const scrubber = new SecretScrubber(['topsecret']);
  const entry = { ...sampleEntry(1, { identity: 'topsecret-user', sql: 'select topsecret' }), profileObject: { auth: { password: 'topsecret' } } };
  const out = redactEntry(entry, scrubber);
  assert.equal('profileObject' in out, false);
  assert.equal(out.identity, `${REDACTED}-user`);
  assert.equal(out.sql, `select ${REDACTED}`);
  assert.doesNotMatch(JSON.stringify(out), /topsecret/);
});

test('no secret reaches the audit file; the chain still verifies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20, secrets: ['Pa55w0rd!'] });
  log.addSecrets(['tok-9f8e7d6c']);
  const pem = testPrivateKey();
  const body = pem.split('\n')[1]!;
  const results = await Promise.all([
    log.append(sampleEntry(1, { sql: "ALTER USER me SET PASSWORD = 'Pa55w0rd!'" })),
    log.append(sampleEntry(2, { sql: undefined, tool: 'list_tables', request: { database: 'DB', auth: { token: 'anything', privateKeyPem: pem }, note: 'tok-9f8e7d6c', key: pem } })),
    log.append(hubLifecycleEntry('hub_start', { version: '0.1.0', detail: { passphrase: 'hush', pid: 1 } })),
  ]);
  assert.deepEqual(results.map((r) => r.ok), [true, true, true]);
  await log.close();
  const text = (await Promise.all((await readdir(dir)).map((name) => readFile(join(dir, name), 'utf8')))).join('\n');
  for (const secret of ['Pa55w0rd!', 'tok-9f8e7d6c', 'anything', body, 'hush']) assert.equal(text.includes(secret), false, `${secret} leaked`);
  assert.match(text, /list_tables/);
  assert.match(text, /"database":"DB"/);
  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  assert.equal(result.records, 3);
});

test('SQL, request and detail are bounded: a prefix of AUDIT_MAX_TEXT_CHARS plus the whole length and sha256; the chain verifies', async (t) => {
  // A refused statement used to be kept whole: one client at the default rate wrote 4-8 MiB records.
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const secret = 'Pa55w0rd-long';
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 64 << 20, secrets: [secret] });
  // The secret straddles the cut: scrubbing comes first, so no half of it is kept.
  const head = 'x'.repeat(AUDIT_MAX_TEXT_CHARS - 5);
  const sql = `DELETE FROM t WHERE c = '${head}${secret}${'é'.repeat(2 * 1024 * 1024)}'`;
  const scrubbedSql = sql.split(secret).join(REDACTED);
  const bigRequest = { query: 'q'.repeat(1024 * 1024), more: Array.from({ length: 5000 }, (_, i) => `k${i}`) };
  const sha = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
  const results = await Promise.all([
    log.append(sampleEntry(1, { sql, outcome: 'refused', errorCode: 'SQL_REFUSED' })),
    log.append(sampleEntry(2, { sql: undefined, tool: 'no_such_tool', request: bigRequest, outcome: 'refused', errorCode: 'UNKNOWN_TOOL' })),
    log.append(hubLifecycleEntry('config_reload', { version: '0.1.0', outcome: 'refused', errorCode: 'CONFIG_INVALID', detail: { reason: 'r'.repeat(100_000) } })),
    log.append(sampleEntry(4, { sql: 'SELECT 1' })),
    // A surrogate pair at the cut is not split (the prefix stays valid UTF-16).
    log.append(sampleEntry(5, { sql: `${'a'.repeat(AUDIT_MAX_TEXT_CHARS - 1)}😀tail` })),
  ]);
  assert.deepEqual(results.map((r) => r.ok), [true, true, true, true, true]);
  await log.close();
  const files = (await readdir(dir)).filter((n) => n.endsWith('.jsonl'));
  const lines = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('').split('\n').filter(Boolean);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const line of lines) assert.ok(Buffer.byteLength(line) < 6 * AUDIT_MAX_TEXT_CHARS + 4096, `a record of ${Buffer.byteLength(line)} bytes`);
  const [refused, unknownTool, reload, small, emoji] = records.slice(-5);

  assert.equal(refused?.sql, scrubbedSql.slice(0, AUDIT_MAX_TEXT_CHARS));
  assert.deepEqual(refused?.sqlTruncated, { bytes: Buffer.byteLength(scrubbedSql), sha256: sha(scrubbedSql) });
  assert.doesNotMatch(lines.join('\n'), /Pa55w0rd|Pa55w/);

  assert.deepEqual(Object.keys(unknownTool?.request as object), ['truncatedJson']);
  const requestJson = canonicalJson(bigRequest);
  assert.equal((unknownTool?.request as { truncatedJson: string }).truncatedJson, requestJson.slice(0, AUDIT_MAX_TEXT_CHARS));
  assert.deepEqual(unknownTool?.requestTruncated, { bytes: Buffer.byteLength(requestJson), sha256: sha(requestJson) });

  assert.equal(typeof (reload?.detail as { truncatedJson?: unknown }).truncatedJson, 'string');
  assert.equal((reload?.detailTruncated as { sha256: string }).sha256, sha(canonicalJson({ reason: 'r'.repeat(100_000) })));

  assert.equal(small?.sql, 'SELECT 1');
  assert.equal('sqlTruncated' in (small ?? {}), false);
  assert.equal(emoji?.sql, 'a'.repeat(AUDIT_MAX_TEXT_CHARS - 1));

  const result = await verifyAudit(dir);
  assert.equal(result.ok, true, JSON.stringify(result.problems));
});

test('lone UTF-16 surrogates a client sends (SQL, client name, argument keys and values) are written as U+FFFD: every line stays well-formed UTF-8 JSON; pairs are kept', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'snowmux-audit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = await AuditLog.open({ dir, fsync: 'never', maxFileBytes: 1 << 20 });
  const lone = 'x\ud800y\udc00z';
  const entry = sampleEntry(1, {
    sql: `SELECT 1 /* ${lone} 😀 */`,
    client: { name: `lone${lone}`, version: lone },
    identity: lone,
    request: { [`k${lone}`]: [lone], region: 'ASIA' },
    detail: { note: lone },
  });
  assert.equal((await log.append(entry)).ok, true);
  assert.equal((await log.append(sampleEntry(2))).ok, true);
  await log.close();
  const [file] = (await readdir(dir)).filter((n) => n.endsWith('.jsonl'));
  const text = await readFile(join(dir, file!), 'utf8');
  // What JSON.stringify writes for a lone surrogate, and jq (and serde_json, Go's decoder) refuse.
  assert.doesNotMatch(text, /\\ud[89a-f][0-9a-f]{2}/i);
  const [first] = text.split('\n').map((l) => JSON.parse(l || 'null') as Record<string, unknown>);
  const fixed = 'x\ufffdy\ufffdz';
  assert.equal(first!.sql, `SELECT 1 /* ${fixed} 😀 */`, 'a surrogate pair (the emoji) is kept');
  assert.deepEqual(first!.client, { name: `lone${fixed}`, version: fixed });
  assert.equal(first!.identity, fixed);
  assert.deepEqual(first!.request, { [`k${fixed}`]: [fixed], region: 'ASIA' });
  assert.deepEqual(first!.detail, { note: fixed });
  assert.equal((await verifyAudit(dir)).ok, true);
});
