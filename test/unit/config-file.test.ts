import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { loadConfigFile, parseConfigText, resolveConfigPath } from '../../src/hub/config/config-file.js';
import { DEFAULT_HUB_SETTINGS } from '../../src/hub/config/config-schema.js';
import { ManualClock } from '../../src/hub/guard/clock.js';
import { QuotaTracker, type QuotaRule } from '../../src/hub/guard/quota.js';

const FILE = '/home/u/.snowmux/config.toml';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-config-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function configError(text: string): string {
  try {
    parseConfigText(text, FILE);
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

test('an empty file yields every default', () => {
  const config = parseConfigText('', FILE);
  assert.deepEqual(config.hub, { ...DEFAULT_HUB_SETTINGS, defaultProfile: undefined });
  assert.equal(config.hub.maxRows, 200);
  assert.deepEqual(config.profiles, {});
  assert.deepEqual(config.roles, {});
});

test('snake_case keys become camelCase with units converted', () => {
  const config = parseConfigText(
    `
[hub]
max_line_bytes = 1024
shutdown_grace_ms = 0
default_profile = "dev"
call_timeout_ms = 5000
max_rows = 50
max_result_bytes = 4096
http_listen = "0.0.0.0:8443"
http_auth = true
http_allowed_origins = ["https://app.example.com"]
http_hosts = ["snowmux.example.com"]
otel_endpoint = "http://127.0.0.1:4318"
otel_headers = { "x-api-key" = "k-123" }
otel_service_name = "snowmux-dev"
use_env_proxy = false

[profiles.dev]
account = "myorg-acct"
user = "me"
authenticator = "snowflake_jwt"
private_key_path = "~/keys/rsa_key.p8"
private_key_passphrase = "pp"
role = "ANALYST"
warehouse = "WH"
database = "DB"
schema = "PUBLIC"
access_url = "http://127.0.0.1:8080"
statement_timeout_s = 30

[profiles.dev.pool]
min = 1
max = 8
acquire_timeout_ms = 2000
idle_timeout_ms = 60000
validate = false
max_age_hours = 1.5
`,
    FILE,
  );
  assert.deepEqual(config.hub, {
    maxLineBytes: 1024,
    shutdownGraceMs: 0,
    defaultProfile: 'dev',
    callTimeoutMs: 5000,
    maxRows: 50,
    maxResultBytes: 4096,
    httpListen: '0.0.0.0:8443',
    httpAuth: true,
    httpEngine: 'auto',
    httpBodyTimeoutMs: 8000,
    httpMaxRequestsPerIdentity: 64,
    httpAllowedOrigins: ['https://app.example.com'],
    httpHosts: ['snowmux.example.com'],
    httpShimProfiles: [],
    teamNamespace: 'snowmux',
    otelEndpoint: 'http://127.0.0.1:4318',
    otelHeaders: { 'x-api-key': 'k-123' },
    otelServiceName: 'snowmux-dev',
    useEnvProxy: false,
  });
  const dev = config.profiles.dev!;
  assert.equal(dev.authenticator, 'SNOWFLAKE_JWT');
  assert.equal(dev.privateKeyPath, '~/keys/rsa_key.p8');
  assert.equal(dev.privateKeyPassphrase, 'pp');
  assert.equal(dev.accessUrl, 'http://127.0.0.1:8080');
  assert.equal(dev.statementTimeoutMs, 30_000);
  assert.deepEqual(dev.pool, {
    min: 1,
    max: 8,
    acquireTimeoutMs: 2000,
    idleTimeoutMs: 60_000,
    validateOnBorrow: false,
    maxConnectionAgeMs: 5_400_000,
  });
});

test('a bad value is reported with file, key, expectation and the value', () => {
  const message = configError('[profiles.dev.pool]\nmax = "lots"\n');
  assert.equal(
    message,
    'Config error in /home/u/.snowmux/config.toml at profiles.dev.pool.max: expected a positive integer, got "lots". Fix the value or remove the key.',
  );
});

test('each kind of bad value names its key', () => {
  assert.match(configError('[hub]\nmax_rows = 0\n'), /at hub\.max_rows: expected a positive integer, got 0\./);
  assert.match(configError('[hub]\nmax_rows = 2.5\n'), /at hub\.max_rows: expected a positive integer, got 2\.5\./);
  assert.match(configError('[hub]\nshutdown_grace_ms = -1\n'), /at hub\.shutdown_grace_ms: expected an integer of 0 or more/);
  assert.match(configError('[profiles.dev.pool]\nvalidate = "yes"\n'), /at profiles\.dev\.pool\.validate: expected true or false, got "yes"/);
  assert.match(configError('[profiles.dev]\naccount = ""\n'), /at profiles\.dev\.account: expected a non-empty string, got ""/);
  assert.match(configError('[profiles.dev]\naccess_url = "ftp://x"\n'), /at profiles\.dev\.access_url: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(configError('[profiles.dev]\nauthenticator = "magic"\n'), /at profiles\.dev\.authenticator: expected one of SNOWFLAKE, SNOWFLAKE_JWT, OAUTH, PROGRAMMATIC_ACCESS_TOKEN, EXTERNALBROWSER, USERNAME_PASSWORD_MFA, got "magic"/);
  assert.match(configError('[profiles.dev]\nauthenticator = "https://acme.okta.com"\n'), /native Okta authentication .* is not supported; use EXTERNALBROWSER/);
  assert.match(configError('profiles = 3\n'), /at profiles: expected a table of profiles, got 3/);
  assert.match(configError('[roles]\nanalyst = 1\n'), /at roles\.analyst: expected a table, got 1/);
  // A port past 65535 is refused here, not passed to an engine that may wrap it around (99999 → 34463).
  assert.match(configError('[hub]\nhttp_listen = "127.0.0.1:99999"\n'), /at hub\.http_listen: expected host:port \(a port from 0 to 65535\)/);
  assert.match(configError('[hub]\nmetrics_listen = "127.0.0.1:65536"\n'), /at hub\.metrics_listen: expected host:port \(a port from 0 to 65535\)/);
  assert.equal(parseConfigText('[hub]\nmetrics_listen = "127.0.0.1:65535"\n', FILE).hub.metricsListen, '127.0.0.1:65535');
  assert.match(configError('[profiles."team.prod"]\nuser = 1\n'), /at profiles\."team\.prod"\.user: expected a string, got 1/);
  // A pool whose min passes its max in one table stops the hub at start, naming the key and the fix.
  assert.match(configError('[profiles.p.pool]\nmin = 5\nmax = 2\n'), /at profiles\.p\.pool\.min: pool\.min \(5\) is larger than pool\.max \(2\): lower min or raise max/);
  assert.equal(parseConfigText('[profiles.p.pool]\nmin = 2\nmax = 2\n', FILE).profiles.p?.pool.min, 2);
});

test('every problem in the file is reported, one line each', () => {
  const message = configError('[hub]\nmax_rows = "x"\ncall_timeout_ms = "y"\n');
  const lines = message.split('\n');
  assert.equal(lines.length, 2);
  assert.ok(lines.every((line) => line.startsWith('Config error in /home/u/.snowmux/config.toml at hub.')));
});

test('unknown keys are errors naming the key, with a suggestion for typos and other tools\' spellings', () => {
  assert.equal(
    configError('[profiles.dev]\npasword = "x"\n'),
    'Config error in /home/u/.snowmux/config.toml at profiles.dev: unknown key "pasword" (did you mean "password"?). Remove it or correct its spelling.',
  );
  assert.match(configError('[profiles.dev]\nprivate_key_file = "k.p8"\n'), /unknown key "private_key_file" \(did you mean "private_key_path"\?\)/);
  assert.match(configError('[profiles.dev]\nprivateKeyPath = "k.p8"\n'), /unknown key "privateKeyPath" \(did you mean "private_key_path"\?\)/);
  assert.match(configError('[hub]\nmaxRows = 3\n'), /at hub: unknown key "maxRows" \(did you mean "max_rows"\?\)/);
  assert.match(configError('[profiles.dev.pool]\nmaximum = 3\n'), /at profiles\.dev\.pool: unknown key "maximum"/);
  assert.match(configError('[hubb]\nmax_rows = 3\n'), /at the top level: unknown key "hubb" \(did you mean "hub"\?\)/);
  const unrelated = configError('[hub]\nzzzzzz = 1\n');
  assert.match(unrelated, /unknown key "zzzzzz"\. Remove it or correct its spelling\. Allowed keys here: max_line_bytes, /);
});

test('governance sections are validated like every other section', () => {
  const c = parseConfigText('[roles.analyst]\ntools = ["execute_query"]\n[limits]\nmax_queued = 5\n[audit]\ndir = "a"\n', FILE);
  assert.deepEqual(c.roles.analyst?.tools, ['execute_query']);
  assert.equal(c.limits.maxQueued, 5);
  assert.equal(c.audit.dir, 'a');
  assert.match(configError('[roles.analyst]\nread_only = true\n'), /at roles\.analyst: unknown key "read_only"/);
});

test('governance sections suggest the key that was meant, down to role rates and quotas', () => {
  const suggests = (text: string, at: string, key: string, meant: string): void => {
    const message = configError(text);
    assert.ok(message.includes(`at ${at}: unknown key "${key}" (did you mean "${meant}"?)`), message);
  };
  suggests('[limits]\nmax_concurent_queries = 1\n', 'limits', 'max_concurent_queries', 'max_concurrent_queries');
  suggests('[limits.rate]\nper_second = 1\nbrust = 2\n', 'limits.rate', 'brust', 'burst');
  suggests('[policy]\ndefault_rol = "default"\n', 'policy', 'default_rol', 'default_role');
  suggests('[audit]\nfsyncInterval_ms = 5\n', 'audit', 'fsyncInterval_ms', 'fsync_interval_ms');
  suggests('[breaker]\nreset_timeout = 5\n', 'breaker', 'reset_timeout', 'reset_timeout_ms');
  suggests('[roles.analyst]\ntols = ["execute_query"]\n', 'roles.analyst', 'tols', 'tools');
  suggests('[roles.analyst.rate]\nper_secnd = 1\n', 'roles.analyst.rate', 'per_secnd', 'per_second');
  suggests('[roles.analyst.quota]\nwindow = "1h"\nquerys = 5\n', 'roles.analyst.quota', 'querys', 'queries');
  assert.match(configError('[roles.analyst]\nzzzzzz = 1\n'), /at roles\.analyst: unknown key "zzzzzz"\. Remove it or correct its spelling\. Allowed keys here: identities, clients, tools, /);
});

test('TOML syntax errors give line and column but never the offending line\'s text', () => {
  const message = configError('[profiles.dev]\npassword = "s3cr3t-unterminated');
  assert.equal(message, 'Config error in /home/u/.snowmux/config.toml at line 2, column 12: unfinished string. Fix the TOML syntax.');
  assert.ok(!message.includes('s3cr3t'));
  // A closing quote missing before the line ends: smol-toml calls the line break a control character.
  for (const eol of ['\n', '\r\n']) {
    const open = configError(`[profiles.dev]${eol}user = "me${eol}password = "s3cr3t"${eol}`);
    assert.equal(open, 'Config error in /home/u/.snowmux/config.toml at line 2, column 11: a string is not closed before the end of its line (its closing quote is missing; a string of several lines is written between triple quotes). Fix the TOML syntax.');
  }
  assert.match(configError("[hub]\ndefault_profile = 'dev\n"), /at line 2, column 23: a string is not closed before the end of its line/);
  // A real control character inside a string keeps the parser's words.
  assert.match(configError('[hub]\ndefault_profile = "d\u0001ev"\n'), /at line 2, column \d+: control characters are not allowed in strings\. Fix the TOML syntax\.$/);
  const other = configError('[profiles.dev]\npassword = "s3cr3t" extra\n');
  assert.match(other, /^Config error in \/home\/u\/\.snowmux\/config\.toml at line 2, column \d+: .*\. Fix the TOML syntax\.$/);
  assert.ok(!other.includes('s3cr3t'));
});

test('a key or table defined twice is named with its line, never with its value', () => {
  const at = (line: number, column: number) => `Config error in /home/u/.snowmux/config.toml at line ${line}, column ${column}: `;
  assert.equal(configError('[hub]\nmax_rows = 5\nmax_rows = 6\n'), `${at(3, 1)}hub.max_rows is already set above (or is a table there); a TOML key may be set only once. Keep one of the two.`);
  assert.equal(configError('[hub]\nmax_rows = 5\n[hub]\n'), `${at(3, 2)}the table [hub] is already defined above (or its keys are set there); a TOML table may be defined only once. Merge the two into one [hub].`);
  // Dotted and quoted keys, the header above the nearest, and a secret's value not shown.
  const secret = configError('[profiles.dev]\npassword = "pw-FIRST"\n[profiles."my prod"]\n  "password" = "pw-ONE"\n  password = "pw-TWO"\n');
  assert.match(secret, /at line 5, column 3: profiles\."my prod"\.password is already set above/);
  assert.ok(!/pw-/.test(secret), secret);
  assert.match(configError('[roles.r]\nrate.per_second = 1\nrate.per_second = 2\n'), /: roles\.r\.rate\.per_second is already set above/);
  // Inside an inline table the line and column are what is known.
  assert.match(configError('[hub]\notel_headers = { a = "1", a = "2" }\n'), /at line 2, column \d+: trying to redefine an already defined value \(a TOML key or table may be defined only once\)\. Keep one of the two\.$/);
});

test('an otel_headers key that is not a header name is said to be the key, never shown (often a whole pasted header line)', () => {
  const message = configError('[hub.otel_headers]\n"Authorization: Bearer OTEL-SECRET" = "x"\n');
  assert.match(message, /at hub\.otel_headers: expected a header name as each key \(.*as in authorization = "Bearer …"; not a whole "Name: value" line as the key\), and one key is not/);
  assert.ok(!message.includes('OTEL-SECRET'), message);
});

test('secret values of the wrong type are not echoed', () => {
  const message = configError('[profiles.dev]\npassword = 12345678\ntoken = 987654321\n');
  assert.match(message, /at profiles\.dev\.password: expected a string, got a number \(value hidden\)/);
  assert.ok(!message.includes('12345678'));
  assert.ok(!message.includes('987654321'));
});

test('OTLP header values are treated as secrets: not echoed in config errors', () => {
  const message = configError('[hub]\notel_headers = { "x-api-key" = 31415926535 }\n');
  assert.match(message, /at hub\.otel_headers\.x-api-key: expected a string, got a number \(value hidden\)/);
  assert.ok(!message.includes('31415926535'));
  assert.match(configError('[hub]\notel_endpoint = "grpc://collector:4317"\n'), /at hub\.otel_endpoint: expected an http:\/\/ or https:\/\/ URL/);
});

test('a refused value of a key that may hold a secret is never shown, however it is mistyped: the key and the expected shape are', () => {
  const pw = 'TopSecretRedisPw';
  for (const [text, at, shape] of [
    // The ':' after the scheme missing: no mask finds a URL's password in it.
    [`[hub]\nredis_url = "rediss//:${pw}@redis.example:6380"`, 'hub.redis_url', 'a redis:// or rediss:// URL'],
    [`[hub]\nredis_url = "redis:/default:${pw}@127.0.0.1:6379"`, 'hub.redis_url', 'a redis:// or rediss:// URL'],
    // Only the password pasted.
    [`[hub]\nredis_url = "${pw}"`, 'hub.redis_url', 'a redis:// or rediss:// URL'],
    [`[hub]\notel_endpoint = "https//u:${pw}@collector"`, 'hub.otel_endpoint', 'an http:// or https:// URL'],
    [`[hub]\nhttp_allowed_origins = ["https//u:${pw}@app.example.com"]`, 'hub.http_allowed_origins.0', 'an origin'],
    [`[profiles.dev]\naccess_url = "https//user:${pw}@host"`, 'profiles.dev.access_url', 'an http:// or https:// URL'],
    [`[profiles.dev]\nhost = ""\ntoken_file_path = ""`, 'profiles.dev.host', 'a non-empty string'],
    [`[hub.otel_headers]\n"${pw} x" = "v"`, 'hub.otel_headers', 'a header name as each key'],
  ] as const) {
    const message = configError(`${text}\n`);
    assert.ok(!message.includes(pw), message);
    assert.ok(message.includes(`at ${at}: `), message);
    assert.ok(message.includes(shape), message);
    assert.match(message, /got a (string|table) \(value hidden\)/);
  }
});

test('max_result_bytes is refused above what one answer to a shim can carry, naming the maximum and why', () => {
  // Set higher, every large answer passed the shim's line limit and the editor was told to "ask for less".
  assert.match(configError('[hub]\nmax_result_bytes = 8388609\n'), /at hub\.max_result_bytes: expected a positive integer of at most 8388608 \(8 MiB\).*at most 32 MiB/);
  assert.doesNotThrow(() => parseConfigText('[hub]\nmax_result_bytes = 8388608\n', FILE));
});

test('every millisecond setting and timed duration is refused above what a timer can wait, naming the key and the maximum', () => {
  // Node.js arms a longer timer for 1 ms: a "very long" call timeout made every call fail at once.
  for (const [table, key] of [
    ['hub', 'call_timeout_ms'], ['hub', 'shutdown_grace_ms'], ['profiles.dev.pool', 'acquire_timeout_ms'], ['profiles.dev.pool', 'idle_timeout_ms'],
    ['limits', 'retry_budget_ms'], ['audit', 'fsync_interval_ms'], ['breaker', 'reset_timeout_ms'],
  ] as const) {
    assert.match(configError(`[${table}]\n${key} = 2147483648\n`), new RegExp(`at ${table.replaceAll('.', '\\.')}\\.${key}: expected .*at most 2147483647 \\(about 24\\.8 days`), key);
    assert.doesNotThrow(() => parseConfigText(`[${table}]\n${key} = 2147483647\n`, FILE), key);
  }
  assert.match(configError('[profiles.dev]\nstatement_timeout_s = 2147484\n'), /at profiles\.dev\.statement_timeout_s: expected a positive integer of at most 2147483 /);
  assert.match(configError('[roles.r]\nidentities = ["*"]\nstatement_timeout = "25d"\n'), /at roles\.r\.statement_timeout: expected a duration of at most "24d"/);
  assert.match(configError('[limits]\nmetadata_cache_ttl = "4w"\n'), /at limits\.metadata_cache_ttl: expected a duration of at most "24d"/);
  // Too long is said as such, not as "at least one second".
  assert.match(configError('[roles.r]\nidentities = ["*"]\nstatement_timeout = "999999999w"\n'), /expected a duration of at most "24d"/);
  // A quota window is compared with the clock, never waited for: a month is fine.
  assert.equal(parseConfigText('[roles.r]\nidentities = ["*"]\n[roles.r.quota]\nwindow = "30d"\nqueries = 5\n', FILE).roles.r!.quota!.windowMs, 30 * 86_400_000);
  assert.match(configError('[roles.r]\nidentities = ["*"]\n[roles.r.quota]\nwindow = "999999999w"\nqueries = 5\n'), /at roles\.r\.quota\.window: expected a duration of at most "\d+w"/);
  // Its end is a date: a window past the last one a Date holds (8.64e15 ms) made every refusal and status fail.
  assert.match(configError('[roles.r]\nidentities = ["*"]\n[roles.r.quota]\nwindow = "14285715w"\nqueries = 5\n'), /at roles\.r\.quota\.window: expected a duration of at most "10000000w"/);
  const longest = parseConfigText('[roles.r]\nidentities = ["*"]\n[roles.r.quota]\nwindow = "10000000w"\nqueries = 1\n', FILE).roles.r!.quota!;
  const quotas = new QuotaTracker({ rules: [longest as QuotaRule], clock: new ManualClock() });
  quotas.record('alice', { queries: 1 });
  const refusal = quotas.exceeded('alice');
  assert.match(refusal?.message ?? '', /1 query per 70000000 days\. The window resets at \+\d{6}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$/);
  assert.equal(quotas.snapshot()[0]!.windows[0]!.remaining.queries, 0);
  assert.equal(parseConfigText('[limits]\nmetadata_cache_ttl = "0s"\n', FILE).limits.metadataCacheTtlMs, 0);
  assert.match(configError('[limits]\nmetadata_cache_ttl = "0m"\n'), /at least one second/);
});

test('config path: --config beats SNOWMUX_CONFIG beats <home>/config.toml', () => {
  assert.deepEqual(resolveConfigPath({ home: '/h', env: {} }), { path: '/h/config.toml', explicit: false });
  assert.deepEqual(resolveConfigPath({ home: '/h', env: { SNOWMUX_CONFIG: '/e.toml' } }), { path: '/e.toml', explicit: true });
  assert.deepEqual(resolveConfigPath({ home: '/h', env: { SNOWMUX_CONFIG: '/e.toml' }, explicitPath: '/f.toml' }), { path: '/f.toml', explicit: true });
  assert.deepEqual(resolveConfigPath({ home: '/h', explicitPath: 'rel.toml', cwd: '/work' }), { path: '/work/rel.toml', explicit: true });
});

test('config path and [audit] dir: a leading ~/ is the home directory (no shell expanded it), ~name is refused', () => {
  assert.deepEqual(resolveConfigPath({ home: '/h', explicitPath: '~/nu.toml', cwd: '/work' }), { path: join(homedir(), 'nu.toml'), explicit: true });
  assert.deepEqual(resolveConfigPath({ home: '/h', env: { SNOWMUX_CONFIG: '~/e.toml' }, cwd: '/work' }), { path: join(homedir(), 'e.toml'), explicit: true });
  assert.throws(() => resolveConfigPath({ home: '/h', explicitPath: '~bob/c.toml' }), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /--config ~bob\/c\.toml .*Write the path out in full/.test(err.message));
  assert.throws(() => resolveConfigPath({ home: '/h', env: { SNOWMUX_CONFIG: '~bob/c.toml' } }), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.startsWith('$SNOWMUX_CONFIG ~bob/c.toml'));
  assert.equal(parseConfigText('[audit]\ndir = "~/snowmux-audit"\n', 'c.toml').audit.dir, join(homedir(), 'snowmux-audit'));
  assert.equal(parseConfigText('[audit]\ndir = "trail"\n', 'c.toml').audit.dir, 'trail', 'relative to the snowmux home, as before');
  assert.throws(() => parseConfigText('[audit]\ndir = "~bob/audit"\n', 'c.toml'), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /audit\.dir.*write the path out in full/.test(err.message));
});

test('a missing default file means defaults; a missing explicit file is an error', (t) => {
  const home = tempDir(t);
  const loaded = loadConfigFile({ home, env: {} });
  assert.equal(loaded.exists, false);
  assert.equal(loaded.path, join(home, 'config.toml'));
  assert.equal(loaded.config.hub.maxRows, 200);
  assert.throws(
    () => loadConfigFile({ home, explicitPath: join(home, 'nope.toml'), env: {} }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_NOT_FOUND') && err.message.includes(join(home, 'nope.toml')),
  );
});

test('loading reports errors with the real path and shows "~" in the loaded path', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  writeFileSync(path, '[hub]\nmax_rows = "many"\n');
  assert.throws(
    () => loadConfigFile({ home, env: {}, homedir: home }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.startsWith(`Config error in ${path} at hub.max_rows:`),
  );
  writeFileSync(path, '[hub]\nmax_rows = 7\n');
  const loaded = loadConfigFile({ home, env: {}, homedir: home });
  assert.equal(loaded.exists, true);
  assert.equal(loaded.shownPath, '~/config.toml');
  assert.equal(loaded.config.hub.maxRows, 7);
});

test('a config file holding secrets warns when others can read it', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  writeFileSync(path, '[profiles.dev]\naccount = "a"\nuser = "u"\npassword = "pw-SECRET-cf1"\n');
  chmodSync(path, 0o644);
  const loose = loadConfigFile({ home, env: {}, homedir: home });
  assert.equal(loose.warnings.length, 1);
  assert.match(loose.warnings[0]!, /readable by group or others; mode 644/);
  assert.ok(!loose.warnings[0]!.includes('pw-SECRET-cf1'));
  assert.equal(loadConfigFile({ home, env: { SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE: 'true' }, homedir: home }).warnings.length, 0);
  chmodSync(path, 0o600);
  assert.deepEqual(loadConfigFile({ home, env: {}, homedir: home }).warnings, []);
  // No secrets in the file: its permissions are not our business.
  writeFileSync(path, '[hub]\nmax_rows = 7\n');
  chmodSync(path, 0o644);
  assert.deepEqual(loadConfigFile({ home, env: {}, homedir: home }).warnings, []);
  // The hub's own secrets count as a profile's do: the team Redis password (either spelling), the OTLP
  // collector's key, an endpoint's password.
  const hubSecrets = [
    'redis_url = "redis://:REDIS-PW-8080@127.0.0.1:6379/0"',
    'redis_url = "redis://127.0.0.1:6379/0?password=REDIS-PW-8080"',
    'otel_endpoint = "https://u:OTLP-PW-4242@collector.example"',
    'otel_endpoint = "https://collector.example"\n[hub.otel_headers]\napi-key = "OTLP-KEY-4242"',
  ];
  for (const line of hubSecrets) {
    writeFileSync(path, `[hub]\n${line}\n`);
    const warnings = loadConfigFile({ home, env: {}, homedir: home }).warnings;
    assert.equal(warnings.length, 1, line);
    assert.match(warnings[0]!, /readable by group or others; mode 644\): it may hold secrets/);
  }
  // A Redis or collector URL without a password is no secret.
  writeFileSync(path, '[hub]\nredis_url = "redis://127.0.0.1:6379/0"\notel_endpoint = "https://collector.example"\n');
  assert.deepEqual(loadConfigFile({ home, env: {}, homedir: home }).warnings, []);
});

test('a config file every user could change is refused, whatever it holds (CONFIG_UNSAFE); another owner is warned of', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  // No secrets: the roles alone are worth taking over (write = true for everyone).
  writeFileSync(path, '[policy]\ndefault_role = "w"\n[roles.w]\ntools = ["*"]\nwrite = true\n');
  const unsafe = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => isSnowmuxError(err, 'CONFIG_UNSAFE') && pattern.test(err.message) && err.message.includes(path));
  const load = () => loadConfigFile({ home, env: {}, homedir: home });
  const loadExplicit = () => loadConfigFile({ home: '/nonexistent', explicitPath: path, env: {}, homedir: home });

  chmodSync(path, 0o666);
  unsafe(load, /every user may write it \(mode 666\)\. Run: chmod o-w/);
  unsafe(loadExplicit, /every user may write it/);
  chmodSync(path, 0o664);
  assert.match(load().warnings.join('\n'), /its group (\S+ \()?gid \d+\b[^\n]* may write it \(mode 664\)/);
  chmodSync(path, 0o644);
  assert.deepEqual(load().warnings, []);

  // Whoever may write the directory without the sticky bit can replace the file, also through a symlink.
  const shared = join(home, 'shared');
  mkdirSync(shared);
  const inShared = join(shared, 'team.toml');
  writeFileSync(inShared, '[hub]\nmax_rows = 7\n');
  chmodSync(shared, 0o777);
  assert.throws(() => loadConfigFile({ home, explicitPath: inShared, env: {} }), (err: unknown) => isSnowmuxError(err, 'CONFIG_UNSAFE') && /goes through .*shared, which is writable by others without the sticky bit \(mode 777\)/.test(err.message));
  rmSync(path);
  symlinkSync(inShared, path);
  unsafe(load, /shared, which is writable by others without the sticky bit/);
  chmodSync(shared, 0o1777);
  assert.equal(load().config.hub.maxRows, 7);
  chmodSync(shared, 0o700);
  assert.equal(load().config.hub.maxRows, 7);

  if (process.getuid?.() !== 0) {
    t.diagnostic('files owned by another user: skipped (needs root to chown)');
    return;
  }
  // Another owner is warned of (a container's bind mount is its host user's), not refused; open to all is.
  const nobody = 65534;
  chownSync(inShared, nobody, nobody);
  const foreignWarning = load().warnings.join('\n');
  assert.match(foreignWarning, /belongs to another user, (\S+ \()?uid 65534\b/);
  // Copying it as it is would keep the other user's roles: the warning says to read it first, never to cp it.
  assert.doesNotMatch(foreignWarning, /\bcp /);
  assert.match(foreignWarning, /read it, and write the rules you mean to keep into a config file you own/);
  chmodSync(inShared, 0o646);
  unsafe(load, /every user may write it/);
  chmodSync(inShared, 0o644);
  chownSync(inShared, 0, 0);
  // A directory of another user holding our file: they could replace it with theirs. Refused.
  chownSync(shared, nobody, nobody);
  unsafe(load, /\/shared, on its path, belongs to another user \(uid 65534\), who could replace it/);
  // A bind mount: the file and its directory both belong to the host user. Warned, as the file alone is.
  chownSync(inShared, nobody, nobody);
  assert.match(load().warnings.join('\n'), /belongs to another user, (\S+ \()?uid 65534\b/);
  chownSync(inShared, 0, 0);
  chownSync(shared, 0, 0);

  // A symlink another user owns in a sticky directory every user may write (as /tmp is): its owner may
  // replace it with one pointing elsewhere.
  const sticky = join(home, 'sticky');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const theirLink = join(sticky, 'link');
  symlinkSync(inShared, theirLink);
  lchownSync(theirLink, nobody, nobody);
  rmSync(path);
  symlinkSync(theirLink, path);
  unsafe(load, /sticky\/link, on its path, belongs to another user \(uid 65534\), who may replace it/);
});

test('every directory a config path goes through counts, along each symlink, not only the last two', (t) => {
  const base = tempDir(t);
  const home = join(base, 'home');
  mkdirSync(home, { mode: 0o700 });
  const path = join(home, 'config.toml');
  const unsafe = (pattern: RegExp) =>
    assert.throws(() => loadConfigFile({ home, env: {}, homedir: home }), (err: unknown) => isSnowmuxError(err, 'CONFIG_UNSAFE') && pattern.test(err.message));
  // (a) the name -> a symlink in a directory every user may write -> a file in a safe directory: whoever
  // may write that directory can point the symlink at a policy of their own.
  const safe = join(base, 'safe');
  mkdirSync(safe, { mode: 0o755 });
  writeFileSync(join(safe, 'c.toml'), '[hub]\nmax_rows = 7\n', { mode: 0o600 });
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  symlinkSync(join(safe, 'c.toml'), join(open, 'link'));
  symlinkSync(join(open, 'link'), path);
  unsafe(/open, which is writable by others without the sticky bit \(mode 777\)/);
  // (b) an ancestor every user may write: they may rename the directory below it and put another in its place.
  rmSync(path);
  const inner = join(open, 'inner');
  mkdirSync(inner, { mode: 0o755 });
  writeFileSync(join(inner, 'c.toml'), '[hub]\nmax_rows = 8\n', { mode: 0o600 });
  symlinkSync(join(inner, 'c.toml'), path);
  unsafe(/open, which is writable by others without the sticky bit/);
  // A relative symlink resolves against its own directory; once the ancestor is closed, the path passes.
  rmSync(path);
  symlinkSync('../open/inner/c.toml', path);
  unsafe(/open, which is writable by others without the sticky bit/);
  chmodSync(open, 0o755);
  assert.equal(loadConfigFile({ home, env: {}, homedir: home }).config.hub.maxRows, 8);
  chmodSync(open, 0o1777);
  assert.equal(loadConfigFile({ home, env: {}, homedir: home }).config.hub.maxRows, 8, 'a sticky directory keeps our entries ours');
});

test('a config path naming a FIFO or a device is refused at once, not waited on or read without end', (t) => {
  const home = tempDir(t);
  const fifo = join(home, 'fifo');
  execFileSync('mkfifo', [fifo]);
  // In a child with a deadline: a blocked open() cannot be interrupted from the thread it blocks.
  const loader = pathToFileURL(fileURLToPath(new URL('../../src/hub/config/config-file.js', import.meta.url))).href;
  const script = `
    const { loadConfigFile } = await import(${JSON.stringify(loader)});
    for (const path of ${JSON.stringify([fifo, '/dev/zero'])}) {
      try { loadConfigFile({ home: '/nonexistent', explicitPath: path, env: {} }); console.log('read', path); }
      catch (err) { console.log(err.code, err.message); }
    }`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.signal, null, `the loader hung (killed at the deadline): ${run.stdout}${run.stderr}`);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 2, run.stdout + run.stderr);
  assert.match(lines[0]!, new RegExp(`^CONFIG_UNREADABLE Cannot read config file ${fifo}: it is not a regular file \\(a FIFO, device or socket\\)`));
  assert.match(lines[1]!, /^CONFIG_UNREADABLE Cannot read config file \/dev\/zero: it is not a regular file/);
});

test('a config file past 1 MiB is refused unread, with what to do', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  writeFileSync(path, `# ${'x'.repeat(1024 * 1024)}\n`);
  assert.throws(() => loadConfigFile({ home, env: {} }), (err: unknown) => isSnowmuxError(err, 'CONFIG_UNREADABLE') && /larger than 1024 KiB/.test(err.message));
  writeFileSync(path, `# ${'x'.repeat(1000)}\n[hub]\nmax_rows = 9\n`);
  assert.equal(loadConfigFile({ home, env: {} }).config.hub.maxRows, 9);
});

// A browser's Origin header is scheme://host[:port], lower case, no default port, no slash: an admin's
// "https://App.example.com/" never matched it, and the 403 told them to add the origin they had added.
test('http_allowed_origins are kept as the Origin header spells them; a path, query or credentials are refused', () => {
  const origins = (list: string) => parseConfigText(`[hub]\nhttp_allowed_origins = ${list}\n`, 'config.toml').hub.httpAllowedOrigins;
  assert.deepEqual(origins('["https://App.Example.com/", "http://localhost:3000", "https://x.example.com:443"]'), ['https://app.example.com', 'http://localhost:3000', 'https://x.example.com']);
  for (const bad of ['https://app.example.com/ui', 'https://app.example.com/?a=1', 'https://app.example.com#x']) {
    assert.match(configError(`[hub]\nhttp_allowed_origins = ["${bad}"]\n`), /at hub\.http_allowed_origins\.0: expected an origin such as "https:\/\/app\.example\.com" \(scheme, host and port only\)/, bad);
  }
});

// [tools.*] and [[tools.*.params]] tables got neither a "did you mean" nor the allowed keys, and a key that
// must be there was told to be removed.
test('typos in team tool tables get a suggestion, and a missing required key is told to be added', () => {
  const tool = configError('[tools.t]\ndescripton = "d"\nsql = "select 1"\n');
  assert.match(tool, /at tools\.t: unknown key "descripton" \(did you mean "description"\?\)/);
  assert.match(tool, /at tools\.t\.description: .*got nothing\. Add the key\./);
  assert.doesNotMatch(tool, /got nothing\. Fix the value or remove the key/);
  const param = configError('[tools.t]\ndescription = "d"\nsql = "select ?"\n[[tools.t.params]]\nname = "x"\ntype = "string"\nrequried = false\n');
  assert.match(param, /at tools\.t\.params\.0: unknown key "requried" \(did you mean "required"\?\)/);
  assert.match(configError('[roles.r]\nidentities = ["*"]\n[roles.r.rate]\nburst = 3\n'), /at roles\.r\.rate\.per_second: .*got nothing\. Add the key\./);
});

// Without Redis the team cap was accepted and silently ignored; redis_stream without it is already refused.
test('team_max_concurrent_queries without hub.redis_url is refused, as redis_stream is', () => {
  assert.match(configError('[limits]\nteam_max_concurrent_queries = 2\n'), /at limits\.team_max_concurrent_queries: needs hub\.redis_url.*use max_concurrent_queries for one hub/);
  parseConfigText('[hub]\nredis_url = "redis://127.0.0.1:6379"\n[limits]\nteam_max_concurrent_queries = 2\n', 'config.toml');
});

// zod's own "Invalid input: expected object, received array" leaked through for [[hub]].
test('a section written as an array of tables ([[hub]]) or as a value is told to be a table, in the words of the other sections', () => {
  for (const text of ['[[hub]]\nmax_rows = 5\n', 'hub = 5\n', '[[profiles.dev]]\naccount = "a"\n', '[profiles.dev]\npool = 3\n']) {
    const message = configError(text);
    assert.match(message, /: expected a table, got /, text);
    assert.doesNotMatch(message, /Invalid input/, text);
  }
});

test('a table or key named __proto__ is refused, naming it, instead of silently dropped with what it set', () => {
  // The schema's records drop a "__proto__" entry without a word: a role of that name, and every restriction
  // it set for its identities, was gone from the running policy while the file plainly held it.
  const role = configError('[roles.__proto__]\nidentities = ["alice"]\ndeny = ["SECRETS.*.*"]\n');
  assert.match(role, /config\.toml at roles\.__proto__: /);
  assert.match(role, /rename/i);
  assert.match(configError('[profiles.__proto__]\naccount = "a"\nuser = "u"\n'), /at profiles\.__proto__: /);
  assert.match(configError('[hub.otel_headers]\n__proto__ = "k"\n'), /at hub\.otel_headers\.__proto__: /);
  // Not at the top level either (a quoted key is a key all the same).
  assert.match(configError('"__proto__" = 1\n'), /at __proto__: /);
});

test('a config file that is not UTF-8 is refused at the first bad byte instead of read with its values changed', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  // Saved as Latin-1 / Windows-1252: "é" is the one byte 0xE9, which UTF-8 decoding turned into U+FFFD, so the
  // hub logged in with another password (and a role's "josé" matched nobody) without a word of why.
  writeFileSync(path, Buffer.concat([Buffer.from('[profiles.dev]\naccount = "a"\nuser = "u"\npassword = "caf'), Buffer.from([0xe9]), Buffer.from('-SECRET"\n')]), { mode: 0o600 });
  assert.throws(
    () => loadConfigFile({ home, env: {}, homedir: home }),
    (err: unknown) =>
      isSnowmuxError(err, 'CONFIG_INVALID') &&
      err.message.startsWith(`Config error in ${path} at line 4, column 16:`) &&
      /not UTF-8/.test(err.message) &&
      /[Ss]ave it as UTF-8/.test(err.message) &&
      !err.message.includes('SECRET'),
  );
  // A comment in Latin-1 changes nothing the hub uses, but TOML requires UTF-8 all the same: one rule.
  writeFileSync(path, Buffer.concat([Buffer.from('[hub]\nmax_rows = 7\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  assert.throws(() => loadConfigFile({ home, env: {}, homedir: home }), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /at line 3, column 6: .*not UTF-8/.test(err.message));
  // Valid UTF-8 (a BOM, CRLF, any character) is read as before.
  writeFileSync(path, '\uFEFF[roles.r]\r\nidentities = ["josé", "\u{1F600}"]\r\n');
  assert.deepEqual(loadConfigFile({ home, env: {}, homedir: home }).config.roles.r?.identities, ['josé', '\u{1F600}']);
});

test('a config file saved as UTF-16 is named as such, not reported as a TOML syntax error', (t) => {
  const home = tempDir(t);
  const path = join(home, 'config.toml');
  // Windows Notepad's "Unicode" and PowerShell 5's `>` write UTF-16: the hub said "illegal character in key"
  // at line 1, column 1 of a file that looks right in every editor.
  const utf16le = (text: string, bom: boolean) => Buffer.concat([Buffer.from(bom ? [0xff, 0xfe] : []), Buffer.from(text, 'utf16le')]);
  const utf16be = (text: string) => Buffer.from(utf16le(text, false).map((_, i, b) => b[i ^ 1]!));
  for (const bytes of [utf16le('[hub]\r\nmax_rows = 7\r\n', true), utf16le('[hub]\nmax_rows = 7\n', false), Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be('[hub]\nmax_rows = 7\n')])]) {
    writeFileSync(path, bytes);
    assert.throws(
      () => loadConfigFile({ home, env: {}, homedir: home }),
      (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.startsWith(`Config error in ${path}: the file is UTF-16`) && /[Ss]ave it as UTF-8/.test(err.message),
      String(bytes.subarray(0, 4).toString('hex')),
    );
  }
});

test('a key written under the wrong table header says which table it belongs to and where to move it', () => {
  // TOML puts every key in the last [table] above it: a profile's role written after its [profiles.dev.pool]
  // header is the pool's, and the error listed the pool's keys as if "role" were a typo.
  const pool = configError('[profiles.dev]\naccount = "a"\n[profiles.dev.pool]\nmax = 8\nrole = "ANALYST"\n');
  assert.match(pool, /at profiles\.dev\.pool: unknown key "role"/);
  assert.match(pool, /"role" is a key of \[profiles\.dev\]/);
  assert.match(pool, /above the \[profiles\.dev\.pool\] header/);
  const quota = configError('[roles.r]\nidentities = ["*"]\n[roles.r.quota]\nwindow = "1h"\nqueries = 5\nmax_rows = 10\n');
  assert.match(quota, /"max_rows" is a key of \[roles\.r\].*above the \[roles\.r\.quota\] header/);
  // Above every header, a key is at the top level, which holds tables only.
  const top = configError('max_rows = 100\n[hub]\ncall_timeout_ms = 1000\n');
  assert.match(top, /"max_rows" is a key of \[hub\]/);
  assert.match(top, /under the \[hub\] header/);
});
