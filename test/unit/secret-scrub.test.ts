/**
 * Secret scrubbing that a client cannot turn against the record: a private-key marker hides nothing but a
 * well-formed key, hub.log stays one valid JSON line per record whatever the secret's spelling, a session's
 * own secrets scrub only that session's text, and a caller's own view is not scrubbed with others' secrets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { REDACTED, SecretScrubber, redactEntry, scrubPrivateKeys, urlCredentials } from '../../src/hub/audit/audit-redact.js';
import { isSnowmuxError } from '../../src/errors.js';
import { KnownSecrets } from '../../src/hub/audit/known-secrets.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { QueryHistory } from '../../src/hub/observe/query-history.js';
import { createRuntime } from '../../src/hub/runtime.js';
import { Session } from '../../src/hub/session/session.js';
import { sampleEntry } from '../fixtures/audit-sample.js';
import { tempHome } from '../helpers/harness.js';

/** Real private keys in every PEM form a client or a driver may echo. */
function privateKeys(): string[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const openssh = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), randomBytes(93)]).toString('base64').replace(/(.{70})/g, '$1\n');
  return [
    rsa.export({ type: 'pkcs8', format: 'pem' }) as string,
    rsa.export({ type: 'pkcs1', format: 'pem' }) as string,
    rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' }) as string,
    ec.export({ type: 'sec1', format: 'pem' }) as string,
    ec.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string,
    ed.export({ type: 'pkcs8', format: 'pem' }) as string,
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${openssh}\n-----END OPENSSH PRIVATE KEY-----\n`,
  ];
}

test('a private-key marker hides nothing but a well-formed key: SQL around it is kept, real keys in any form are scrubbed', () => {
  const hostile = [
    '/*-----BEGIN RSA PRIVATE KEY-----*/ SELECT CURRENT_USER()',
    '/* -----BEGIN X PRIVATE KEY----- */ SELECT C_NAME, C_ACCTBAL FROM CUSTOMER ORDER BY C_ACCTBAL DESC LIMIT 2',
    '/* -----BEGIN X PRIVATE KEY----- */ SELECT N_NAME FROM NATION LIMIT 1 /* -----END X PRIVATE KEY----- */',
    // Markers as line comments around base64-looking SQL: still not a key.
    '-- -----BEGIN X PRIVATE KEY-----\nSELECT\nSALARY\nFROM\nPAYROLL\n-----END X PRIVATE KEY-----',
    'SELECT * FROM -- -----BEGIN X PRIVATE KEY-----\nCUSTOMERSALARIESANDBONUSESFORALLEXECUTIVES2024\n-----END X PRIVATE KEY-----',
    'SELECT 1 -- -----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF00FF00FF00FF\n\nSALARYFROMPAYROLLX\n-----END RSA PRIVATE KEY-----',
  ];
  const scrubber = new SecretScrubber(['unrelated-secret']);
  for (const sql of hostile) {
    assert.equal(scrubber.scrub(sql), sql);
    assert.equal(redactEntry(sampleEntry(1, { sql }), scrubber).sql, sql);
  }
  for (const key of privateKeys()) {
    const label = key.split('\n')[0]!;
    assert.equal(scrubPrivateKeys(`SELECT '${key}' AS k`), `SELECT '${REDACTED}\n' AS k`, label);
    // Pasted from JSON (two-character \n), and with a known secret that happens to occur in its body.
    const escaped = JSON.stringify(key).slice(1, -1);
    assert.equal(scrubber.scrub(`k=${escaped};`), `k=${REDACTED}\\n;`, label);
    const inBody = key.split('\n')[1]!.slice(4, 12);
    assert.equal(new SecretScrubber([inBody]).scrub(key), `${REDACTED}\n`, label);
  }
});

/** Lines a logger scrubbed with `secrets` wrote, each parsed (a line that is not JSON fails the test). */
function logLines(secrets: KnownSecrets, write: (logger: ReturnType<typeof createLogger>) => void): { raw: string; lines: Record<string, unknown>[] } {
  let raw = '';
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
  const logger = createLogger({ destination: out, level: 'info', scrub: (line) => secrets.scrubLogLine(line) });
  write(logger);
  logger.flush();
  const lines = raw.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { raw, lines };
}

test('hub.log keeps no known secret in any JSON spelling, and every line stays one valid JSON record', () => {
  const secrets = new KnownSecrets();
  secrets.hub.add(['Qu"otePw123', 'back\\slashPw', 'tab\tPw99', '"msg":']);
  const { raw, lines } = logLines(secrets, (logger) => {
    logger.warn({ reason: `Could not convert string 'Qu"otePw123' to INT32`, other: 'back\\slashPw and tab\tPw99' }, 'tool call failed');
    logger.info({ shimVersion: '-----BEGIN X PRIVATE KEY-----' }, 'session opened');
    logger.info({ why: 'eof' }, 'session closed');
  });
  assert.deepEqual(lines.map((l) => l.msg), ['tool call failed', 'session opened', 'session closed']);
  for (const spelling of ['Qu"otePw123', 'Qu\\"otePw123', 'back\\slashPw', 'back\\\\slashPw', 'tab\\tPw99']) assert.equal(raw.includes(spelling), false, spelling);
  assert.equal(lines[0]!.reason, `Could not convert string '${REDACTED}' to INT32`);
  assert.equal(lines[1]!.shimVersion, '-----BEGIN X PRIVATE KEY-----');
});

test("a session's own secrets scrub only that session's records and log lines; the hub's scrub everyone's", async (t) => {
  const home = tempHome(t, 'scrub-');
  writeFileSync(join(home, 'config.toml'), ['[profiles.other]', 'account = "acme-x1"', 'user = "SVC"', "password = 'Sup3rS3cretPw!'", ''].join('\n'));
  const secrets = new KnownSecrets();
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const runtime = await createRuntime({ home, logger, env: {}, secrets });
  t.after(() => runtime.close('test over'));
  // A shim whose editor's environment names a password: resolving its target logs in nowhere.
  const env = { SNOWFLAKE_ACCOUNT: 'x', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: 'SUPPLIER', SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: '9', SNOWFLAKE_PROTOCOL: 'http' };
  runtime.warehouses.targetFor(new Session({ id: 'env-session', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env }));
  const sql = "SELECT S_NAME FROM SUPPLIER WHERE 'x' IN ('Sup3rS3cretPw!')";
  const record = (sessionId: string): CallRecord => ({
    at: new Date(0).toISOString(), sessionId, identity: 'me', client: 'c/1', clientInfo: { name: 'c', version: '1' }, tool: 'execute_query', requestId: '1',
    outcome: 'ok', errorCode: null, ms: 1, queueWaitMs: 0, runMs: 1, rows: 1, bytes: 1, queryId: null, sql, request: undefined, profile: 'embedded',
  });
  assert.equal(runtime.scrubCall(record('other-session')).sql, `SELECT S_NAME FROM SUPPLIER WHERE 'x' IN ('${REDACTED}')`);
  assert.equal(runtime.scrubCall(record('env-session')).sql, `SELECT S_NAME FROM ${REDACTED} WHERE 'x' IN ('${REDACTED}')`);

  const { lines } = logLines(secrets, (log) => {
    log.child({ session: 'other-session' }).info({ sql }, 'tool call failed');
    log.child({ session: 'env-session' }).info({ sql }, 'tool call failed');
    log.info({ note: 'SUPPLIER' }, 'hub line');
  });
  assert.deepEqual(lines.map((l) => l.sql ?? l.note), [`SELECT S_NAME FROM SUPPLIER WHERE 'x' IN ('${REDACTED}')`, `SELECT S_NAME FROM ${REDACTED} WHERE 'x' IN ('${REDACTED}')`, 'SUPPLIER']);

  // Once ended (and its last records written), a session's secrets are forgotten.
  runtime.sessionEnded('env-session');
  for (let i = 0; i < 300; i++) {
    secrets.addSession(`s${i}`, [`pw-${i}`]);
    runtime.sessionEnded(`s${i}`);
  }
  assert.equal(runtime.scrubCall(record('env-session')).sql, `SELECT S_NAME FROM SUPPLIER WHERE 'x' IN ('${REDACTED}')`);
});

test("a caller's own view of its SQL is scrubbed only with its own session's secrets; the audit keeps the hub's scrub", async (t) => {
  const home = tempHome(t, 'scrub-');
  writeFileSync(join(home, 'config.toml'), ['[profiles.other]', 'account = "acme-x1"', 'user = "SVC"', "password = 'Sup3rS3cretPw!'", ''].join('\n'));
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {} });
  await runtime.openAudit();
  const sql = "SELECT 1 AS g1 WHERE 'x' IN ('Password1','Sup3rS3cretPw!')";
  const call = runtime.scrubCall({
    at: new Date(0).toISOString(), sessionId: 's', identity: 'ops', client: 'c/1', clientInfo: { name: 'c', version: '1' }, tool: 'execute_query', requestId: '1',
    outcome: 'refused', errorCode: 'SQL_REFUSED', ms: 1, queueWaitMs: 0, runMs: 0, rows: null, bytes: 0, queryId: null, sql, request: undefined, profile: 'embedded',
  });
  assert.equal(call.sql, `SELECT 1 AS g1 WHERE 'x' IN ('Password1','${REDACTED}')`);
  assert.equal(call.callerView?.sql, sql, 'the caller is not told which of its guesses is a secret');
  const history = new QueryHistory();
  history.record(call);
  assert.equal(history.of('ops', 1)[0]?.callerView?.sql, sql);
  for (const sink of runtime.sinks) await sink.record(call);
  await runtime.close('test over');
  const audit = readdirSync(join(home, 'audit')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(home, 'audit', f), 'utf8')).join('');
  assert.match(audit, /'Password1','\[REDACTED\]'/);
  assert.equal(audit.includes('Sup3rS3cretPw!'), false);
});

test("a URL setting's credentials are found in every spelling: userinfo, a lone user, ?password=, unencoded / and @, no scheme", () => {
  const found = (url: string) => urlCredentials(url).sort();
  assert.deepEqual(found('redis://:REDIS-PW-8080@127.0.0.1:6379/0'), ['REDIS-PW-8080']);
  assert.deepEqual(found('redis://127.0.0.1:6379/0?password=REDIS-PW%2F8080&db=1'), ['REDIS-PW%2F8080', 'REDIS-PW/8080']);
  assert.deepEqual(found('rediss://alice:p%40ss-w0rd@h:1'), ['p%40ss-w0rd', 'p@ss-w0rd']);
  assert.deepEqual(found('redis://:SLASH/PW-1@127.0.0.1:9'), ['SLASH/PW-1']);
  assert.deepEqual(found('redis://:AT@PW-2@127.0.0.1:9'), ['AT%40PW-2', 'AT@PW-2']);
  assert.deepEqual(found('proxyuser:PROXY-PW-6363@proxy.corp:3128'), ['PROXY-PW-6363']);
  assert.deepEqual(found('http://PROXY-TOKEN-55@proxy.corp:3128'), ['PROXY-TOKEN-55']);
  assert.deepEqual(found('https://collector.example/v1/traces?api_key=OTLP+KEY'), ['OTLP KEY', 'OTLP+KEY']);
  // Nothing secret: no credential, an `@` in an ordinary parameter, a mistyped URL without one.
  assert.deepEqual(found('redis://127.0.0.1:6379/0?client=a@b'), []);
  assert.deepEqual(found('http://proxy.corp:3128'), []);
  assert.deepEqual(found('not a url'), []);
});

/** A finished call of `sessionId` whose SQL is `sql`. */
function callOf(sessionId: string, sql: string): CallRecord {
  return {
    at: new Date(0).toISOString(), sessionId, identity: 'me', client: 'c/1', clientInfo: { name: 'c', version: '1' }, tool: 'execute_query', requestId: '1',
    outcome: 'error', errorCode: 'SQL_FAILED', ms: 1, queueWaitMs: 0, runMs: 1, rows: null, bytes: 0, queryId: null, sql, request: undefined, profile: 'embedded',
  };
}

test("the hub's Redis password, its proxies' and its environment's Snowflake secrets are scrubbed hub-wide, from the call record and the audit", async (t) => {
  const home = tempHome(t, 'scrub-');
  writeFileSync(join(home, 'config.toml'), ['[hub]', 'redis_url = "redis://:REDIS-PW-8080@127.0.0.1:9/0?password=REDIS-QUERY-PW-4545"', ''].join('\n'));
  const env = {
    HTTPS_PROXY: 'http://proxyuser:PROXY-PW-6363@127.0.0.1:9',
    http_proxy: 'HTTP-PROXY-TOKEN-1919@127.0.0.1:9',
    ALL_PROXY: 'socks5://u:ALL-PROXY-PW-2727@127.0.0.1:9',
    // The hub's own Snowflake settings, before (and whether or not) they resolve.
    SNOWFLAKE_TOKEN: 'HUB-ENV-TOKEN-3131',
    SNOWFLAKE_PRIVATE_KEY_PATH: '/keys/hub.p8',
  };
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env });
  await runtime.openAudit();
  const secrets = ['REDIS-PW-8080', 'REDIS-QUERY-PW-4545', 'PROXY-PW-6363', 'HTTP-PROXY-TOKEN-1919', 'ALL-PROXY-PW-2727', 'HUB-ENV-TOKEN-3131'];
  const sql = `SELECT '${secrets.join(' ')}' AS x FROM '/keys/hub.p8'`;
  const call = runtime.scrubCall(callOf('any-session', sql));
  assert.equal(call.sql, `SELECT '${secrets.map(() => REDACTED).join(' ')}' AS x FROM '/keys/hub.p8'`);
  for (const sink of runtime.sinks) await sink.record(call);
  // A reloaded file's secrets are known at once, those that apply only after a restart too.
  writeFileSync(join(home, 'config.toml'), ['[hub]', 'redis_url = "redis://:RELOADED-REDIS-PW-5656@127.0.0.1:9/0"', ''].join('\n'));
  assert.deepEqual(runtime.reload().needsRestart, ['hub.redis_url']);
  assert.equal(runtime.scrubCall(callOf('any-session', "SELECT 'RELOADED-REDIS-PW-5656'")).sql, `SELECT '${REDACTED}'`);
  await runtime.close('test over');
  const audit = readdirSync(join(home, 'audit')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(home, 'audit', f), 'utf8')).join('');
  assert.ok(audit.includes('/keys/hub.p8'), 'the audit holds the call');
  for (const secret of secrets) assert.equal(audit.includes(secret), false, secret);
});

test("a session's forwarded secrets are its own even when its profile fails to resolve (a wrong key passphrase)", async (t) => {
  const home = tempHome(t, 'scrub-');
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {} });
  t.after(() => runtime.close('test over'));
  const key = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'the-right-one' }) as string;
  const own = {
    SNOWFLAKE_PASSWORD: 'SESSION-PW-1357',
    SNOWFLAKE_PASSCODE: '864209',
    SNOWFLAKE_TOKEN: 'SESSION-TOKEN-8642',
    SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'SHIM-WRONG-PASSPHRASE-2468',
    SNOWFLAKE_CONNECTIONS_DEV_PASSWORD: 'CONN-ENV-PW-9753',
  };
  const env = { SNOWFLAKE_ACCOUNT: 'acme-x1', SNOWFLAKE_USER: 'SVC', SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT', SNOWFLAKE_PRIVATE_KEY: key, ...own };
  const session = new Session({ id: 'failing-session', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env });
  assert.throws(() => runtime.warehouses.targetFor(session), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /passphrase/i.test(err.message));
  const sql = `SELECT '${Object.values(own).join(' ')}' AS x`;
  assert.equal(runtime.scrubCall(callOf('failing-session', sql)).sql, `SELECT '${Object.values(own).map(() => REDACTED).join(' ')}' AS x`);
  // Scoped as a resolved session's are: another session's text is its own to keep.
  assert.equal(runtime.scrubCall(callOf('other-session', sql)).sql, sql);
});

test('a reload refused for a mistyped redis_url keeps its password out of the reason status, /events and the audit log show', async (t) => {
  const home = tempHome(t, 'scrub-');
  const logged = new PassThrough();
  let log = '';
  logged.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const runtime = await createRuntime({ home, logger: createLogger({ destination: logged, level: 'info' }), env: {} });
  t.after(() => runtime.close('test over'));
  await runtime.openAudit();
  const pw = 'MISTYPED-REDIS-PW-2718';
  // The ':' after the scheme left out, then the password pasted alone: no URL mask can find it in either.
  for (const url of [`rediss//:${pw}@redis.example:6380`, pw]) {
    writeFileSync(join(home, 'config.toml'), `[hub]\nredis_url = "${url}"\n`);
    assert.throws(() => runtime.reload(), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && !err.message.includes(pw) && err.message.includes('hub.redis_url'));
    const config = runtime.statusSections().config as { refusedReload?: { reason: string } };
    assert.match(config.refusedReload?.reason ?? '', /at hub\.redis_url: expected a redis:\/\/ or rediss:\/\/ URL, got a string \(value hidden\)/);
  }
  await runtime.close('test over');
  const audit = readdirSync(join(home, 'audit')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(home, 'audit', f), 'utf8')).join('');
  assert.ok(audit.includes('"refused"'), 'the refusals are audited');
  assert.equal(audit.includes(pw), false);
  assert.equal(log.includes(pw), false);
});

test('a snowmux API key is scrubbed wherever it stands, its public id kept; text that only looks like one is kept', () => {
  const key = 'smx_00bc48533a57_CvvMSTWcU51QIbDl_veOVavfF_BxL6Yq';
  const shown = `smx_00bc48533a57_${REDACTED}`;
  const scrubber = new SecretScrubber(['unrelated-secret']);
  // In SQL (a pasted connection snippet), a client name, after a word or an underscore, twice in one string.
  assert.equal(scrubber.scrub(`select 1 -- SNOWMUX_KEY=${key}`), `select 1 -- SNOWMUX_KEY=${shown}`);
  assert.equal(scrubber.scrub(`KEY_${key} and '${key}'`), `KEY_${shown} and '${shown}'`);
  assert.equal(redactEntry(sampleEntry(1, { sql: `select '${key}' as k` }), scrubber).sql, `select '${shown}' as k`);
  // What a caller is shown of its own text loses it too (forCaller: the form-based scrub).
  assert.equal(scrubPrivateKeys(key), shown);
  // Not a key: a short secret, no hex id, an ordinary identifier.
  for (const text of ['smx_00bc48533a57_short', 'smx_NOTHEXNOTHEX_CvvMSTWcU51QIbDl_veOVavfF_BxL6Yq', 'select smx_total from t']) {
    assert.equal(scrubber.scrub(text), text);
  }
});

test('hub.log scrubs a snowmux API key by its form, even on a hub that knows no other secret', () => {
  const key = 'smx_00bc48533a57_CvvMSTWcU51QIbDl_veOVavfF_BxL6Yq';
  const shown = `smx_00bc48533a57_${REDACTED}`;
  // No known secret at all, then known secrets that are not on the line: the line must be scrubbed either way.
  for (const known of [[], ['Unrelated-Pw-1234']]) {
    const secrets = new KnownSecrets();
    secrets.hub.add(known);
    const { raw, lines } = logLines(secrets, (logger) => {
      // What a failed call logs: the engine's error quoting the caller's SQL, which held its pasted key.
      logger.child({ session: 's1' }).info({ code: 'SQL_ERROR', reason: `Binder Error: Referenced column "${key}" not found in FROM clause!` }, 'tool call failed');
      logger.info({ detail: `{"jsonrpc":"2.0","params":{"key":"${key}"}}` }, 'rejected client input');
    });
    assert.equal(raw.includes(key), false, `known: ${known.join(',')}`);
    assert.equal(lines[0]!.reason, `Binder Error: Referenced column "${shown}" not found in FROM clause!`);
    assert.equal(lines[1]!.detail, `{"jsonrpc":"2.0","params":{"key":"${shown}"}}`);
    assert.equal(lines[0]!.msg, 'tool call failed');
  }
});
