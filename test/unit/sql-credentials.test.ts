/**
 * Credentials typed into SQL (docs/audit.md, "Secrets"): hidden from the audit log, status's recent calls
 * and query_history by the lexer's reading of the statement, never by a pattern a client could aim at the
 * statement's own text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HIDDEN_LITERAL, hideSqlCredentials, sqlCredentialHider, sqlCredentialValues } from '../../src/hub/guard/sql/sql-credentials.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { QueryHistory } from '../../src/hub/observe/query-history.js';
import { createRuntime } from '../../src/hub/runtime.js';
import { tempHome } from '../helpers/harness.js';

const H = HIDDEN_LITERAL;

/** Statement → what every copy the hub keeps shows of it. */
const HIDDEN: [string, string][] = [
  ["ALTER USER eve SET PASSWORD = 'NewUserPass123!'", `ALTER USER eve SET PASSWORD = ${H}`],
  ["CREATE USER eve PASSWORD='NewUserPass123!' DEFAULT_ROLE = analyst", `CREATE USER eve PASSWORD=${H} DEFAULT_ROLE = analyst`],
  [
    "COPY INTO t FROM 's3://bucket/path' CREDENTIALS = (AWS_KEY_ID = 'AKIAEXAMPLE' AWS_SECRET_KEY = 'wJalrXUtnFEMI') FILE_FORMAT = (TYPE = CSV)",
    `COPY INTO t FROM 's3://bucket/path' CREDENTIALS = (AWS_KEY_ID = ${H} AWS_SECRET_KEY = ${H}) FILE_FORMAT = (TYPE = CSV)`,
  ],
  ["CREATE STAGE s URL = 's3://b' CREDENTIALS = (AWS_SECRET_KEY = 'k1') ENCRYPTION = (MASTER_KEY = 'mk-123')", `CREATE STAGE s URL = 's3://b' CREDENTIALS = (AWS_SECRET_KEY = ${H}) ENCRYPTION = (MASTER_KEY = ${H})`],
  ["CREATE STAGE s URL = 'azure://acct.blob.core.windows.net/c' CREDENTIALS = (AZURE_SAS_TOKEN = '?sv=2022&sig=abc')", `CREATE STAGE s URL = 'azure://acct.blob.core.windows.net/c' CREDENTIALS = (AZURE_SAS_TOKEN = ${H})`],
  ["CREATE STORAGE INTEGRATION i TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'AZURE' AZURE_TENANT_ID = 'tid' ENABLED = TRUE", "CREATE STORAGE INTEGRATION i TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'AZURE' AZURE_TENANT_ID = 'tid' ENABLED = TRUE"],
  ["CREATE API INTEGRATION a API_PROVIDER = git_https_api API_KEY = 'k-123' ENABLED = TRUE", `CREATE API INTEGRATION a API_PROVIDER = git_https_api API_KEY = ${H} ENABLED = TRUE`],
  ["CREATE SECRET s TYPE = PASSWORD USERNAME = 'bob' PASSWORD = 'pw-9'", `CREATE SECRET s TYPE = PASSWORD USERNAME = 'bob' PASSWORD = ${H}`],
  ['CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = $$s3cr3t$$', `CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = ${H}`],
  ["CREATE SECURITY INTEGRATION o TYPE = OAUTH OAUTH_CLIENT_SECRET = 'cs-1' OAUTH_REFRESH_TOKEN = 'rt-1'", `CREATE SECURITY INTEGRATION o TYPE = OAUTH OAUTH_CLIENT_SECRET = ${H} OAUTH_REFRESH_TOKEN = ${H}`],
  ["SELECT * FROM t WHERE api_token /* the live one */ = 'tok_live_123'", `SELECT * FROM t WHERE api_token /* the live one */ = ${H}`],
  // DuckDB: CREATE SECRET gives values without "=", ATTACH takes a URL or a libpq string.
  ["CREATE SECRET (TYPE s3, KEY_ID 'AKIAEXAMPLE', SECRET 'wJalr', SESSION_TOKEN 'st-1', REGION 'us-east-1')", `CREATE SECRET (TYPE s3, KEY_ID ${H}, SECRET ${H}, SESSION_TOKEN ${H}, REGION 'us-east-1')`],
  // DuckDB's encrypted database file: its key (the hub refuses ATTACH, and audits the refused statement).
  ["ATTACH 'enc.db' AS e (ENCRYPTION_KEY 'quack-secret-1')", `ATTACH 'enc.db' AS e (ENCRYPTION_KEY ${H})`],
  ["ATTACH 'postgres://app:p%40ss@db.internal:5432/sales' AS pg (TYPE postgres)", "ATTACH 'postgres://***@db.internal:5432/sales' AS pg (TYPE postgres)"],
  ["ATTACH 'host=db user=app password=hunter22 dbname=sales' AS pg (TYPE postgres)", "ATTACH 'host=db user=app password=*** dbname=sales' AS pg (TYPE postgres)"],
  ["SELECT * FROM read_csv('https://h.example/x.csv?sig=abc123&sv=1')", "SELECT * FROM read_csv('https://h.example/x.csv?sig=***&sv=1')"],
  // A map or object literal's credential-named key: DuckDB's HTTP headers, a struct of a login.
  ["CREATE SECRET (TYPE http, EXTRA_HTTP_HEADERS MAP {'Authorization': 'Bearer bt-live-1'})", `CREATE SECRET (TYPE http, EXTRA_HTTP_HEADERS MAP {'Authorization': ${H}})`],
  ["SELECT {'user': 'bob', 'password': 'pw-in-struct'} AS login", `SELECT {'user': 'bob', 'password': ${H}} AS login`],
  // An HTTP credential is one whatever it is given to: a header of any name, a function's positional argument.
  ["SELECT http_get('https://api.example/x', headers => MAP {'X-Upstream': 'Bearer sk-live-4f9Qz81'})", "SELECT http_get('https://api.example/x', headers => MAP {'X-Upstream': 'Bearer ***'})"],
  ["SELECT decode_jwt('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl_x')", "SELECT decode_jwt('***')"],
  ["SELECT call_api('https://h.example', 'Basic dXNlcjpwYXNz')", "SELECT call_api('https://h.example', 'Basic ***')"],
  // A URL whose path is its secret: a webhook's, whatever it is given to.
  [
    "CREATE NOTIFICATION INTEGRATION n TYPE = WEBHOOK ENABLED = TRUE WEBHOOK_URL = 'https://hooks.slack.com/services/T0001/B0001/SLACKHOOK-SECRET-1'",
    "CREATE NOTIFICATION INTEGRATION n TYPE = WEBHOOK ENABLED = TRUE WEBHOOK_URL = 'https://hooks.slack.com/services/***'",
  ],
  ["SELECT http_post('https://discord.com/api/webhooks/1234567/DISCORD-TOKEN-3', body)", "SELECT http_post('https://discord.com/api/webhooks/***', body)"],
  // A secret given by its position to a function known to take one: every literal of that argument, however built.
  ["SELECT ENCRYPT('hello', 'my passphrase 1'), DECRYPT(col, 'pp-secret-xyz') FROM t", `SELECT ENCRYPT('hello', ${H}), DECRYPT(col, ${H}) FROM t`],
  ["SELECT try_decrypt(col, $$dollar pass$$, 'aad', 'AES-GCM')", `SELECT try_decrypt(col, ${H}, 'aad', 'AES-GCM')`],
  ["SELECT ENCRYPT_RAW(TO_BINARY('aa', 'HEX'), X'0123456789abcdef0123456789abcdef', iv)", `SELECT ENCRYPT_RAW(TO_BINARY('aa', 'HEX'), X${H}, iv)`],
  ["SELECT DECRYPT_RAW(v, TO_BINARY('00112233' || 'aabbccdd', 'HEX'), iv), TRY_DECRYPT_RAW(v, /* k */ HEX_DECODE_BINARY('ffee0011'), iv)", `SELECT DECRYPT_RAW(v, TO_BINARY(${H} || ${H}, 'HEX'), iv), TRY_DECRYPT_RAW(v, /* k */ HEX_DECODE_BINARY(${H}), iv)`],
  ["CALL SYSTEM$AUTHORIZE_PRIVATELINK('123456789012', 'IQoJb3JpZ2luX2VjEE0aCXVzLWVhc3Qt')", `CALL SYSTEM$AUTHORIZE_PRIVATELINK('123456789012', ${H})`],
  ["SELECT SYSTEM$REVOKE_PRIVATELINK('sub-1', 'az-access-token-1')", `SELECT SYSTEM$REVOKE_PRIVATELINK('sub-1', ${H})`],
  // An external function's headers go to the remote service with every call: each value, whatever its header's name.
  [
    "CREATE EXTERNAL FUNCTION f(x INT) RETURNS VARIANT API_INTEGRATION = ai HEADERS = ('x-api-key' = 'hdr-secret-1', 'x-team' = 'hdr-secret-2') AS 'https://x.example.com/f'",
    `CREATE EXTERNAL FUNCTION f(x INT) RETURNS VARIANT API_INTEGRATION = ai HEADERS = ('x-api-key' = ${H}, 'x-team' = ${H}) AS 'https://x.example.com/f'`,
  ],
  // A refused statement whose literal is never closed keeps none of it.
  ["ALTER USER eve SET PASSWORD = 'NewUserPass123!", `ALTER USER eve SET PASSWORD = ${H}`],
  ["SELECT DECRYPT(col, 'never-closed-pass", `SELECT DECRYPT(col, ${H}`],
  ["CREATE EXTERNAL FUNCTION f(x INT) RETURNS VARIANT API_INTEGRATION = ai HEADERS = ('x-api-key' = 'never-closed-key", `CREATE EXTERNAL FUNCTION f(x INT) RETURNS VARIANT API_INTEGRATION = ai HEADERS = ('x-api-key' = ${H}`],
];

/** Text that is not a credential literal in both engines' reading stays as it is. */
const KEPT = [
  // A quote inside a comment is no literal's start: a pattern would have blanked the statement up to the next quote.
  "SELECT 1 /* password = ' */, secret_col, ssn FROM customers WHERE region = 'EU' -- '",
  "SELECT S_NAME FROM SUPPLIER WHERE 'x' IN ('Password1','Sup3rS3cretPw!')",
  "SELECT o_orderkey FROM orders WHERE o_orderkey = '5' AND o_comment = 'token'",
  "SELECT 'password' AS label, count(*) FROM users",
  // The argument a function takes in clear, and names that only look like one of those functions.
  "SELECT ENCRYPT_RAW(TO_BINARY('aabb', 'HEX'), k, X'00112233445566778899aabb'), encrypted('plain'), decrypt_col FROM t WHERE headers = 'x'",
  "SELECT {'name': 'password', 'note': 'token'} AS s, obj:'password' FROM t",
  // Prose that starts like an HTTP credential is not one.
  "SELECT * FROM bonds WHERE kind = 'Bearer Certificates' OR plan = 'Basic information' OR note = 'basic plan'",
  // Snowflake reads \' as an escaped quote, DuckDB as the literal's end: where the readings disagree, nothing is hidden.
  "ALTER USER eve SET PASSWORD = 'a\\' , o_comment FROM orders --'",
];

test('credentials typed into SQL are hidden by the lexer: every credential parameter, URL passwords, DuckDB secrets', () => {
  for (const [sql, shown] of HIDDEN) assert.equal(hideSqlCredentials(sql), shown, sql);
  for (const sql of KEPT) assert.equal(hideSqlCredentials(sql), sql, sql);
  // The values themselves, for texts that quote the statement (an engine's error in hub.log).
  assert.deepEqual(sqlCredentialValues("CREATE SECRET (TYPE s3, KEY_ID 'AKIAEXAMPLE', SECRET 'it''s-secret', REGION 'eu')"), ["it''s-secret", "it's-secret", 'AKIAEXAMPLE']);
  assert.deepEqual(sqlCredentialValues('CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = $$s3cr3t$$'), ['s3cr3t']);
  assert.deepEqual(sqlCredentialValues("SELECT DECRYPT(col, 'pp-secret-xyz')"), ['pp-secret-xyz']);
  for (const sql of KEPT) assert.deepEqual(sqlCredentialValues(sql), [], sql);
});

test('a statement longer than the audit keeps is read only as far as it is kept', () => {
  const keep = 1000;
  const values = Array.from({ length: 2000 }, (_, i) => `'v${i}'`).join(',');
  const long = `CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = 'early-secret' COMMENT = 'x' /* ${values} */`;
  const out = hideSqlCredentials(long, keep);
  assert.equal(out.startsWith(`CREATE SECRET s TYPE = GENERIC_STRING SECRET_STRING = ${H} COMMENT = 'x'`), true);
  assert.equal(out.includes('early-secret'), false);
  // A credential literal that outruns the part read is hidden to the end.
  const huge = `ALTER USER eve SET PASSWORD = '${'A'.repeat(5000)}' COMMENT = 'c'`;
  assert.equal(hideSqlCredentials(huge, keep), `ALTER USER eve SET PASSWORD = ${H}`);
  // Hidden text that shortens what was read below `keep` makes the rest read too.
  const shrunk = `ALTER USER eve SET PASSWORD = '${'B'.repeat(1500)}' ${`, x = 1`.repeat(200)} MASTER_KEY = 'late-secret'`;
  assert.equal(hideSqlCredentials(shrunk, keep).includes('late-secret'), false);
});

test("the credentials a failing statement's error may quote are read as far as the audit keeps it: a huge statement costs no more than a short one", () => {
  const keep = 1000;
  const values = Array.from({ length: 200_000 }, (_, i) => `'v${i}'`).join(',');
  const huge = `ALTER USER eve SET PASSWORD = 'early-secret' COMMENT = 'c' /* ${values} */ , RSA_PUBLIC_KEY = 'x', PASSWORD = 'late-secret-beyond'`;
  // Counted by what is read, not timed: each value past the part read would be a literal the lexer had to read.
  assert.deepEqual(sqlCredentialValues(huge, keep), ['early-secret']);
  const hide = sqlCredentialHider(huge, keep)!;
  assert.equal(hide(`LINE 1: ALTER USER eve SET PASSWORD = 'early-secret' COMMENT`), `LINE 1: ALTER USER eve SET PASSWORD = '[REDACTED]' COMMENT`);
  // A credential literal that outruns the part read is hidden from its start to its quote in the text.
  const long = `ALTER USER eve SET PASSWORD = '${'S'.repeat(3000)}TAIL' COMMENT = 'c'`;
  assert.equal(sqlCredentialHider(long, keep)!(`near '${'S'.repeat(3000)}TAIL' at 1`), `near '[REDACTED]' at 1`);
  // Past the part read the rest is scanned (not lexed) for the values given to credential names: an
  // engine's error may quote any of them, at any distance into the statement.
  assert.equal(hide(`Could not convert string 'late-secret-beyond' to INT32`), `Could not convert string '[REDACTED]' to INT32`);
  assert.equal(sqlCredentialHider(`SELECT 1 /* ${'x'.repeat(3000)} */`, keep)!('near x'), 'near x');
  // …a map or object literal's credential-named key too, and an HTTP credential in any literal.
  const mapped = `SELECT 1 /* ${'x'.repeat(3000)} */, MAP {'Authorization': 'late-map-secret'}, f('Bearer tail-tok-123')`;
  assert.equal(sqlCredentialHider(mapped, keep)!(`Conversion Error: 'late-map-secret' near 'Bearer tail-tok-123'`), `Conversion Error: '[REDACTED]' near 'Bearer ***'`);
  // …and a secret a function takes by position.
  const positional = `SELECT 1 /* ${'x'.repeat(3000)} */, DECRYPT(col, /* pp */ 'late-passphrase-1'), TRY_DECRYPT_RAW(v, TO_BINARY('aabbccdd00', 'HEX'), iv)`;
  assert.equal(sqlCredentialHider(positional, keep)!(`near 'late-passphrase-1' and 'aabbccdd00' as 'HEX'`), `near '[REDACTED]' and '[REDACTED]' as 'HEX'`);
  // Unbounded, as before, it reads the whole.
  assert.deepEqual(sqlCredentialValues(huge), ['late-secret-beyond', 'early-secret']);
  assert.equal(sqlCredentialHider('SELECT 1', keep), undefined);
});

test('the audit log, status and query_history (the caller\'s own view too) keep no credential typed into SQL', async (t) => {
  const home = tempHome(t, 'sqlcred-');
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {} });
  await runtime.openAudit();
  const sql = "CREATE STAGE s URL = 's3://bucket' CREDENTIALS = (AWS_KEY_ID = 'AKIAEXAMPLE7' AWS_SECRET_KEY = 'wJalrXUtnFEMI-K7MDENG')";
  const call = runtime.scrubCall({
    at: new Date(0).toISOString(), sessionId: 's', identity: 'ops', client: 'c/1', clientInfo: { name: 'c', version: '1' }, tool: 'execute_query', requestId: '1',
    outcome: 'refused', errorCode: 'SQL_REFUSED', ms: 1, queueWaitMs: 0, runMs: 0, rows: null, bytes: 0, queryId: null, sql, request: undefined, profile: 'embedded',
  } satisfies CallRecord);
  const shown = `CREATE STAGE s URL = 's3://bucket' CREDENTIALS = (AWS_KEY_ID = ${H} AWS_SECRET_KEY = ${H})`;
  assert.equal(call.sql, shown);
  const history = new QueryHistory();
  history.record(call);
  const own = history.of('ops', 1)[0]!;
  assert.equal(own.callerView?.sql ?? own.sql, shown);
  for (const sink of runtime.sinks) await sink.record(call);
  await runtime.close('test over');
  const audit = readdirSync(join(home, 'audit')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(home, 'audit', f), 'utf8')).join('');
  assert.match(audit, /AWS_SECRET_KEY = '\[REDACTED\]'/);
  for (const secret of ['AKIAEXAMPLE7', 'wJalrXUtnFEMI-K7MDENG']) assert.equal(audit.includes(secret), false, secret);
});
