/**
 * The flat, per-setting vocabulary that every configuration source (flags, environment, the snowmux config
 * file, Snowflake's connections.toml) is translated into before precedence is applied. Keeping one flat
 * shape lets resolution pick each setting from the highest source that has it and remember where it came from.
 */
import { isAbsolute, resolve } from 'node:path';

export interface ProfileSettings {
  account: string;
  user: string;
  /** Normalised upper-case authenticator, see AUTHENTICATORS. */
  authenticator: string;
  password: string;
  /** MFA passcode (USERNAME_PASSWORD_MFA). */
  passcode: string;
  privateKeyPath: string;
  /** Inline key: PEM text (or base64 DER, as the Python connector accepts). */
  privateKey: string;
  privateKeyPassphrase: string;
  token: string;
  tokenFilePath: string;
  role: string;
  warehouse: string;
  database: string;
  schema: string;
  host: string;
  accessUrl: string;
  statementTimeoutMs: number;
  poolMin: number;
  poolMax: number;
  poolAcquireTimeoutMs: number;
  poolIdleTimeoutMs: number;
  poolValidateOnBorrow: boolean;
  poolMaxConnectionAgeMs: number;
}

export type SettingName = keyof ProfileSettings;

export const SETTING_NAMES: readonly SettingName[] = [
  'account', 'user', 'authenticator', 'password', 'passcode', 'privateKeyPath', 'privateKey',
  'privateKeyPassphrase', 'token', 'tokenFilePath', 'role', 'warehouse', 'database', 'schema', 'host',
  'accessUrl', 'statementTimeoutMs', 'poolMin', 'poolMax', 'poolAcquireTimeoutMs', 'poolIdleTimeoutMs',
  'poolValidateOnBorrow', 'poolMaxConnectionAgeMs',
];

/** Settings whose values must never be shown anywhere. */
export const SECRET_SETTINGS: ReadonlySet<SettingName> = new Set<SettingName>([
  'password', 'passcode', 'privateKey', 'privateKeyPassphrase', 'token',
]);

/** Key used in SnowflakeProfile.sources for each setting (mirrors the profile's own field names). */
export const SOURCE_KEYS: Record<SettingName, string> = {
  account: 'account',
  user: 'user',
  authenticator: 'authenticator',
  password: 'password',
  passcode: 'passcode',
  privateKeyPath: 'privateKeyPath',
  privateKey: 'privateKey',
  privateKeyPassphrase: 'privateKeyPassphrase',
  token: 'token',
  tokenFilePath: 'tokenFilePath',
  role: 'role',
  warehouse: 'warehouse',
  database: 'database',
  schema: 'schema',
  host: 'host',
  accessUrl: 'accessUrl',
  statementTimeoutMs: 'statementTimeoutMs',
  poolMin: 'pool.min',
  poolMax: 'pool.max',
  poolAcquireTimeoutMs: 'pool.acquireTimeoutMs',
  poolIdleTimeoutMs: 'pool.idleTimeoutMs',
  poolValidateOnBorrow: 'pool.validateOnBorrow',
  poolMaxConnectionAgeMs: 'pool.maxConnectionAgeMs',
};

/**
 * The name messages show for each setting: the key a user writes for it in a profile (`[profiles.<name>]` and
 * `[profiles.<name>.pool]` of the snowmux config file; connections.toml takes the same snake_case names).
 * SOURCE_KEYS are the profile's own field names, which no file or flag accepts: a message advising
 * "raise pool.acquireTimeoutMs" sent the user looking for a setting that does not exist.
 */
export const CONFIG_FILE_KEYS: Record<SettingName, string> = {
  account: 'account',
  user: 'user',
  authenticator: 'authenticator',
  password: 'password',
  passcode: 'passcode',
  privateKeyPath: 'private_key_path',
  privateKey: 'private_key',
  privateKeyPassphrase: 'private_key_passphrase',
  token: 'token',
  tokenFilePath: 'token_file_path',
  role: 'role',
  warehouse: 'warehouse',
  database: 'database',
  schema: 'schema',
  host: 'host',
  accessUrl: 'access_url',
  statementTimeoutMs: 'statement_timeout_s',
  poolMin: 'pool.min',
  poolMax: 'pool.max',
  poolAcquireTimeoutMs: 'pool.acquire_timeout_ms',
  poolIdleTimeoutMs: 'pool.idle_timeout_ms',
  poolValidateOnBorrow: 'pool.validate',
  poolMaxConnectionAgeMs: 'pool.max_age_hours',
};

const SHOWN_BY_SOURCE_KEY: ReadonlyMap<string, string> = new Map(SETTING_NAMES.map((setting) => [SOURCE_KEYS[setting], CONFIG_FILE_KEYS[setting]]));

/** The name a message shows for a SnowflakeProfile.sources key (see SOURCE_KEYS); any other key as it is. */
export function shownSettingName(sourceKey: string): string {
  return SHOWN_BY_SOURCE_KEY.get(sourceKey) ?? sourceKey;
}

/**
 * CLI flag for each setting. The CLI owns argument parsing; these names are what source labels say
 * ("flag --account"), so the CLI should expose exactly these spellings.
 */
export const FLAG_NAMES: Record<SettingName, string> = {
  account: '--account',
  user: '--user',
  authenticator: '--authenticator',
  password: '--password',
  passcode: '--passcode',
  privateKeyPath: '--private-key-path',
  privateKey: '--private-key',
  privateKeyPassphrase: '--private-key-passphrase',
  token: '--token',
  tokenFilePath: '--token-file-path',
  role: '--role',
  warehouse: '--warehouse',
  database: '--database',
  schema: '--schema',
  host: '--host',
  accessUrl: '--access-url',
  statementTimeoutMs: '--statement-timeout-ms',
  poolMin: '--pool-min',
  poolMax: '--pool-max',
  poolAcquireTimeoutMs: '--pool-acquire-timeout-ms',
  poolIdleTimeoutMs: '--pool-idle-timeout-ms',
  poolValidateOnBorrow: '--pool-validate',
  poolMaxConnectionAgeMs: '--pool-max-age-ms',
};

/** One configuration source, already translated into settings, with a label per setting. */
export interface SettingsLayer {
  kind: 'flag' | 'env' | 'config' | 'connections';
  /** Where this layer lives, for "set X in <label>" hints, e.g. "~/.snowflake/connections.toml [dev]". */
  label: string;
  values: Partial<ProfileSettings>;
  /** Per-setting source label, e.g. "env SNOWFLAKE_PASSWORD". */
  sources: Partial<Record<SettingName, string>>;
  /** How a user would set this setting in this layer ("password in ~/.snowflake/connections.toml [dev]"). */
  hint(setting: SettingName): string | undefined;
}

export const AUTHENTICATORS = [
  'SNOWFLAKE',
  'SNOWFLAKE_JWT',
  'OAUTH',
  'PROGRAMMATIC_ACCESS_TOKEN',
  'EXTERNALBROWSER',
  'USERNAME_PASSWORD_MFA',
] as const;
export type Authenticator = (typeof AUTHENTICATORS)[number];

/** Upper-cases a known authenticator name; undefined when it is not one snowmux supports. */
export function normalizeAuthenticator(value: string): Authenticator | undefined {
  const upper = value.trim().toUpperCase();
  return (AUTHENTICATORS as readonly string[]).includes(upper) ? (upper as Authenticator) : undefined;
}

/** The sentence used whenever an authenticator value is refused, wherever it came from. */
export function authenticatorProblem(value: string): string {
  if (/^https?:\/\//i.test(value.trim())) {
    return 'native Okta authentication (an https://… authenticator) is not supported; use EXTERNALBROWSER for SSO';
  }
  return `expected one of ${AUTHENTICATORS.join(', ')}`;
}

/** Replaces the home directory prefix with "~" so messages stay short and do not leak the user name. */
export function displayPath(path: string, homedir: string | undefined): string {
  if (homedir && homedir !== '/' && (path === homedir || path.startsWith(homedir.endsWith('/') ? homedir : `${homedir}/`))) {
    return `~${path.slice(homedir.replace(/\/$/, '').length)}`;
  }
  return path;
}

/** What a key or token file is called when its path has no directory in it. */
const KEY_FILE_SUFFIX = /\.(?:p8|pem|key|der|pk8|p12|pfx|txt|token|jwt|json)$/i;

/**
 * A key or token file setting's value as a message may show it: the path, when it looks like one. A value
 * that does not (PEM text, a passphrase or token pasted into the *_PATH setting, an easy mistake) is a
 * secret in the wrong place, and is described instead of shown.
 */
export function shownSecretPath(value: string): string {
  const pathLike =
    value.length <= 1024 &&
    !value.includes('-----BEGIN') &&
    !/[\u0000-\u001f\u007f\s]/.test(value) &&
    // Base64 (a key's body, a token) has slashes too: a long run of its alphabet and nothing else is not a path.
    !/^[A-Za-z0-9+/=]{40,}$/.test(value) &&
    !/[A-Za-z0-9+/=]{40,}/.test(value.replace(/^.*\//, '')) &&
    (/[/\\]/.test(value) || value.startsWith('~') || KEY_FILE_SUFFIX.test(value));
  return pathLike ? value : '(value not shown: it does not look like a file path; a key, passphrase or token itself belongs in its own setting, not in the path one)';
}

/** Key and token paths expand a leading "~/" as every other path setting does. */
export { expandHome } from '../../user-path.js';

/** The settings that name a file. */
const FILE_SETTINGS = ['privateKeyPath', 'tokenFilePath'] as const satisfies readonly SettingName[];

/**
 * `values` with a relative key or token file path read from `dir`, the directory of the file that set it:
 * a hub runs in whatever directory the first editor that started it ran in, so "keys/rsa.p8" in
 * config.toml or connections.toml named another file for every hub. A "~/" path and an absolute one stay.
 */
export function anchorFileSettings(values: Partial<ProfileSettings>, dir: string): void {
  for (const setting of FILE_SETTINGS) {
    const value = values[setting];
    if (value !== undefined && !isAbsolute(value) && value !== '~' && !value.startsWith('~/')) values[setting] = resolve(dir, value);
  }
}
