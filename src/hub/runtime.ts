/**
 * Builds what a hub (or `snowmux stdio`) serves with, from the home and the config file: the warehouse
 * registry, the governance rules, the audit log and the call sinks. One place, so the hub and the
 * in-process server behave the same.
 */
import { auditDirTrust } from './audit-dir-trust.js';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { AuditLog, type HolderProcesses } from './audit/audit-log.js';
import { liveSnowmuxProcess } from '../wire/audit-claim.js';
import { processStartTicks } from '../wire/process-alive.js';
import { hubLifecycleEntry, type AuditEntry } from './audit/audit-record.js';
import { AUDIT_MAX_TEXT_CHARS, boundObject, boundSql, redactValue, type TextScrubber } from './audit/audit-redact.js';
import { KnownSecrets } from './audit/known-secrets.js';
import { loadConfigFile, type LoadedConfig } from './config/config-file.js';
import { KNOWN_KEYS } from './config/config-schema.js';
import { loadSnowflakeConnections } from './config/connections-toml.js';
import type { ProfileSettings } from './config/profile-settings.js';
import { profileNameFromEnv, SNOWMUX_PROFILE_ENV } from './config/env-profile.js';
import { AuditSink } from './governance/audit-sink.js';
import { hideSqlCredentials } from './guard/sql/sql-credentials.js';
import { Governance } from './governance/governance.js';
import type { AuthRefusal } from './keys/api-keys.js';
import type { Logger } from './observe/logger.js';
import { startTracing } from './observe/start-tracing.js';
import type { CallTracer, TracingSettings } from './observe/tracing.js';
import type { Policy } from './policy/policy.js';
import type { TeamTool } from './tools/team-tools.js';
import { checkHubConfig, rolesNeedingRestart } from './config-check.js';
import { hubPlace, snowmuxCommand } from '../snowmux-command.js';
import type { CallRecord, CallSink } from './observe/call-record.js';
import { DEFAULT_LIMITS, type HubLimits } from './pipeline/hub-limits.js';
import { WarehouseRegistry } from './warehouse/warehouse-registry.js';
import { configSecrets, processSecrets } from './settings-secrets.js';
import { VERSION } from '../version.js';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../errors.js';

export interface RuntimeOptions {
  home: string;
  logger: Logger;
  /** --config PATH */
  configPath?: string | undefined;
  /** --profile NAME */
  profileName?: string | undefined;
  /** Non-secret profile settings given as flags. */
  flags?: Partial<ProfileSettings> | undefined;
  env?: NodeJS.ProcessEnv;
  /** `--http ADDR` (overrides hub.http_listen), for the config check. */
  httpListen?: string | undefined;
  /** Where the audit log goes unless the config says otherwise; `false` disables it. */
  audit?: boolean;
  /**
   * A directory under the audit dir for this process's own chain: a process that is not the home's hub
   * (`snowmux stdio`, several of which may run beside a hub) must not append to the hub's chain, which has
   * one writer, but its calls are audited all the same.
   */
  auditSubdir?: string;
  /** Whether this process still holds the home's audit-writer claim (a hub; see AuditLogOptions.stillWriter). */
  auditStillWriter?: () => boolean;
  /**
   * Keep who ran which query (result-owners.jsonl) and quota usage (quota-usage.json) in the home, across
   * restarts: the home's hub does; a `snowmux stdio` process (one identity, beside the hub) keeps them in memory.
   */
  keepHubState?: boolean;
  /** The hub's known secrets (shared with the logger, which scrubs hub.log with them); created here when absent. */
  secrets?: KnownSecrets;
}

export interface HubRuntime {
  config: LoadedConfig;
  warehouses: WarehouseRegistry;
  governance: Governance;
  /** Call sinks (the audit log once opened). */
  sinks: CallSink[];
  /**
   * Opens the audit log. Call only once this process owns the home (after the hub bound its socket) and
   * holds the audit-writer claim; `hold`: another hub still writes the chain, so records go to this hub's
   * side file until claimAudit().
   */
  openAudit(options?: { hold?: boolean }): Promise<void>;
  /**
   * Throws what openAudit({ hold: true }) would (an unsafe or unwritable audit directory) without opening
   * anything: `hub --replace` asks before it takes the socket over. Nothing to check when audit is off.
   */
  checkAudit(): Promise<void>;
  /** This hub took the audit-writer claim: what the log held is chained in, and it writes on. */
  claimAudit(): Promise<void>;
  /** The live hub (pid) ahead of this one in the hand-over: holding records in an older side file. */
  auditHeldAhead(): Promise<number | null>;
  /** The held side file and how many records it holds, while the log waits for the claim. */
  auditHolding(): { file: string; records: number } | undefined;
  /**
   * The audit log waits for the previous hub (pid) to finish writing it, at most until `until` (ms since the
   * epoch): status says so, not "disabled". claimAudit ends the wait.
   */
  awaitAuditHandover(pid: number, until: number): void;
  /** Audits a refused HTTP authentication (kind `auth_refused`); dropped while the log is not open. */
  auditAuthRefusal(refusal: AuthRefusal): void;
  /** Every audit record written from now on (and once the log opens) also goes to `copy` (a team's stream). */
  copyAuditTo(copy: (record: { seq: number; line: string }) => void): void;
  /** `observe` learns how long each call's audit record took to be written (for metrics). */
  timeAuditWrites(observe: (seconds: number) => void): void;
  limits: HubLimits;
  maxLineBytes: number;
  shutdownGraceMs: number;
  statusSections(): Record<string, unknown>;
  close(reason: string): Promise<void>;
  /** Every finished call passes this before any sink (status, audit, metrics) sees it. */
  scrubCall(call: CallRecord): CallRecord;
  /** A session closed: the secrets its own settings brought are forgotten (after its last records). */
  sessionEnded(sessionId: string): void;
  /** [tools.<name>] from config.toml, checked. */
  teamTools: readonly TeamTool[];
  /**
   * Re-reads the config file: roles and the limits that can change under running sessions apply at once;
   * what cannot is listed as needing a restart. An invalid file throws (CONFIG_INVALID) and nothing changes.
   */
  reload(): ReloadResult;
  /**
   * What is wrong but does not stop the hub: the config file's warnings and the default profile's (one
   * that cannot be used at all, too). Printed where the hub was started; `snowmux status` shows them.
   */
  warnings(): string[];
  /** Adds a warning that stays for this hub's life (status, as the config's do). */
  addWarning(warning: string): void;
  /** The audit directory this hub writes its chain in, or null when audit is off. */
  auditDir(): string | null;
  secrets: KnownSecrets;
  /** This process's id among a team hub's replicas (hub.redis_url set); undefined otherwise. */
  replicaId: string | undefined;
  /**
   * A short hash of the rules this hub applies now (roles, policy, tools, the default rate and the team's query
   * cap; after each reload): a team's
   * replicas compare theirs, so replicas left on different configs are said rather than silently each
   * applying its own.
   */
  policyFingerprint(): string;
  /** Exports call spans over OTLP when hub.otel_endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) is set; undefined otherwise. */
  tracer: CallTracer | undefined;
}

export interface ReloadResult {
  /** Sections that changed and now apply. */
  applied: string[];
  /** Sections that changed but apply only after a restart (`snowmux hub --replace`). */
  needsRestart: string[];
  at: string;
  /**
   * Why Snowflake profiles of the hub's own cannot be used as the files are now (a key or token file gone,
   * unreadable or untrusted): applied all the same, but their next login fails. Names settings and paths, no secret.
   */
  unusable?: string[] | undefined;
  /**
   * What is wrong with the file just loaded but does not stop it (another owner, a group that may write it, a
   * secret written in clear): said to whoever reloads, as the hub's start says it on its terminal.
   */
  warnings?: string[] | undefined;
  /** The file the hub reads, so the advice to restart it names that file (snowmuxCommand). */
  configFile?: string | undefined;
}

/**
 * A file the running config came from that is now gone or empty: reloading it as the built-in defaults would
 * drop every role and deny rule without a word (a failed copy, a config tool that truncates first). Refused;
 * running on the defaults on purpose takes a file that says so (a comment), or a restart.
 */
function refuseVanishedConfig(running: LoadedConfig, next: LoadedConfig): void {
  if (!running.exists || (next.exists && next.blank !== true)) return;
  throw new SnowmuxError(
    'CONFIG_INVALID',
    `${next.shownPath} is ${next.exists ? 'empty' : 'gone'} since the hub read it; reloading would drop every role and rule it held and serve the built-in defaults, so the reload is refused and the running configuration stays. Put the file back; to run on the defaults on purpose, leave a file holding only a comment, or restart the hub.`,
  );
}

export async function createRuntime(opts: RuntimeOptions): Promise<HubRuntime> {
  const env = opts.env ?? process.env;
  const config = loadConfigFile({ home: opts.home, explicitPath: opts.configPath, env });
  const hub = config.config.hub;
  const profileEnv = profileNameFromEnv(env);
  const profile = opts.profileName ? { name: opts.profileName, from: '--profile' } : profileEnv !== undefined ? { name: profileEnv, from: SNOWMUX_PROFILE_ENV } : undefined;
  const { policy, teamTools } = checkHubConfig(config, { env, httpListen: opts.httpListen, profile });
  // After the check: it adds warnings of its own (secrets a setting would send in clear).
  for (const warning of config.warnings) opts.logger.warn({ warning }, 'config warning');
  // The OpenTelemetry SDK is loaded only here, only when an endpoint is configured.
  const tracing = tracingSettings(hub, env);
  const tracer = tracing ? await startTracing(tracing, opts.logger) : undefined;
  const governance = new Governance({
    policy,
    logger: opts.logger,
    limits: config.config.limits,
    breaker: config.config.breaker,
    callTimeoutMs: config.config.hub.callTimeoutMs,
    ownersHome: opts.keepHubState === true ? opts.home : undefined,
    quotaHome: opts.keepHubState === true ? opts.home : undefined,
    teamReplica: hub.redisUrl !== undefined,
  });
  let audit: AuditLog | null = null;
  // The hub's own secrets: the config file's, then those of profiles its own settings resolve to. A session's
  // forwarded SNOWFLAKE_* settings bring secrets that are that session's alone (known-secrets.ts).
  const secrets = opts.secrets ?? new KnownSecrets();
  secrets.hub.add([...configSecrets(config), ...processSecrets(env)]);
  /** Secrets of the hub's own found after the audit log opened: it is told them too. */
  const learnHubSecrets = (found: readonly string[]): void => {
    const fresh = found.filter((s) => !secrets.hub.knows(s));
    secrets.hub.add(fresh);
    if (fresh.length > 0) (audit as AuditLog | null)?.addSecrets(fresh);
  };
  const warehouses = new WarehouseRegistry({
    home: opts.home,
    logger: opts.logger,
    env,
    config,
    flags: opts.flags,
    profileName: opts.profileName,
    onSecrets: (found, sessionId) => {
      if (sessionId !== undefined) secrets.addSession(sessionId, found);
      else learnHubSecrets(found);
    },
    onRetired: (warehouse) => governance.forgetWarehouse(warehouse),
  });

  const auditConfig = config.config.audit;
  // This process's chain: the hub's, or (auditSubdir) a stdio process's own under it.
  const auditDir = resolve(opts.home, auditConfig.dir, opts.auditSubdir ?? '');
  // A replica of a team hub names itself in its registry entry and in every audit record it writes.
  const replicaId = config.config.hub.redisUrl === undefined ? undefined : `${hostname()}:${process.pid}`;
  const withReplica = (entry: AuditEntry): AuditEntry => (replicaId === undefined ? entry : { ...entry, replica: replicaId });
  const auditSink: CallSink = {
    record: (call) => auditWriter?.record(call),
    recordStarted: async (call) => auditWriter?.recordStarted(call),
    unavailable: () => auditWriter?.unavailable(),
  };
  let auditWriter: AuditSink | null = null;
  const auditCopies: ((record: { seq: number; line: string }) => void)[] = [];
  /** The first records written, for a copy attached after them (see openAudit). */
  const earlyRecords: { seq: number; line: string }[] = [];
  let stopKeeping = (): void => undefined;
  let observeAuditWrite: ((seconds: number) => void) | undefined;
  // Lifecycle records (refused HTTP authentications, reloads) that come before the log is opened (or held:
  // a take-over's side file) wait here, in order, and are written right after hub_start. Bounded: beyond
  // MAX_HELD_LIFECYCLE only the count of what was left out is kept (in hub_start, and logged).
  const heldLifecycle: AuditEntry[] = [];
  let auditHandover: { pid: number; since: string; until: string } | null = null;
  let lifecycleLeftOut = 0;
  const auditWillOpen = opts.audit !== false && auditConfig.enabled;
  const appendLifecycle = (entry: AuditEntry): void => {
    const log = audit as AuditLog | null;
    if (log) {
      void log.append(entry);
      return;
    }
    if (!auditWillOpen) return;
    if (heldLifecycle.length >= MAX_HELD_LIFECYCLE) {
      lifecycleLeftOut += 1;
      return;
    }
    // The log stamps a record when it writes it: say when this one happened.
    heldLifecycle.push({ ...entry, detail: { ...entry.detail, heldFrom: new Date().toISOString() } });
  };
  const logOpenWarnings = (log: AuditLog) => {
    for (const warning of log.openReport.warnings ?? []) opts.logger.warn({ warning }, 'audit log');
  };
  const auditOptions = () => ({
    dir: auditDir,
    root: opts.home,
    fsync: auditConfig.fsync,
    fsyncIntervalMs: auditConfig.fsyncIntervalMs,
    maxFileBytes: auditConfig.maxFileBytes,
    maxFiles: auditConfig.maxFiles > 0 ? auditConfig.maxFiles : undefined,
    hubVersion: VERSION,
    secrets: secrets.hub.list(),
    ...(opts.auditStillWriter ? { stillWriter: opts.auditStillWriter } : {}),
    trustPath: auditDirTrust,
    processes: HUB_PROCESSES,
  });
  const openAudit = async (how?: { hold?: boolean }) => {
    if (audit || opts.audit === false || !auditConfig.enabled) return;
    audit = await (how?.hold ? AuditLog.hold : AuditLog.open).call(AuditLog, auditOptions());
    logOpenWarnings(audit);
    audit.on('error', (err: Error) => opts.logger.error({ err: err.message }, 'audit log error'));
    for (const copy of auditCopies) audit.on('written', copy);
    // A copy attached later (the team's stream, once Redis is connected) gets the records written before it,
    // hub_start first: it was missing from the stream on every start, and nothing declared the gap.
    // Kept only where a copy is configured ([audit] redis_stream), and only until it attaches.
    if (auditConfig.redisStream !== undefined && auditCopies.length === 0) {
      const keep = (record: { seq: number; line: string }) => {
        if (earlyRecords.length < MAX_EARLY_RECORDS) earlyRecords.push(record);
      };
      audit.on('written', keep);
      stopKeeping = () => audit?.off('written', keep);
    }
    // hub_start says how many records waited for the log (they follow it) and how many did not fit.
    const held = heldLifecycle.splice(0);
    const waited = held.length > 0 ? { heldRecords: held.length } : {};
    const leftOut = lifecycleLeftOut > 0 ? { heldRecordsLeftOut: lifecycleLeftOut } : {};
    if (lifecycleLeftOut > 0) opts.logger.warn({ leftOut: lifecycleLeftOut }, 'audit records left out while the audit log was not open yet');
    lifecycleLeftOut = 0;
    void audit.append(withReplica(hubLifecycleEntry('hub_start', { version: VERSION, detail: { pid: process.pid, ...waited, ...leftOut } })));
    for (const entry of held) void audit.append(entry);
    auditWriter = new AuditSink(audit, opts.logger, replicaId, { onFailure: auditConfig.onFailure });
    auditWriter.observeWrite = observeAuditWrite;
  };

  // What the hub runs: the file as started, advanced by each reload only in the parts it applies.
  let current = config.config;
  // The config file's warnings (a file others can read…) as of the last load, and the default profile's.
  let configWarnings = config.warnings;
  const lifeWarnings: string[] = [];
  const warnings = (): string[] => [...configWarnings, ...warehouses.startupWarnings(), ...lifeWarnings];
  let lastReload: ReloadResult | null = null;
  // What runs (the file as last read) and, when the file on disk was refused since, why: status shows both,
  // so whoever sent SIGHUP or ran `systemctl reload` sees the refusal where they look.
  let running: LoadedConfig = config;
  let refusedReload: { at: string; reason: string } | null = null;
  // Whether Snowflake's connections.toml could be read as the hub runs it: a reload makes every session read
  // it again, so one that broke since (a half-saved edit, a chmod 666) is refused like config.toml instead of
  // reported "nothing changed" while every call then fails. One broken before is not the reload's doing.
  let connectionsReadable = snowflakeFilesProblem(env) === undefined;
  const reload = (): ReloadResult => {
    let next: LoadedConfig;
    let policy: Policy;
    try {
      next = loadConfigFile({ home: opts.home, explicitPath: opts.configPath, env });
      // The file's secrets are known before anything can quote them (a refused reload's reason, a later
      // statement): what needs a restart to apply is in the file, the hub holds it all the same.
      learnHubSecrets(configSecrets(next));
      refuseVanishedConfig(running, next);
      policy = checkHubConfig(next, { env, httpListen: opts.httpListen, profile }).policy;
      const connectionsProblem = snowflakeFilesProblem(env);
      if (connectionsProblem !== undefined && connectionsReadable) {
        throw new SnowmuxError(connectionsProblem.code, `${connectionsProblem.message}\nThe reload is refused and the running configuration stays: every session would read this file again at its next call. Fix it, then reload.`);
      }
      connectionsReadable = connectionsProblem === undefined;
      const waiting = rolesNeedingRestart(next.config, current, next.shownPath, snowmuxCommand('hub --replace', hubPlace(opts.home, next.path)));
      if (waiting.length > 0) throw new SnowmuxError('CONFIG_INVALID', waiting.join('\n'), { details: { path: next.shownPath } });
    } catch (err) {
      refusedReload = { at: new Date().toISOString(), reason: errorMessage(err).slice(0, 2000) };
      opts.logger.warn({ err: errorMessage(err) }, 'config reload refused; the running config stays');
      // Audited like an applied one: the file on disk is not what runs. Config errors name keys, never
      // values (a secret's value is shown as "value hidden"), and the audit masks known secrets anyway.
      const code = isSnowmuxError(err) ? err.code : 'CONFIG_INVALID';
      appendLifecycle(withReplica(hubLifecycleEntry('config_reload', { version: VERSION, outcome: 'refused', errorCode: code, detail: { reason: errorMessage(err).slice(0, 2000) } })));
      throw err;
    }
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const applied: string[] = [];
    const needsRestart: string[] = [];
    if (!same(current.roles, next.config.roles) || !same(current.policy, next.config.policy)) applied.push('roles');
    const { defaultRate, retryAttempts, retryBudgetMs, ...fixedLimits } = next.config.limits;
    const { defaultRate: oldRate, retryAttempts: oldAttempts, retryBudgetMs: oldBudget, ...oldFixed } = current.limits;
    if (!same({ defaultRate, retryAttempts, retryBudgetMs }, { defaultRate: oldRate, retryAttempts: oldAttempts, retryBudgetMs: oldBudget })) applied.push('limits (rate, retries)');
    needsRestart.push(...changedKeys('limits', oldFixed, fixedLimits));
    for (const section of ['hub', 'audit', 'breaker'] as const) needsRestart.push(...changedKeys(section, current[section], next.config[section]));
    for (const section of ['profiles', 'tools'] as const) needsRestart.push(...changedEntries(section, current[section], next.config[section]));
    governance.reconfigure(policy, { defaultRate, retryAttempts, retryBudgetMs });
    // connections.toml and key/token files are read again by every running session at its next call; the
    // answer names the profiles whose credentials changed (a password fixed there applies without a restart).
    const { credentials, logins, unusable } = warehouses.refreshCredentials();
    if (credentials.length > 0) applied.push(`credentials of Snowflake profile${credentials.length === 1 ? '' : 's'} ${credentials.join(', ')}`);
    applied.push(...logins);
    // Only what was applied advances: the restart-only sections stay as the hub runs them, so a later reload
    // (the next roles edit, a second SIGHUP) still lists them until `hub --replace`. Taking the whole file
    // here made the second reload report nothing pending while the hub kept running the old settings.
    current = { ...current, roles: next.config.roles, policy: next.config.policy, limits: { ...current.limits, defaultRate, retryAttempts, retryBudgetMs } };
    running = next;
    refusedReload = null;
    configWarnings = next.warnings;
    for (const warning of next.warnings) opts.logger.warn({ warning }, 'config warning');
    // Scrubbed like every message the hub shows: a setting's value is never part of these, a known secret least of all.
    const scrubbed = unusable.map((u) => secrets.forRecord(undefined).scrub(u));
    lastReload = { applied, needsRestart, ...(scrubbed.length > 0 ? { unusable: scrubbed } : {}), at: new Date().toISOString() };
    opts.logger.info(lastReload, 'config reloaded');
    for (const u of scrubbed) opts.logger.warn({ warning: u }, 'Snowflake profile cannot be used after the reload');
    appendLifecycle(withReplica(hubLifecycleEntry('config_reload', { version: VERSION, detail: { applied, needsRestart, file: next.shownPath, ...(scrubbed.length > 0 ? { unusable: scrubbed } : {}) } })));
    return { ...lastReload, ...(next.warnings.length > 0 ? { warnings: next.warnings } : {}), configFile: next.path };
  };

  return {
    config,
    teamTools,
    reload,
    warnings,
    addWarning: (warning) => void lifeWarnings.push(warning),
    auditDir: () => (opts.audit === false || !auditConfig.enabled ? null : auditDir),
    warehouses,
    governance,
    sinks: [auditSink],
    replicaId,
    // The rules that mean one thing team-wide; the per-replica bounds (max_concurrent_queries, queues, caches)
    // may differ by machine on purpose.
    policyFingerprint: () =>
      createHash('sha256')
        .update(JSON.stringify({ roles: current.roles, policy: current.policy, tools: current.tools, rate: current.limits.defaultRate, teamMaxConcurrentQueries: current.limits.teamMaxConcurrentQueries ?? null }))
        .digest('hex')
        .slice(0, 12),
    tracer,
    secrets,
    scrubCall: (call) => scrubCallRecord(call, secrets),
    sessionEnded: (sessionId) => secrets.sessionEnded(sessionId),
    openAudit,
    async checkAudit() {
      if (audit || opts.audit === false || !auditConfig.enabled) return;
      await AuditLog.preflight(auditOptions());
    },
    async claimAudit() {
      const log = audit as AuditLog | null;
      if (!log) return;
      // Whether it opens or fails, the wait for the previous writer is over.
      auditHandover = null;
      await log.claim();
      logOpenWarnings(log);
    },
    auditHeldAhead: () => AuditLog.heldAhead(auditDir, (audit as AuditLog | null)?.heldFile, HUB_PROCESSES),
    auditHolding: () => (audit as AuditLog | null)?.stats().holding,
    awaitAuditHandover(pid, until) {
      if ((audit as AuditLog | null)?.isHolding) auditHandover = { pid, since: auditHandover?.pid === pid ? auditHandover.since : new Date().toISOString(), until: new Date(until).toISOString() };
    },
    auditAuthRefusal(refusal) {
      const { identity, ...detail } = refusal;
      appendLifecycle(withReplica(hubLifecycleEntry('auth_refused', { version: VERSION, identity: identity ?? '(unauthenticated)', outcome: 'refused', errorCode: refusal.reason === 'throttled' ? 'RATE_LIMITED' : 'HTTP_UNAUTHORIZED', detail })));
    },
    timeAuditWrites(observe) {
      observeAuditWrite = observe;
      if (auditWriter) auditWriter.observeWrite = observe;
    },
    copyAuditTo(copy) {
      auditCopies.push(copy);
      stopKeeping();
      for (const record of earlyRecords.splice(0)) copy(record);
      (audit as AuditLog | null)?.on('written', copy);
    },
    limits: {
      ...DEFAULT_LIMITS,
      defaultMaxRows: hub.maxRows,
      maxResultBytes: hub.maxResultBytes,
      callTimeoutMs: hub.callTimeoutMs,
    },
    maxLineBytes: hub.maxLineBytes,
    shutdownGraceMs: hub.shutdownGraceMs,
    statusSections: () => ({
      governance: governance.snapshot(),
      audit: audit
        ? auditHandover && (audit as AuditLog).isHolding
          ? { enabled: true, open: false, dir: auditDir, waitingForPid: auditHandover.pid, waitingSince: auditHandover.since, waitingUntil: auditHandover.until, heldRecords: (audit as AuditLog).stats().holding?.records ?? 0, heldFile: (audit as AuditLog).heldFile }
          : { dir: auditDir, onFailure: auditConfig.onFailure, ...(audit as AuditLog).stats() }
        : { enabled: false },
      config: { path: running.shownPath, exists: running.exists, lastReload, ...(refusedReload ? { refusedReload } : {}), ...(warnings().length > 0 ? { warnings: warnings() } : {}) },
      ...(tracer ? { traces: tracer.snapshot() } : {}),
    }),
    async close(reason: string) {
      governance.close();
      await warehouses.close();
      const log = audit as AuditLog | null;
      if (log) {
        await log.append(withReplica(hubLifecycleEntry('hub_stop', { version: VERSION, detail: { pid: process.pid, reason } })));
        await log.close();
      }
      // Last: the spans of the calls that just finished (a stop waits a bounded time for the collector).
      await tracer?.shutdown();
    },
  };
}

/** Why Snowflake's connections.toml (or config.toml beside it) cannot be used, or undefined when it can. */
function snowflakeFilesProblem(env: NodeJS.ProcessEnv): SnowmuxError | undefined {
  try {
    loadSnowflakeConnections({ env });
    return undefined;
  } catch (err) {
    if (isSnowmuxError(err)) return err;
    throw err;
  }
}

/** Side files of the audit hand-over name their hub by pid and start time: a reused pid is not that hub. */
const HUB_PROCESSES: HolderProcesses = { startTicks: processStartTicks, live: ({ pid, started }) => liveSnowmuxProcess(pid, started) };

/** Records written before a copy attaches that it is given (hub_start and what waited for the log). */
const MAX_EARLY_RECORDS = 200;

/** Lifecycle records held while the audit log is not open yet (see appendLifecycle). */
const MAX_HELD_LIFECYCLE = 2_000;

/**
 * Where call spans go: hub.otel_endpoint, else the hub process's OTEL_EXPORTER_OTLP_ENDPOINT (a hub a shim
 * started has a minimal environment, so the config key is the dependable switch). Undefined: tracing off.
 */
function tracingSettings(hub: LoadedConfig['config']['hub'], env: NodeJS.ProcessEnv): TracingSettings | undefined {
  const endpoint = hub.otelEndpoint ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined);
  if (endpoint === undefined) return undefined;
  return { endpoint, headers: hub.otelHeaders, serviceName: hub.otelServiceName ?? (env.OTEL_SERVICE_NAME || 'snowmux') };
}

/**
 * The call as status, history, logs and audit may show it: known secrets out of SQL, secret-looking request
 * fields redacted, then SQL and request bounded as the audit keeps them (a refused 4 MiB statement is kept as
 * its prefix with its length and sha256, in the audit and in status's recent calls alike). Its caller's own
 * view (`callerView`) leaves the hub's secrets in: the caller wrote that text, and the scrub must not tell it
 * which of its strings are someone else's secret.
 */
function scrubCallRecord(call: CallRecord, secrets: KnownSecrets): CallRecord {
  const kept = scrubbedText(call, secrets.forRecord(call.sessionId));
  // With no hub-wide secret, both views are the same text.
  if (secrets.hub.size === 0) return { ...call, ...kept };
  const own = scrubbedText(call, secrets.forCaller(call.sessionId));
  const same = own.sql === kept.sql && JSON.stringify(own.request) === JSON.stringify(kept.request);
  return { ...call, ...kept, callerView: same ? undefined : own };
}

function scrubbedText(call: CallRecord, scrubber: TextScrubber): NonNullable<CallRecord['callerView']> {
  // Credentials typed into the SQL (PASSWORD = '…', CREDENTIALS = (…)) go first, by the lexer's reading:
  // whoever reads a copy (audit, status, query_history) must not get them, the caller's own view included.
  const sql = call.sql === null ? null : boundSql(scrubber.scrub(hideSqlCredentials(call.sql, AUDIT_MAX_TEXT_CHARS)), undefined);
  const request = call.request === undefined ? undefined : boundObject(redactValue(call.request, scrubber) as Record<string, unknown>, undefined);
  return { sql: sql?.sql ?? null, sqlTruncated: sql?.truncated, request: request?.value, requestTruncated: request?.truncated };
}

/** Which config-file table a section's keys are checked against (KNOWN_KEYS). */
const KEY_TABLES = { hub: 'hub', limits: 'limits', audit: 'audit', breaker: 'breaker' } as const;

/**
 * The keys of a settings section that differ, as the file spells them (`hub.max_rows`,
 * `limits.metadata_cache_ttl`): a reload's list of what waits for a restart names what the admin edited,
 * not a whole section. A setting whose file key cannot be told from its name is named by its section.
 */
function changedKeys(section: keyof typeof KEY_TABLES, before: object, after: object): string[] {
  return changedFileKeys(section, KNOWN_KEYS[KEY_TABLES[section]] ?? [], before, after);
}

/** The keys that differ between two settings objects, as `${label}.<file key>` (else `label`). */
function changedFileKeys(label: string, known: readonly string[], before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const names = new Set<string>();
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    const fileKey = [snake, snake.replace(/_ms$/, ''), snake.replace(/_ms$/, '_s')].find((k) => known.includes(k));
    names.add(fileKey === undefined ? label : `${label}.${fileKey}`);
  }
  return [...names];
}

/**
 * The named tables of a section (`profiles.dev`, `tools.revenue`) that were added or removed, and the keys
 * of a profile that changed (`profiles.dev.account`): which account or host a profile logs in to is said
 * like any other key, not hidden in its table's name.
 */
function changedEntries(section: 'profiles' | 'tools', before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].flatMap((name) => {
    const was = before[name];
    const now = after[name];
    if (JSON.stringify(was) === JSON.stringify(now)) return [];
    const label = `${section}.${name}`;
    if (section !== 'profiles' || was === undefined || now === undefined) return [label];
    return changedFileKeys(label, KNOWN_KEYS.profile ?? [], was as object, now as object);
  });
}
