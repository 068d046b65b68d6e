import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSnowmuxError } from '../../src/errors.js';
import { connectionEnvLayer, envLayer, profileNameFromEnv } from '../../src/hub/config/env-profile.js';
import { forwardedEnvironment as shimEnvironmentForHub, HUB_START_NAMES, hubStartEnvironment } from '../../src/wire/forwarded-env.js';
import { withAbsolutePaths } from '../../src/wire/env-paths.js';
import { noBrowserReason } from '../../src/hub/warehouse/snowflake/connection-options.js';

test('the usual connector variables become settings with per-variable sources', () => {
  const { layer, warnings } = envLayer({
    SNOWFLAKE_ACCOUNT: 'acct',
    SNOWFLAKE_USER: 'me',
    SNOWFLAKE_PASSWORD: 'pw',
    SNOWFLAKE_ROLE: 'R',
    SNOWFLAKE_WAREHOUSE: 'W',
    SNOWFLAKE_DATABASE: 'D',
    SNOWFLAKE_SCHEMA: 'S',
    SNOWFLAKE_AUTHENTICATOR: 'username_password_mfa',
    SNOWFLAKE_PASSCODE: '123456',
    SNOWFLAKE_TOKEN: 'tok',
    SNOWFLAKE_TOKEN_FILE_PATH: '/run/token',
    SNOWFLAKE_PRIVATE_KEY_FILE: '/k.p8',
    SNOWFLAKE_PRIVATE_KEY_RAW: 'pem',
    SNOWFLAKE_PRIVATE_KEY_FILE_PWD: 'pp',
    SNOWFLAKE_HOST: 'h.example',
    UNRELATED: 'x',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(layer.values, {
    account: 'acct',
    user: 'me',
    password: 'pw',
    passcode: '123456',
    privateKeyPath: '/k.p8',
    privateKey: 'pem',
    privateKeyPassphrase: 'pp',
    token: 'tok',
    tokenFilePath: '/run/token',
    role: 'R',
    warehouse: 'W',
    database: 'D',
    schema: 'S',
    host: 'h.example',
    authenticator: 'USERNAME_PASSWORD_MFA',
  });
  assert.equal(layer.sources.account, 'env SNOWFLAKE_ACCOUNT');
  assert.equal(layer.sources.privateKeyPath, 'env SNOWFLAKE_PRIVATE_KEY_FILE');
  assert.equal(layer.sources.privateKeyPassphrase, 'env SNOWFLAKE_PRIVATE_KEY_FILE_PWD');
  assert.equal(layer.sources.authenticator, 'env SNOWFLAKE_AUTHENTICATOR');
  assert.equal(layer.hint('password'), 'SNOWFLAKE_PASSWORD');
  assert.equal(layer.hint('privateKeyPath'), 'SNOWFLAKE_PRIVATE_KEY_PATH');
});

test('empty variables count as unset (editor configs carry "" placeholders)', () => {
  const { layer } = envLayer({ SNOWFLAKE_ACCOUNT: '', SNOWFLAKE_ROLE: '', SNOWFLAKE_AUTH_TYPE: '', SNOWMUX_PROFILE: '' });
  assert.deepEqual(layer.values, {});
  assert.equal(profileNameFromEnv({ SNOWMUX_PROFILE: '' }), undefined);
  assert.equal(profileNameFromEnv({ SNOWMUX_PROFILE: 'dev' }), 'dev');
});

test('the Python server\'s variables resolve: SNOWFLAKE_AUTH_TYPE and SNOWFLAKE_CONN_REFRESH_HOURS', () => {
  const cases: Array<[string, string]> = [
    ['private_key', 'SNOWFLAKE_JWT'],
    ['external_browser', 'EXTERNALBROWSER'],
    ['password', 'SNOWFLAKE'],
    ['PRIVATE_KEY', 'SNOWFLAKE_JWT'],
    ['oauth', 'OAUTH'],
    ['snowflake_jwt', 'SNOWFLAKE_JWT'],
  ];
  for (const [authType, authenticator] of cases) {
    const { layer } = envLayer({ SNOWFLAKE_AUTH_TYPE: authType });
    assert.equal(layer.values.authenticator, authenticator, authType);
    assert.equal(layer.sources.authenticator, 'env SNOWFLAKE_AUTH_TYPE');
  }
  const { layer } = envLayer({ SNOWFLAKE_CONN_REFRESH_HOURS: '8', SNOWFLAKE_PRIVATE_KEY_PATH: '/k.p8', SNOWFLAKE_PRIVATE_KEY: 'inline' });
  assert.equal(layer.values.poolMaxConnectionAgeMs, 8 * 3_600_000);
  assert.equal(layer.sources.poolMaxConnectionAgeMs, 'env SNOWFLAKE_CONN_REFRESH_HOURS');
  assert.equal(envLayer({ SNOWFLAKE_CONN_REFRESH_HOURS: '0.5' }).layer.values.poolMaxConnectionAgeMs, 1_800_000);
  assert.equal(layer.sources.privateKeyPath, 'env SNOWFLAKE_PRIVATE_KEY_PATH');
  assert.equal(layer.sources.privateKey, 'env SNOWFLAKE_PRIVATE_KEY');
});

test('bad legacy or authenticator values name the variable', () => {
  assert.throws(
    () => envLayer({ SNOWFLAKE_AUTH_TYPE: 'kerberos' }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /SNOWFLAKE_AUTH_TYPE has an unsupported value "kerberos": expected private_key, external_browser, password, oauth, pat or mfa/.test(err.message),
  );
  assert.throws(
    () => envLayer({ SNOWFLAKE_AUTHENTICATOR: 'nope' }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /SNOWFLAKE_AUTHENTICATOR has an unsupported value "nope": expected one of SNOWFLAKE, /.test(err.message),
  );
  for (const hours of ['abc', '-1', ' ']) {
    assert.throws(
      () => envLayer({ SNOWFLAKE_CONN_REFRESH_HOURS: hours }),
      (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.startsWith('Environment variable SNOWFLAKE_CONN_REFRESH_HOURS must be a number of hours'),
      hours,
    );
  }
});

test('a bad SNOWFLAKE_PORT or SNOWFLAKE_PROTOCOL is named by its variable with the shape expected, not reported as a bad access URL', () => {
  for (const port of ['abc', '0', '65536', '44 3', '-1']) {
    assert.throws(
      () => envLayer({ SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: port }),
      (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message === `Environment variable SNOWFLAKE_PORT must be a port number from 1 to 65535 (e.g. 443), got ${JSON.stringify(port)}. Fix it or unset it.`,
      port,
    );
  }
  assert.throws(() => envLayer({ SNOWFLAKE_HOST: 'h', SNOWFLAKE_PROTOCOL: 'ftp' }), /SNOWFLAKE_PROTOCOL must be https or http, got "ftp"/);
  assert.equal(envLayer({ SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: '8443', SNOWFLAKE_PROTOCOL: 'HTTP' }).layer.values.accessUrl, 'http://127.0.0.1:8443');
  // Without a host they are ignored, as before (with a warning).
  assert.match(envLayer({ SNOWFLAKE_PORT: 'abc' }).warnings.join('\n'), /set without SNOWFLAKE_HOST and are ignored/);
});

test('SNOWFLAKE_AUTHENTICATOR beats SNOWFLAKE_AUTH_TYPE, with a warning when they disagree', () => {
  const disagree = envLayer({ SNOWFLAKE_AUTHENTICATOR: 'oauth', SNOWFLAKE_AUTH_TYPE: 'private_key' });
  assert.equal(disagree.layer.values.authenticator, 'OAUTH');
  assert.equal(disagree.warnings.length, 1);
  assert.match(disagree.warnings[0]!, /disagree; using SNOWFLAKE_AUTHENTICATOR/);
  assert.deepEqual(envLayer({ SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT', SNOWFLAKE_AUTH_TYPE: 'private_key' }).warnings, []);
});

test('aliases: the first listed variable wins, and a conflicting alias is warned about without showing values', () => {
  const { layer, warnings } = envLayer({ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pp-SECRET-a', PRIVATE_KEY_PASSPHRASE: 'pp-SECRET-b' });
  assert.equal(layer.values.privateKeyPassphrase, 'pp-SECRET-a');
  assert.equal(layer.sources.privateKeyPassphrase, 'env SNOWFLAKE_PRIVATE_KEY_PASSPHRASE');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /Both SNOWFLAKE_PRIVATE_KEY_PASSPHRASE and PRIVATE_KEY_PASSPHRASE are set with different values/);
  assert.ok(!warnings[0]!.includes('SECRET'));
  assert.equal(envLayer({ PRIVATE_KEY_PASSPHRASE: 'pp' }).layer.sources.privateKeyPassphrase, 'env PRIVATE_KEY_PASSPHRASE');
});

test('SNOWFLAKE_HOST + SNOWFLAKE_PORT + SNOWFLAKE_PROTOCOL form an access URL', () => {
  const { layer } = envLayer({ SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: '9999', SNOWFLAKE_PROTOCOL: 'HTTP' });
  assert.equal(layer.values.host, '127.0.0.1');
  assert.equal(layer.values.accessUrl, 'http://127.0.0.1:9999');
  assert.equal(layer.sources.accessUrl, 'env SNOWFLAKE_HOST, SNOWFLAKE_PORT, SNOWFLAKE_PROTOCOL');
  assert.equal(envLayer({ SNOWFLAKE_HOST: 'h.example' }).layer.values.accessUrl, undefined);
  const orphan = envLayer({ SNOWFLAKE_PORT: '1' });
  assert.equal(orphan.layer.values.accessUrl, undefined);
  assert.match(orphan.warnings[0]!, /without SNOWFLAKE_HOST and are ignored/);
});

test('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> overrides apply to that connection only', () => {
  const env = { SNOWFLAKE_CONNECTIONS_DEV_PASSWORD: 'pw', SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE: '/k.p8', SNOWFLAKE_CONNECTIONS_PROD_ROLE: 'R' };
  const dev = connectionEnvLayer(env, 'dev')!;
  assert.deepEqual(dev.values, { password: 'pw', privateKeyPath: '/k.p8' });
  assert.equal(dev.sources.password, 'env SNOWFLAKE_CONNECTIONS_DEV_PASSWORD');
  assert.deepEqual(connectionEnvLayer(env, 'prod')!.values, { role: 'R' });
  assert.equal(connectionEnvLayer(env, 'other'), null);
});

test('shimEnvironmentForHub passes SNOWFLAKE_*, SNOWMUX_PROFILE and the CLI passphrase, nothing else', () => {
  const selected = shimEnvironmentForHub({
    SNOWFLAKE_ACCOUNT: 'a',
    SNOWFLAKE_PASSWORD: 'pw',
    SNOWFLAKE_AUTH_TYPE: 'private_key',
    SNOWFLAKE_CONN_REFRESH_HOURS: '8',
    SNOWFLAKE_ROLE: '',
    SNOWMUX_PROFILE: 'dev',
    SNOWMUX_HOME: '/elsewhere',
    PRIVATE_KEY_PASSPHRASE: 'pp',
    GITHUB_TOKEN: 'ghp-not-for-the-hub',
    PATH: '/usr/bin',
    HOME: '/home/u',
  });
  assert.deepEqual(selected, {
    SNOWFLAKE_ACCOUNT: 'a',
    SNOWFLAKE_PASSWORD: 'pw',
    SNOWFLAKE_AUTH_TYPE: 'private_key',
    SNOWFLAKE_CONN_REFRESH_HOURS: '8',
    SNOWMUX_PROFILE: 'dev',
    PRIVATE_KEY_PASSPHRASE: 'pp',
  });
});

test('forwarded-env stays dependency-free (the shim loads it on every editor start)', () => {
  // Runs both under tsx (this file is .ts) and compiled (dist/test/unit/*.js next to dist/src/**/*.js).
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const source = readFileSync(fileURLToPath(new URL(`../../src/wire/forwarded-env.${extension}`, import.meta.url)), 'utf8');
  assert.doesNotMatch(source, /^\s*import\s/m);
});

test('a shim-started hub inherits only what any process needs: no Snowflake settings, no foreign secrets, no editor profile', () => {
  const started = hubStartEnvironment({
    PATH: '/usr/bin',
    HOME: '/home/u',
    TMPDIR: '/tmp/u',
    HTTPS_PROXY: 'http://proxy:3128',
    SNOWMUX_LOG_LEVEL: 'debug',
    SNOWMUX_PROFILE: 'dev',
    SNOWFLAKE_ACCOUNT: 'a',
    SNOWFLAKE_PASSWORD: 'pw',
    PRIVATE_KEY_PASSPHRASE: 'pp',
    GITHUB_TOKEN: 'ghp-not-for-the-hub',
    AWS_SECRET_ACCESS_KEY: 'aws',
    // Credentials of other snowmux commands: a remote hub's API key (remote shim, status --url) and a Redis URL
    // that may carry a password (audit verify --redis). The hub reads neither.
    SNOWMUX_KEY: 'smx_remote_key',
    SNOWMUX_REDIS_URL: 'redis://:secret@redis:6379',
  });
  assert.deepEqual(started, { PATH: '/usr/bin', HOME: '/home/u', TMPDIR: '/tmp/u', HTTPS_PROXY: 'http://proxy:3128', SNOWMUX_LOG_LEVEL: 'debug' });
});

test("a shim-started hub on a Linux desktop inherits the desktop session, so a browser sign-in can open its page", () => {
  const desktop = { DISPLAY: ':0', WAYLAND_DISPLAY: 'wayland-0', XAUTHORITY: '/run/user/1000/.mutter-Xwaylandauth', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus', BROWSER: 'firefox' };
  const started = hubStartEnvironment({ PATH: '/usr/bin', ...desktop });
  assert.deepEqual(started, { PATH: '/usr/bin', ...desktop });
  // What the hub then judges: a desktop, not a server.
  assert.equal(noBrowserReason('linux', started), null);
  assert.match(noBrowserReason('linux', hubStartEnvironment({ PATH: '/usr/bin' }))!, /without a desktop session/);
});

test('every SNOWMUX_* variable the hub reads is one a shim-started hub inherits', () => {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const roots = ['../../src/hub/', '../../src/wire/'].map((dir) => fileURLToPath(new URL(dir, import.meta.url)));
  const read = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(`.${extension}`)) {
        const source = readFileSync(path, 'utf8');
        for (const m of source.matchAll(/(?:env\??\.|numberEnv\(\s*['"]|_ENV\s*=\s*['"])(SNOWMUX_[A-Z_]+)/g)) read.add(m[1]!);
      }
    }
  };
  for (const root of roots) walk(root);
  read.delete('SNOWMUX_PROFILE'); // the editor's choice: it travels in that editor's hello only
  read.delete('SNOWMUX_STARTED_BY'); // set by the shim itself when it starts the hub
  read.delete('SNOWMUX_TEST_START_FAULT'); // a test's fault injected into a hub it starts itself: never passed on by a shim
  read.delete('SNOWMUX_TEST_REPLACE_READY_MS'); // a test's shorter start-up bound for a `hub --replace` it runs itself: a shim never replaces
  read.delete('SNOWMUX_TEST_START_CLEANUP_MS'); // a test's shorter bound for a failed `hub --replace`'s clean-up: a shim never replaces
  assert.ok(read.has('SNOWMUX_LOG_LEVEL') && read.has('SNOWMUX_CONFIG') && read.has('SNOWMUX_HOME'), [...read].join(', '));
  assert.deepEqual([...read].filter((name) => !HUB_START_NAMES.includes(name)), []);
});

test("an editor's relative key file, token file and SNOWFLAKE_HOME leave the shim absolute, read from the editor's directory", () => {
  const env = {
    SNOWFLAKE_PRIVATE_KEY_PATH: 'keys/rsa.p8',
    SNOWFLAKE_PRIVATE_KEY_FILE: './alias.p8',
    SNOWFLAKE_TOKEN_FILE_PATH: '../oauth.tok',
    SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE: 'dev.p8',
    SNOWFLAKE_HOME: '.snowflake',
    // Not paths, or not relative: as they are.
    SNOWFLAKE_PRIVATE_KEY_FILE_PWD: 'pass/word',
    SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE_PWD: 'pp',
    SNOWFLAKE_USER: 'me/you',
    SNOWFLAKE_CONNECTIONS_DEV_TOKEN_FILE_PATH: '~/tok',
    SNOWFLAKE_CONNECTIONS_QA_PRIVATE_KEY_PATH: '/abs/qa.p8',
  };
  assert.deepEqual(withAbsolutePaths(env, () => '/work/editor'), {
    ...env,
    SNOWFLAKE_PRIVATE_KEY_PATH: '/work/editor/keys/rsa.p8',
    SNOWFLAKE_PRIVATE_KEY_FILE: '/work/editor/alias.p8',
    SNOWFLAKE_TOKEN_FILE_PATH: '/work/oauth.tok',
    SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE: '/work/editor/dev.p8',
    SNOWFLAKE_HOME: '/work/editor/.snowflake',
  });
  // The directory is read only when a path needs it, and a deleted one leaves them relative (the hub refuses).
  let asked = 0;
  assert.deepEqual(withAbsolutePaths({ SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: '/k.p8' }, () => String(++asked)), { SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: '/k.p8' });
  assert.equal(asked, 0);
  assert.deepEqual(withAbsolutePaths({ SNOWFLAKE_PRIVATE_KEY_PATH: 'k.p8' }, () => undefined), { SNOWFLAKE_PRIVATE_KEY_PATH: 'k.p8' });
});
