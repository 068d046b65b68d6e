/**
 * Finding, reading and validating snowmux's own config file (`<home>/config.toml`, or --config PATH,
 * or $SNOWMUX_CONFIG). A missing default file is fine (all defaults); a missing explicit file is an error.
 */
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { SnowmuxError } from '../../errors.js';
import { urlCredentials } from '../audit/audit-redact.js';
import { formatConfigIssues, renderKeyPath } from './config-issues.js';
import { redefinedKey } from './redefined-key.js';
import { configFileSchema, toHubConfig, type HubConfig } from './config-schema.js';
import { credentialFileWarning } from './file-permissions.js';
import { ioProblem, openRegularFile, readOpenedBytes } from '../../wire/bounded-read.js';
import { fileTrust } from '../../wire/file-trust.js';
import { displayPath } from './profile-settings.js';
import { resolveUserPath } from '../../user-path.js';

export const CONFIG_FILE_NAME = 'config.toml';
export const CONFIG_PATH_ENV = 'SNOWMUX_CONFIG';

export interface LoadedConfig {
  /** Absolute path of the file that was (or would have been) read. */
  path: string;
  /** The same path with the home directory shown as "~", for source labels. */
  shownPath: string;
  exists: boolean;
  /** The file exists and holds nothing but white space (a failed copy, a tool that truncates first). */
  blank?: boolean;
  config: HubConfig;
  /** Non-fatal findings (e.g. a file holding secrets that others can read). */
  warnings: string[];
}

export interface ConfigLocation {
  path: string;
  /** True when the user named the file (--config or SNOWMUX_CONFIG): then it must exist. */
  explicit: boolean;
}

/** --config PATH > $SNOWMUX_CONFIG > <home>/config.toml. A leading `~/` is the user's home directory; other relative paths resolve against `cwd`. */
export function resolveConfigPath(options: {
  home: string;
  explicitPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}): ConfigLocation {
  // The working directory is read only for a relative path (resolveUserPath): read here first, a hub started
  // by hand in a deleted directory failed with Node's bare "ENOENT: uv_cwd" even with no --config at all.
  const { cwd } = options;
  if (options.explicitPath !== undefined) return { path: resolveUserPath(options.explicitPath, '--config', 'CONFIG_INVALID', cwd), explicit: true };
  const named = options.env?.[CONFIG_PATH_ENV] || undefined;
  if (named !== undefined) return { path: resolveUserPath(named, `$${CONFIG_PATH_ENV}`, 'CONFIG_INVALID', cwd), explicit: true };
  return { path: join(options.home, CONFIG_FILE_NAME), explicit: false };
}

/** The configuration used when no file exists. */
export function defaultHubConfig(): HubConfig {
  return toHubConfig({});
}

function tomlErrorMessage(err: TomlError, text: string, path: string): string {
  // Only the first line: smol-toml appends a code excerpt that could show a secret on the failing line.
  const reason = (err.message.split('\n')[0] ?? 'invalid TOML').replace(/^Invalid TOML document:\s*/, '');
  const at = `Config error in ${path} at line ${err.line}, column ${err.column}`;
  if (/redefine an already defined/.test(reason)) {
    // A key name, never its value: the value may be a secret.
    const redefined = redefinedKey(text, err.line, err.column);
    if (redefined?.table) return `${at}: the table [${redefined.key}] is already defined above (or its keys are set there); a TOML table may be defined only once. Merge the two into one [${redefined.key}].`;
    if (redefined) return `${at}: ${redefined.key} is already set above (or is a table there); a TOML key may be set only once. Keep one of the two.`;
    return `${at}: ${reason} (a TOML key or table may be defined only once). Keep one of the two.`;
  }
  if (/control characters are not allowed in strings/.test(reason) && endsLineAt(text, err.line, err.column)) {
    // smol-toml's words for a string whose closing quote is missing: the line break is the "control character".
    return `${at}: a string is not closed before the end of its line (its closing quote is missing; a string of several lines is written between triple quotes). Fix the TOML syntax.`;
  }
  return `${at}: ${reason}. Fix the TOML syntax.`;
}

/** Whether line:column (1-based) is the end of that line of text (its \n, or the \r of a \r\n). */
function endsLineAt(text: string, line: number, column: number): boolean {
  const lineText = text.replace(/^\uFEFF/, '').split('\n')[line - 1];
  if (lineText === undefined) return false;
  return column - 1 >= lineText.length || (lineText[column - 1] === '\r' && column === lineText.length);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The file's text, refused (CONFIG_INVALID, at the line and column of the first byte that is no UTF-8) when
 * it is not UTF-8, as TOML requires: decoded leniently, a file saved as Latin-1 or Windows-1252 had each
 * "é" turned into U+FFFD, so a password, a role's identity or a path was silently another one.
 */
export function utf8Text(bytes: Buffer, path: string): string {
  // UTF-16 (Windows Notepad's "Unicode", PowerShell 5's `>`): its byte-order mark, or a NUL in either of the
  // first two bytes (TOML allows no NUL anywhere), which UTF-16 gives every ASCII character.
  const bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  if (bom || (bytes.length >= 2 && (bytes[0] === 0 || bytes[1] === 0))) {
    throw new SnowmuxError(
      'CONFIG_INVALID',
      `Config error in ${path}: the file is UTF-16 (as Windows Notepad's "Unicode" or PowerShell 5's \`>\` save), and TOML files must be UTF-8. Save it as UTF-8 (in PowerShell: Set-Content -Encoding utf8).`,
    );
  }
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Only the line and column of the first bad byte are said: the value it is in may be a secret.
    const bad = firstNonUtf8(bytes);
    const before = bytes.subarray(0, bad).toString('utf8').split('\n');
    const line = before.length;
    const column = [...(before.at(-1) ?? '')].length + 1;
    throw new SnowmuxError(
      'CONFIG_INVALID',
      `Config error in ${path} at line ${line}, column ${column}: the file is not UTF-8 (byte 0x${(bytes[bad] ?? 0).toString(16).toUpperCase().padStart(2, '0')} there begins no UTF-8 character; it was saved in another encoding, such as Latin-1 or Windows-1252), and TOML files must be. Save it as UTF-8 and check the values with accented letters.`,
    );
  }
}

/** The offset of the byte that begins the first sequence that is no UTF-8 (the file's length when there is none). */
function firstNonUtf8(bytes: Uint8Array): number {
  const cont = (at: number, lo = 0x80, hi = 0xbf) => at < bytes.length && bytes[at]! >= lo && bytes[at]! <= hi;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let size = 0;
    if (b < 0x80) size = 1;
    else if (b >= 0xc2 && b <= 0xdf) size = cont(i + 1) ? 2 : 0;
    else if (b >= 0xe0 && b <= 0xef) {
      const [lo, hi] = b === 0xe0 ? [0xa0, 0xbf] : b === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
      size = cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const [lo, hi] = b === 0xf0 ? [0x90, 0xbf] : b === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
      size = cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (size === 0) return i;
    i += size;
  }
  return i;
}

/** Parses TOML text into raw data, reporting syntax errors with file, line and column. */
export function parseTomlText(text: string, path: string): Record<string, unknown> {
  try {
    return parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw new SnowmuxError('CONFIG_INVALID', tomlErrorMessage(err, text, path));
    throw new SnowmuxError('CONFIG_INVALID', `Config error in ${path}: the file is not valid TOML. Fix the TOML syntax.`);
  }
}

/**
 * Where the data holds a key named `__proto__` (a table's or a value's): the schema's records drop such an
 * entry without a word (it is JavaScript's name for an object's prototype), so a `[roles.__proto__]` and
 * every restriction it set for its identities was gone from the running policy while the file held it.
 */
function protoKeys(value: unknown, path: readonly string[] = []): string[][] {
  if (value === null || typeof value !== 'object') return [];
  const found: string[][] = [];
  for (const [index, item] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const at = [...path, String(index)];
    if (index === '__proto__') found.push(at);
    found.push(...protoKeys(item, at));
  }
  return found;
}

/** Validates config text; throws CONFIG_INVALID naming the file and every offending key. */
export function parseConfigText(text: string, path: string): HubConfig {
  const data = parseTomlText(text, path);
  const reserved = protoKeys(data);
  if (reserved.length > 0) {
    throw new SnowmuxError(
      'CONFIG_INVALID',
      reserved
        .map((at) => `Config error in ${path} at ${renderKeyPath(at)}: "__proto__" cannot be used as a name (JavaScript reserves it, so what it sets would be dropped without a word). Rename it.`)
        .join('\n'),
      { details: { path, keys: reserved.map((at) => at.join('.')) } },
    );
  }
  const result = configFileSchema.safeParse(data);
  if (!result.success) {
    throw new SnowmuxError('CONFIG_INVALID', formatConfigIssues(result.error.issues, data, path), {
      details: { path, keys: result.error.issues.map((issue) => issue.path.map(String).join('.')) },
    });
  }
  return toHubConfig(result.data);
}

/**
 * Whether the file holds a secret: a profile's, the team Redis password (whoever has it can mint API keys
 * there), the OTLP collector's key or an endpoint's password.
 */
function holdsSecrets(config: HubConfig): boolean {
  const { hub } = config;
  return (
    Object.values(config.profiles).some(
      (p) => p.password !== undefined || p.passcode !== undefined || p.privateKey !== undefined ||
        p.privateKeyPassphrase !== undefined || p.token !== undefined,
    ) ||
    Object.values(hub.otelHeaders).some((value) => value !== '') ||
    [hub.redisUrl, hub.otelEndpoint].some((url) => url !== undefined && urlCredentials(url).length > 0)
  );
}

/** Reads and validates the config file; defaults when the default-location file does not exist. */
export function loadConfigFile(options: {
  home: string;
  explicitPath?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  homedir?: string | undefined;
  cwd?: string | undefined;
}): LoadedConfig {
  const location = resolveConfigPath(options);
  const shownPath = displayPath(location.path, options.homedir);
  let bytes: Buffer;
  const warnings: string[] = [];
  try {
    // A regular file only, read up to a bound: a FIFO or device there froze or swelled the hub.
    const { fd, stat } = openRegularFile(location.path);
    try {
      // The file decides every session's role and which account a profile logs in to: taken only from a
      // file no other user can change (checked on what was opened, so a swap after the check reads nothing).
      const trust = fileTrust(location.path, stat, {
        what: `Config file ${location.path} decides every session's role and profile`,
        noun: 'the config',
        ownerAdvice: 'write the rules you mean to keep into a config file you own (such as ~/.snowmux/config.toml)',
      });
      if (trust.refuse) throw new SnowmuxError('CONFIG_UNSAFE', trust.refuse);
      warnings.push(...(trust.warn ?? []));
      bytes = readOpenedBytes(fd, location.path);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof SnowmuxError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !location.explicit) {
      return { path: location.path, shownPath, exists: false, config: defaultHubConfig(), warnings: [] };
    }
    if (code === 'ENOENT') {
      throw new SnowmuxError(
        'CONFIG_NOT_FOUND',
        `Config file ${location.path} does not exist. Create it, or drop --config/${CONFIG_PATH_ENV} to use ${CONFIG_FILE_NAME} in the snowmux home.`,
      );
    }
    throw new SnowmuxError(
      'CONFIG_UNREADABLE',
      `Cannot read config file ${location.path}: ${ioProblem(err)}. Check the path and its permissions.`,
      { cause: err },
    );
  }
  const text = utf8Text(bytes, location.path);
  const config = parseConfigText(text, location.path);
  if (holdsSecrets(config)) {
    const warning = credentialFileWarning(location.path, { env: options.env ?? {}, shownPath });
    if (warning !== undefined) warnings.push(warning);
  }
  return { path: location.path, shownPath, exists: true, ...(text.trim() === '' ? { blank: true } : {}), config, warnings };
}
