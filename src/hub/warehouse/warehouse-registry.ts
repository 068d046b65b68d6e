/**
 * Hands each session its warehouse. Warehouses are shared: every session whose settings resolve to the
 * same Snowflake connection identity (profile fingerprint) uses one pool and one login; different
 * settings get separate pools. With no Snowflake settings anywhere, the embedded DuckDB sample serves.
 *
 * A session's settings: the profile its role or its shim names, the `SNOWFLAKE_*` environment its shim
 * was launched with (over the same-user socket), then the hub's own flags, environment, config file and
 * ~/.snowflake/connections.toml — resolved by config/resolve-profile.ts with per-setting precedence.
 */
import { realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SnowmuxError, errorMessage, type ErrorCode } from '../../errors.js';
import { forwardedEnvironment } from '../../wire/forwarded-env.js';
import { relativePathVariables } from '../../wire/env-paths.js';
import { isSecretLookingKey } from '../audit/audit-redact.js';
import { shownText, shownUrl } from '../../shown-text.js';
import { hubPlace, snowmuxCommand, type HubPlace } from '../../snowmux-command.js';
import type { LoadedConfig } from '../config/config-file.js';
import type { SnowflakeProfile } from '../config/profile-types.js';
import type { ProfileSettings } from '../config/profile-settings.js';
import { SNOWMUX_PROFILE_ENV } from '../config/env-profile.js';
import { credentialsFingerprint, profileFingerprint, redactProfile, resolveProfile } from '../config/resolve-profile.js';
import type { Logger } from '../observe/logger.js';
import type { Warehouse, WarehouseInfo } from './types.js';
import { SAMPLE_DATABASE, SAMPLE_SCHEMA } from './duckdb/sample-names.js';
import { LOGIN_RETRY_AFTER_MS, failureNow, loginRefusedWaitMs, warehouseProblem, type LoginFailure } from './warehouse-problem.js';
import { driverFiles } from './snowflake/driver-log-config.js';
import type { SfConnectionOptions } from './snowflake/sdk-types.js';
import { warehouseId } from './warehouse-id.js';
import { profileContextName } from '../names/statement-context.js';
import { knownSessionNames, sessionNamesKey, type SessionNames } from '../names/session-names.js';

/**
 * What the registry needs of a caller (a session): its own settings. Only the identity of the object
 * matters beyond that: warehouses are cached per caller for as long as it lives (a WeakMap key).
 */
export interface WarehouseCaller {
  readonly facts: { readonly id: string; readonly profile?: string | undefined; readonly env?: Record<string, string> | undefined; readonly transport?: string; readonly config?: string | undefined };
  /** Ended: its pool may go once no other open session uses it (see retireUnused). Absent: never ends. */
  readonly closed?: boolean;
}

export interface WarehouseRegistryOptions {
  home: string;
  logger: Logger;
  /** The hub's own environment (process.env); a shim's SNOWFLAKE_* settings override it per session. */
  env?: NodeJS.ProcessEnv;
  /** Where Snowflake's own files are looked for (~/.snowflake…); the user's home unless a test says. */
  homedir?: string | undefined;
  /** The loaded snowmux config file. */
  config?: LoadedConfig | undefined;
  /** Profile settings given as hub CLI flags (highest precedence). */
  flags?: Partial<ProfileSettings> | undefined;
  /** Profile named by the hub's --profile. */
  profileName?: string | undefined;
  /** Where the embedded sample lives (default <home>/warehouse). */
  embeddedDir?: string | undefined;
  /** Open a Snowflake warehouse for a profile (tests inject driver options). */
  openSnowflake?: (profile: SnowflakeProfile) => Promise<Warehouse>;
  /** How long a failed login is reported as is before the next attempt (default 15 s). */
  loginRetryAfterMs?: number;
  /** How often a session's credential files are looked at again (default CREDENTIALS_CHECK_MS; 0: every call). */
  credentialsCheckMs?: number;
  /** Told of a warehouse retired (its settings superseded, or unused) once it has closed: what is kept per warehouse can go. */
  onRetired?: (warehouse: Warehouse) => void;
  /**
   * Told the secrets of every profile resolved (so logs and the audit log can scrub them from SQL text):
   * with the session's id when the session's own environment took part in resolving it (its values are
   * the client's to choose, so they are that session's to scrub, not the hub's), else without (the hub's own).
   */
  onSecrets?: (secrets: string[], sessionId?: string) => void;
  /** The monotonic clock pools' unused time is measured by (ms; performance.now unless a test says). */
  now?: () => number;
}


/**
 * Where a session's calls will run, known from its settings alone: the engine (and so the SQL dialect)
 * and the default context, without opening a pool or logging in. `open()` does that, and only the
 * pipeline's open-warehouse stage calls it — after the cheap rules passed.
 */
export interface WarehouseTarget {
  readonly kind: Warehouse['kind'];
  /** Profile name, or `embedded`. */
  readonly name: string;
  readonly defaultDatabase: string;
  readonly defaultSchema: string;
  /**
   * What resolving the session's own settings found wrong that the hub's default did not (an editor's
   * SNOWFLAKE_WAREHOUSE without an account, conflicting variables…): the editor is told with its results.
   */
  readonly notices?: readonly string[];
  /** Snowflake: how its sessions resolve names, as the last login of its user read it (undefined before one). */
  readonly sessionNames?: (() => SessionNames | undefined) | undefined;
  open(): Promise<Warehouse>;
}

/** The role a call runs under, as far as choosing its warehouse goes. */
export interface ProfileOfRole {
  readonly name: string;
  readonly profile?: string | undefined;
}

export interface WarehouseProvider {
  /**
   * Where this session's calls run; the profile of the session's role wins over the session's own.
   * Throws a config error for settings that cannot resolve (naming where the profile's name came from);
   * never opens a pool or logs in.
   */
  targetFor(session: WarehouseCaller, role?: ProfileOfRole): WarehouseTarget;
}

/** How often pools that no open session uses are looked for (see WarehouseRegistry.retireUnused). */
const UNUSED_SWEEP_MS = 30_000;

/** Snowflake settings that failed to open, kept for status (see WarehouseRegistry.failed). */
const MAX_FAILED_PROFILES = 32;

/** Distinct session settings whose credentials a reload compares (see WarehouseRegistry.credentialsSeen). */
const MAX_CREDENTIALS_SEEN = 64;

/**
 * Coarsest timestamp step of a file system snowmux may read credentials from (FAT: 2 s). A file changed
 * less than this before it was read could change again without its stamp showing it.
 */
const STAMP_GRANULARITY_MS = 2_000;
/** Distinct profile warnings remembered as logged (each is logged once; past this many, logged again). */
const MAX_LOGGED_WARNINGS = 256;

/**
 * A session's credential files are looked at (a stat each) at most this often: a token refreshed or a key
 * rotated reaches the next login within a second, and a stat per file on every call cost a SELECT 1 a
 * tenth of its hub time.
 */
const CREDENTIALS_CHECK_MS = 1_000;

/** A session's target and what it was resolved from (see targetFor). */
interface CachedTarget {
  target: WarehouseTarget;
  /** The pool it opens (profileFingerprint), or "embedded". */
  identity: string;
  /** credentialsFingerprint of its profile ("" for the embedded warehouse). */
  credentials: string;
  /** The files resolution read; `stamp` is what they looked like just after. */
  files: readonly string[];
  stamp: string;
  /** A file was written too recently for its stamp to show a second write: resolve again next call. */
  recheck: boolean;
  /** The registry's generation it was resolved in (a reload starts a new one). */
  generation: number;
  /** When the files were last seen unchanged (performance.now()). */
  checkedAt: number;
}

/** Who uses one pool (see WarehouseRegistry.retireUnused). */
interface PoolUse {
  /** Sessions whose settings resolved to it last; closed ones are dropped by the sweep. */
  readonly sessions: Set<WarehouseCaller>;
  /** Its profile's pool.idle_timeout_ms: how long it stays once no open session uses it. */
  idleMs: number;
  /** When the sweep first found no open session using it. */
  unusedSince: number | undefined;
}

/** One session's settings, as a reload resolves them again (see WarehouseRegistry.credentialsSeen). */
interface SeenSettings {
  name: string | undefined;
  sessionEnv: Record<string, string>;
  source: string | undefined;
  profileName: string;
  credentials: string;
  /** Which account and host it logs in to (loginOf), as of the last reload. */
  login: string;
}

/** What a reload names when it changes: the account and the host, never a credential. */
function loginOf(profile: SnowflakeProfile): string {
  const at = profile.accessUrl ?? profile.host;
  return `account ${profile.account}${at === undefined ? '' : ` at ${shownUrl(at)}`}`;
}

/** A target for a warehouse that is already open (tests, embedded callers). */
export function openedTarget(warehouse: Warehouse): WarehouseTarget {
  const info = warehouse.info();
  const opened = Promise.resolve(warehouse);
  return {
    kind: warehouse.kind,
    name: info.name,
    defaultDatabase: info.defaultDatabase,
    defaultSchema: info.defaultSchema,
    sessionNames: () => warehouse.sessionNames?.(),
    open: () => opened,
  };
}

export class WarehouseRegistry implements WarehouseProvider {
  private embedded: Promise<Warehouse> | null = null;
  /**
   * Why the embedded warehouse last failed to open or build, until it opens: status, doctor and /readyz show it
   * whole (the path and the fix), as the calls that meet it are told to look there.
   */
  private embeddedFailure: LoginFailure | undefined;
  private readonly pools = new Map<string, Promise<Warehouse>>();
  private readonly open = new Set<Warehouse>();
  /** Warehouses whose settings were superseded, until the statements running on them finished (see retire). */
  private readonly retiring = new Set<Warehouse>();
  /**
   * The hub's default pool as warmUp opened it, before a session may have used it: what it was resolved
   * from, so that a rotation before any session came still retires it (see recheckWarm).
   */
  private warm: { identity: string; files: readonly string[]; stamp: string } | undefined;
  /**
   * Snowflake warehouses that could not be opened (the login or the pool failed), by fingerprint, until one
   * of the same profile opens: status lists them with the reason (they are in no pool, so nowhere else).
   */
  private readonly failed = new Map<string, { profile: SnowflakeProfile; failure: LoginFailure }>();
  /** The secrets of the profiles the hub's own settings resolve to: masked from every problem shown in status. */
  private readonly secrets = new Set<string>();
  /** An open warehouse's own secrets, masked from its problems (a session's password is not the hub's to mask elsewhere). */
  private readonly secretsOf = new WeakMap<Warehouse, string[]>();
  private defaultWarnings: string[] = [];
  /**
   * Why the hub's default profile could not even be resolved (a key file that does not exist…): every
   * session without settings of its own fails with it, so status and /readyz count it as a warehouse
   * that cannot serve, not only as a warning.
   */
  private defaultUnusable: LoginFailure | undefined;
  /** Profile warnings already logged (MAX_LOGGED_WARNINGS). */
  private readonly loggedWarnings = new Set<string>();
  private readonly bySession = new WeakMap<WarehouseCaller, Map<string, CachedTarget>>();
  /** Bumped by refreshCredentials: every cached target is resolved again at its session's next call. */
  private generation = 0;
  /**
   * The credentials each distinct set of session settings resolved to as of the last reload (the newest
   * MAX_CREDENTIALS_SEEN): what reload compares to say whose credentials changed.
   */
  private readonly credentialsSeen = new Map<string, SeenSettings>();
  /** Who uses each Snowflake pool, by fingerprint, and the timer that retires those nobody does. */
  private readonly uses = new Map<string, PoolUse>();
  private unusedSweep: NodeJS.Timeout | undefined;
  private closed = false;
  private driverConfigProblemSaid = false;

  constructor(private readonly opts: WarehouseRegistryOptions) {}

  /** The profile the hub's own settings name (its --profile, else config.toml's hub.default_profile), if any. */
  private defaultProfileName(): string | undefined {
    return this.opts.profileName ?? this.opts.config?.config.hub.defaultProfile;
  }

  /** This hub's home and config file, for the commands its messages advise. */
  private get place(): HubPlace {
    return hubPlace(this.opts.home, this.opts.config?.path);
  }

  /**
   * Opens the hub's default warehouse ahead of the first call, so the first call is warm. Resolves when
   * it is open (with undefined), or when opening failed, with a warning for the hub's terminal: the failure
   * is logged and reported to the calls that need it, but a hub whose login failed at start said nothing
   * until an editor's call failed.
   */
  warmUp(): Promise<string | undefined> {
    let profile: SnowflakeProfile | null;
    const warnings: string[] = [];
    this.defaultWarnings = warnings;
    this.defaultUnusable = undefined;
    try {
      const resolved = this.resolve(undefined, {}, undefined, warnings);
      profile = resolved.profile;
      if (profile) this.warm = { identity: profileFingerprint(profile), files: resolved.files, stamp: stampOf(resolved.files).stamp };
    } catch (caught) {
      // Kept with the caller's copy too: a key holder's /status and /readyz show that one (status-view.ts).
      const err = hubSettingsError(caught, this.defaultProfileName());
      this.defaultUnusable = failureNow(err, 1);
      this.opts.logger.warn({ err: (err as Error).message }, 'default Snowflake profile is invalid; calls will report it');
      warnings.push(
        `the hub's default Snowflake profile cannot be used: ${(err as Error).message} ` +
          `Until it is fixed, every call from an editor that brings no Snowflake settings of its own fails with this (fix it, then \`${snowmuxCommand('hub --replace', this.place)}\`; \`${snowmuxCommand('doctor', this.place)}\` checks it).`,
      );
      return Promise.resolve(undefined);
    }
    return (profile ? this.snowflakeWarehouse(profile) : this.embeddedWarehouse()).then(
      () => undefined,
      (err: unknown) => {
        // The message names settings and where they come from, never their values (snowflake-errors.ts).
        const reason = errorMessage(err);
        const what = profile ? `Snowflake profile "${profile.name}"` : 'embedded warehouse';
        this.opts.logger.warn({ profile: profile?.name ?? 'embedded', err: reason }, 'the default warehouse could not be opened at start; calls will report it');
        return `the hub's default ${what} could not be opened at start: ${reason} Calls that use it fail with this until it is fixed (\`${snowmuxCommand('status', this.place.home)}\` shows it).`;
      },
    );
  }

  targetFor(session: WarehouseCaller, role?: ProfileOfRole): WarehouseTarget {
    if (this.closed) throw new SnowmuxError('HUB_STOPPING', 'The hub is shutting down; retry in a moment.');
    const name = role?.profile ?? session.facts.profile;
    const key = name ?? '';
    let cache = this.bySession.get(session);
    if (!cache) {
      cache = new Map();
      this.bySession.set(session, cache);
    }
    const cached = cache.get(key);
    // The resolved profile holds what connections.toml and the key or token file said when it was read: a
    // token another process refreshes, a rotated key, a changed password must reach the next login of a
    // session that is already running (its pool's logins would go on sending the old one), so the files
    // are checked (a stat each, at most every CREDENTIALS_CHECK_MS) and the profile resolved again when one changed.
    if (cached !== undefined && cached.generation === this.generation && !cached.recheck) {
      const now = performance.now();
      if (now - cached.checkedAt < (this.opts.credentialsCheckMs ?? CREDENTIALS_CHECK_MS)) return cached.target;
      if (stampOf(cached.files).stamp === cached.stamp) {
        cached.checkedAt = now;
        return cached.target;
      }
    }
    // A resolution error (bad settings) is not cached: it is reported to this call, the next resolves again.
    const source = role?.profile !== undefined ? `${this.opts.config?.shownPath ?? 'config.toml'} roles.${role.name}.profile` : this.nameSource(session, name);
    const warnings: string[] = [];
    const sessionEnv = session.facts.env ?? {};
    const started = Date.now();
    let resolved: ReturnType<WarehouseRegistry['resolve']>;
    try {
      resolved = this.resolve(name, sessionEnv, source, warnings, session.facts.id);
    } catch (err) {
      // No setting of the editor's own took part (no SNOWFLAKE_* of its own, no profile name it chose, or the
      // role's): what failed is the hub's own files, told the editor without their paths.
      throw Object.keys(sessionEnv).length === 0 && (role?.profile !== undefined || session.facts.profile === undefined) ? hubSettingsError(err, name ?? this.defaultProfileName()) : err;
    }
    const { profile, files } = resolved;
    const { stamp, changedSince } = stampOf(files);
    const identity = profile ? profileFingerprint(profile) : 'embedded';
    const credentials = profile ? credentialsFingerprint(profile) : '';
    const entry = { identity, credentials, files, stamp, recheck: changedSince >= started - STAMP_GRANULARITY_MS, generation: this.generation, checkedAt: performance.now() };
    if (profile) this.noteCredentials(name, sessionEnv, source, profile.name, credentials, loginOf(profile));
    if (cached !== undefined && cached.identity !== identity) this.uses.get(cached.identity)?.sessions.delete(session);
    if (profile) this.noteUse(identity, session, profile.pool.idleTimeoutMs);
    if (cached !== undefined && cached.identity === identity) {
      // Nothing that matters changed: the same target (its notices were told once already).
      cache.set(key, { ...entry, target: cached.target });
      return cached.target;
    }
    if (cached !== undefined && cached.target.kind === 'snowflake') {
      if (profile) {
        const changed = cached.credentials === credentials ? 'settings' : 'credentials';
        this.opts.logger.info({ session: session.facts.id, profile: profile.name, changed }, `a session's Snowflake ${changed} changed on disk; its next login uses the new ones`);
      }
      // Its calls go to the pool of the new settings; the old one finishes what runs on it and is closed.
      this.retire(cached.identity, 'superseded');
    }
    this.recheckWarm(false);
    // A retirement starts a new generation for the other sessions; this one has just resolved.
    entry.generation = this.generation;
    const otherConfig = this.otherConfigNotice(session.facts.config);
    if (otherConfig) warnings.push(otherConfig);
    // The hub's own warnings are on its terminal and in status already: the editor hears what its settings
    // add, once (a target resolved again keeps quiet about what the session was told before).
    const notices = warnings.filter((w) => !this.defaultWarnings.includes(w) && !(cached?.target.notices ?? []).includes(w));
    const target: WarehouseTarget = profile
      ? {
          kind: 'snowflake',
          name: profile.name,
          defaultDatabase: profileContextName(profile.database, 'database'),
          defaultSchema: profileContextName(profile.schema, 'schema'),
          notices,
          sessionNames: () => knownSessionNames(sessionNamesKey(profile)),
          open: () => this.openCurrent(session, role, target, profile),
        }
      : { kind: 'duckdb', name: 'embedded', defaultDatabase: SAMPLE_DATABASE, defaultSchema: SAMPLE_SCHEMA, notices, open: () => this.embeddedWarehouse() };
    cache.set(key, { ...entry, target });
    return target;
  }

  /**
   * Opens a Snowflake target for one of its call's statements — unless the session's settings changed since
   * the call resolved it: then the pool of the old settings was retired, and opening it again would log in
   * with credentials known to be stale, so the statement goes to the session's current target.
   */
  private openCurrent(session: WarehouseCaller, role: ProfileOfRole | undefined, target: WarehouseTarget, profile: SnowflakeProfile): Promise<Warehouse> {
    let current: WarehouseTarget;
    try {
      current = this.targetFor(session, role);
    } catch (err) {
      return Promise.reject(err);
    }
    if (current === target) return this.snowflakeWarehouse(profile);
    if (current.kind !== target.kind) {
      // The statement was read in the old engine's dialect: it is not sent to another engine.
      return Promise.reject(
        new SnowmuxError('CONNECTION_LOST', `This session's warehouse changed while the call ran (now ${current.name}): nothing more was sent. Run the call again.`, {
          details: { infrastructure: false, settingsChanged: true },
        }),
      );
    }
    return current.open();
  }

  /**
   * Closes the pool of superseded settings once the statements running on it finished (their sessions are
   * logged out as on hub stop), and forgets everything kept under them. Every session resolves its settings
   * again at its next call (a new generation): one still on these settings — its own files unchanged — opens
   * them anew, instead of calls reaching a pool being closed.
   */
  private retire(identity: string, why: 'superseded' | 'unused'): void {
    const pool = this.pools.get(identity);
    this.failed.delete(identity);
    if (this.warm?.identity === identity) this.warm = undefined;
    if (pool === undefined) return;
    this.pools.delete(identity);
    // An unused pool has no session that could be on its settings: none needs resolving again.
    if (why === 'superseded') this.generation++;
    pool.then(
      (warehouse) => {
        this.open.delete(warehouse);
        this.retiring.add(warehouse);
        const closed = Promise.resolve().then(() => (warehouse.retire ? warehouse.retire() : warehouse.close()));
        void closed.then(
          () => this.retired(warehouse, why),
          () => this.retired(warehouse, why),
        );
      },
      () => {},
    );
  }

  private retired(warehouse: Warehouse, why: 'superseded' | 'unused'): void {
    if (!this.retiring.delete(warehouse)) return;
    this.opts.logger.info({ profile: warehouse.info().name }, why === 'superseded' ? 'the Snowflake pool of superseded settings is closed' : 'a Snowflake pool no session used any more is closed');
    this.opts.onRetired?.(warehouse);
  }

  /** A session's settings resolved to this pool: it is in use while the session is open. */
  private noteUse(identity: string, session: WarehouseCaller, idleMs: number): void {
    let use = this.uses.get(identity);
    if (!use) {
      use = { sessions: new Set(), idleMs, unusedSince: undefined };
      this.uses.set(identity, use);
    }
    use.sessions.add(session);
    use.idleMs = idleMs;
    if (this.unusedSweep === undefined && !this.closed) {
      this.unusedSweep = setInterval(() => this.retireUnused(), UNUSED_SWEEP_MS);
      this.unusedSweep.unref();
    }
  }

  /**
   * Retires the pools that no open session has used for their idle timeout (pool.idle_timeout_ms, from
   * when the sweep found their last session closed), as a superseded pool is: each distinct set of an
   * editor's settings (a schema, a role, a rotated token) opened a pool that stayed, logged in and holding
   * its credentials, for the life of the hub. The hub's default pool stays warm. A session that comes
   * back with those settings opens them again. Called every UNUSED_SWEEP_MS.
   */
  retireUnused(): void {
    const now = (this.opts.now ?? (() => performance.now()))();
    for (const [identity, use] of this.uses) {
      for (const session of use.sessions) if (session.closed === true) use.sessions.delete(session);
      if (use.sessions.size > 0 || identity === this.warm?.identity) {
        use.unusedSince = undefined;
        continue;
      }
      use.unusedSince ??= now;
      if (now - use.unusedSince < use.idleMs) continue;
      this.uses.delete(identity);
      this.retire(identity, 'unused');
    }
  }

  /**
   * The hub's default pool opened by warmUp is retired like a session's when the files it was resolved
   * from changed to other settings (`force`: a reload, whatever the stamps say) — even if no session used it.
   */
  private recheckWarm(force: boolean): void {
    const warm = this.warm;
    if (warm === undefined) return;
    const { stamp } = stampOf(warm.files);
    if (!force && stamp === warm.stamp) return;
    let identity: string | undefined;
    let files: readonly string[] = [];
    try {
      const resolved = resolveProfile(this.resolveInput(undefined, {}, undefined));
      identity = resolved.profile ? profileFingerprint(resolved.profile) : 'embedded';
      files = resolved.files;
    } catch {
      // Settings that no longer resolve: the pool of the old ones is stale all the same.
    }
    if (identity === warm.identity) {
      this.warm = { ...warm, stamp };
      return;
    }
    this.retire(warm.identity, 'superseded');
    // The pool of the new settings is the hub's default now: kept warm as the old one was (see retireUnused).
    if (identity !== undefined && identity !== 'embedded') this.warm = { identity, files, stamp: stampOf(files).stamp };
  }

  /** Remembers what these settings' credentials were as of the last reload (the first time they are seen). */
  private noteCredentials(name: string | undefined, sessionEnv: Record<string, string>, source: string | undefined, profileName: string, credentials: string, login: string): void {
    const key = JSON.stringify([name ?? null, sessionEnv]);
    if (this.credentialsSeen.has(key)) return;
    this.credentialsSeen.set(key, { name, sessionEnv, source, profileName, credentials, login });
    if (this.credentialsSeen.size > MAX_CREDENTIALS_SEEN) this.credentialsSeen.delete(this.credentialsSeen.keys().next().value!);
  }

  /**
   * On reload: every session resolves its profile again at its next call (whatever the file stamps say),
   * and the names of the profiles whose credentials changed since the last reload (connections.toml, a
   * key or token file, the hub's environment) are returned, for the reload's answer, with those whose
   * account or host changed there (the next calls log in elsewhere: said, not done silently). Never a secret.
   * `unusable`: why each of the hub's own profiles (its default, those config.toml defines, those sessions
   * that bring no settings of their own used) cannot be used now — a key or token file gone, unreadable or
   * no longer trusted: the next login would fail, and the reload would have said nothing.
   */
  refreshCredentials(): { credentials: string[]; logins: string[]; unusable: string[] } {
    this.generation++;
    this.recheckWarm(true);
    const changed = new Set<string>();
    const logins = new Set<string>();
    const unusable = new Map<string, string>();
    const checked = new Set<string>();
    /** Resolves the hub's own profile `name` (undefined: its default) again; why it cannot be used goes to `unusable`. */
    const checkOwn = (name: string | undefined, source: string | undefined): void => {
      if (checked.has(name ?? '')) return;
      checked.add(name ?? '');
      try {
        resolveProfile(this.resolveInput(name, {}, source));
      } catch (err) {
        const shown = name ?? this.defaultProfileName() ?? 'default';
        const message = errorMessage(err);
        unusable.set(shown, message.includes(`Snowflake profile "${shown}"`) ? message : `Snowflake profile "${shown}": ${message}`);
      }
    };
    checkOwn(undefined, undefined);
    for (const name of Object.keys(this.opts.config?.config.profiles ?? {})) checkOwn(name, undefined);
    for (const seen of this.credentialsSeen.values()) {
      let profile: SnowflakeProfile | null;
      try {
        profile = resolveProfile(this.resolveInput(seen.name, seen.sessionEnv, seen.source)).profile;
      } catch {
        // Reported to the session's next call, which resolves it again (and here when it is the hub's own).
        if (Object.keys(seen.sessionEnv).length === 0) checkOwn(seen.name, seen.source);
        continue;
      }
      const login = profile ? loginOf(profile) : 'the embedded warehouse';
      if (login !== seen.login) {
        logins.add(`Snowflake profile ${seen.profileName} now logs in to ${login} (was ${seen.login})`);
        seen.login = login;
      }
      const credentials = profile ? credentialsFingerprint(profile) : '';
      if (credentials === seen.credentials) continue;
      changed.add(seen.profileName);
      seen.credentials = credentials;
    }
    return { credentials: [...changed], logins: [...logins], unusable: [...unusable.values()] };
  }

  /**
   * An editor whose shim names a config file other than the hub's gets the hub's roles and limits all the
   * same (one hub, one config): said to that editor, with how to switch, instead of silently ignored.
   */
  private otherConfigNotice(asked: string | undefined): string | undefined {
    if (asked === undefined) return undefined;
    const own = this.opts.config?.path;
    if (own !== undefined && samePath(asked, own)) return undefined;
    const hubs = own === undefined ? 'no config file' : this.opts.config?.exists === false ? `${own}, which does not exist (defaults)` : own;
    return (
      `This editor's snowmux shim names the config file ${asked}, but the hub already running uses ${hubs}, and one hub serves every editor with its own config: this session gets the hub's roles and limits. ` +
      `To serve everyone with ${asked}: ${snowmuxCommand('hub --replace', { home: this.opts.home, config: asked })}.`
    );
  }

  /** Opens (logs in to) the session's warehouse now: `targetFor(…).open()`. */
  async forSession(session: WarehouseCaller, role?: ProfileOfRole): Promise<Warehouse> {
    const target = this.targetFor(session, role);
    if (this.closed) throw new SnowmuxError('HUB_STOPPING', 'The hub is shutting down; retry in a moment.');
    return target.open();
  }

  /**
   * Where the profile name a session brought came from, for messages: the editor's SNOWMUX_PROFILE (its
   * MCP config's env block, forwarded by the shim; stdio's own environment) or the --profile flag. A
   * remote shim forwards no environment, so either may have set it.
   */
  private nameSource(session: WarehouseCaller, name: string | undefined): string {
    const stdio = session.facts.transport === 'stdio';
    const env = session.facts.env ?? (stdio ? (this.opts.env ?? process.env) : undefined);
    if (name !== undefined && env?.[SNOWMUX_PROFILE_ENV] === name) return stdio ? `env ${SNOWMUX_PROFILE_ENV}` : `env ${SNOWMUX_PROFILE_ENV} of the editor's MCP server`;
    if (stdio) return 'flag --profile';
    return env === undefined ? "the shim's --profile or SNOWMUX_PROFILE" : "the shim's --profile";
  }

  /**
   * What resolving the hub's default profile (at warmUp, with the hub's own settings) found wrong: its
   * warnings, or why it cannot be used. The hub prints them where it was started and status shows them.
   */
  startupWarnings(): readonly string[] {
    return this.defaultWarnings;
  }

  /**
   * `source` says where `name` came from, for messages; the hub's own --profile when no name is given.
   * `sessionId`: whose environment `sessionEnv` is.
   */
  private resolve(name: string | undefined, sessionEnv: Record<string, string>, source?: string, collect?: string[], sessionId?: string): { profile: SnowflakeProfile | null; files: string[] } {
    // A session's secret settings are its secrets before they resolve: a profile that fails to (a wrong key
    // passphrase, a bad account) reports none, yet the error and the session's own SQL may quote them.
    if (sessionId !== undefined) this.opts.onSecrets?.(environmentSecrets(sessionEnv), sessionId);
    // The hub cannot tell which directory an editor's relative path means (its own is the first editor's):
    // read there, one editor's key file could log another in as someone else. The shim sends them absolute.
    const relative = relativePathVariables(sessionEnv);
    if (relative.length > 0) {
      throw new SnowmuxError(
        'CONFIG_INVALID',
        `${relative.map((n) => `${n}="${shownText(sessionEnv[n]!, 120)}"`).join(', ')} in this editor's environment ${relative.length === 1 ? 'is a relative path' : 'are relative paths'}, and the hub, which serves every editor, cannot tell which directory ${relative.length === 1 ? 'it is' : 'they are'} relative to. ` +
          'Write the path absolute (or starting with ~/) in the editor\'s MCP server config.',
      );
    }
    const { profile, warnings, files } = resolveProfile(this.resolveInput(name, sessionEnv, source));
    for (const w of warnings) {
      // Every session resolves its profile; a warning about the hub's own files is the same for all of them.
      if (this.loggedWarnings.has(w)) continue;
      if (this.loggedWarnings.size < MAX_LOGGED_WARNINGS) this.loggedWarnings.add(w);
      this.opts.logger.warn({ warning: w, ...(sessionId === undefined ? {} : { session: sessionId }) }, 'profile warning');
    }
    collect?.push(...warnings);
    if (profile) {
      const secrets = profileSecrets(profile);
      const bySession = sessionId !== undefined && Object.keys(sessionEnv).length > 0;
      if (!bySession) for (const secret of secrets) this.secrets.add(secret);
      this.opts.onSecrets?.(secrets, bySession ? sessionId : undefined);
    }
    return { profile, files };
  }

  private resolveInput(name: string | undefined, sessionEnv: Record<string, string>, source: string | undefined): Parameters<typeof resolveProfile>[0] {
    return {
      name: name ?? this.opts.profileName,
      nameSource: name === undefined ? undefined : source,
      flags: this.opts.flags,
      env: { ...(this.opts.env ?? process.env), ...sessionEnv },
      homedir: this.opts.homedir,
      configFile: this.opts.config,
    };
  }

  private snowflakeWarehouse(profile: SnowflakeProfile): Promise<Warehouse> {
    if (this.closed) return Promise.reject(new SnowmuxError('HUB_STOPPING', 'The hub is shutting down; retry in a moment.'));
    const fingerprint = profileFingerprint(profile);
    let pool = this.pools.get(fingerprint);
    if (!pool) {
      const started = performance.now();
      const useEnvProxy = this.opts.config?.config.hub.useEnvProxy ?? true;
      const open = this.opts.openSnowflake ?? ((p: SnowflakeProfile) => defaultOpenSnowflake(p, useEnvProxy, this.driverConfig()));
      pool = open(profile).then((w) => {
        this.open.add(w);
        this.secretsOf.set(w, profileSecrets(profile));
        // A login that works settles the failures of the same login (fixed credentials); every editor's
        // SNOWFLAKE_* settings are a profile named "env", so the name alone would hide other users' failures.
        for (const [key, f] of this.failed) if (sameLogin(f.profile, profile)) this.failed.delete(key);
        this.opts.logger.info({ ms: Math.round(performance.now() - started), profile: redactProfile(profile) }, 'snowflake pool ready');
        return w;
      });
      const failed = pool;
      failed.catch((err: unknown) => {
        const failures = (this.failed.get(fingerprint)?.failure.failures ?? 0) + 1;
        // A pool retired while it logged in failed with settings no session uses any more: nothing to report.
        if (!this.closed && this.pools.get(fingerprint) === failed) {
          this.failed.delete(fingerprint);
          this.failed.set(fingerprint, { profile, failure: failureNow(err, failures) });
          // Bounded (every shim with other settings is another fingerprint): the oldest goes first.
          if (this.failed.size > MAX_FAILED_PROFILES) this.failed.delete(this.failed.keys().next().value!);
        }
        // Credentials Snowflake refused are tried again later each time (as an open pool does): a fixed
        // 15 s let a pool whose first login never worked lock its user within minutes.
        const first = this.opts.loginRetryAfterMs ?? LOGIN_RETRY_AFTER_MS;
        const refused = err instanceof SnowmuxError && err.code === 'AUTH_FAILED';
        const timer = setTimeout(() => {
          if (this.pools.get(fingerprint) === failed) this.pools.delete(fingerprint);
        }, refused ? loginRefusedWaitMs(failures, first) : first);
        timer.unref();
      });
      this.pools.set(fingerprint, pool);
    }
    return pool;
  }

  private embeddedWarehouse(): Promise<Warehouse> {
    if (this.closed) return Promise.reject(new SnowmuxError('HUB_STOPPING', 'The hub is shutting down; retry in a moment.'));
    if (!this.embedded) {
      const started = performance.now();
      this.embedded = import('./duckdb/duckdb-warehouse.js')
        .then(({ DuckDbWarehouse }) => DuckDbWarehouse.open({ dataDir: this.opts.embeddedDir ?? join(this.opts.home, 'warehouse') }))
        .then((w) => {
          this.open.add(w);
          this.embeddedFailure = undefined;
          this.opts.logger.info({ ms: Math.round(performance.now() - started), warehouse: w.info() }, 'embedded warehouse ready');
          return w;
        });
      this.embedded.catch((err: unknown) => {
        this.opts.logger.error({ err }, 'embedded warehouse failed to open');
        this.embeddedFailure = failureNow(err, (this.embeddedFailure?.failures ?? 0) + 1);
        this.embedded = null;
      });
    }
    return this.embedded;
  }

  /** The warehouses open, then those that could not open and still count as a problem (see warehouse-problem.ts). */
  describe(): WarehouseInfo[] {
    const now = performance.now();
    const shown: { info: WarehouseInfo; secrets: readonly string[] }[] = [...this.open].map((w) => ({ info: { ...w.info(), id: warehouseId(w) }, secrets: this.secretsOf.get(w) ?? [] }));
    for (const { profile: p, failure } of this.failed.values()) {
      const problem = warehouseProblem(failure, now);
      if (!problem) continue;
      shown.push({
        secrets: profileSecrets(p),
        info: {
          kind: 'snowflake',
          name: p.name,
          detail: { account: p.account, user: p.user, authenticator: p.auth.method, role: p.role ?? null, warehouse: p.warehouse ?? null, database: p.database ?? null, schema: p.schema ?? null, opened: false },
          defaultDatabase: p.database ?? '',
          defaultSchema: p.schema ?? '',
          capacity: p.pool.max,
          problem,
        },
      });
    }
    // The embedded warehouse that could not open or build is in no list either: its sessions' calls fail with it.
    const embeddedProblem = this.embeddedFailure === undefined ? undefined : warehouseProblem(this.embeddedFailure, now);
    if (embeddedProblem) {
      shown.push({
        secrets: [],
        info: { kind: 'duckdb', name: 'embedded', detail: { opened: false }, defaultDatabase: SAMPLE_DATABASE, defaultSchema: SAMPLE_SCHEMA, capacity: 0, problem: embeddedProblem },
      });
    }
    const unusable = this.defaultUnusable === undefined ? undefined : warehouseProblem(this.defaultUnusable, now);
    if (unusable) {
      const name = this.opts.profileName ?? this.opts.config?.config.hub.defaultProfile ?? 'default';
      shown.push({ secrets: [], info: { kind: 'snowflake', name, detail: { opened: false }, defaultDatabase: '', defaultSchema: '', capacity: 0, problem: unusable } });
    }
    return shown.map(({ info, secrets }) => (info.problem ? { ...info, problem: this.masked(info.problem, secrets) } : info));
  }

  /** The hub's own secrets and the warehouse's: a session's password masks only its own pool's problems. */
  private masked(problem: NonNullable<WarehouseInfo['problem']>, own: readonly string[]): NonNullable<WarehouseInfo['problem']> {
    let message = problem.message;
    for (const s of [...this.secrets, ...own]) if (s.length >= 4) message = message.split(s).join('***');
    return { ...problem, message };
  }

  /**
   * The driver's connection options that keep its files in `<home>/snowflake-driver` (driver-log-config.ts):
   * a client config that keeps its own log off, and its MFA / SSO token cache. When that directory cannot be
   * written, the driver reads the user's client config, as before, and caches no token: said once.
   */
  private driverConfig(): Partial<SfConnectionOptions> {
    const files = driverFiles(join(this.opts.home, 'snowflake-driver'));
    if (files.problem !== undefined && !this.driverConfigProblemSaid) {
      this.driverConfigProblemSaid = true;
      this.opts.logger.warn(
        { problem: files.problem },
        "the Snowflake driver's directory in the home could not be written: the driver reads the user's own client config (sf_client_config.json), which may turn its unscrubbed log on, and caches no MFA or SSO token (an MFA profile asks at each login)",
      );
    }
    return files.options;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.unusedSweep);
    const all = [...this.open, ...this.retiring];
    this.open.clear();
    this.retiring.clear();
    await Promise.all(all.map((w) => w.close().catch(() => {})));
  }
}

/**
 * What the files look like now: a rewrite, a replacement (rename, a swapped symlink) or a removal changes
 * the stamp; `changedSince` is the newest change time among them (0 when none exists).
 */
function stampOf(paths: readonly string[]): { stamp: string; changedSince: number } {
  let changedSince = 0;
  const parts = paths.map((path) => {
    try {
      const s = statSync(path, { bigint: true });
      changedSince = Math.max(changedSince, Number(s.ctimeMs), Number(s.mtimeMs));
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch {
      return '-';
    }
  });
  return { stamp: parts.join('|'), changedSince };
}

/** The errors of resolving a profile that are about files (config.toml, connections.toml, a key or token file, a path under the home). */
const HUB_FILE_CODES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID', 'CONFIG_UNSAFE', 'CONFIG_UNREADABLE', 'CONFIG_NOT_FOUND', 'HOME_UNUSABLE']);

/**
 * A failure to resolve the hub's own Snowflake settings, with a copy for the callers it reaches (SnowmuxError.callerMessage):
 * its message names the hub machine's files (`/home/alice/.snowflake/connections.toml`, a key file) and their fix,
 * which are the operator's; the caller hears what failed, and where the operator sees the rest.
 */
function hubSettingsError(err: unknown, profileName: string | undefined): unknown {
  if (!(err instanceof SnowmuxError) || err.callerMessage !== undefined || !HUB_FILE_CODES.has(err.code)) return err;
  const which = profileName === undefined ? "The hub's Snowflake settings" : `The hub's Snowflake profile "${shownText(profileName, 80)}"`;
  return new SnowmuxError(err.code, err.message, {
    cause: err.cause,
    ...(err.details === undefined ? {} : { details: err.details }),
    callerMessage:
      `${which} cannot be used: a file on the hub's machine (its config.toml, Snowflake's connections.toml, or a key or token file they name) must be fixed first. ` +
      "On the hub's machine, the hub's log (`snowmux logs`) and `snowmux doctor` name the file and the fix (`snowmux status` too, for the hub's default profile); if the hub is not yours, ask its operator.",
  });
}

/** Same profile name, account, user, role and server: the settings a login is judged on, but the secret and method. */
function sameLogin(a: SnowflakeProfile, b: SnowflakeProfile): boolean {
  return (
    a.name === b.name &&
    a.account.toLowerCase() === b.account.toLowerCase() &&
    a.user.toLowerCase() === b.user.toLowerCase() &&
    (a.role ?? '').toUpperCase() === (b.role ?? '').toUpperCase() &&
    a.host === b.host &&
    a.accessUrl === b.accessUrl
  );
}

async function defaultOpenSnowflake(profile: SnowflakeProfile, useEnvProxy: boolean, driverOptions: Partial<SfConnectionOptions>): Promise<Warehouse> {
  const { SnowflakeWarehouse } = await import('./snowflake/snowflake-warehouse.js');
  const warehouse = new SnowflakeWarehouse(profile, { useEnvProxy, driverOptions });
  // The first call waits for this one login instead of racing it with a second connection; a login
  // failure surfaces on that call (and the next call tries again).
  try {
    await warehouse.warmUp();
  } catch (err) {
    await warehouse.close().catch(() => {});
    throw err;
  }
  return warehouse;
}

/** The secret strings of a profile: what must never appear in logs, errors, status or audit records. */
export function profileSecrets(profile: SnowflakeProfile): string[] {
  const a = profile.auth;
  const out: (string | undefined)[] = [];
  if (a.method === 'password') out.push(a.password, a.mfa?.passcode);
  else if (a.method === 'mfa') out.push(a.password, a.passcode);
  else if (a.method === 'oauth' || a.method === 'pat') out.push(a.token);
  else if (a.method === 'keypair') out.push(a.passphrase);
  return out.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/**
 * The values of an environment's secret Snowflake settings (SNOWFLAKE_PASSWORD, _PASSCODE, _TOKEN, _PRIVATE_KEY,
 * a key's passphrase, their SNOWFLAKE_CONNECTIONS_<NAME>_ forms…), whether or not they resolve to a profile.
 * Chosen by name as the audit's key redaction is (broad: a false positive costs a word of that session's
 * records, a false negative a credential), the key and token file paths aside.
 */
export function environmentSecrets(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(forwardedEnvironment(env))
    .filter(([name]) => isSecretLookingKey(name) && !/_(?:PATH|FILE)$/i.test(name))
    .map(([, value]) => value);
}

/** The same file, by its resolved path (a symlinked home names one file two ways). */
function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
