/**
 * The one schema of snowmux's config file (TOML, snake_case keys) and its typed, camelCase result.
 * Unknown keys are errors everywhere. Governance sections: [policy], [roles.<name>] (with .rate and
 * .quota), [limits], [audit], [breaker]; see docs/security-model.md.
 */
import { z } from 'zod';
import { DEFAULT_FSYNC_INTERVAL_MS, DEFAULT_MAX_FILE_BYTES } from '../audit/audit-log.js';
import { parseObjectPattern } from '../names/object-pattern.js';
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
const POSITIVE_NUMBER = 'expected a number greater than 0';
const positiveNumber = () =>
  z.number({ error: POSITIVE_NUMBER }).refine((n) => Number.isFinite(n) && n > 0, { error: POSITIVE_NUMBER });
const textList = () => z.array(text(), { error: 'expected an array of strings' });

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

export const HTTP_ENGINES = ['auto', 'uws', 'node'] as const;
export type HttpEngineChoice = (typeof HTTP_ENGINES)[number];

const hubFileSchema = z
  .strictObject({
    max_line_bytes: positiveInt(),
    shutdown_grace_ms: nonNegativeInt(),
    default_profile: text(),
    call_timeout_ms: positiveInt(),
    max_rows: positiveInt(),
    max_result_bytes: positiveInt(),
    metrics_listen: text().refine((v) => /^[\w.:[\]-]+:\d{1,5}$/.test(v), { error: 'expected host:port, e.g. "127.0.0.1:9464"' }),
    http_listen: text().refine((v) => /^[\w.:[\]-]+:\d{1,5}$/.test(v), { error: 'expected host:port, e.g. "127.0.0.1:8765"' }),
    http_auth: z.boolean({ error: 'expected true or false' }),
    http_engine: z.enum(HTTP_ENGINES, { error: 'expected "auto", "uws" or "node"' }),
    http_allowed_origins: z.array(z.string().url({ error: 'expected an origin such as "https://app.example.com"' }), { error: 'expected a list of origins' }),
    redis_url: text().refine((v) => /^rediss?:\/\//.test(v), { error: 'expected a redis:// or rediss:// URL' }),
    team_namespace: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected 1–64 letters, digits, _ . -' }),
    http_hosts: z.array(z.string().regex(/^[\w.-]+$/, { error: 'expected a host name' }), { error: 'expected a list of host names' }),
    otel_endpoint: httpUrl(),
    otel_headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'expected an HTTP header name' }), z.string({ error: 'expected a string' }), { error: 'expected a table of header names and values' }),
    otel_service_name: text(),
  })
  .partial();


// ---- governance: [policy], [roles.<name>], [limits], [audit], [breaker] ---------------------------

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_PROBLEM = 'expected a duration of at least one second such as "30s", "15m", "1h", "1d" or "1w"';

/** "15m" → 900000; undefined when it is not a whole number followed by s, m, h, d or w. */
export function parseDurationMs(value: string): number | undefined {
  const match = /^\s*(\d{1,9})\s*([smhdw])\s*$/.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
  return ms >= 1000 && Number.isSafeInteger(ms) ? ms : undefined;
}

const duration = () =>
  z.string({ error: DURATION_PROBLEM }).refine((value) => parseDurationMs(value) !== undefined, { error: DURATION_PROBLEM });

const objectPattern = () =>
  z.string({ error: 'expected an object pattern string such as "ANALYTICS.*.*"' }).superRefine((value, ctx) => {
    const parsed = parseObjectPattern(value);
    if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
  });

const toolEntry = () =>
  z.string({ error: 'expected a tool name or glob' }).refine((value) => /^!?[A-Za-z0-9_*?-]+$/.test(value), {
    error: 'expected a tool name or glob (letters, digits, _, -, * and ?), optionally after "!"',
  });

const rateFileSchema = z.strictObject(
  {
    per_second: positiveNumber(),
    burst: positiveInt().optional(),
  },
  { error: 'expected a table' },
);

const quotaFileSchema = z
  .strictObject(
    {
      window: duration(),
      queries: nonNegativeInt().optional(),
      rows: nonNegativeInt().optional(),
      bytes: nonNegativeInt().optional(),
      scan_bytes: nonNegativeInt().optional(),
    },
    { error: 'expected a table' },
  )
  .refine((q) => q.queries !== undefined || q.rows !== undefined || q.bytes !== undefined || q.scan_bytes !== undefined, {
    error: 'expected at least one of queries, rows, bytes or scan_bytes',
  });

/** How query results are returned: table text and structured rows, or structured rows with a one-line text. */
export const RESULT_FORMS = ['both', 'structured', 'text'] as const;
export type ResultForm = (typeof RESULT_FORMS)[number];

const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const roleFileSchema = z
  .strictObject(
    {
      identities: textList(),
      clients: textList(),
      tools: z.array(toolEntry(), { error: 'expected an array of tool names' }),
      allow: z.array(objectPattern(), { error: 'expected an array of object patterns' }),
      deny: z.array(objectPattern(), { error: 'expected an array of object patterns' }),
      write: bool(),
      stage_listing: bool(),
      profile: text(),
      snowflake_role: text(),
      warehouse: text(),
      max_rows: positiveInt(),
      max_scan_bytes: positiveInt(),
      max_scan_partitions: positiveInt(),
      max_scan_rows: positiveInt(),
      statement_timeout: duration(),
      max_cell_chars: positiveInt(),
      row_cap_pushdown: bool(),
      result_form: z.enum(RESULT_FORMS, { error: 'expected "both", "structured" or "text"' }),
      rate: rateFileSchema,
      quota: quotaFileSchema,
    },
    { error: 'expected a table' },
  )
  .partial();

const policyFileSchema = z.strictObject({ default_role: text() }, { error: 'expected a table' }).partial();

const limitsFileSchema = z
  .strictObject(
    {
      max_concurrent_queries: positiveInt(),
      max_queued: nonNegativeInt(),
      max_queued_per_session: positiveInt(),
      team_max_concurrent_queries: positiveInt(),
      retry_attempts: nonNegativeInt(),
      retry_budget_ms: nonNegativeInt(),
      rate: rateFileSchema,
      // "0s" turns the cache off (requests in flight are still joined).
      metadata_cache_ttl: z.union([z.literal('0s'), duration()], { error: DURATION_PROBLEM }),
    },
    { error: 'expected a table' },
  )
  .partial();

const FSYNC_PROBLEM = 'expected one of always, interval, never';
const auditFileSchema = z
  .strictObject(
    {
      enabled: bool(),
      dir: text(),
      fsync: z.enum(['always', 'interval', 'never'], { error: FSYNC_PROBLEM }),
      fsync_interval_ms: positiveInt(),
      max_file_mb: positiveNumber(),
      max_files: nonNegativeInt(),
    },
    { error: 'expected a table' },
  )
  .partial();

const PERCENT_PROBLEM = 'expected a percentage greater than 0 and at most 100';
const breakerFileSchema = z
  .strictObject(
    {
      failure_threshold_percent: z.number({ error: PERCENT_PROBLEM }).refine((n) => n > 0 && n <= 100, { error: PERCENT_PROBLEM }),
      volume_threshold: positiveInt(),
      reset_timeout_ms: positiveInt(),
    },
    { error: 'expected a table' },
  )
  .partial();

const rolesFileSchema = z
  .record(z.string(), roleFileSchema, { error: 'expected a table of roles' })
  .superRefine((roles, ctx) => {
    for (const name of Object.keys(roles ?? {})) {
      if (!ROLE_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'expected a role name of letters, digits, "_" and "-", starting with a letter or "_"',
        });
      }
    }
  });

/** Name of the built-in default role (read-only, every tool, every object). */
export const BUILTIN_DEFAULT_ROLE_NAME = 'default';

const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const toolParamFileSchema = z.strictObject(
  {
    name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'expected a lower-case name (letters, digits, _)' }),
    type: z.enum(['string', 'integer', 'number', 'boolean'], { error: 'expected one of string, integer, number, boolean' }),
    description: text(),
    required: z.boolean({ error: 'expected true or false' }).optional(),
  },
  { error: 'expected a table' },
);

const toolFileSchema = z.strictObject(
  {
    description: text(),
    sql: text(),
    params: z.array(toolParamFileSchema, { error: 'expected an array of [[tools.<name>.params]] tables' }).optional(),
  },
  { error: 'expected a table with description and sql' },
);

const toolsFileSchema = z
  .record(z.string(), toolFileSchema, { error: 'expected a table of tools' })
  .superRefine((tools, ctx) => {
    for (const name of Object.keys(tools ?? {})) {
      if (!TOOL_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'a tool name must be lower-case letters, digits and _ (at most 64), starting with a letter' });
    }
  });

export const configFileSchema = z
  .strictObject({
    hub: hubFileSchema,
    profiles: z.record(z.string(), profileFileSchema, { error: 'expected a table of profiles' }),
    policy: policyFileSchema,
    roles: rolesFileSchema,
    limits: limitsFileSchema,
    audit: auditFileSchema,
    breaker: breakerFileSchema,
    tools: toolsFileSchema,
  })
  .partial()
  .superRefine((data, ctx) => {
    const wanted = data.policy?.default_role;
    if (wanted === undefined || wanted === BUILTIN_DEFAULT_ROLE_NAME) return;
    const roles = data.roles !== null && typeof data.roles === 'object' ? Object.keys(data.roles) : [];
    if (!roles.includes(wanted)) {
      const defined = roles.length > 0 ? roles.join(', ') : 'none';
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'default_role'],
        message: `expected the name of a role defined under [roles] (defined: ${defined}) or "${BUILTIN_DEFAULT_ROLE_NAME}"`,
      });
    }
  });

export type ConfigFileData = z.infer<typeof configFileSchema>;
type ProfileFileData = z.infer<typeof profileFileSchema>;

/** Keys allowed at each level, used for "did you mean" suggestions. Derived from the schema, never duplicated. */
export const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(configFileSchema.shape),
  hub: Object.keys(hubFileSchema.shape),
  profile: Object.keys(profileFileSchema.shape),
  pool: Object.keys(poolFileSchema.shape),
  policy: Object.keys(policyFileSchema.shape),
  role: Object.keys(roleFileSchema.shape),
  rate: Object.keys(rateFileSchema.shape),
  quota: ['window', 'queries', 'rows', 'bytes'],
  limits: Object.keys(limitsFileSchema.shape),
  audit: Object.keys(auditFileSchema.shape),
  breaker: Object.keys(breakerFileSchema.shape),
  tool: Object.keys(toolFileSchema.shape),
  param: Object.keys(toolParamFileSchema.shape),
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
  /** host:port for the Prometheus /metrics and /healthz endpoint; off when absent. */
  metricsListen?: string | undefined;
  /** host:port for the HTTP face (/mcp, /healthz, /readyz, /metrics, /status, /events); off when absent. */
  httpListen?: string | undefined;
  /** Bearer API keys on every HTTP route but /healthz. May be turned off only on a loopback listener. */
  httpAuth: boolean;
  /** Which engine serves the HTTP face: uWebSockets.js (hyper-express) when it loads, else node:http. */
  httpEngine: HttpEngineChoice;
  /** Browser origins allowed to call the HTTP face (CORS); none by default. */
  httpAllowedOrigins: string[];
  /** Host names the HTTP face answers to besides loopback ones (DNS-rebinding protection). */
  httpHosts: string[];
  /** Redis shared by the replicas of a team hub (team-wide rate limits, replica registry); off when absent. */
  redisUrl?: string | undefined;
  /** Replicas with the same namespace (and Redis) form one team. */
  teamNamespace: string;
  /** OTLP/HTTP collector for call spans; traces are off (and the SDK unloaded) when absent. */
  otelEndpoint?: string | undefined;
  /** Headers sent to the collector (often its API key: treated as secrets). */
  otelHeaders: Record<string, string>;
  /** service.name of the spans; default OTEL_SERVICE_NAME, else "snowmux". */
  otelServiceName?: string | undefined;
}

export const DEFAULT_HUB_SETTINGS: HubSettings = {
  maxLineBytes: 8 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  callTimeoutMs: 300_000,
  maxRows: 200,
  maxResultBytes: 256 * 1024,
  httpAuth: true,
  httpEngine: 'auto',
  httpAllowedOrigins: [],
  httpHosts: [],
  teamNamespace: 'snowmux',
  otelHeaders: {},
};

/** Seconds; applied as STATEMENT_TIMEOUT_IN_SECONDS when a profile does not set statement_timeout_s. */
export const DEFAULT_STATEMENT_TIMEOUT_S = 300;

/**
 * What one statement may be estimated to read before it runs: bytes and micro-partitions (Snowflake's
 * EXPLAIN), rows (DuckDB's estimated cardinality). A limit applies where the engine gives that figure.
 */
export interface ScanLimit {
  bytes?: number | undefined;
  partitions?: number | undefined;
  rows?: number | undefined;
}

/** Token bucket: bursts of `burst` calls, refilled at `perSecond`. */
export interface RateSettings {
  perSecond: number;
  burst: number;
}

export interface QuotaSettings {
  windowMs: number;
  queries?: number | undefined;
  rows?: number | undefined;
  bytes?: number | undefined;
  /** Bytes the engine estimated the window's statements would scan (roles with scan limits are explained). */
  scanBytes?: number | undefined;
}

export interface LimitSettings {
  /** Warehouse queries running at once across all sessions. */
  maxConcurrentQueries: number;
  /** Calls waiting for a slot, across all sessions; beyond it calls are refused with HUB_BUSY. */
  maxQueued: number;
  maxQueuedPerSession: number;
  /** Extra attempts for transient failures of read-only statements. */
  retryAttempts: number;
  retryBudgetMs: number;
  /** Rate limit per identity for roles that set none. */
  defaultRate: RateSettings;
  /** How long metadata answers (list_*, describe_*) are shared before the warehouse is asked again. */
  metadataCacheTtlMs: number;
  /**
   * A team hub (hub.redis_url): queries running at once per warehouse profile across every replica, held
   * as leases in Redis that a crashed replica cannot leak. Undefined: no team-wide cap.
   */
  teamMaxConcurrentQueries?: number | undefined;
}

export type AuditFsyncPolicy = 'always' | 'interval' | 'never';

export interface AuditSettings {
  enabled: boolean;
  /** Directory of the audit files, relative to the snowmux home unless absolute. */
  dir: string;
  fsync: AuditFsyncPolicy;
  fsyncIntervalMs: number;
  maxFileBytes: number;
  /** Files kept; 0 = keep all. */
  maxFiles: number;
}

export interface CircuitBreakerSettings {
  /** Opens when more than this percentage of calls in the window failed for infrastructure reasons. */
  errorThresholdPercentage: number;
  /** Calls in the window before the breaker may open. */
  volumeThreshold: number;
  /** Time open before a probe call is let through. */
  resetTimeoutMs: number;
}

export const DEFAULT_LIMIT_SETTINGS: LimitSettings = {
  maxConcurrentQueries: 8,
  maxQueued: 256,
  maxQueuedPerSession: 64,
  retryAttempts: 2,
  retryBudgetMs: 5_000,
  defaultRate: { perSecond: 50, burst: 200 },
  metadataCacheTtlMs: 60_000,
};

export const DEFAULT_AUDIT_SETTINGS: AuditSettings = {
  enabled: true,
  dir: 'audit',
  fsync: 'interval',
  fsyncIntervalMs: DEFAULT_FSYNC_INTERVAL_MS,
  maxFileBytes: DEFAULT_MAX_FILE_BYTES,
  maxFiles: 0,
};

export const DEFAULT_BREAKER_SETTINGS: CircuitBreakerSettings = {
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  resetTimeoutMs: 30_000,
};

const HOUR_MS = 3_600_000;
const MIB = 1024 * 1024;

type RateFileData = z.infer<typeof rateFileSchema>;
type RoleFileData = z.infer<typeof roleFileSchema>;

/*
 * The typed config is what the zod-validated file data maps to: each type below is the return type of its
 * mapping (toRoleSettings, toProfileEntry, toHubConfig), so there is no second, hand-kept declaration to
 * drift. Only the sections with defaults (hub, limits, audit, breaker) keep an interface, next to their
 * DEFAULT_* constant.
 */
/** One [roles.<name>] table. Absent keys stay undefined; the policy applies the defaults. */
export type RoleSettings = Partial<ReturnType<typeof toRoleSettings>>;
/** One [profiles.<name>] table, camelCase, every key optional (other sources may fill the rest). */
export type ProfileFileEntry = ReturnType<typeof toProfileEntry>;
export type HubConfig = ReturnType<typeof toHubConfig>;
/** `[tools.<name>]`: a tool defined by the team from one parameterized read-only statement. */
export type TeamToolSettings = HubConfig['tools'][string];
export type TeamToolParam = TeamToolSettings['params'][number];

function toRate(data: RateFileData): RateSettings {
  // Without a burst, allow one second's worth of calls at once (at least one).
  return { perSecond: data.per_second, burst: data.burst ?? Math.max(1, Math.ceil(data.per_second)) };
}

function toRoleSettings(data: RoleFileData) {
  const quota = data.quota;
  return {
    /** Identity-name globs (case-sensitive). */
    identities: data.identities,
    /** Client-name globs (case-insensitive). */
    clients: data.clients,
    /** Tool globs; "!glob" denies. Default ["*"]. */
    tools: data.tools,
    /** Object patterns DATABASE.SCHEMA.OBJECT. Default ["*.*.*"]. */
    allow: data.allow,
    deny: data.deny,
    write: data.write,
    stageListing: data.stage_listing,
    profile: data.profile,
    snowflakeRole: data.snowflake_role,
    warehouse: data.warehouse,
    maxRows: data.max_rows,
    /** Pre-flight limits per statement, from the engine's EXPLAIN (see ScanLimit). */
    scanLimit:
      data.max_scan_bytes === undefined && data.max_scan_partitions === undefined && data.max_scan_rows === undefined
        ? undefined
        : ({ bytes: data.max_scan_bytes, partitions: data.max_scan_partitions, rows: data.max_scan_rows } as ScanLimit),
    /** Server-side timeout for each statement of this role's calls (below the hub's call timeout). */
    statementTimeoutMs: data.statement_timeout === undefined ? undefined : parseDurationMs(data.statement_timeout),
    /** Longest text cell returned; longer cells are cut, with a notice. */
    maxCellChars: data.max_cell_chars,
    /** Compute query results only up to the row cap (a LIMIT in the statement); paging stops at the cap. */
    rowCapPushdown: data.row_cap_pushdown,
    /** How query results are returned (default both). */
    resultForm: data.result_form as ResultForm | undefined,
    rate: data.rate === undefined ? undefined : toRate(data.rate),
    quota:
      quota === undefined
        ? undefined
        : ({ windowMs: parseDurationMs(quota.window) ?? 0, queries: quota.queries, rows: quota.rows, bytes: quota.bytes, scanBytes: quota.scan_bytes } as QuotaSettings),
  };
}

function toProfileEntry(data: ProfileFileData) {
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
export function toHubConfig(data: ConfigFileData) {
  const hub = data.hub ?? {};
  const profiles: Record<string, ReturnType<typeof toProfileEntry>> = {};
  for (const [name, profile] of Object.entries(data.profiles ?? {})) profiles[name] = toProfileEntry(profile);
  const roles: Record<string, RoleSettings> = {};
  for (const [name, role] of Object.entries(data.roles ?? {})) roles[name] = toRoleSettings(role);
  const limits = data.limits ?? {};
  const audit = data.audit ?? {};
  const breaker = data.breaker ?? {};
  return {
    hub: {
      maxLineBytes: hub.max_line_bytes ?? DEFAULT_HUB_SETTINGS.maxLineBytes,
      shutdownGraceMs: hub.shutdown_grace_ms ?? DEFAULT_HUB_SETTINGS.shutdownGraceMs,
      defaultProfile: hub.default_profile,
      callTimeoutMs: hub.call_timeout_ms ?? DEFAULT_HUB_SETTINGS.callTimeoutMs,
      maxRows: hub.max_rows ?? DEFAULT_HUB_SETTINGS.maxRows,
      maxResultBytes: hub.max_result_bytes ?? DEFAULT_HUB_SETTINGS.maxResultBytes,
      ...(hub.metrics_listen === undefined ? {} : { metricsListen: hub.metrics_listen }),
      ...(hub.http_listen === undefined ? {} : { httpListen: hub.http_listen }),
      httpAuth: hub.http_auth ?? DEFAULT_HUB_SETTINGS.httpAuth,
      httpEngine: hub.http_engine ?? DEFAULT_HUB_SETTINGS.httpEngine,
      httpAllowedOrigins: hub.http_allowed_origins ?? DEFAULT_HUB_SETTINGS.httpAllowedOrigins,
      httpHosts: hub.http_hosts ?? DEFAULT_HUB_SETTINGS.httpHosts,
      ...(hub.redis_url === undefined ? {} : { redisUrl: hub.redis_url }),
      teamNamespace: hub.team_namespace ?? DEFAULT_HUB_SETTINGS.teamNamespace,
      ...(hub.otel_endpoint === undefined ? {} : { otelEndpoint: hub.otel_endpoint }),
      otelHeaders: hub.otel_headers ?? DEFAULT_HUB_SETTINGS.otelHeaders,
      ...(hub.otel_service_name === undefined ? {} : { otelServiceName: hub.otel_service_name }),
    },
    profiles,
    tools: Object.fromEntries(
      Object.entries(data.tools ?? {}).map(([name, t]) => [
        name,
        { description: t.description, sql: t.sql, params: (t.params ?? []).map((p) => ({ name: p.name, type: p.type, description: p.description, required: p.required ?? true })) },
      ]),
    ),
    /** defaultRole: the role for sessions no role matches; undefined = the built-in read-only default. */
    policy: { defaultRole: data.policy?.default_role },
    roles,
    limits: {
      maxConcurrentQueries: limits.max_concurrent_queries ?? DEFAULT_LIMIT_SETTINGS.maxConcurrentQueries,
      maxQueued: limits.max_queued ?? DEFAULT_LIMIT_SETTINGS.maxQueued,
      maxQueuedPerSession: limits.max_queued_per_session ?? DEFAULT_LIMIT_SETTINGS.maxQueuedPerSession,
      ...(limits.team_max_concurrent_queries === undefined ? {} : { teamMaxConcurrentQueries: limits.team_max_concurrent_queries }),
      retryAttempts: limits.retry_attempts ?? DEFAULT_LIMIT_SETTINGS.retryAttempts,
      retryBudgetMs: limits.retry_budget_ms ?? DEFAULT_LIMIT_SETTINGS.retryBudgetMs,
      defaultRate: limits.rate === undefined ? { ...DEFAULT_LIMIT_SETTINGS.defaultRate } : toRate(limits.rate),
      metadataCacheTtlMs: limits.metadata_cache_ttl === undefined ? DEFAULT_LIMIT_SETTINGS.metadataCacheTtlMs : limits.metadata_cache_ttl === '0s' ? 0 : parseDurationMs(limits.metadata_cache_ttl)!,
    },
    audit: {
      enabled: audit.enabled ?? DEFAULT_AUDIT_SETTINGS.enabled,
      dir: audit.dir ?? DEFAULT_AUDIT_SETTINGS.dir,
      fsync: audit.fsync ?? DEFAULT_AUDIT_SETTINGS.fsync,
      fsyncIntervalMs: audit.fsync_interval_ms ?? DEFAULT_AUDIT_SETTINGS.fsyncIntervalMs,
      maxFileBytes: audit.max_file_mb === undefined ? DEFAULT_AUDIT_SETTINGS.maxFileBytes : Math.max(1, Math.round(audit.max_file_mb * MIB)),
      maxFiles: audit.max_files ?? DEFAULT_AUDIT_SETTINGS.maxFiles,
    },
    breaker: {
      errorThresholdPercentage: breaker.failure_threshold_percent ?? DEFAULT_BREAKER_SETTINGS.errorThresholdPercentage,
      volumeThreshold: breaker.volume_threshold ?? DEFAULT_BREAKER_SETTINGS.volumeThreshold,
      resetTimeoutMs: breaker.reset_timeout_ms ?? DEFAULT_BREAKER_SETTINGS.resetTimeoutMs,
    },
  };
}

