/**
 * Snowflake settings from environment variables: the connector/CLI names users already have, the original
 * Python snowflake-mcp-server's variables (SNOWFLAKE_AUTH_TYPE, SNOWFLAKE_CONN_REFRESH_HOURS), and the
 * Snowflake CLI's per-connection overrides (SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>). Empty variables count as
 * unset, as the Node connector treats them, because editor configs often carry "" placeholders.
 */
import { SnowmuxError } from '../../errors.js';
import { shownText } from '../../shown-text.js';
import { CONNECTION_KEYS, accessUrlFromParts, type UrlParts } from './connections-toml.js';
import {
  authenticatorProblem,
  normalizeAuthenticator,
  type Authenticator,
  type ProfileSettings,
  type SettingName,
  type SettingsLayer,
} from './profile-settings.js';

export const SNOWMUX_PROFILE_ENV = 'SNOWMUX_PROFILE';
export const LEGACY_AUTH_TYPE_ENV = 'SNOWFLAKE_AUTH_TYPE';
export const LEGACY_REFRESH_HOURS_ENV = 'SNOWFLAKE_CONN_REFRESH_HOURS';

type EnvStringSetting = Exclude<SettingName, 'authenticator' | 'statementTimeoutMs' | `pool${string}`>;

/** Variables per setting; the first present one wins, the first listed is the one hints recommend. */
export const ENV_VARIABLES: ReadonlyArray<readonly [EnvStringSetting, readonly string[]]> = [
  ['account', ['SNOWFLAKE_ACCOUNT']],
  ['user', ['SNOWFLAKE_USER']],
  ['password', ['SNOWFLAKE_PASSWORD']],
  ['passcode', ['SNOWFLAKE_PASSCODE']],
  ['privateKeyPath', ['SNOWFLAKE_PRIVATE_KEY_PATH', 'SNOWFLAKE_PRIVATE_KEY_FILE']],
  ['privateKey', ['SNOWFLAKE_PRIVATE_KEY', 'SNOWFLAKE_PRIVATE_KEY_RAW']],
  ['privateKeyPassphrase', ['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE', 'SNOWFLAKE_PRIVATE_KEY_FILE_PWD', 'PRIVATE_KEY_PASSPHRASE']],
  ['token', ['SNOWFLAKE_TOKEN']],
  ['tokenFilePath', ['SNOWFLAKE_TOKEN_FILE_PATH']],
  ['role', ['SNOWFLAKE_ROLE']],
  ['warehouse', ['SNOWFLAKE_WAREHOUSE']],
  ['database', ['SNOWFLAKE_DATABASE']],
  ['schema', ['SNOWFLAKE_SCHEMA']],
  ['host', ['SNOWFLAKE_HOST']],
];

/** The Python server's SNOWFLAKE_AUTH_TYPE values (and a few obvious spellings) → authenticator. */
const LEGACY_AUTH_TYPES: Record<string, Authenticator> = {
  private_key: 'SNOWFLAKE_JWT',
  key_pair: 'SNOWFLAKE_JWT',
  keypair: 'SNOWFLAKE_JWT',
  external_browser: 'EXTERNALBROWSER',
  externalbrowser: 'EXTERNALBROWSER',
  browser: 'EXTERNALBROWSER',
  password: 'SNOWFLAKE',
  oauth: 'OAUTH',
  pat: 'PROGRAMMATIC_ACCESS_TOKEN',
  mfa: 'USERNAME_PASSWORD_MFA',
};

function read(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The profile named by SNOWMUX_PROFILE, if any. */
export function profileNameFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return read(env, SNOWMUX_PROFILE_ENV);
}

function legacyAuthenticator(value: string): Authenticator {
  const mapped = LEGACY_AUTH_TYPES[value.trim().toLowerCase()] ?? normalizeAuthenticator(value);
  if (mapped === undefined) {
    throw new SnowmuxError(
      'CONFIG_INVALID',
      `Environment variable ${LEGACY_AUTH_TYPE_ENV} has an unsupported value ${JSON.stringify(value.slice(0, 80))}: expected private_key, external_browser, password, oauth, pat or mfa. ` +
        'Fix it, or set SNOWFLAKE_AUTHENTICATOR instead.',
    );
  }
  return mapped;
}

function authenticatorFromEnv(env: NodeJS.ProcessEnv, warnings: string[]): { value: Authenticator; source: string } | undefined {
  const explicit = read(env, 'SNOWFLAKE_AUTHENTICATOR');
  const legacy = read(env, LEGACY_AUTH_TYPE_ENV);
  const legacyValue = legacy === undefined ? undefined : legacyAuthenticator(legacy);
  if (explicit !== undefined) {
    const value = normalizeAuthenticator(explicit);
    if (value === undefined) {
      throw new SnowmuxError(
        'CONFIG_INVALID',
        `Environment variable SNOWFLAKE_AUTHENTICATOR has an unsupported value ${JSON.stringify(explicit)}: ${authenticatorProblem(explicit)}. Fix it or unset it.`,
      );
    }
    if (legacyValue !== undefined && legacyValue !== value) {
      warnings.push(
        `Both SNOWFLAKE_AUTHENTICATOR (${value}) and ${LEGACY_AUTH_TYPE_ENV} (${legacy}) are set and disagree; using SNOWFLAKE_AUTHENTICATOR. Remove one of them.`,
      );
    }
    return { value, source: 'env SNOWFLAKE_AUTHENTICATOR' };
  }
  if (legacyValue !== undefined) return { value: legacyValue, source: `env ${LEGACY_AUTH_TYPE_ENV}` };
  return undefined;
}

function refreshHours(env: NodeJS.ProcessEnv): number | undefined {
  const raw = read(env, LEGACY_REFRESH_HOURS_ENV);
  if (raw === undefined) return undefined;
  const hours = Number(raw);
  if (!Number.isFinite(hours) || hours < 0 || raw.trim() === '') {
    throw new SnowmuxError(
      'CONFIG_INVALID',
      `Environment variable ${LEGACY_REFRESH_HOURS_ENV} must be a number of hours of 0 or more (0 = never reconnect), got ${JSON.stringify(raw)}. Fix it or unset it.`,
    );
  }
  return Math.round(hours * 3_600_000);
}

const ENV_HINTS: Partial<Record<SettingName, string>> = {
  authenticator: 'SNOWFLAKE_AUTHENTICATOR',
  poolMaxConnectionAgeMs: LEGACY_REFRESH_HOURS_ENV,
};
for (const [setting, names] of ENV_VARIABLES) ENV_HINTS[setting] = names[0];

/** The generic SNOWFLAKE_* environment as one settings layer (plus warnings about conflicting variables). */
export function envLayer(env: NodeJS.ProcessEnv): { layer: SettingsLayer; warnings: string[] } {
  const values: Partial<ProfileSettings> = {};
  const sources: Partial<Record<SettingName, string>> = {};
  const warnings: string[] = [];
  for (const [setting, names] of ENV_VARIABLES) {
    const present = names.filter((name) => read(env, name) !== undefined);
    const first = present[0];
    if (first === undefined) continue;
    values[setting] = read(env, first);
    sources[setting] = `env ${first}`;
    const conflicting = present.filter((name) => read(env, name) !== values[setting]);
    if (conflicting.length > 0) {
      warnings.push(`Both ${first} and ${conflicting.join(', ')} are set with different values; using ${first}. Remove the one you do not mean.`);
    }
  }
  const authenticator = authenticatorFromEnv(env, warnings);
  if (authenticator !== undefined) {
    values.authenticator = authenticator.value;
    sources.authenticator = authenticator.source;
  }
  const port = read(env, 'SNOWFLAKE_PORT');
  const protocol = read(env, 'SNOWFLAKE_PROTOCOL');
  if (values.host !== undefined && (port !== undefined || protocol !== undefined)) {
    // Said by the variable: joined into the access URL first, a bad one read as "the access URL is not a URL".
    if (port !== undefined && !(/^\d{1,5}$/.test(port.trim()) && Number(port) >= 1 && Number(port) <= 65_535)) {
      throw new SnowmuxError('CONFIG_INVALID', `Environment variable SNOWFLAKE_PORT must be a port number from 1 to 65535 (e.g. 443), got ${JSON.stringify(shownText(port, 40))}. Fix it or unset it.`);
    }
    if (protocol !== undefined && !/^https?$/i.test(protocol.trim())) {
      throw new SnowmuxError('CONFIG_INVALID', `Environment variable SNOWFLAKE_PROTOCOL must be https or http, got ${JSON.stringify(shownText(protocol, 40))}. Fix it or unset it.`);
    }
    values.accessUrl = accessUrlFromParts(values.host, port, protocol);
    sources.accessUrl = ['env SNOWFLAKE_HOST', port && 'SNOWFLAKE_PORT', protocol && 'SNOWFLAKE_PROTOCOL'].filter(Boolean).join(', ');
  } else if (port !== undefined || protocol !== undefined) {
    warnings.push('SNOWFLAKE_PORT/SNOWFLAKE_PROTOCOL are set without SNOWFLAKE_HOST and are ignored. Set SNOWFLAKE_HOST too, or unset them.');
  }
  const maxAge = refreshHours(env);
  if (maxAge !== undefined) {
    values.poolMaxConnectionAgeMs = maxAge;
    sources.poolMaxConnectionAgeMs = `env ${LEGACY_REFRESH_HOURS_ENV}`;
  }
  return {
    layer: { kind: 'env', label: 'the environment', values, sources, hint: (setting) => ENV_HINTS[setting] },
    warnings,
  };
}

/**
 * The Snowflake CLI's per-connection overrides, SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> (e.g.
 * SNOWFLAKE_CONNECTIONS_DEV_PASSWORD), for the connection being resolved. Null when none is set.
 * _PORT and _PROTOCOL change the address as the file's port and protocol keys do: with the connection's
 * host (from _HOST, else `file`, what the connection's table says).
 */
export function connectionEnvLayer(env: NodeJS.ProcessEnv, connectionName: string, file: UrlParts = {}, warnings: string[] = []): SettingsLayer | null {
  const prefix = `SNOWFLAKE_CONNECTIONS_${connectionName.toUpperCase()}_`;
  const values: Partial<ProfileSettings> = {};
  const sources: Partial<Record<SettingName, string>> = {};
  for (const [key, setting] of Object.entries(CONNECTION_KEYS)) {
    const name = prefix + key.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    const value = read(env, name);
    if (value === undefined || values[setting] !== undefined) continue;
    if (setting === 'authenticator') {
      const normalized = normalizeAuthenticator(value);
      if (normalized === undefined) {
        throw new SnowmuxError(
          'CONFIG_INVALID',
          `Environment variable ${name} has an unsupported value ${JSON.stringify(value)}: ${authenticatorProblem(value)}. Fix it or unset it.`,
        );
      }
      values.authenticator = normalized;
    } else {
      values[setting] = value;
    }
    sources[setting] = `env ${name}`;
  }
  const port = read(env, `${prefix}PORT`);
  const protocol = read(env, `${prefix}PROTOCOL`);
  if ((port !== undefined || protocol !== undefined) && values.accessUrl === undefined) {
    const given = [port !== undefined && `${prefix}PORT`, protocol !== undefined && `${prefix}PROTOCOL`].filter((v): v is string => typeof v === 'string');
    const host = values.host ?? file.host;
    if (host === undefined) {
      warnings.push(`${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set but connection "${connectionName}" has no host, so ${given.length === 1 ? 'it is' : 'they are'} ignored. Set ${prefix}HOST or host in its table too, or unset ${given.length === 1 ? 'it' : 'them'}.`);
    } else {
      values.accessUrl = accessUrlFromParts(host, port ?? file.port, protocol ?? file.protocol);
      sources.accessUrl = `env ${given.join(', ')}`;
    }
  }
  if (Object.keys(values).length === 0) return null;
  return { kind: 'env', label: 'the environment', values, sources, hint: () => undefined };
}
