/**
 * Snowflake's own connection files, read the way the Snowflake Python connector and Snowflake CLI read them:
 * - directory: $SNOWFLAKE_HOME, else ~/.snowflake; if that directory does not exist, the platform config dir
 *   (Linux: $XDG_CONFIG_HOME/snowflake or ~/.config/snowflake; macOS: ~/Library/Application Support/snowflake);
 * - connections come from connections.toml (`[name]` tables) when it exists, which then replaces the
 *   `[connections.name]` tables of config.toml entirely (the CLI documents "only connections.toml is used");
 * - the default connection is $SNOWFLAKE_DEFAULT_CONNECTION_NAME, else config.toml's top-level
 *   default_connection_name, else "default".
 * Keys are accepted under the Python connector's names, the Snowflake CLI's names and the Node connector's names.
 */
import { existsSync } from 'node:fs';
import { readProblem } from '../../wire/bounded-read.js';
import { UntrustedFileError, readTrustedFile } from '../../wire/file-trust.js';
import { dirname, join } from 'node:path';
import { SnowmuxError } from '../../errors.js';
import { userHomeIfAny } from '../../user-path.js';
import { parseTomlText, utf8Text } from './config-file.js';
import { credentialFileWarning } from './file-permissions.js';
import {
  anchorFileSettings,
  authenticatorProblem,
  displayPath,
  expandHome,
  normalizeAuthenticator,
  type ProfileSettings,
  type SettingName,
  type SettingsLayer,
} from './profile-settings.js';

export const CONNECTIONS_FILE_NAME = 'connections.toml';
export const SNOWFLAKE_CONFIG_FILE_NAME = 'config.toml';
export const DEFAULT_CONNECTION_NAME_ENV = 'SNOWFLAKE_DEFAULT_CONNECTION_NAME';

type StringSetting = Exclude<SettingName, 'statementTimeoutMs' | 'poolMin' | 'poolMax' | 'poolAcquireTimeoutMs' | 'poolIdleTimeoutMs' | 'poolValidateOnBorrow' | 'poolMaxConnectionAgeMs'>;

/** Connection-table keys → setting. The first key of each setting is the one hints recommend. */
export const CONNECTION_KEYS: Record<string, StringSetting> = {
  account: 'account',
  user: 'user',
  username: 'user',
  password: 'password',
  passcode: 'passcode',
  authenticator: 'authenticator',
  private_key_file: 'privateKeyPath',
  private_key_path: 'privateKeyPath',
  privateKeyPath: 'privateKeyPath',
  private_key: 'privateKey',
  private_key_raw: 'privateKey',
  privateKey: 'privateKey',
  private_key_file_pwd: 'privateKeyPassphrase',
  private_key_passphrase: 'privateKeyPassphrase',
  privateKeyPass: 'privateKeyPassphrase',
  token: 'token',
  token_file_path: 'tokenFilePath',
  role: 'role',
  warehouse: 'warehouse',
  database: 'database',
  schema: 'schema',
  host: 'host',
  access_url: 'accessUrl',
  accessUrl: 'accessUrl',
};

/** Keys combined into an access URL (Python connector / SPCS style host + port + protocol). */
const URL_PART_KEYS = ['port', 'protocol'] as const;

export interface SnowflakeConnections {
  /** The Snowflake configuration directory that was searched. */
  dir: string;
  /** dir/connections.toml with "~" for the home directory, for hints even when the file does not exist. */
  shownConnectionsPath: string;
  /** The file whose connections are used, or null when neither file defines any. */
  file: { path: string; shownPath: string; kind: 'connections.toml' | 'config.toml' } | null;
  connections: Record<string, Record<string, unknown>>;
  /** Connections read from a `[connections.<name>]` table in connections.toml (config.toml's spelling), for labels. */
  nested: Set<string>;
  defaultConnection: { name: string; source: string };
  warnings: string[];
  /**
   * Mistakes in how the files are laid out (a setting in the file that does not hold it, config.toml's
   * spelling in connections.toml): said whichever connection is resolved, since they may be why the one
   * meant is not found.
   */
  mistakes: string[];
  /** The files read (or looked for): what they say now decides the connections, so a change to them is a change of settings. */
  files: string[];
}

export interface SnowflakeFilesOptions {
  env: NodeJS.ProcessEnv;
  /** The user's home directory; by default (or when empty) the one every snowmux path takes (user-path.ts). */
  homedir?: string | undefined;
  platform?: NodeJS.Platform | undefined;
  uid?: number | undefined;
}

function platformConfigDir(env: NodeJS.ProcessEnv, homedir: string | undefined, platform: NodeJS.Platform): string | undefined {
  const under = (...parts: string[]) => (homedir ? join(homedir, ...parts) : undefined);
  if (platform === 'darwin') return under('Library', 'Application Support', 'snowflake');
  if (platform === 'win32') return env.LOCALAPPDATA ? join(env.LOCALAPPDATA, 'snowflake') : under('AppData', 'Local', 'snowflake');
  return env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'snowflake') : under('.config', 'snowflake');
}

/** The home directory the files are under: the one given, else the user's (user-path.ts); none when $HOME is empty or unset and the user database has none. */
function homeOf(options: SnowflakeFilesOptions): string | undefined {
  return options.homedir || userHomeIfAny(options.env);
}

/**
 * The directory Snowflake's connectors read connections.toml/config.toml from, or undefined when it would
 * be under a home directory there is none of: then there is no such file (an empty $HOME gave "", and
 * ".snowflake" was read from whatever directory the hub ran in). A "~/" in SNOWFLAKE_HOME is refused then.
 */
export function snowflakeConfigDir(options: SnowflakeFilesOptions): string | undefined {
  const home = homeOf(options);
  const named = options.env.SNOWFLAKE_HOME;
  const candidate = named ? expandHome(named, home, `SNOWFLAKE_HOME=${named}`, options.env) : home && join(home, '.snowflake');
  if (candidate !== undefined && existsSync(candidate)) return candidate;
  return platformConfigDir(options.env, home, options.platform ?? process.platform);
}

/**
 * A Snowflake settings file, when it exists. Taken only from a file no other user can change, as
 * snowmux's own config: its `access_url`, `host` or `account` would send the password an editor brings in
 * SNOWFLAKE_* to a host of that user's choosing, and its key or token settings run every call as them.
 */
function readToml(path: string): Record<string, unknown> | undefined {
  let bytes: Buffer;
  try {
    // Refused when another user could change it; what its owner should still hear (another owner, a group
    // that may write it) is said by the connectors' own warning below.
    bytes = readTrustedFile(path, { what: `${path} decides which Snowflake account, host and credentials the hub logs in with`, noun: 'it' }).bytes;
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new SnowmuxError('CONFIG_UNSAFE', err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SnowmuxError(
      'CONFIG_UNREADABLE',
      `Cannot read ${path}: ${code === 'EACCES' ? 'permission denied' : (readProblem(err) ?? code ?? 'read failed')}. Check the path and the file's permissions.`,
      { cause: err },
    );
  }
  // UTF-8 only, as config.toml: a Latin-1 "é" in a password would otherwise be sent as U+FFFD.
  return parseTomlText(utf8Text(bytes, path), path);
}

function tablesOf(data: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const tables: Record<string, Record<string, unknown>> = {};
  for (const [name, value] of Object.entries(data)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) tables[name] = value as Record<string, unknown>;
  }
  return tables;
}

/** Reads the Snowflake connection files (never fails when they are absent). */
export function loadSnowflakeConnections(options: SnowflakeFilesOptions): SnowflakeConnections {
  const found = snowflakeConfigDir(options);
  const home = homeOf(options);
  const dir = found ?? '~/.snowflake';
  const warnings: string[] = [];
  const connectionsPath = join(dir, CONNECTIONS_FILE_NAME);
  const configPath = join(dir, SNOWFLAKE_CONFIG_FILE_NAME);
  // No directory (no home directory at all): nothing to read, and "~/.snowflake" only names it in hints.
  const connectionsData = found === undefined ? undefined : readToml(connectionsPath);
  const configData = found === undefined ? undefined : readToml(configPath);

  for (const [path, data] of [[connectionsPath, connectionsData], [configPath, configData]] as const) {
    if (data === undefined) continue;
    const warning = credentialFileWarning(path, {
      env: options.env,
      shownPath: displayPath(path, home),
      ...(options.platform === undefined ? {} : { platform: options.platform }),
      ...(options.uid === undefined ? {} : { uid: options.uid }),
    });
    if (warning !== undefined) warnings.push(warning);
  }

  let file: SnowflakeConnections['file'] = null;
  let connections: Record<string, Record<string, unknown>> = {};
  const nested = new Set<string>();
  const mistakes: string[] = [];
  if (connectionsData !== undefined) {
    file = { path: connectionsPath, shownPath: displayPath(connectionsPath, home), kind: 'connections.toml' };
    connections = tablesOf(connectionsData);
    readNestedConnections(connections, nested, mistakes, file.shownPath);
    if (connectionsData.default_connection_name !== undefined) {
      // As the Snowflake CLI reads it: the default connection is named in config.toml (or the environment) only.
      mistakes.push(
        `${file.shownPath} sets default_connection_name, which is read only from ${displayPath(configPath, home)} (or ${DEFAULT_CONNECTION_NAME_ENV}); it is ignored here. ` +
          `Move it to ${displayPath(configPath, home)}, at its top.`,
      );
    }
  } else if (configData !== undefined) {
    const section = configData.connections;
    if (section !== null && typeof section === 'object' && !Array.isArray(section)) {
      file = { path: configPath, shownPath: displayPath(configPath, home), kind: 'config.toml' };
      connections = tablesOf(section as Record<string, unknown>);
    }
  }

  const fromEnv = options.env[DEFAULT_CONNECTION_NAME_ENV];
  const fromConfig = configData?.default_connection_name;
  const defaultConnection =
    fromEnv ? { name: fromEnv, source: `env ${DEFAULT_CONNECTION_NAME_ENV}` }
    : typeof fromConfig === 'string' && fromConfig !== ''
      ? { name: fromConfig, source: `${displayPath(configPath, home)} default_connection_name` }
      : { name: 'default', source: 'the built-in default name' };

  const shownConnectionsPath = displayPath(connectionsPath, home);
  return { dir, shownConnectionsPath, file, connections, nested, defaultConnection, warnings, mistakes, files: found === undefined ? [] : [connectionsPath, configPath] };
}

/**
 * A `[connections]` table of connections.toml that holds only tables is config.toml's `[connections.<name>]`
 * spelling (a common copy-paste): taken as those connections, with a warning, rather than as one connection
 * named "connections" that has no settings. A table there with settings of its own stays a connection.
 */
function readNestedConnections(connections: Record<string, Record<string, unknown>>, nested: Set<string>, mistakes: string[], shownPath: string): void {
  const outer = connections.connections;
  if (outer === undefined) return;
  const inner = tablesOf(outer);
  const names = Object.keys(inner);
  if (names.length === 0 || names.length !== Object.keys(outer).length) return;
  delete connections.connections;
  const kept: string[] = [];
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(connections, name)) {
      kept.push(name);
      continue;
    }
    connections[name] = inner[name]!;
    nested.add(name);
  }
  const spelled = names.map((name) => `[connections.${name}]`).join(', ');
  mistakes.push(
    `${shownPath} has ${spelled}: that is config.toml's spelling; connections.toml names a connection by its own table (${names.map((name) => `[${name}]`).join(', ')}). ` +
      (kept.length > 0 ? `[${kept.join('], [')}] defined both ways: the plain table is used. ` : 'Read as such for now. ') +
      'Rename the tables, as the Snowflake CLI and connectors do not read the nested ones there.',
  );
}

/** "~/.snowflake/connections.toml [dev]" or "~/.snowflake/config.toml [connections.dev]". */
export function connectionSectionLabel(conns: SnowflakeConnections, name: string): string {
  const shownPath = conns.file?.shownPath ?? conns.shownConnectionsPath;
  return conns.file?.kind === 'config.toml' || conns.nested.has(name) ? `${shownPath} [connections.${name}]` : `${shownPath} [${name}]`;
}

/** The host, port and protocol connection `name` gives in the file, for per-connection environment overrides. */
export function connectionUrlParts(conns: SnowflakeConnections, name: string): UrlParts {
  const table = Object.prototype.hasOwnProperty.call(conns.connections, name) ? conns.connections[name] : undefined;
  if (table === undefined) return {};
  const label = connectionSectionLabel(conns, name);
  return { host: stringValue(table.host, label, 'host'), port: stringValue(table.port, label, 'port'), protocol: stringValue(table.protocol, label, 'protocol') };
}

export interface UrlParts {
  host?: string | undefined;
  port?: string | undefined;
  protocol?: string | undefined;
}

const HINT_KEYS: Partial<Record<SettingName, string>> = {};
for (const [key, setting] of Object.entries(CONNECTION_KEYS)) if (HINT_KEYS[setting] === undefined) HINT_KEYS[setting] = key;

function stringValue(value: unknown, label: string, key: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw new SnowmuxError('CONFIG_INVALID', `Config error in ${label} at ${key}: expected a string. Fix the value or remove the key.`);
}

/** Builds an access URL from host + port/protocol, as the Python connector and SPCS variables describe a server. */
export function accessUrlFromParts(host: string, port: string | undefined, protocol: string | undefined): string {
  const scheme = (protocol ?? 'https').toLowerCase();
  return `${scheme}://${host}${port === undefined ? '' : `:${port}`}`;
}

/** The settings of connection `name`, or null when the files do not define it. */
export function connectionLayer(conns: SnowflakeConnections, name: string): SettingsLayer | null {
  const table = conns.connections[name];
  if (table === undefined) return null;
  const label = connectionSectionLabel(conns, name);
  const values: Partial<ProfileSettings> = {};
  const sources: Partial<Record<SettingName, string>> = {};
  for (const [key, setting] of Object.entries(CONNECTION_KEYS)) {
    const value = stringValue(table[key], label, key);
    if (value === undefined || values[setting] !== undefined) continue;
    if (setting === 'authenticator') {
      const normalized = normalizeAuthenticator(value);
      if (normalized === undefined) {
        throw new SnowmuxError('CONFIG_INVALID', `Config error in ${label} at authenticator: ${authenticatorProblem(value)}, got ${JSON.stringify(value)}. Fix the value or remove the key.`);
      }
      values.authenticator = normalized;
    } else {
      values[setting] = value;
    }
    sources[setting] = label;
  }
  const [port, protocol] = URL_PART_KEYS.map((key) => stringValue(table[key], label, key));
  if ((port !== undefined || protocol !== undefined) && values.host !== undefined && values.accessUrl === undefined) {
    values.accessUrl = accessUrlFromParts(values.host, port, protocol);
    sources.accessUrl = label;
  }
  if (conns.file !== null) anchorFileSettings(values, dirname(conns.file.path));
  return {
    kind: 'connections',
    label,
    values,
    sources,
    hint: (setting) => (HINT_KEYS[setting] === undefined ? undefined : `${HINT_KEYS[setting]} in ${label}`),
  };
}
