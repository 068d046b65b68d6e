/**
 * Resolves the Snowflake profile the hub should use. Per setting, the first source that has it wins:
 *   CLI flags > environment (SNOWFLAKE_CONNECTIONS_<NAME>_* then generic SNOWFLAKE_*) > snowmux config file
 *   [profiles.<name>] > Snowflake's connections.toml [<name>].
 * Returns profile null when nothing configures Snowflake (the hub then serves the embedded DuckDB warehouse).
 * Every chosen value records its source; every failure names the setting and where to set it; no message
 * ever contains a secret.
 */
import { dirname } from 'node:path';
import { browserSignInNote } from './browser-sign-in.js';
import { closestName } from '../../closest-name.js';
import { SnowmuxError } from '../../errors.js';
import { userHomeIfAny } from '../../user-path.js';
import { shownUrl } from '../../shown-text.js';
import { MAX_TIMER_MS } from '../../timer-delay.js';
import { readProblem } from '../../wire/bounded-read.js';
import { UntrustedFileError, readTrustedFile } from '../../wire/file-trust.js';
import type { LoadedConfig } from './config-file.js';
import { DEFAULT_POOL, DEFAULT_STATEMENT_TIMEOUT_S, type ProfileFileEntry } from './config-schema.js';
import { connectionLayer, connectionUrlParts, loadSnowflakeConnections, type SnowflakeConnections } from './connections-toml.js';
import { connectionEnvLayer, envLayer, profileNameFromEnv, SNOWMUX_PROFILE_ENV } from './env-profile.js';
import { loadPrivateKey, type KeySetting } from './private-key.js';
import { credentialFileWarning } from './file-permissions.js';
import type { PoolSettings, SnowflakeAuth, SnowflakeProfile } from './profile-types.js';
import {
  anchorFileSettings,
  authenticatorProblem,
  CONFIG_FILE_KEYS,
  expandHome,
  FLAG_NAMES,
  normalizeAuthenticator,
  SETTING_NAMES,
  shownSecretPath,
  SOURCE_KEYS,
  type Authenticator,
  type ProfileSettings,
  type SettingName,
  type SettingsLayer,
} from './profile-settings.js';

export { credentialsFingerprint, profileFingerprint, redactProfile, type RedactedProfile } from './profile-identity.js';
export { FLAG_NAMES, type ProfileSettings } from './profile-settings.js';

export interface ResolveProfileInput {
  /** Profile name from --profile (or from `nameSource`). */
  name?: string | undefined;
  /** Where `name` came from, for messages (e.g. `~/.snowmux/config.toml roles.analyst.profile`); default `flag --profile`. */
  nameSource?: string | undefined;
  /** Settings given as CLI flags (already parsed by the CLI; see FLAG_NAMES for the spellings). */
  flags?: Partial<ProfileSettings> | undefined;
  /** The environment to read; never defaults to process.env so callers decide (hub env, shim env, tests). */
  env: NodeJS.ProcessEnv;
  /** The loaded snowmux config file, if any (its own warnings stay on LoadedConfig). */
  configFile?: LoadedConfig | undefined;
  /** Home directory for ~/.snowflake and "~" in messages; defaults to (and when empty, is) the user's, as every snowmux path (user-path.ts). */
  homedir?: string | undefined;
  /** Injectable for tests: platform for the Snowflake config directory fallback, uid for permission checks. */
  platform?: NodeJS.Platform | undefined;
  uid?: number | undefined;
}

export interface ResolveProfileResult {
  profile: SnowflakeProfile | null;
  warnings: string[];
  /**
   * The files resolution read or looked for (connections.toml, Snowflake's config.toml, the key or token
   * file): the profile holds what they said then, so whoever keeps it resolves again when one changes.
   */
  files: string[];
}

/** Settings resolved as one unit: the highest source giving either form wins, so forms never mix. */
const SETTING_GROUPS: ReadonlyArray<readonly SettingName[]> = [
  ['privateKey', 'privateKeyPath'],
  ['token', 'tokenFilePath'],
];

interface Chosen<T> {
  value: T;
  source: string;
  /** Index of the layer it came from (0 = highest precedence). */
  rank: number;
}

type Merged = { [K in SettingName]?: Chosen<ProfileSettings[K]> };

function invalid(message: string): never {
  throw new SnowmuxError('CONFIG_INVALID', message);
}

function flagLayer(flags: Partial<ProfileSettings>): SettingsLayer {
  const values: Partial<ProfileSettings> = {};
  const sources: Partial<Record<SettingName, string>> = {};
  for (const setting of SETTING_NAMES) {
    const value = flags[setting];
    if (value === undefined || value === '') continue;
    if (setting === 'authenticator') {
      const normalized = normalizeAuthenticator(String(value));
      if (normalized === undefined) invalid(`Flag ${FLAG_NAMES.authenticator} has an unsupported value ${JSON.stringify(value)}: ${authenticatorProblem(String(value))}.`);
      values.authenticator = normalized;
    } else {
      (values as Record<string, unknown>)[setting] = value;
    }
    // A boolean flag set to false was given as its negation (--no-pool-validate).
    sources[setting] = value === false ? `flag ${FLAG_NAMES[setting].replace(/^--/, '--no-')}` : `flag ${FLAG_NAMES[setting]}`;
  }
  // Flags are never suggested as the place to put a secret (they show up in `ps`).
  return { kind: 'flag', label: 'the command line', values, sources, hint: () => undefined };
}

function configLayer(entry: ProfileFileEntry, label: string, dir: string): SettingsLayer {
  const { pool, ...rest } = entry;
  const flat: Partial<ProfileSettings> = {
    ...rest,
    poolMin: pool.min,
    poolMax: pool.max,
    poolAcquireTimeoutMs: pool.acquireTimeoutMs,
    poolIdleTimeoutMs: pool.idleTimeoutMs,
    poolValidateOnBorrow: pool.validateOnBorrow,
    poolMaxConnectionAgeMs: pool.maxConnectionAgeMs,
  };
  const values: Partial<ProfileSettings> = {};
  const sources: Partial<Record<SettingName, string>> = {};
  for (const setting of SETTING_NAMES) {
    const value = flat[setting];
    if (value === undefined) continue;
    (values as Record<string, unknown>)[setting] = value;
    sources[setting] = label;
  }
  anchorFileSettings(values, dir);
  return { kind: 'config', label, values, sources, hint: (setting) => `${CONFIG_FILE_KEYS[setting]} in ${label}` };
}

function merge(layers: readonly SettingsLayer[], warnings: string[]): Merged {
  const merged: Merged = {};
  const grouped = new Set(SETTING_GROUPS.flat());
  const take = (setting: SettingName, layer: SettingsLayer, rank: number) => {
    const value = layer.values[setting];
    if (value === undefined) return;
    (merged as Record<string, Chosen<unknown>>)[setting] = { value, source: layer.sources[setting] ?? layer.label, rank };
  };
  for (const setting of SETTING_NAMES) {
    if (grouped.has(setting)) continue;
    const rank = layers.findIndex((layer) => layer.values[setting] !== undefined);
    if (rank >= 0) take(setting, layers[rank]!, rank);
  }
  for (const group of SETTING_GROUPS) {
    const rank = layers.findIndex((layer) => group.some((setting) => layer.values[setting] !== undefined));
    if (rank < 0) continue;
    const layer = layers[rank]!;
    const present = group.filter((setting) => layer.values[setting] !== undefined);
    // Same source gives both forms: the inline value wins (as in the Python server and the Node connector).
    take(present[0]!, layer, rank);
    if (present.length > 1) {
      warnings.push(`Both ${present.map((s) => layer.sources[s]).join(' and ')} are set; using ${layer.sources[present[0]!]}. Remove the other.`);
    }
  }
  return merged;
}

function joinAlternatives(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

class ProfileContext {
  constructor(
    readonly name: string,
    readonly layers: readonly SettingsLayer[],
    readonly merged: Merged,
    readonly homedir: string | undefined,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A key or token file's path with its leading "~/" expanded (refused, naming the setting, when there is no home directory). */
  filePath(setting: { value: string; source: string }, what: string): string {
    return expandHome(setting.value, this.homedir, `${what} ${shownSecretPath(setting.value)} of Snowflake profile "${this.name}" (set by ${setting.source})`, this.env);
  }

  /** "SNOWFLAKE_PASSWORD or password in ~/.snowflake/connections.toml [dev]" for the given settings. */
  whereToSet(settings: readonly SettingName[]): string {
    const hints: string[] = [];
    for (const kind of ['env', 'config', 'connections'] as const) {
      for (const layer of this.layers.filter((l) => l.kind === kind)) {
        for (const setting of settings) {
          const hint = layer.hint(setting);
          if (hint !== undefined && !hints.includes(hint)) hints.push(hint);
        }
      }
    }
    return joinAlternatives(hints);
  }

  /** `alternative` names a second form of the same setting (inline key, token file), mentioned in parentheses. */
  missing(what: string, setting: SettingName, authenticatorChoice: boolean, alternative?: { setting: SettingName; what: string }): never {
    const tail = authenticatorChoice ? ', or choose another authenticator.' : '.';
    const other = alternative === undefined ? '' : ` (or ${alternative.what}: ${this.whereToSet([alternative.setting])})`;
    return invalid(`Snowflake profile "${this.name}" has no ${what}: set ${this.whereToSet([setting])}${other}${tail}`);
  }

  get<K extends SettingName>(setting: K): Chosen<ProfileSettings[K]> | undefined {
    return this.merged[setting] as Chosen<ProfileSettings[K]> | undefined;
  }

  keySetting(setting: SettingName): KeySetting | undefined {
    const chosen = this.merged[setting];
    return chosen === undefined ? undefined : { value: String(chosen.value), source: chosen.source };
  }
}

function chooseAuthenticator(ctx: ProfileContext, warnings: string[]): { value: Authenticator; source: string } {
  const explicit = ctx.get('authenticator');
  if (explicit !== undefined) return { value: explicit.value as Authenticator, source: explicit.source };
  const password = ctx.get('password');
  const key = ctx.get('privateKey') ?? ctx.get('privateKeyPath');
  const token = ctx.get('token') ?? ctx.get('tokenFilePath');
  // No authenticator anywhere: infer from the secret that is present (the higher source wins a tie-break).
  // Both present is usually a leftover (a password kept after moving to a key): said, not silently chosen.
  if (key !== undefined && password !== undefined) {
    const [used, unused] = key.rank <= password.rank ? [key, password] : [password, key];
    warnings.push(
      `Snowflake profile "${ctx.name}" has both a private key (${key.source}) and a password (${password.source}) but no authenticator; ` +
        `using the ${used === key ? 'key' : 'password'} (${used.source}, the higher source). Set ${ctx.whereToSet(['authenticator'])} to SNOWFLAKE_JWT or SNOWFLAKE, ` +
        `or remove the ${unused === key ? 'key' : 'password'} (${unused.source}).`,
    );
  }
  if (key !== undefined && (password === undefined || key.rank <= password.rank)) {
    return { value: 'SNOWFLAKE_JWT', source: `inferred from ${key.source}` };
  }
  if (password !== undefined) return { value: 'SNOWFLAKE', source: `inferred from ${password.source}` };
  if (token !== undefined) {
    return invalid(
      `Snowflake profile "${ctx.name}" has a token (${token.source}) but no authenticator: set ${ctx.whereToSet(['authenticator'])} ` +
        'to OAUTH or PROGRAMMATIC_ACCESS_TOKEN.',
    );
  }
  return { value: 'SNOWFLAKE', source: 'default' };
}

function readToken(ctx: ProfileContext): string {
  const inline = ctx.get('token');
  if (inline !== undefined) return inline.value;
  const file = ctx.get('tokenFilePath');
  if (file === undefined) return ctx.missing('token', 'token', true, { setting: 'tokenFilePath', what: 'a file holding it' });
  let text: string;
  try {
    // Another user who could swap the token would have every call run, and be recorded, as them.
    text = readTrustedFile(ctx.filePath(file, 'the token file'), { what: `Snowflake profile "${ctx.name}": the token file ${shownSecretPath(file.value)} (set by ${file.source}) decides whom the hub logs in as`, noun: 'the token' }).text;
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new SnowmuxError('CONFIG_UNSAFE', err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (readProblem(err) ?? code ?? 'read failed');
    return invalid(`Snowflake profile "${ctx.name}": cannot read the token file ${shownSecretPath(file.value)} (set by ${file.source}): ${reason}. Check the path and its permissions.`);
  }
  const token = text.trim();
  if (token === '') invalid(`Snowflake profile "${ctx.name}": the token file ${shownSecretPath(file.value)} (set by ${file.source}) is empty. Write the token into it or point the setting elsewhere.`);
  return token;
}

function buildAuth(ctx: ProfileContext, authenticator: Authenticator, sources: Record<string, string>): SnowflakeAuth {
  const record = (...settings: SettingName[]) => {
    for (const setting of settings) {
      const chosen = ctx.merged[setting];
      if (chosen !== undefined) sources[SOURCE_KEYS[setting]] = chosen.source;
    }
  };
  switch (authenticator) {
    case 'SNOWFLAKE': {
      const password = ctx.get('password') ?? ctx.missing('password', 'password', true);
      record('password');
      return { method: 'password', password: password.value };
    }
    case 'USERNAME_PASSWORD_MFA': {
      const password = ctx.get('password') ?? ctx.missing('password', 'password', true);
      record('password', 'passcode');
      const passcode = ctx.get('passcode')?.value;
      return passcode === undefined ? { method: 'mfa', password: password.value } : { method: 'mfa', password: password.value, passcode };
    }
    case 'SNOWFLAKE_JWT': {
      const path = ctx.keySetting('privateKeyPath');
      const inline = ctx.keySetting('privateKey');
      if (path === undefined && inline === undefined) ctx.missing('private key', 'privateKeyPath', true, { setting: 'privateKey', what: 'the PEM text itself' });
      const passphrase = ctx.keySetting('privateKeyPassphrase');
      const key = loadPrivateKey({
        profileName: ctx.name,
        path,
        inline,
        passphrase,
        passphraseHint: ctx.whereToSet(['privateKeyPassphrase']),
        homedir: ctx.homedir,
        env: ctx.env,
      });
      record('privateKeyPath', 'privateKey', 'privateKeyPassphrase');
      return passphrase === undefined
        ? { method: 'keypair', privateKeyPem: key.pem, source: key.description }
        : { method: 'keypair', privateKeyPem: key.pem, passphrase: passphrase.value, source: key.description };
    }
    case 'OAUTH':
    case 'PROGRAMMATIC_ACCESS_TOKEN': {
      const token = readToken(ctx);
      record('token', 'tokenFilePath');
      return authenticator === 'OAUTH' ? { method: 'oauth', token } : { method: 'pat', token };
    }
    case 'EXTERNALBROWSER':
      return { method: 'externalbrowser' };
  }
}

/** What a timer's setting must be (a flag or connections.toml sets them as well as config.toml). */
const TIMER_LABEL = `a positive integer of at most ${MAX_TIMER_MS} (about 24.8 days, the longest a timer can wait)`;

function checkInteger(ctx: ProfileContext, setting: SettingName, minimum: number, label: string, maximum = Number.MAX_SAFE_INTEGER): number | undefined {
  const chosen = ctx.merged[setting];
  if (chosen === undefined) return undefined;
  const value = chosen.value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    invalid(`Snowflake profile "${ctx.name}": ${SOURCE_KEYS[setting]} from ${chosen.source} must be ${label}, got ${JSON.stringify(value)}. Fix the value.`);
  }
  return value;
}

function resolvePool(ctx: ProfileContext, sources: Record<string, string>): PoolSettings {
  const pool: PoolSettings = {
    min: checkInteger(ctx, 'poolMin', 0, 'an integer of 0 or more') ?? DEFAULT_POOL.min,
    max: checkInteger(ctx, 'poolMax', 1, 'a positive integer') ?? DEFAULT_POOL.max,
    acquireTimeoutMs: checkInteger(ctx, 'poolAcquireTimeoutMs', 1, TIMER_LABEL, MAX_TIMER_MS) ?? DEFAULT_POOL.acquireTimeoutMs,
    idleTimeoutMs: checkInteger(ctx, 'poolIdleTimeoutMs', 1, TIMER_LABEL, MAX_TIMER_MS) ?? DEFAULT_POOL.idleTimeoutMs,
    validateOnBorrow: ctx.get('poolValidateOnBorrow')?.value ?? DEFAULT_POOL.validateOnBorrow,
    maxConnectionAgeMs: checkInteger(ctx, 'poolMaxConnectionAgeMs', 0, 'an integer of 0 or more') ?? DEFAULT_POOL.maxConnectionAgeMs,
  };
  for (const setting of ['poolMin', 'poolMax', 'poolAcquireTimeoutMs', 'poolIdleTimeoutMs', 'poolValidateOnBorrow', 'poolMaxConnectionAgeMs'] as const) {
    const chosen = ctx.merged[setting];
    if (chosen !== undefined) sources[SOURCE_KEYS[setting]] = chosen.source;
  }
  if (pool.min > pool.max) {
    invalid(
      `Snowflake profile "${ctx.name}": pool.min (${pool.min}, ${sources['pool.min'] ?? 'default'}) is larger than pool.max ` +
        `(${pool.max}, ${sources['pool.max'] ?? 'default'}). Lower pool.min or raise pool.max.`,
    );
  }
  return pool;
}

function normalizeAccount(ctx: ProfileContext, warnings: string[]): string | undefined {
  const chosen = ctx.get('account');
  if (chosen === undefined) return undefined;
  const raw = chosen.value.trim();
  // A pasted URL (JDBC, https) may carry a password, in user:password@ or ?password=: never quoted back.
  const what = `Snowflake profile "${ctx.name}": account ${JSON.stringify(shownUrl(raw))} (${chosen.source})`;
  const stripped = accountOfAddress(raw, what, warnings);
  if (!/^[A-Za-z0-9_.-]+$/.test(stripped)) {
    invalid(`${what} is not an account identifier: it may hold only letters, digits, "-", "_" and ".". Use ${ACCOUNT_FORMS}.`);
  }
  // <organization>.<account> is how SQL names an account, but the driver would read the part after the
  // dot as a region (a host that does not exist, a login refused): the connection form has a hyphen. A
  // legacy <locator>.<region> always has a hyphen in its region (eu-west-1, east-us-2.azure), so a second
  // part without one is taken for an account name.
  const orgDotAccount = /^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)$/.exec(stripped);
  if (orgDotAccount) {
    const hyphened = `${orgDotAccount[1]}-${orgDotAccount[2]}`;
    warnings.push(
      `Snowflake profile "${ctx.name}": account ${JSON.stringify(stripped)} (${chosen.source}) looks like <organization>.<account>, the form SQL uses; using ${JSON.stringify(hyphened)}, ` +
        'the form connections use. Set it so to silence this (a legacy <locator>.<region> always has a hyphen in the region).',
    );
    return hyphened;
  }
  return stripped;
}

const ACCOUNT_FORMS =
  'the form <organization>-<account> (e.g. myorg-myaccount; Snowsight shows it under your account, "Connect a tool to Snowflake"), ' +
  'or a legacy account locator with its region (e.g. xy12345.us-east-1)';

/**
 * The account identifier in an address pasted as the account. An account host (`<id>.snowflakecomputing.com`,
 * as a URL or not) gives its <id>. A Snowsight address, `app.snowflake.com/<organization>/<account>/...`,
 * gives `<organization>-<account>`. Any other URL or web host is refused: its host is no account (taken as
 * one, app.snowflake.com passed every check and the first login failed far from the cause).
 */
function accountOfAddress(raw: string, what: string, warnings: string[]): string {
  const parts = /^(?:(https?):\/\/)?([^/?#]*)(.*)$/is.exec(raw)!;
  const host = parts[2]!.replace(/^.*@/s, '').replace(/:\d+$/, '');
  const rest = parts[3]!;
  const onAccountHost = /^(.+)\.snowflakecomputing\.com$/i.exec(host);
  if (onAccountHost) {
    warnings.push(`${what} looks like a URL or host name; using account ${JSON.stringify(onAccountHost[1])}. Set the account identifier alone (e.g. myorg-myaccount).`);
    return onAccountHost[1]!;
  }
  if (host.toLowerCase() === 'app.snowflake.com') return accountOfSnowsight(rest, what, warnings);
  if (parts[1] !== undefined || rest.startsWith('/') || /\.com$/i.test(host)) {
    invalid(`${what} is not an account identifier but the address of a web site, which names no Snowflake account. Use ${ACCOUNT_FORMS}.`);
  }
  return raw;
}

/**
 * Snowsight's addresses name the account in their first two path segments: `<organization>/<account>`
 * (an organization name is letters and digits; an account name adds "_"), or, for an account reached by
 * its locator, `<region>/<locator>` (a region always has a hyphen: us-east-1, ap-south-1.aws, east-us-2.azure).
 * How a region there maps to the connection's form is not documented for every region: said, not guessed.
 */
function accountOfSnowsight(path: string, what: string, warnings: string[]): string {
  const [first, second] = path.replace(/[?#].*$/s, '').split('/').filter((segment) => segment !== '');
  if (first !== undefined && second !== undefined && /^[A-Za-z][A-Za-z0-9]*$/.test(first) && /^[A-Za-z][A-Za-z0-9_]*$/.test(second)) {
    const account = `${first}-${second}`;
    warnings.push(`${what} is a Snowsight address; using account ${JSON.stringify(account)}, its <organization>-<account>. To silence this, set account = ${JSON.stringify(account)}.`);
    return account;
  }
  if (first !== undefined && second !== undefined && /^[a-z0-9]+(?:-[a-z0-9]+)+(?:\.[a-z]+)?$/i.test(first) && /^[A-Za-z0-9]+$/.test(second)) {
    invalid(
      `${what} is a Snowsight address with a region and an account locator, not an account identifier. Set account to the <organization>-<account> ` +
        `Snowsight shows under your account ("Connect a tool to Snowflake"), or to the locator with its region, most likely ${JSON.stringify(`${second}.${first}`)}.`,
    );
  }
  invalid(`${what} is not an account identifier but the address of Snowsight, without the organization and account after it. Use ${ACCOUNT_FORMS}.`);
}

function checkAccessUrl(ctx: ProfileContext): string | undefined {
  const chosen = ctx.get('accessUrl');
  if (chosen === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(chosen.value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) invalid(`Snowflake profile "${ctx.name}": the access URL from ${chosen.source} is not an http:// or https:// URL. Fix it or remove it.`);
  // Never sent (fetch refuses such a URL) and shown wherever the URL is: the secret would only leak.
  if (url.username !== '' || url.password !== '') {
    invalid(`Snowflake profile "${ctx.name}": the access URL from ${chosen.source} carries a user name or password (user:password@host). Snowflake takes them from user and password, never from the URL: remove them from it.`);
  }
  return chosen.value;
}

interface Selection {
  name: string;
  /** Set when the user asked for this name (flag, SNOWMUX_PROFILE or hub.default_profile). */
  requestedBy?: string | undefined;
}

function selectName(input: ResolveProfileInput, conns: SnowflakeConnections): Selection {
  if (input.name) return { name: input.name, requestedBy: input.nameSource ?? 'flag --profile' };
  const fromEnv = profileNameFromEnv(input.env);
  if (fromEnv !== undefined) return { name: fromEnv, requestedBy: `env ${SNOWMUX_PROFILE_ENV}` };
  const fromConfig = input.configFile?.config.hub.defaultProfile;
  if (fromConfig !== undefined) return { name: fromConfig, requestedBy: `${input.configFile?.shownPath} hub.default_profile` };
  return { name: conns.defaultConnection.name };
}

/** Resolves the Snowflake profile (or null for "use the embedded warehouse") and collects warnings. */
export function resolveProfile(input: ResolveProfileInput): ResolveProfileResult {
  const homedir = input.homedir || userHomeIfAny(input.env);
  const warnings: string[] = [];
  const conns = loadSnowflakeConnections({ env: input.env, homedir, platform: input.platform, uid: input.uid });
  const selection = selectName(input, conns);
  const { name } = selection;
  const configProfiles = input.configFile?.config.profiles ?? {};
  const configEntry = Object.prototype.hasOwnProperty.call(configProfiles, name) ? configProfiles[name] : undefined;
  const connLayer = connectionLayer(conns, name);
  warnings.push(...conns.mistakes);

  if (selection.requestedBy !== undefined && configEntry === undefined && connLayer === null) {
    const known = [...new Set([...Object.keys(configProfiles), ...Object.keys(conns.connections)])];
    const configPath = input.configFile?.shownPath ?? 'the snowmux config file';
    // Every way a name arrives (an editor's SNOWMUX_PROFILE or shim --profile too) gets the hint the hub's own --profile gets.
    const near = closestName(name, known);
    invalid(
      `Snowflake profile "${name}" (from ${selection.requestedBy}) is not defined${near === undefined ? '' : ` (did you mean "${near}"?)`}: add [profiles.${name}] to ${configPath} ` +
        `or [${name}] to ${conns.file?.shownPath ?? conns.shownConnectionsPath}.` +
        (known.length > 0 ? ` Defined profiles: ${known.join(', ')}.` : ''),
    );
  }
  if (selection.requestedBy === undefined && connLayer === null && conns.defaultConnection.source !== 'the built-in default name') {
    warnings.push(
      `${conns.defaultConnection.source} names connection "${name}", which ${conns.file?.shownPath ?? conns.shownConnectionsPath} does not define; ignoring it.`,
    );
  }
  // Profiles a role names are selected by that role's sessions: setting a default would move every other
  // session off its warehouse.
  const chosenByRoles = Object.values(input.configFile?.config.roles ?? {}).some((role) => role.profile !== undefined);
  if (selection.requestedBy === undefined && configEntry === undefined && Object.keys(configProfiles).length > 0 && !chosenByRoles) {
    warnings.push(
      `${input.configFile?.shownPath} defines profiles (${Object.keys(configProfiles).join(', ')}) but none is selected: ` +
        'set hub.default_profile, SNOWMUX_PROFILE or --profile.',
    );
  }

  const env = envLayer(input.env);
  warnings.push(...env.warnings);
  const layers: SettingsLayer[] = [];
  if (input.flags !== undefined) layers.push(flagLayer(input.flags));
  const perConnection = connectionEnvLayer(input.env, name, connectionUrlParts(conns, name), warnings);
  if (perConnection !== null) layers.push(perConnection);
  layers.push(env.layer);
  if (configEntry !== undefined && input.configFile !== undefined) {
    layers.push(configLayer(configEntry, `${input.configFile.shownPath} profiles.${name}`, dirname(input.configFile.path)));
  }
  if (connLayer !== null) {
    layers.push(connLayer);
    warnings.push(...conns.warnings);
  }

  const merged = merge(layers, warnings);
  const namedSection = configEntry !== undefined || connLayer !== null;
  if (!namedSection && merged.account === undefined && merged.user === undefined) {
    const stray = Object.values(merged).map((chosen) => chosen?.source).filter((s): s is string => s !== undefined);
    if (stray.length > 0) {
      warnings.push(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but no Snowflake account is configured; using the embedded warehouse. Set SNOWFLAKE_ACCOUNT to use Snowflake.`);
    }
    return { profile: null, warnings, files: conns.files };
  }

  const profileName = namedSection ? name : 'env';
  const ctx = new ProfileContext(profileName, layers, merged, homedir, input.env);
  const sources: Record<string, string> = {};
  const account = normalizeAccount(ctx, warnings) ?? ctx.missing('account', 'account', false);
  sources.account = merged.account!.source;
  const authenticator = chooseAuthenticator(ctx, warnings);
  sources.authenticator = authenticator.source;
  const user = merged.user?.value;
  if (user === undefined && authenticator.value !== 'OAUTH') ctx.missing('user', 'user', false);
  if (merged.user !== undefined) sources.user = merged.user.source;
  const auth = buildAuth(ctx, authenticator.value, sources);
  // The secret files this profile reads: others must not be able to read or replace them (as for
  // connections.toml and config.toml).
  const secretFile = auth.method === 'keypair' ? merged.privateKeyPath : (auth.method === 'oauth' || auth.method === 'pat') && merged.token === undefined ? merged.tokenFilePath : undefined;
  const secretPath = secretFile === undefined ? undefined : ctx.filePath(secretFile, auth.method === 'keypair' ? 'the private key file' : 'the token file');
  if (secretFile !== undefined && secretPath !== undefined) {
    const warning = credentialFileWarning(secretPath, { env: input.env, shownPath: `${shownSecretPath(secretFile.value)} (${secretFile.source})`, platform: input.platform, uid: input.uid });
    if (warning) warnings.push(`Snowflake profile "${profileName}": ${warning}`);
  }
  const accessUrl = checkAccessUrl(ctx);
  const pool = resolvePool(ctx, sources);
  const statementTimeoutMs = checkInteger(ctx, 'statementTimeoutMs', 1, `a positive number of milliseconds, at most ${MAX_TIMER_MS}`, MAX_TIMER_MS) ?? DEFAULT_STATEMENT_TIMEOUT_S * 1000;
  for (const setting of ['role', 'warehouse', 'database', 'schema', 'host', 'accessUrl', 'statementTimeoutMs'] as const) {
    const chosen = merged[setting];
    if (chosen !== undefined) sources[SOURCE_KEYS[setting]] = chosen.source;
  }
  const profile: SnowflakeProfile = {
    name: profileName,
    account,
    user: user ?? '',
    auth,
    role: merged.role?.value,
    warehouse: merged.warehouse?.value,
    database: merged.database?.value,
    schema: merged.schema?.value,
    accessUrl,
    host: merged.host?.value,
    pool,
    statementTimeoutMs,
    sources,
  };
  const signIn = browserSignInNote(profile);
  if (signIn !== undefined) warnings.push(signIn);
  const files = [...conns.files];
  if (secretPath !== undefined) files.push(secretPath);
  return { profile, warnings, files };
}
