import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { loadConfigFile, type LoadedConfig } from '../../src/hub/config/config-file.js';
import type { ProfileSettings } from '../../src/hub/config/profile-settings.js';
import type { SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import {
  profileFingerprint,
  redactProfile,
  resolveProfile,
  type ResolveProfileInput,
} from '../../src/hub/config/resolve-profile.js';

// ---- test secrets: none of these may ever appear in a redacted profile, a warning or an error message ----
const PASSWORD = 'pw-SECRET-7f3a0c';
const OTHER_PASSWORD = 'pw-SECRET-other-88e1';
const PASSPHRASE = 'pp-SECRET-91c2d4';
const TOKEN = 'tok-SECRET-55d0e9';
const PASSCODE = '904213';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PLAIN_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const ENCRYPTED_PEM = rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }) as string;
const PKCS1_PEM = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const DER_BASE64 = (rsa.privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('base64');
const PUBLIC_PEM = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const EC_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** Distinctive fragments of every secret, including key material. */
const SECRET_FRAGMENTS = [
  PASSWORD,
  OTHER_PASSWORD,
  PASSPHRASE,
  TOKEN,
  PASSCODE,
  PLAIN_PEM.split('\n')[5]!,
  ENCRYPTED_PEM.split('\n')[5]!,
  PKCS1_PEM.split('\n')[5]!,
  DER_BASE64.slice(200, 260),
];

function assertNoSecrets(text: string, what: string): void {
  for (const fragment of SECRET_FRAGMENTS) assert.ok(!text.includes(fragment), `${what} contains a secret: ${text}`);
}

interface Fixture {
  /** Used as the user's home directory (so ~/.snowflake lives inside it). */
  home: string;
  snowmuxHome: string;
  file(relative: string, text: string, mode?: number): string;
  connections(text: string): void;
  config(text: string): LoadedConfig;
  resolve(extra?: Partial<ResolveProfileInput>): ReturnType<typeof resolveProfile>;
}

function fixture(t: { after(fn: () => void): void }): Fixture {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-resolve-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const snowmuxHome = join(home, '.snowmux');
  const file = (relative: string, text: string, mode = 0o600) => {
    const path = join(home, relative);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  let loaded: LoadedConfig | undefined;
  return {
    home,
    snowmuxHome,
    file,
    connections: (text) => void file('.snowflake/connections.toml', text),
    config: (text) => {
      file('.snowmux/config.toml', text);
      loaded = loadConfigFile({ home: snowmuxHome, env: {}, homedir: home });
      return loaded;
    },
    resolve: (extra = {}) => {
      const result = resolveProfile({ env: {}, homedir: home, configFile: loaded, platform: 'linux', ...extra });
      for (const warning of result.warnings) assertNoSecrets(warning, 'a warning');
      if (result.profile !== null) assertNoSecrets(JSON.stringify(redactProfile(result.profile)), 'the redacted profile');
      return result;
    },
  };
}

function resolved(fx: Fixture, extra: Partial<ResolveProfileInput> = {}): SnowflakeProfile {
  const { profile } = fx.resolve(extra);
  assert.ok(profile, 'expected a Snowflake profile');
  return profile;
}

/** Asserts resolution fails with CONFIG_INVALID and a secret-free message; returns the message. */
function configError(fx: Fixture, extra: Partial<ResolveProfileInput> = {}): string {
  try {
    fx.resolve(extra);
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    assertNoSecrets(err.message, 'an error message');
    return err.message;
  }
  assert.fail('expected resolution to fail');
}

test('nothing configured: no profile (embedded warehouse), no warnings', (t) => {
  const fx = fixture(t);
  const { profile, warnings } = fx.resolve();
  assert.equal(profile, null);
  assert.deepEqual(warnings, []);
});

test('stray Snowflake settings without an account: embedded warehouse plus a warning naming them', (t) => {
  const fx = fixture(t);
  const { profile, warnings } = fx.resolve({ env: { SNOWFLAKE_WAREHOUSE: 'WH', SNOWFLAKE_ROLE: 'R' } });
  assert.equal(profile, null);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /env SNOWFLAKE_ROLE, env SNOWFLAKE_WAREHOUSE are set but no Snowflake account is configured/);
});

test('precedence per setting: flags > environment > snowmux config > connections.toml', (t) => {
  const fx = fixture(t);
  fx.connections(`
[dev]
account = "conn-acct"
user = "conn-user"
password = "${PASSWORD}"
role = "CONN_ROLE"
warehouse = "CONN_WH"
database = "CONN_DB"
schema = "CONN_SCHEMA"
`);
  fx.config(`
[profiles.dev]
role = "CFG_ROLE"
warehouse = "CFG_WH"
database = "CFG_DB"
`);
  const profile = resolved(fx, {
    name: 'dev',
    flags: { role: 'FLAG_ROLE' },
    env: { SNOWFLAKE_ROLE: 'ENV_ROLE', SNOWFLAKE_WAREHOUSE: 'ENV_WH' },
  });
  assert.equal(profile.name, 'dev');
  assert.equal(profile.role, 'FLAG_ROLE');
  assert.equal(profile.warehouse, 'ENV_WH');
  assert.equal(profile.database, 'CFG_DB');
  assert.equal(profile.schema, 'CONN_SCHEMA');
  assert.equal(profile.account, 'conn-acct');
  assert.deepEqual(profile.auth, { method: 'password', password: PASSWORD });
  assert.deepEqual(profile.sources, {
    account: '~/.snowflake/connections.toml [dev]',
    authenticator: 'inferred from ~/.snowflake/connections.toml [dev]',
    user: '~/.snowflake/connections.toml [dev]',
    password: '~/.snowflake/connections.toml [dev]',
    role: 'flag --role',
    warehouse: 'env SNOWFLAKE_WAREHOUSE',
    database: '~/.snowmux/config.toml profiles.dev',
    schema: '~/.snowflake/connections.toml [dev]',
  });
});

test('precedence matrix: for every combination of sources, the highest present one wins', (t) => {
  const fx = fixture(t);
  const sources = ['flag', 'env', 'config', 'connections'] as const;
  for (let mask = 1; mask < 16; mask++) {
    const present = sources.filter((_, i) => (mask & (1 << i)) !== 0);
    fx.connections(`[m]\naccount = "a"\nuser = "u"\nauthenticator = "externalbrowser"\n${present.includes('connections') ? 'warehouse = "connections"\n' : ''}`);
    fx.config(`[profiles.m]\n${present.includes('config') ? 'warehouse = "config"\n' : 'role = "R"\n'}`);
    const profile = resolved(fx, {
      name: 'm',
      flags: present.includes('flag') ? { warehouse: 'flag' } : {},
      env: present.includes('env') ? { SNOWFLAKE_WAREHOUSE: 'env' } : {},
    });
    assert.equal(profile.warehouse, present[0], `sources present: ${present.join(', ')}`);
  }
});

test('profile name: --profile > SNOWMUX_PROFILE > hub.default_profile > the connections.toml default', (t) => {
  const fx = fixture(t);
  const section = (name: string) => `[${name}]\naccount = "${name}-acct"\nuser = "u"\nauthenticator = "externalbrowser"\n`;
  fx.connections(['flagged', 'envnamed', 'configured', 'sfenv', 'sfconfig', 'default'].map(section).join('\n'));
  fx.file('.snowflake/config.toml', 'default_connection_name = "sfconfig"\n');
  fx.config('[hub]\ndefault_profile = "configured"\n');
  const env = { SNOWMUX_PROFILE: 'envnamed', SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'sfenv' };
  assert.equal(resolved(fx, { name: 'flagged', env }).name, 'flagged');
  assert.equal(resolved(fx, { env }).name, 'envnamed');
  assert.equal(resolved(fx, { env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'sfenv' } }).name, 'configured');
  fx.config('');
  assert.equal(resolved(fx, { env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'sfenv' } }).account, 'sfenv-acct');
  assert.equal(resolved(fx).account, 'sfconfig-acct');
  fx.file('.snowflake/config.toml', '');
  const fallback = resolved(fx);
  assert.equal(fallback.name, 'default');
  assert.equal(fallback.account, 'default-acct');
});

test('SNOWFLAKE_HOME points at another connections.toml', (t) => {
  const fx = fixture(t);
  fx.file('elsewhere/connections.toml', '[default]\naccount = "elsewhere"\nuser = "u"\npassword = "x"\n');
  fx.connections('[default]\naccount = "home"\nuser = "u"\npassword = "x"\n');
  assert.equal(resolved(fx).account, 'home');
  const profile = resolved(fx, { env: { SNOWFLAKE_HOME: join(fx.home, 'elsewhere') } });
  assert.equal(profile.account, 'elsewhere');
  assert.equal(profile.sources.account, '~/elsewhere/connections.toml [default]');
});

test('a requested profile that is defined nowhere is an error listing the defined ones', (t) => {
  const fx = fixture(t);
  fx.connections('[dev]\naccount = "a"\n[prod]\naccount = "b"\n');
  fx.config('[profiles.staging]\naccount = "c"\n');
  assert.equal(
    configError(fx, { env: { SNOWMUX_PROFILE: 'qa' } }),
    'Snowflake profile "qa" (from env SNOWMUX_PROFILE) is not defined: add [profiles.qa] to ~/.snowmux/config.toml or [qa] to ~/.snowflake/connections.toml. Defined profiles: staging, dev, prod.',
  );
  // A misspelt name an editor brings gets the hint `snowmux hub --profile` gets.
  assert.match(configError(fx, { env: { SNOWMUX_PROFILE: 'dve' } }), /^Snowflake profile "dve" \(from env SNOWMUX_PROFILE\) is not defined \(did you mean "dev"\?\): add \[profiles\.dve\]/);
  assert.match(configError(fx, { env: { SNOWMUX_PROFILE: 'stagng' } }), /\(did you mean "staging"\?\)/);
});

test('a default connection name that matches nothing is warned about, not fatal', (t) => {
  const fx = fixture(t);
  fx.connections('[dev]\naccount = "a"\n');
  const { profile, warnings } = fx.resolve({ env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'gone' } });
  assert.equal(profile, null);
  assert.deepEqual(warnings, [
    'env SNOWFLAKE_DEFAULT_CONNECTION_NAME names connection "gone", which ~/.snowflake/connections.toml does not define; ignoring it.',
  ]);
});

test('config profiles with none selected are warned about', (t) => {
  const fx = fixture(t);
  fx.config('[profiles.prod]\naccount = "a"\n');
  const { profile, warnings } = fx.resolve();
  assert.equal(profile, null);
  assert.match(warnings[0]!, /~\/\.snowmux\/config\.toml defines profiles \(prod\) but none is selected: set hub\.default_profile, SNOWMUX_PROFILE or --profile\./);
});

// A role that names a profile selects it for its sessions: the advice to set a default would move every
// other session off the embedded warehouse, so there is nothing to warn about.
test('config profiles a role selects are not warned about as unselected', (t) => {
  const fx = fixture(t);
  fx.config('[profiles.prod]\naccount = "a"\nuser = "u"\npassword = "p"\n[roles.sf]\nclients = ["sf*"]\nprofile = "prod"\n');
  const { profile, warnings } = fx.resolve();
  assert.equal(profile, null);
  assert.deepEqual(warnings.filter((w) => w.includes('none is selected')), []);
});

test('the Python server\'s environment resolves unchanged (key pair + refresh hours)', (t) => {
  const fx = fixture(t);
  const keyPath = fx.file('keys/rsa_key.p8', PLAIN_PEM);
  const profile = resolved(fx, {
    env: {
      SNOWFLAKE_AUTH_TYPE: 'private_key',
      SNOWFLAKE_ACCOUNT: 'myorg-acct',
      SNOWFLAKE_USER: 'svc',
      SNOWFLAKE_WAREHOUSE: 'WH',
      SNOWFLAKE_DATABASE: 'DB',
      SNOWFLAKE_SCHEMA: 'PUBLIC',
      SNOWFLAKE_ROLE: 'READER',
      SNOWFLAKE_PRIVATE_KEY_PATH: keyPath,
      SNOWFLAKE_CONN_REFRESH_HOURS: '8',
    },
  });
  assert.equal(profile.name, 'env');
  assert.equal(profile.account, 'myorg-acct');
  assert.equal(profile.user, 'svc');
  assert.equal(profile.auth.method, 'keypair');
  assert.equal(profile.auth.method === 'keypair' && profile.auth.privateKeyPem, PLAIN_PEM);
  assert.equal(profile.auth.method === 'keypair' && profile.auth.source, `file ${keyPath} (env SNOWFLAKE_PRIVATE_KEY_PATH)`);
  assert.equal(profile.pool.maxConnectionAgeMs, 8 * 3_600_000);
  assert.equal(profile.sources['pool.maxConnectionAgeMs'], 'env SNOWFLAKE_CONN_REFRESH_HOURS');
  assert.equal(profile.sources.authenticator, 'env SNOWFLAKE_AUTH_TYPE');
  assert.equal(profile.sources.privateKeyPath, 'env SNOWFLAKE_PRIVATE_KEY_PATH');
  assert.deepEqual([profile.role, profile.warehouse, profile.database, profile.schema], ['READER', 'WH', 'DB', 'PUBLIC']);

  const browser = resolved(fx, { env: { SNOWFLAKE_AUTH_TYPE: 'external_browser', SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'me' } });
  assert.deepEqual(browser.auth, { method: 'externalbrowser' });

  // The Python server's inline key variable, with the newlines escaped as JSON editor configs often have them.
  const inline = resolved(fx, {
    env: { SNOWFLAKE_AUTH_TYPE: 'private_key', SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'svc', SNOWFLAKE_PRIVATE_KEY: PLAIN_PEM.trim().replace(/\n/g, '\\n') },
  });
  assert.equal(inline.auth.method === 'keypair' && inline.auth.privateKeyPem, PLAIN_PEM);
  assert.equal(inline.auth.method === 'keypair' && inline.auth.source, 'inline (env SNOWFLAKE_PRIVATE_KEY)');
});

test('each authenticator produces its auth method', (t) => {
  const fx = fixture(t);
  const tokenFile = fx.file('run/token', `${TOKEN}\n`);
  const base = { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u' };
  const auth = (env: NodeJS.ProcessEnv) => resolved(fx, { env: { ...base, ...env } }).auth;
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'snowflake', SNOWFLAKE_PASSWORD: PASSWORD }), { method: 'password', password: PASSWORD });
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'oauth', SNOWFLAKE_TOKEN: TOKEN }), { method: 'oauth', token: TOKEN });
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'OAUTH', SNOWFLAKE_TOKEN_FILE_PATH: tokenFile }), { method: 'oauth', token: TOKEN });
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'programmatic_access_token', SNOWFLAKE_TOKEN: TOKEN }), { method: 'pat', token: TOKEN });
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' }), { method: 'externalbrowser' });
  assert.deepEqual(auth({ SNOWFLAKE_AUTHENTICATOR: 'username_password_mfa', SNOWFLAKE_PASSWORD: PASSWORD }), { method: 'mfa', password: PASSWORD });
  assert.deepEqual(
    auth({ SNOWFLAKE_AUTHENTICATOR: 'USERNAME_PASSWORD_MFA', SNOWFLAKE_PASSWORD: PASSWORD, SNOWFLAKE_PASSCODE: PASSCODE }),
    { method: 'mfa', password: PASSWORD, passcode: PASSCODE },
  );
  const keypair = auth({ SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT', SNOWFLAKE_PRIVATE_KEY: PLAIN_PEM });
  assert.equal(keypair.method, 'keypair');
  // OAuth does not need a user (the token names it); every other method does.
  const oauthOnly = resolved(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_AUTHENTICATOR: 'oauth', SNOWFLAKE_TOKEN: TOKEN } });
  assert.equal(oauthOnly.user, '');
});

test('without an authenticator it is inferred from the secret present (the higher source wins)', (t) => {
  const fx = fixture(t);
  const keyPath = fx.file('keys/k.p8', PLAIN_PEM);
  fx.connections(`[default]\naccount = "a"\nuser = "u"\nprivate_key_file = "${keyPath}"\n`);
  const fromKey = resolved(fx);
  assert.equal(fromKey.auth.method, 'keypair');
  assert.equal(fromKey.sources.authenticator, 'inferred from ~/.snowflake/connections.toml [default]');
  const both = fx.resolve({ env: { SNOWFLAKE_PASSWORD: PASSWORD } });
  assert.equal(both.profile?.auth.method, 'password');
  assert.equal(both.profile?.sources.authenticator, 'inferred from env SNOWFLAKE_PASSWORD');
  // Both secrets and no authenticator: the choice is said, with how to make it explicit.
  assert.deepEqual(both.warnings, [
    'Snowflake profile "default" has both a private key (~/.snowflake/connections.toml [default]) and a password (env SNOWFLAKE_PASSWORD) but no authenticator; ' +
      'using the password (env SNOWFLAKE_PASSWORD, the higher source). Set SNOWFLAKE_AUTHENTICATOR or authenticator in ~/.snowflake/connections.toml [default] to SNOWFLAKE_JWT or SNOWFLAKE, ' +
      'or remove the key (~/.snowflake/connections.toml [default]).',
  ]);
  assert.deepEqual(fx.resolve({ env: { SNOWFLAKE_PASSWORD: PASSWORD, SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT' } }).warnings, [], 'an explicit authenticator needs no warning');
  assert.match(
    configError(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_TOKEN: TOKEN, SNOWFLAKE_HOME: join(fx.home, 'none') } }),
    /^Snowflake profile "env" has a token \(env SNOWFLAKE_TOKEN\) but no authenticator: set SNOWFLAKE_AUTHENTICATOR to OAUTH or PROGRAMMATIC_ACCESS_TOKEN\.$/,
  );
});

test('missing secrets name the setting and where to set it', (t) => {
  const fx = fixture(t);
  fx.connections('[dev]\naccount = "a"\nuser = "u"\n');
  assert.equal(
    configError(fx, { name: 'dev' }),
    'Snowflake profile "dev" has no password: set SNOWFLAKE_PASSWORD or password in ~/.snowflake/connections.toml [dev], or choose another authenticator.',
  );
  assert.equal(
    configError(fx, { name: 'dev', env: { SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT' } }),
    'Snowflake profile "dev" has no private key: set SNOWFLAKE_PRIVATE_KEY_PATH or private_key_file in ~/.snowflake/connections.toml [dev] ' +
      '(or the PEM text itself: SNOWFLAKE_PRIVATE_KEY or private_key in ~/.snowflake/connections.toml [dev]), or choose another authenticator.',
  );
  assert.equal(
    configError(fx, { name: 'dev', env: { SNOWFLAKE_AUTHENTICATOR: 'OAUTH' } }),
    'Snowflake profile "dev" has no token: set SNOWFLAKE_TOKEN or token in ~/.snowflake/connections.toml [dev] ' +
      '(or a file holding it: SNOWFLAKE_TOKEN_FILE_PATH or token_file_path in ~/.snowflake/connections.toml [dev]), or choose another authenticator.',
  );
  fx.config('[profiles.dev]\nrole = "R"\n');
  assert.equal(
    configError(fx, { name: 'dev', env: { SNOWFLAKE_AUTHENTICATOR: 'username_password_mfa' } }),
    'Snowflake profile "dev" has no password: set SNOWFLAKE_PASSWORD, password in ~/.snowmux/config.toml profiles.dev or password in ~/.snowflake/connections.toml [dev], or choose another authenticator.',
  );
  fx.connections('[dev]\nuser = "u"\n');
  assert.equal(
    configError(fx, { name: 'dev' }),
    'Snowflake profile "dev" has no account: set SNOWFLAKE_ACCOUNT, account in ~/.snowmux/config.toml profiles.dev or account in ~/.snowflake/connections.toml [dev].',
  );
  assert.equal(
    configError(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_PASSWORD: PASSWORD } }),
    'Snowflake profile "env" has no user: set SNOWFLAKE_USER.',
  );
});

test('key pair: plain and encrypted PKCS#8 files, with and without the passphrase', (t) => {
  const fx = fixture(t);
  const plain = fx.file('keys/plain.p8', PLAIN_PEM);
  const encrypted = fx.file('keys/encrypted.p8', ENCRYPTED_PEM);
  fx.connections(`[dev]\naccount = "a"\nuser = "u"\nauthenticator = "SNOWFLAKE_JWT"\nprivate_key_file = "${encrypted}"\n`);

  const plainProfile = resolved(fx, { name: 'dev', env: { SNOWFLAKE_PRIVATE_KEY_PATH: plain } });
  assert.deepEqual(plainProfile.auth, {
    method: 'keypair',
    privateKeyPem: PLAIN_PEM,
    source: `file ${plain} (env SNOWFLAKE_PRIVATE_KEY_PATH)`,
  });

  assert.equal(
    configError(fx, { name: 'dev' }),
    `Snowflake profile "dev": the private key file ${encrypted} (~/.snowflake/connections.toml [dev]) is encrypted but no passphrase is set. ` +
      'Set SNOWFLAKE_PRIVATE_KEY_PASSPHRASE or private_key_file_pwd in ~/.snowflake/connections.toml [dev].',
  );

  for (const env of [
    { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE },
    { PRIVATE_KEY_PASSPHRASE: PASSPHRASE },
    { SNOWFLAKE_PRIVATE_KEY_FILE_PWD: PASSPHRASE },
  ]) {
    const profile = resolved(fx, { name: 'dev', env });
    assert.deepEqual(profile.auth, {
      method: 'keypair',
      privateKeyPem: ENCRYPTED_PEM,
      passphrase: PASSPHRASE,
      source: `file ${encrypted} (~/.snowflake/connections.toml [dev])`,
    });
    assert.equal(profile.sources.privateKeyPassphrase, `env ${Object.keys(env)[0]}`);
  }

  fx.connections(`[dev]\naccount = "a"\nuser = "u"\nprivate_key_file = "${encrypted}"\nprivate_key_file_pwd = "${PASSPHRASE}"\n`);
  assert.equal(resolved(fx, { name: 'dev' }).auth.method, 'keypair');
});

test('key pair: wrong passphrase, unreadable file, public key, non-RSA key and garbage each say what is wrong', (t) => {
  const fx = fixture(t);
  const encrypted = fx.file('keys/encrypted.p8', ENCRYPTED_PEM);
  const base = { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT' };
  assert.equal(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY_PATH: encrypted, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: OTHER_PASSWORD } }),
    `Snowflake profile "env": the private key file ${encrypted} (env SNOWFLAKE_PRIVATE_KEY_PATH) could not be decrypted with the passphrase from env SNOWFLAKE_PRIVATE_KEY_PASSPHRASE. Check the passphrase.`,
  );
  const missing = join(fx.home, 'keys', 'missing.p8');
  assert.equal(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY_FILE: missing } }),
    `Snowflake profile "env": cannot read the private key file ${missing} (set by env SNOWFLAKE_PRIVATE_KEY_FILE): no such file. ` +
      'Check the path and the file permissions, or point the setting at your rsa_key.p8.',
  );
  assert.match(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY_PATH: join(fx.home, 'keys') } }),
    /cannot read the private key file .*keys \(set by env SNOWFLAKE_PRIVATE_KEY_PATH\): it is a directory\./,
  );
  // The key itself, or a passphrase or token, pasted into a path setting: the message (which reaches the
  // editor, its model, doctor and status) describes it instead of showing it.
  for (const [env, secret] of [
    [{ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: PLAIN_PEM }, PLAIN_PEM.split('\n')[1]!],
    [{ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: 'correct-horse-battery-staple' }, 'correct-horse-battery-staple'],
    // A key's base64 body without its BEGIN line has slashes; a passphrase may end in a dot and letters.
    [{ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: 'MIIEvgIBADANBgkqhkiG9w0BAQEFAASC/x9Kq+SECRETbodyOfTheKey0123456789' }, 'SECRETbodyOfTheKey'],
    [{ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: 'Tr0ub4dor&3.secret' }, 'Tr0ub4dor&3'],
    [{ SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'PROGRAMMATIC_ACCESS_TOKEN', SNOWFLAKE_TOKEN_FILE_PATH: TOKEN }, TOKEN],
  ] as const) {
    const message = configError(fx, { env });
    assert.ok(!message.includes(secret), message);
    assert.match(message, /cannot read the (private key|token) file \(value not shown: it does not look like a file path; a key, passphrase or token itself belongs in its own setting/);
  }
  assert.match(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY: PUBLIC_PEM } }),
    /^Snowflake profile "env": the private key in env SNOWFLAKE_PRIVATE_KEY is a public key\. Point it at the private key/,
  );
  assert.match(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY: EC_PEM } }),
    /the private key in env SNOWFLAKE_PRIVATE_KEY is a ec key; Snowflake key-pair authentication needs an RSA key/,
  );
  assert.match(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY: 'not a key at all' } }),
    /the private key in env SNOWFLAKE_PRIVATE_KEY is not a PEM private key\. Expected text starting with "-----BEGIN PRIVATE KEY-----"/,
  );
  assert.match(
    configError(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' } }),
    /the private key in env SNOWFLAKE_PRIVATE_KEY is not a valid private key/,
  );
  // A key file under "~/" is expanded like the connectors do.
  fx.file('keys/plain.p8', PLAIN_PEM);
  assert.equal(resolved(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY_PATH: '~/keys/plain.p8' } }).auth.method, 'keypair');
});

test('key pair: PKCS#1 and base64 DER keys are accepted and handed on as PKCS#8 PEM', (t) => {
  const fx = fixture(t);
  const base = { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT' };
  for (const key of [PKCS1_PEM, DER_BASE64]) {
    const { auth } = resolved(fx, { env: { ...base, SNOWFLAKE_PRIVATE_KEY: key } });
    assert.equal(auth.method === 'keypair' && auth.privateKeyPem.replace(/\s+/g, ''), PLAIN_PEM.replace(/\s+/g, ''));
  }
});

test('an inline key and a key path: the higher source wins; within one source the inline key wins', (t) => {
  const fx = fixture(t);
  const plain = fx.file('keys/plain.p8', PLAIN_PEM);
  fx.connections(`[default]\naccount = "a"\nuser = "u"\nprivate_key_file = "${join(fx.home, 'keys', 'absent.p8')}"\n`);
  const inlineEnv = resolved(fx, { env: { SNOWFLAKE_PRIVATE_KEY: PLAIN_PEM } });
  assert.equal(inlineEnv.sources.privateKey, 'env SNOWFLAKE_PRIVATE_KEY');
  assert.equal(inlineEnv.sources.privateKeyPath, undefined);
  const { profile, warnings } = fx.resolve({ env: { SNOWFLAKE_PRIVATE_KEY: PLAIN_PEM, SNOWFLAKE_PRIVATE_KEY_PATH: plain } });
  assert.equal(profile?.sources.privateKey, 'env SNOWFLAKE_PRIVATE_KEY');
  assert.match(warnings.join('\n'), /Both env SNOWFLAKE_PRIVATE_KEY and env SNOWFLAKE_PRIVATE_KEY_PATH are set; using env SNOWFLAKE_PRIVATE_KEY/);
});

test('token file problems name the path and the setting', (t) => {
  const fx = fixture(t);
  const base = { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'PROGRAMMATIC_ACCESS_TOKEN' };
  const missing = join(fx.home, 'nope');
  assert.equal(
    configError(fx, { env: { ...base, SNOWFLAKE_TOKEN_FILE_PATH: missing } }),
    `Snowflake profile "env": cannot read the token file ${missing} (set by env SNOWFLAKE_TOKEN_FILE_PATH): no such file. Check the path and its permissions.`,
  );
  const empty = fx.file('empty-token', '\n');
  assert.match(configError(fx, { env: { ...base, SNOWFLAKE_TOKEN_FILE_PATH: empty } }), /the token file .* \(set by env SNOWFLAKE_TOKEN_FILE_PATH\) is empty/);
});

test('pool and timeouts: defaults, file values with sources, and inconsistent values', (t) => {
  const fx = fixture(t);
  fx.connections('[default]\naccount = "a"\nuser = "u"\nauthenticator = "externalbrowser"\n');
  const defaults = resolved(fx);
  assert.deepEqual(defaults.pool, { min: 0, max: 4, acquireTimeoutMs: 10_000, idleTimeoutMs: 600_000, validateOnBorrow: true, maxConnectionAgeMs: 0 });
  assert.equal(defaults.statementTimeoutMs, 300_000);
  fx.config('[profiles.default]\nstatement_timeout_s = 45\n[profiles.default.pool]\nmin = 2\nmax = 6\nvalidate = false\n');
  const configured = resolved(fx);
  assert.deepEqual(configured.pool, { min: 2, max: 6, acquireTimeoutMs: 10_000, idleTimeoutMs: 600_000, validateOnBorrow: false, maxConnectionAgeMs: 0 });
  assert.equal(configured.statementTimeoutMs, 45_000);
  assert.equal(configured.sources['pool.max'], '~/.snowmux/config.toml profiles.default');
  assert.equal(resolved(fx, { flags: { poolMax: 9 } }).sources['pool.max'], 'flag --pool-max');
  fx.config('[profiles.default.pool]\nvalidate = true\n');
  const unvalidated = resolved(fx, { flags: { poolValidateOnBorrow: false } });
  assert.equal(unvalidated.pool.validateOnBorrow, false);
  assert.equal(unvalidated.sources['pool.validateOnBorrow'], 'flag --no-pool-validate');
  fx.config('[profiles.default]\nstatement_timeout_s = 45\n[profiles.default.pool]\nmin = 2\nmax = 6\nvalidate = false\n');
  assert.equal(
    configError(fx, { flags: { poolMax: 1 } }),
    'Snowflake profile "default": pool.min (2, ~/.snowmux/config.toml profiles.default) is larger than pool.max (1, flag --pool-max). Lower pool.min or raise pool.max.',
  );
  assert.match(configError(fx, { flags: { poolMax: 0 } }), /pool\.max from flag --pool-max must be a positive integer, got 0/);
});

test('a pool timeout from a flag longer than a timer can wait is refused, naming the flag and the maximum', (t) => {
  const fx = fixture(t);
  fx.connections('[default]\naccount = "a"\nuser = "u"\nauthenticator = "externalbrowser"\n');
  // Node.js arms a timer above 2^31-1 ms for 1 ms: every call waited "3000000000 ms" for no time at all.
  assert.match(configError(fx, { flags: { poolAcquireTimeoutMs: 3_000_000_000 } }), /pool\.acquireTimeoutMs from flag --pool-acquire-timeout-ms must be a positive integer of at most 2147483647 .*got 3000000000/);
  assert.match(configError(fx, { flags: { poolIdleTimeoutMs: 2_147_483_648 } }), /at most 2147483647/);
  assert.equal(resolved(fx, { flags: { poolAcquireTimeoutMs: 2_147_483_647 } }).pool.acquireTimeoutMs, 2_147_483_647);
});

test('flags: authenticator spelling is checked and sources say "flag"', (t) => {
  const fx = fixture(t);
  const flags: Partial<ProfileSettings> = { account: 'a', user: 'u', authenticator: 'externalbrowser', accessUrl: 'http://127.0.0.1:1234' };
  const profile = resolved(fx, { flags });
  assert.equal(profile.sources.account, 'flag --account');
  assert.equal(profile.sources.accessUrl, 'flag --access-url');
  assert.equal(profile.accessUrl, 'http://127.0.0.1:1234');
  assert.match(configError(fx, { flags: { ...flags, authenticator: 'saml' } }), /^Flag --authenticator has an unsupported value "saml"/);
  assert.match(configError(fx, { flags: { ...flags, accessUrl: 'not a url' } }), /the access URL from flag --access-url is not an http:\/\/ or https:\/\/ URL/);
});

test('an account written as a URL or host name is reduced to the identifier, with a warning', (t) => {
  const fx = fixture(t);
  const { profile, warnings } = fx.resolve({
    env: { SNOWFLAKE_ACCOUNT: 'https://myorg-acct.snowflakecomputing.com/', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' },
  });
  assert.equal(profile?.account, 'myorg-acct');
  assert.match(warnings[0]!, /looks like a URL or host name; using account "myorg-acct"/);
});

test('a Snowsight address as the account becomes <organization>-<account>, with a warning; another URL or web host is refused, naming the forms', (t) => {
  const fx = fixture(t);
  const env = { SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' };
  for (const url of ['https://app.snowflake.com/myorg/myacct/', 'https://app.snowflake.com/myorg/my_acct/#/homepage', 'app.snowflake.com/myorg/myacct']) {
    const r = fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: url } });
    const expected = url.includes('my_acct') ? 'myorg-my_acct' : 'myorg-myacct';
    assert.equal(r.profile?.account, expected, url);
    assert.match(r.warnings[0]!, new RegExp(`is a Snowsight address; using account "${expected}".*set account = "${expected}"`), url);
  }
  // The region form names a locator: refused with the identifier it most likely means, not guessed at.
  assert.match(
    configError(fx, { env: { ...env, SNOWFLAKE_ACCOUNT: 'https://app.snowflake.com/ap-south-1.aws/bm16399/' } }),
    /account "https:\/\/app\.snowflake\.com\/ap-south-1\.aws\/bm16399\/" \(env SNOWFLAKE_ACCOUNT\) is a Snowsight address with a region and an account locator.*"bm16399\.ap-south-1\.aws"/,
  );
  for (const bad of ['https://app.snowflake.com/', 'https://app.snowflake.com/myorg', 'https://example.com/myorg-myacct', 'snowflake.example.com', 'http://10.0.0.1:8080/x', 'myorg-myacct/x']) {
    assert.match(configError(fx, { env: { ...env, SNOWFLAKE_ACCOUNT: bad } }), /is not an account identifier.*<organization>-<account> \(e\.g\. myorg-myaccount.*locator with its region \(e\.g\. xy12345\.us-east-1\)/, bad);
  }
  // What was taken before stays: a snowflakecomputing.com host or URL, a legacy locator, org.account.
  assert.equal(fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: 'myorg-acct.snowflakecomputing.com' } }).profile?.account, 'myorg-acct');
  assert.equal(fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: 'https://xy12345.us-east-2.aws.snowflakecomputing.com/console' } }).profile?.account, 'xy12345.us-east-2.aws');
});

// A pasted JDBC or https URL may hold the password (?password=, user:password@): the account check quotes
// the value back (to the editor, to hub.log), and a profile that never resolved has no secret to scrub.
test('an account given as a URL holding a password is quoted without it, refused or taken', (t) => {
  const fx = fixture(t);
  const env = { SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' };
  const pw = 'JDBC-PW-1';
  for (const bad of [`jdbc:snowflake://myorg-acct.snowflakecomputing.com/?user=me&password=${pw}`, `https://example.com/?pwd=${pw}`, `https://me:${pw}@example.com/x`, `me:${pw}@app.snowflake.com/`]) {
    const message = configError(fx, { env: { ...env, SNOWFLAKE_ACCOUNT: bad } });
    assert.ok(!message.includes(pw), message);
    assert.match(message, /is not an account identifier/);
  }
  const taken = fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: `https://me:${pw}@myorg-acct.snowflakecomputing.com` } });
  assert.equal(taken.profile?.account, 'myorg-acct');
  assert.ok(!taken.warnings.join('\n').includes(pw), taken.warnings.join('\n'));
  assert.match(taken.warnings[0]!, /account "https:\/\/\*\*\*@myorg-acct\.snowflakecomputing\.com" \(env SNOWFLAKE_ACCOUNT\) looks like a URL/);
});

test('a private key or token file others can read gets the same warning as connections.toml, naming the setting; a private one none', (t) => {
  const fx = fixture(t);
  const env = { SNOWFLAKE_ACCOUNT: 'myorg-acct', SNOWFLAKE_USER: 'svc' };
  const open = fx.file('keys/open.p8', PLAIN_PEM, 0o644);
  const shut = fx.file('keys/shut.p8', PLAIN_PEM, 0o600);
  const token = fx.file('keys/token', TOKEN, 0o640);
  const warned = fx.resolve({ env: { ...env, SNOWFLAKE_PRIVATE_KEY_PATH: open } }).warnings;
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0]!, /Bad owner or permissions on .*open\.p8 \(env SNOWFLAKE_PRIVATE_KEY_PATH\) \(readable by group or others; mode 644\).*chmod 0600/);
  assert.deepEqual(fx.resolve({ env: { ...env, SNOWFLAKE_PRIVATE_KEY_PATH: shut } }).warnings, []);
  const tokenWarned = fx.resolve({ env: { ...env, SNOWFLAKE_AUTHENTICATOR: 'OAUTH', SNOWFLAKE_TOKEN_FILE_PATH: token } }).warnings;
  assert.match(tokenWarned.join('\n'), /Bad owner or permissions on .*token \(env SNOWFLAKE_TOKEN_FILE_PATH\) \(readable by group or others; mode 640\)/);
  for (const w of [...warned, ...tokenWarned]) for (const secret of SECRET_FRAGMENTS) assert.ok(!w.includes(secret));
});

test('an account as <organization>.<account> becomes the hyphenated form, with a warning; a legacy locator.region stays; a malformed one is refused naming the form', (t) => {
  const fx = fixture(t);
  const env = { SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' };
  const dotted = fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: 'MyOrg.my_acct' } });
  assert.equal(dotted.profile?.account, 'MyOrg-my_acct');
  assert.match(dotted.warnings[0]!, /looks like <organization>\.<account>, the form SQL uses; using "MyOrg-my_acct"/);
  const fromUrl = fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: 'https://myorg.acct.snowflakecomputing.com' } });
  assert.equal(fromUrl.profile?.account, 'myorg-acct');
  for (const legacy of ['xy12345.eu-west-1', 'xy12345.east-us-2.azure', 'xy12345']) {
    const r = fx.resolve({ env: { ...env, SNOWFLAKE_ACCOUNT: legacy } });
    assert.equal(r.profile?.account, legacy);
    assert.deepEqual(r.warnings.filter((w) => !w.includes('signs in with a browser')), [], legacy);
  }
  for (const bad of ['my org', 'acct?x', 'acct;drop']) {
    assert.match(configError(fx, { env: { ...env, SNOWFLAKE_ACCOUNT: bad } }), /is not an account identifier: it may hold only letters, digits.*<organization>-<account>/, bad);
  }
});

test('the Snowflake CLI\'s SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> beats generic variables for that connection', (t) => {
  const fx = fixture(t);
  fx.connections('[dev]\naccount = "a"\nuser = "u"\n');
  const profile = resolved(fx, {
    name: 'dev',
    env: { SNOWFLAKE_PASSWORD: OTHER_PASSWORD, SNOWFLAKE_CONNECTIONS_DEV_PASSWORD: PASSWORD },
  });
  assert.deepEqual(profile.auth, { method: 'password', password: PASSWORD });
  assert.equal(profile.sources.password, 'env SNOWFLAKE_CONNECTIONS_DEV_PASSWORD');
});

test('connections.toml permission warnings surface when that file is used', (t) => {
  const fx = fixture(t);
  fx.file('.snowflake/connections.toml', `[default]\naccount = "a"\nuser = "u"\npassword = "${PASSWORD}"\n`, 0o644);
  const { warnings } = fx.resolve();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /Bad owner or permissions on ~\/\.snowflake\/connections\.toml/);
});

test('fingerprint: same connection settings share, any difference separates', (t) => {
  const fx = fixture(t);
  fx.connections(`[dev]\naccount = "MyOrg-Acct"\nuser = "Me"\npassword = "${PASSWORD}"\nrole = "R"\nwarehouse = "W"\n`);
  const fromFile = resolved(fx, { name: 'dev' });
  const fromEnv = resolved(fx, {
    env: {
      SNOWFLAKE_HOME: join(fx.home, 'none'),
      SNOWFLAKE_ACCOUNT: 'myorg-acct',
      SNOWFLAKE_USER: 'me',
      SNOWFLAKE_PASSWORD: PASSWORD,
      SNOWFLAKE_ROLE: 'R',
      SNOWFLAKE_WAREHOUSE: 'W',
    },
  });
  assert.notEqual(fromFile.name, fromEnv.name);
  assert.equal(profileFingerprint(fromFile), profileFingerprint(fromEnv));
  assert.equal(profileFingerprint(fromFile), profileFingerprint(resolved(fx, { name: 'dev' })));

  const variants: Array<[string, NodeJS.ProcessEnv]> = [
    ['role', { SNOWFLAKE_ROLE: 'OTHER' }],
    ['warehouse', { SNOWFLAKE_WAREHOUSE: 'OTHER' }],
    ['user', { SNOWFLAKE_USER: 'someone' }],
    ['account', { SNOWFLAKE_ACCOUNT: 'other-acct' }],
    ['password', { SNOWFLAKE_PASSWORD: OTHER_PASSWORD }],
    ['database', { SNOWFLAKE_DATABASE: 'DB' }],
    ['access URL', { SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: '1', SNOWFLAKE_PROTOCOL: 'http' }],
    ['auth method', { SNOWFLAKE_AUTHENTICATOR: 'username_password_mfa' }],
    ['max age', { SNOWFLAKE_CONN_REFRESH_HOURS: '1' }],
  ];
  const seen = new Set([profileFingerprint(fromFile)]);
  for (const [what, env] of variants) {
    const fingerprint = profileFingerprint(resolved(fx, { name: 'dev', env }));
    assert.ok(!seen.has(fingerprint), `a different ${what} must give a different fingerprint`);
    seen.add(fingerprint);
  }
  assertNoSecrets([...seen].join(' '), 'fingerprints');
  assert.ok([...seen].every((fingerprint) => /^[0-9a-f]{32}$/.test(fingerprint)));
});

test('redaction keeps identity and sources, drops every secret, and strips credentials from URLs', (t) => {
  const fx = fixture(t);
  const encrypted = fx.file('keys/encrypted.p8', ENCRYPTED_PEM);
  const tokenFile = fx.file('run/token', TOKEN);
  const cases: NodeJS.ProcessEnv[] = [
    { SNOWFLAKE_PASSWORD: PASSWORD },
    { SNOWFLAKE_AUTHENTICATOR: 'username_password_mfa', SNOWFLAKE_PASSWORD: PASSWORD, SNOWFLAKE_PASSCODE: PASSCODE },
    { SNOWFLAKE_PRIVATE_KEY_PATH: encrypted, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE },
    { SNOWFLAKE_PRIVATE_KEY: PLAIN_PEM },
    { SNOWFLAKE_AUTHENTICATOR: 'oauth', SNOWFLAKE_TOKEN: TOKEN },
    { SNOWFLAKE_AUTHENTICATOR: 'programmatic_access_token', SNOWFLAKE_TOKEN_FILE_PATH: tokenFile },
  ];
  for (const env of cases) {
    const profile = resolved(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', ...env } });
    const redacted = redactProfile(profile);
    assert.deepEqual(Object.keys(redacted.auth), ['method']);
    assert.equal(redacted.auth.method, profile.auth.method);
    assert.equal(redacted.account, 'a');
    assertNoSecrets(JSON.stringify(redacted), 'redacted profile');
    // The unredacted profile does carry the secret: the check above is meaningful.
    assert.ok(SECRET_FRAGMENTS.some((fragment) => JSON.stringify(profile).includes(fragment)));
  }
  // A token in the access URL's query (a proxy's) is not shown either.
  const viaProxy = resolved(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: PASSWORD }, flags: { accessUrl: `https://proxy.example.com/sf?access_token=${OTHER_PASSWORD}` } });
  assert.equal(redactProfile(viaProxy).accessUrl, 'https://proxy.example.com/sf?access_token=***');
  // A URL carrying a user or password is refused (fetch would refuse it on every login), without the secret in the message.
  for (const accessUrl of [`http://u:${OTHER_PASSWORD}@127.0.0.1:9/`, `https://${OTHER_PASSWORD}@127.0.0.1:9/`]) {
    assert.throws(
      () => resolved(fx, { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: PASSWORD }, flags: { accessUrl } }),
      (e) => isSnowmuxError(e, 'CONFIG_INVALID') && /carries a user name or password/.test(e.message) && !e.message.includes(OTHER_PASSWORD),
    );
  }
});

test('a private key or token file another user could change is refused: a swapped key or token would run every call as them', (t) => {
  const fx = fixture(t);
  const worldWritable = fx.file('keys/rsa_key.p8', PLAIN_PEM, 0o666);
  assert.throws(
    () => fx.resolve({ env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: worldWritable } }),
    (e) => isSnowmuxError(e, 'CONFIG_UNSAFE') && /private key file .* decides whom the hub logs in as, and every user may write it \(mode 666\)/.test(e.message),
  );
  const tokenFile = fx.file('open/token', TOKEN);
  chmodSync(join(fx.home, 'open'), 0o777);
  assert.throws(
    () => fx.resolve({ env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'programmatic_access_token', SNOWFLAKE_TOKEN_FILE_PATH: tokenFile } }),
    (e) => isSnowmuxError(e, 'CONFIG_UNSAFE') && /token file .* writable by others without the sticky bit/.test(e.message) && !e.message.includes(TOKEN),
  );
  // Its own, private files are used as before.
  chmodSync(join(fx.home, 'open'), 0o700);
  chmodSync(worldWritable, 0o600);
  assert.equal(fx.resolve({ env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: worldWritable } }).profile?.auth.method, 'keypair');
  assert.equal(fx.resolve({ env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'programmatic_access_token', SNOWFLAKE_TOKEN_FILE_PATH: tokenFile } }).profile?.auth.method, 'pat');
});

test('resolution names the files the profile was read from, so a holder can tell when they change', (t) => {
  const fx = fixture(t);
  const tokenFile = fx.file('oauth.tok', 'tok-1\n');
  fx.connections(`[oauth]\naccount = "acct"\nauthenticator = "oauth"\ntoken_file_path = ${JSON.stringify(tokenFile)}\n`);
  const { files } = fx.resolve({ name: 'oauth' });
  assert.deepEqual(files, [join(fx.home, '.snowflake', 'connections.toml'), join(fx.home, '.snowflake', 'config.toml'), tokenFile]);
});

test('default_connection_name at the top of connections.toml is said to belong in config.toml', (t) => {
  const fx = fixture(t);
  fx.connections('default_connection_name = "dev"\n[dev]\naccount = "acct"\nuser = "u"\npassword = "p"\n');
  const { profile, warnings } = fx.resolve();
  assert.equal(profile, null);
  assert.ok(warnings.some((w) => /connections\.toml sets default_connection_name, which is read only from ~\/\.snowflake\/config\.toml .*Move it to ~\/\.snowflake\/config\.toml/.test(w)), warnings.join('\n'));
});

test("[connections.dev] in connections.toml (config.toml's spelling) is connection dev, with a warning, not a profile named connections", (t) => {
  const fx = fixture(t);
  fx.connections('[connections.dev]\naccount = "acct"\nuser = "u"\npassword = "p"\n');
  const { profile, warnings } = fx.resolve({ name: 'dev' });
  assert.equal(profile?.name, 'dev');
  assert.equal(profile?.account, 'acct');
  assert.ok(warnings.some((w) => /has \[connections\.dev\]: that is config\.toml's spelling; connections\.toml names a connection by its own table \(\[dev\]\)/.test(w)), warnings.join('\n'));
  // Hints name the table as it is written.
  fx.connections('[connections.dev]\naccount = "acct"\nuser = "u"\n');
  assert.match(configError(fx, { name: 'dev' }), /password in ~\/\.snowflake\/connections\.toml \[connections\.dev\]/);
  assert.match(configError(fx, { name: 'connections' }), /"connections" .*is not defined/);
});

test('SNOWFLAKE_CONNECTIONS_<NAME>_PORT and _PROTOCOL change the address, with the host of the connection', (t) => {
  const fx = fixture(t);
  fx.connections('[pw]\naccount = "acct"\nuser = "u"\npassword = "p"\nhost = "sf.example.com"\nport = 8443\n');
  assert.equal(resolved(fx, { name: 'pw' }).accessUrl, 'https://sf.example.com:8443');
  const overridden = resolved(fx, { name: 'pw', env: { SNOWFLAKE_CONNECTIONS_PW_PORT: '1', SNOWFLAKE_CONNECTIONS_PW_PROTOCOL: 'http' } });
  assert.equal(overridden.accessUrl, 'http://sf.example.com:1');
  assert.equal(overridden.sources.accessUrl, 'env SNOWFLAKE_CONNECTIONS_PW_PORT, SNOWFLAKE_CONNECTIONS_PW_PROTOCOL');
  fx.connections('[pw]\naccount = "acct"\nuser = "u"\npassword = "p"\n');
  const { profile, warnings } = fx.resolve({ name: 'pw', env: { SNOWFLAKE_CONNECTIONS_PW_PORT: '1' } });
  assert.equal(profile?.accessUrl, undefined);
  assert.ok(warnings.some((w) => /SNOWFLAKE_CONNECTIONS_PW_PORT is set but connection "pw" has no host, so it is ignored/.test(w)), warnings.join('\n'));
});

test('a browser-SSO profile that may open several connections is told how to keep to one browser window; one connection, or another method, is not', (t) => {
  const fx = fixture(t);
  const env = { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_AUTHENTICATOR: 'externalbrowser' };
  const note = (warnings: string[]) => warnings.find((w) => w.includes('signs in with a browser'));
  const browser = note(fx.resolve({ env }).warnings);
  assert.ok(browser !== undefined);
  assert.match(browser, /^Snowflake profile "env" signs in with a browser \(EXTERNALBROWSER\) and may open up to 4 connections/);
  assert.match(browser, /without it each new connection opens another browser window/);
  assert.match(browser, /ALTER ACCOUNT SET ALLOW_ID_TOKEN = TRUE/);
  assert.match(browser, /set pool\.max to 1 for this profile \(now 4, the default; .*--pool-max 1\)/);
  fx.connections('[sso]\naccount = "a"\nuser = "u"\nauthenticator = "externalbrowser"\n');
  fx.config('[profiles.sso.pool]\nmax = 3\n');
  assert.match(note(fx.resolve({ env: { SNOWMUX_PROFILE: 'sso' } }).warnings) ?? '', /up to 3 connections.*\(now 3, set by ~\/\.snowmux\/config\.toml profiles\.sso; max = 1 in \[profiles\.sso\.pool\]/);
  assert.equal(note(fx.resolve({ env: { SNOWMUX_PROFILE: 'sso' }, flags: { poolMax: 1 } }).warnings), undefined);
  assert.equal(note(fx.resolve({ env: { ...env, SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE', SNOWFLAKE_PASSWORD: 'p' } }).warnings), undefined);
});

test('a relative key or token file path is read from the directory of the file that sets it, not the hub\'s working directory', (t) => {
  const fx = fixture(t);
  // The hub runs where its first editor ran (here: the test's directory), so a relative path read from
  // there named another file, or none.
  fx.file('.snowflake/keys/a.p8', PLAIN_PEM);
  fx.file('.snowflake/oauth.tok', `${TOKEN}\n`);
  fx.file('.snowmux/mine.p8', PLAIN_PEM);
  fx.connections('[key]\naccount = "a"\nuser = "u"\nprivate_key_file = "keys/a.p8"\n[tok]\naccount = "a"\nauthenticator = "oauth"\ntoken_file_path = "./oauth.tok"\n');
  const fromConnections = fx.resolve({ name: 'key' });
  assert.equal(fromConnections.profile?.auth.method, 'keypair');
  assert.ok(fromConnections.files.includes(join(fx.home, '.snowflake', 'keys', 'a.p8')), fromConnections.files.join(', '));
  const token = fx.resolve({ name: 'tok' }).profile?.auth;
  assert.equal(token?.method === 'oauth' ? token.token : undefined, TOKEN);
  fx.config('[profiles.dev]\naccount = "a"\nuser = "u"\nprivate_key_path = "mine.p8"\n');
  const fromConfig = fx.resolve({ name: 'dev' });
  assert.equal(fromConfig.profile?.auth.method, 'keypair');
  assert.ok(fromConfig.files.includes(join(fx.home, '.snowmux', 'mine.p8')), fromConfig.files.join(', '));
  // "~/" is the user's home, and an absolute path is as written, in either file.
  fx.config('[profiles.dev]\naccount = "a"\nuser = "u"\nprivate_key_path = "~/.snowmux/mine.p8"\n');
  assert.ok(fx.resolve({ name: 'dev' }).files.includes(join(fx.home, '.snowmux', 'mine.p8')));
});
