/**
 * The one schema of snowmux's config file (TOML, snake_case keys) and its typed, camelCase result.
 * Unknown keys are errors everywhere except inside the governance placeholders ([roles.*], [limits], [audit]),
 * which are accepted as opaque tables until the governance work gives them their own schema.
 */
import { z } from 'zod';
import { authenticatorProblem, normalizeAuthenticator } from './profile-settings.js';

const POSITIVE_INT = 'expected a positive integer';
const NON_NEGATIVE_INT = 'expected an integer of 0 or more';

const positiveInt = () => z.number({ error: POSITIVE_INT }).int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });
const nonNegativeInt = () =>
  z.number({ error: NON_NEGATIVE_INT }).int({ error: NON_NEGATIVE_INT }).min(0, { error: NON_NEGATIVE_INT });
const nonNegativeNumber = () =>
  z.number({ error: 'expected a number of 0 or more' }).min(0, { error: 'expected a number of 0 or more' });
const text = () => z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' });
const bool = () => z.boolean({ error: 'expected true or false' });
const table = () => z.record(z.string(), z.unknown(), { error: 'expected a table' });

const httpUrl = () =>
  text().refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: 'expected an http:// or https:// URL' },
  );

const authenticator = () =>
  text().superRefine((value, ctx) => {
    if (normalizeAuthenticator(value) === undefined) ctx.addIssue({ code: 'custom', message: authenticatorProblem(value) });
  });

const poolFileSchema = z
  .strictObject({
    min: nonNegativeInt(),
    max: positiveInt(),
    acquire_timeout_ms: positiveInt(),
    idle_timeout_ms: positiveInt(),
    validate: bool(),
    max_age_hours: nonNegativeNumber(),
  })
  .partial();

const profileFileSchema = z
  .strictObject({
    account: text(),
    user: text(),
    authenticator: authenticator(),
    password: text(),
    passcode: text(),
    private_key_path: text(),
    private_key: text(),
    private_key_passphrase: text(),
    token: text(),
    token_file_path: text(),
    role: text(),
    warehouse: text(),
    database: text(),
    schema: text(),
    host: text(),
    access_url: httpUrl(),
    statement_timeout_s: positiveInt(),
    pool: poolFileSchema,
  })
  .partial();

const hubFileSchema = z
  .strictObject({
    max_line_bytes: positiveInt(),
    shutdown_grace_ms: nonNegativeInt(),
    default_profile: text(),
    call_timeout_ms: positiveInt(),
    max_rows: positiveInt(),
    max_result_bytes: positiveInt(),
  })
  .partial();

export const configFileSchema = z
  .strictObject({
    hub: hubFileSchema,
    profiles: z.record(z.string(), profileFileSchema, { error: 'expected a table of profiles' }),
    // Governance placeholders: tightened by the governance work; until then any table is accepted.
    roles: z.record(z.string(), table(), { error: 'expected a table of roles' }),
    limits: table(),
    audit: table(),
  })
  .partial();

export type ConfigFileData = z.infer<typeof configFileSchema>;
type ProfileFileData = z.infer<typeof profileFileSchema>;

/** Keys allowed at each level, used for "did you mean" suggestions. Derived from the schema, never duplicated. */
export const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(configFileSchema.shape),
  hub: Object.keys(hubFileSchema.shape),
  profile: Object.keys(profileFileSchema.shape),
  pool: Object.keys(poolFileSchema.shape),
};

/** Keys whose values are secrets: never echoed in config errors. */
export const SECRET_FILE_KEYS: ReadonlySet<string> = new Set([
  'password', 'passcode', 'private_key', 'private_key_passphrase', 'token',
]);

export interface HubSettings {
  /** Largest accepted JSON-RPC line, in bytes. */
  maxLineBytes: number;
  /** How long a graceful stop waits for in-flight calls. */
  shutdownGraceMs: number;
  /** Profile used when neither --profile nor SNOWMUX_PROFILE names one. */
  defaultProfile?: string | undefined;
  /** Per tool call deadline. */
  callTimeoutMs: number;
  /** Rows returned by a query tool before the result is truncated. */
  maxRows: number;
  /** Bytes of result text returned before truncation. */
  maxResultBytes: number;
}

export const DEFAULT_HUB_SETTINGS: HubSettings = {
  maxLineBytes: 8 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  callTimeoutMs: 300_000,
  maxRows: 200,
  maxResultBytes: 256 * 1024,
};

/** Seconds; applied as STATEMENT_TIMEOUT_IN_SECONDS when a profile does not set statement_timeout_s. */
export const DEFAULT_STATEMENT_TIMEOUT_S = 300;

export interface PoolFileEntry {
  min?: number | undefined;
  max?: number | undefined;
  acquireTimeoutMs?: number | undefined;
  idleTimeoutMs?: number | undefined;
  validateOnBorrow?: boolean | undefined;
  maxConnectionAgeMs?: number | undefined;
}

/** One [profiles.<name>] table, camelCase, every key optional (other sources may fill the rest). */
export interface ProfileFileEntry {
  account?: string | undefined;
  user?: string | undefined;
  authenticator?: string | undefined;
  password?: string | undefined;
  passcode?: string | undefined;
  privateKeyPath?: string | undefined;
  privateKey?: string | undefined;
  privateKeyPassphrase?: string | undefined;
  token?: string | undefined;
  tokenFilePath?: string | undefined;
  role?: string | undefined;
  warehouse?: string | undefined;
  database?: string | undefined;
  schema?: string | undefined;
  host?: string | undefined;
  accessUrl?: string | undefined;
  statementTimeoutMs?: number | undefined;
  pool: PoolFileEntry;
}

export interface HubConfig {
  hub: HubSettings;
  profiles: Record<string, ProfileFileEntry>;
  /** Placeholder: opaque until the governance schema lands. */
  roles: Record<string, Record<string, unknown>>;
  /** Placeholder: opaque until the governance schema lands. */
  limits: Record<string, unknown>;
  /** Placeholder: opaque until the governance schema lands. */
  audit: Record<string, unknown>;
}

const HOUR_MS = 3_600_000;

function toProfileEntry(data: ProfileFileData): ProfileFileEntry {
  const pool = data.pool ?? {};
  return {
    account: data.account,
    user: data.user,
    authenticator: data.authenticator === undefined ? undefined : normalizeAuthenticator(data.authenticator),
    password: data.password,
    passcode: data.passcode,
    privateKeyPath: data.private_key_path,
    privateKey: data.private_key,
    privateKeyPassphrase: data.private_key_passphrase,
    token: data.token,
    tokenFilePath: data.token_file_path,
    role: data.role,
    warehouse: data.warehouse,
    database: data.database,
    schema: data.schema,
    host: data.host,
    accessUrl: data.access_url,
    statementTimeoutMs: data.statement_timeout_s === undefined ? undefined : data.statement_timeout_s * 1000,
    pool: {
      min: pool.min,
      max: pool.max,
      acquireTimeoutMs: pool.acquire_timeout_ms,
      idleTimeoutMs: pool.idle_timeout_ms,
      validateOnBorrow: pool.validate,
      maxConnectionAgeMs: pool.max_age_hours === undefined ? undefined : Math.round(pool.max_age_hours * HOUR_MS),
    },
  };
}

/** Snake_case file data (already validated) → typed camelCase config with defaults applied. */
export function toHubConfig(data: ConfigFileData): HubConfig {
  const hub = data.hub ?? {};
  const profiles: Record<string, ProfileFileEntry> = {};
  for (const [name, profile] of Object.entries(data.profiles ?? {})) profiles[name] = toProfileEntry(profile);
  return {
    hub: {
      maxLineBytes: hub.max_line_bytes ?? DEFAULT_HUB_SETTINGS.maxLineBytes,
      shutdownGraceMs: hub.shutdown_grace_ms ?? DEFAULT_HUB_SETTINGS.shutdownGraceMs,
      defaultProfile: hub.default_profile,
      callTimeoutMs: hub.call_timeout_ms ?? DEFAULT_HUB_SETTINGS.callTimeoutMs,
      maxRows: hub.max_rows ?? DEFAULT_HUB_SETTINGS.maxRows,
      maxResultBytes: hub.max_result_bytes ?? DEFAULT_HUB_SETTINGS.maxResultBytes,
    },
    profiles,
    roles: data.roles ?? {},
    limits: data.limits ?? {},
    audit: data.audit ?? {},
  };
}

