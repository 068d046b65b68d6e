/**
 * One pool of snowflake-sdk connections per profile, on generic-pool's public API (the library the
 * driver's own createPool wraps) with the hub's own factory, and what the hub needs on top:
 * - logins counted and timed, and login errors kept with their Snowflake code (the driver's pool factory
 *   flattens them to a bare message);
 * - a failed login fails the call that waited for it, once: generic-pool re-creates at once for a waiting
 *   client when its factory rejects (a tight loop of failed logins, which locks Snowflake users), so the
 *   factory never rejects — a failed login becomes an entry carrying the error, which the acquirer that
 *   gets it destroys and throws (the driver's createPool reaches into generic-pool's private waiting queue
 *   for the same end);
 * - a clear POOL_EXHAUSTED ("all N connections … are busy") instead of a hang when acquire times out,
 *   told apart from a login that does not finish (WAREHOUSE_UNAVAILABLE);
 * - cancellable acquire (the call's AbortSignal);
 * - validation of connections that sat idle (heartbeat, bounded in time), and retirement of connections
 *   older than maxConnectionAgeMs;
 * - credentials Snowflake refused are not sent again on every call that needs a new connection: a login
 *   leads (the others wait for its answer and share a refusal), and after a refusal no login with the same
 *   credentials is tried for a growing back-off — Snowflake locks a user after a few failed logins in a row,
 *   and a password rotated while the pool was open otherwise locked it within milliseconds. A pool holds one
 *   set of credentials: changed ones (a fixed file, another editor's settings) get a pool of their own;
 * - interactive logins (browser SSO, MFA push) made one at a time, always: when the cached SSO/MFA token has
 *   expired, the first asks the person and the others then use the token it cached, instead of a browser
 *   window or push each. A call waiting for that person waits longer than the pool's acquire timeout and is
 *   told what it waits for.
 * The lead login and the refusal back-off are shared by every pool of the hub with the same credentials at the
 * same Snowflake (shared-login.ts): pools that differ in database, schema, warehouse or role ask the person
 * once and send refused credentials once, as one pool does.
 */
import { SnowmuxError } from '../../../errors.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';
import { createPool, type Pool } from 'generic-pool';
import type { SfConnection, SfConnectionOptions, SnowflakeSdk } from './sdk-types.js';
import { settingLabel, toSnowmuxError } from './snowflake-errors.js';
import { loginRefusedWaitMs, type LoginFailure } from '../warehouse-problem.js';
import { sharedLogin, type LeadAnswer, type RawLoginError, type RefusalScope, type SharedLogin } from './shared-login.js';

/** How long a call may wait for a person to finish an interactive login (a Duo push, a browser sign-in). */
export const INTERACTIVE_LOGIN_WAIT_MS = 180_000;

/** Logins that may ask a person (browser SSO, MFA push or passcode) — as connection-options.ts maps them. */
export function interactiveLogin(profile: SnowflakeProfile): boolean {
  const auth = profile.auth;
  return auth.method === 'externalbrowser' || auth.method === 'mfa' || (auth.method === 'password' && auth.mfa !== undefined);
}

export interface PoolTimings {
  /** Connections idle at least this long are validated (heartbeat) before use, when the profile asks for validation. */
  validateIdleAfterMs: number;
  /** Longest wait for a heartbeat before the connection counts as dead. */
  validateTimeoutMs: number;
  /** Longest a login may take before it counts as failed. */
  loginTimeoutMs: number;
  /** Longest a logout may take when a connection is retired. */
  destroyTimeoutMs: number;
  /**
   * Longest a discarded connection waits for its unfinished statement before being logged out. Logging out
   * first would make the driver retry that statement's request for minutes with a dead session.
   */
  destroyDeferMs: number;
  /** No login after refused credentials for this long; ×4 after each further refusal (see loginRefusedWaitMs). */
  refusedRetryAfterMs?: number | undefined;
  /** Interactive pools: how long a call waits while a person is asked. Default INTERACTIVE_LOGIN_WAIT_MS. */
  interactiveWaitMs?: number | undefined;
  /** Wall clock, for the times shown (tests). Default Date.now. */
  now?: (() => number) | undefined;
  /**
   * Monotonic clock (ms, any origin), on which every age, idle time and back-off of the pool is measured, so
   * a wall clock stepped by hours (NTP, a resumed VM) neither ages nor rejuvenates a connection nor stretches
   * a back-off (tests). Default performance.now.
   */
  monotonic?: (() => number) | undefined;
  /**
   * Watches one login for a host that does not answer at all (outage-watch.ts, watchLogin): calls `dead`
   * with the error to end the login with; returns the function that stops watching.
   */
  watchLogin?: ((dead: (error: SnowmuxError) => void) => () => void) | undefined;
}

export interface PoolStats {
  size: number;
  available: number;
  borrowed: number;
  pending: number;
  min: number;
  max: number;
  logins: number;
  loginFailures: number;
  lastLoginMs: number | null;
  validations: number;
  discarded: number;
  /** Connections logged in now (held by the pool or borrowed). */
  loggedIn: number;
}

/** When a connection logged in and was last given back, on the monotonic clock (see PoolTimings.monotonic). */
interface ConnectionMeta {
  createdAt: number;
  lastReleasedAt: number;
}

export interface PooledConnection {
  connection: SfConnection;
  /** True the first time this connection is handed out (freshly logged in). */
  fresh: boolean;
}

/** What the pool holds: a logged-in connection, or the error of a login that failed (see above) and when (monotonic). */
type Entry = { connection: SfConnection; failure?: undefined } | { connection?: undefined; failure: SnowmuxError; at: number };

export class SnowflakePool {
  private readonly pool: Pool<Entry>;
  /** The pool's entry of each connection handed out (release and destroy take the entry). */
  private readonly entries = new WeakMap<SfConnection, Entry>();
  private readonly meta = new WeakMap<SfConnection, ConnectionMeta>();
  private readonly handedOut = new WeakSet<SfConnection>();
  private readonly busyUntil = new WeakMap<SfConnection, Promise<unknown>>();
  private logins = 0;
  private loginFailures = 0;
  private lastLoginMs: number | null = null;
  private validations = 0;
  private discarded = 0;
  /** Connections logged in and not yet logged out: a login failure matters only while this is 0. */
  private loggedIn = 0;
  /** The failure of the last login, until a login succeeds (see loginFailure()). */
  private lastLoginFailure: LoginFailure | null = null;
  /**
   * Shared with the hub's other pools of the same credentials (shared-login.ts): the login the others wait for
   * (see createConnection) while it runs, and the refusals — credentials Snowflake refused (AUTH_FAILED): no
   * login before `until` (monotonic), `refusals` in a row so far; cleared by a login that succeeds.
   */
  private readonly shared: SharedLogin;
  private readonly releaseShared: () => void;
  /** The Snowflake role a refusal of the role (390189) is kept under: another role's pool may log in. */
  private readonly roleScope: RefusalScope;
  private closed = false;
  /** Rejects pending logins when the pool closes: no call waits for a login the pool no longer wants. */
  private readonly closing = new AbortController();
  /**
   * Logins the driver has not answered yet, each settling once its answer came and a session it opened
   * unwanted was logged out again. The driver cannot abort a login: one that finishes after close() would
   * write its token cache and leave a Snowflake session open past the hub's stop, so close() waits for these.
   */
  private readonly landing = new Set<Promise<void>>();

  constructor(
    private readonly sdk: SnowflakeSdk,
    private readonly profile: SnowflakeProfile,
    private readonly connectionOptions: SfConnectionOptions,
    private readonly interactive: boolean,
    private readonly timings: PoolTimings,
  ) {
    const settings = profile.pool;
    const idle = settings.idleTimeoutMs;
    const { state, release } = sharedLogin(sdk, profile, this.mono());
    this.shared = state;
    this.releaseShared = release;
    this.roleScope = `role:${(profile.role ?? '').toUpperCase()}`;
    this.pool = createPool<Entry>(
      {
        create: () =>
          this.createConnection().then(
            (connection): Entry => {
              const entry: Entry = { connection };
              this.entries.set(connection, entry);
              return entry;
            },
            (err: unknown): Entry => ({ failure: err instanceof SnowmuxError ? err : toSnowmuxError(err, { profile, phase: 'login' }), at: this.mono() }),
          ),
        destroy: (entry) => (entry.connection ? this.destroyConnection(entry.connection) : Promise.resolve()),
      },
      {
      min: settings.min,
      max: settings.max,
      acquireTimeoutMillis: settings.acquireTimeoutMs,
      // Evict idle connections above `min` only (soft), checking a few times per idle period.
      softIdleTimeoutMillis: idle > 0 ? idle : -1,
      idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      evictionRunIntervalMillis: idle > 0 ? Math.min(Math.max(Math.floor(idle / 4), 250), 60_000) : 0,
      numTestsPerEvictionRun: settings.max,
      // Reuse the most recently used connection: fewer idle validations, and spare ones age out.
      fifo: false,
      testOnBorrow: false,
      autostart: false,
      },
    );
    this.pool.on('factoryDestroyError', () => {});
    this.pool.start();
  }

  /** Logs a connection out, bounded in time — after its unfinished statement, if it may still have one. */
  private async destroyConnection(connection: SfConnection): Promise<void> {
    this.loggedIn = Math.max(0, this.loggedIn - 1);
    const busy = this.busyUntil.get(connection);
    if (busy !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.timings.destroyDeferMs);
        timer.unref();
      });
      await Promise.race([busy.catch(() => {}), limit]);
      clearTimeout(timer);
    }
    await this.logOut(connection);
  }

  /** Ends the connection's Snowflake session, bounded in time. */
  private logOut(connection: SfConnection): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.timings.destroyTimeoutMs);
      timer.unref();
      try {
        connection.destroy(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private now(): number {
    return this.timings.now?.() ?? Date.now();
  }

  private mono(): number {
    return this.timings.monotonic?.() ?? performance.now();
  }

  /**
   * A login, unless the credentials were refused lately. While a login leads, the others wait for it: its
   * refusal (or any failure) is their answer too, without a login of their own — N calls needing connections
   * at once after a password change cost one failed login, not N. After it succeeds they log in side by
   * side, except interactive logins, which stay one at a time: each may ask the person, and the one after
   * uses the token the previous cached.
   */
  private async createConnection(): Promise<SfConnection> {
    for (;;) {
      const held = this.heldBack();
      if (held !== undefined) throw held;
      const leading = this.shared.leading;
      if (leading === null) return this.lead();
      const answer = await leading;
      if (this.closed) throw this.closedError();
      if (answer !== undefined) {
        // Another pool's failure that is not about these credentials (its role, its closing): this pool tries itself.
        if (answer.owner === this || answer.scope === '' || answer.scope === this.roleScope) throw this.adopted(answer);
        continue;
      }
      if (!this.interactive) return this.login();
    }
  }

  /** Another pool's answer in this profile's words (its name, where its settings come from). */
  private ownError(answer: { error: SnowmuxError; raw: RawLoginError | undefined; owner: object }): SnowmuxError {
    if (answer.owner === this || answer.raw === undefined || answer.error.code !== 'AUTH_FAILED') return answer.error;
    return toSnowmuxError(answer.raw, { profile: this.profile, phase: 'login' });
  }

  /**
   * The failure of another pool's login with these credentials, as this pool's own: its callers are told it,
   * and its status shows it (this pool cannot serve either) — counted as no login of its own.
   */
  private adopted(answer: { error: SnowmuxError; raw: RawLoginError | undefined; owner: object }): SnowmuxError {
    const error = this.ownError(answer);
    if (answer.owner !== this && this.lastLoginFailure === null) this.lastLoginFailure = { error, at: this.now(), mono: this.mono(), failures: 1 };
    return error;
  }

  private closedError(): SnowmuxError {
    return new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake pool of profile "${this.profile.name}" is closed.`);
  }

  private lead(): Promise<SfConnection> {
    let raw: RawLoginError | undefined;
    const login = this.login((r) => {
      raw = r;
    });
    const answer = login.then(
      (): undefined => undefined,
      (err: unknown): LeadAnswer => {
        const error = err instanceof SnowmuxError ? err : toSnowmuxError(err, { profile: this.profile, phase: 'login' });
        // A refusal of the credentials, or a Snowflake that does not answer, holds for every pool logging in with them.
        const scope = error.code === 'AUTH_FAILED' ? this.refusalScope(raw) : error.code === 'WAREHOUSE_UNAVAILABLE' ? '' : 'pool';
        return { error, raw, owner: this, scope };
      },
    );
    this.shared.leading = answer;
    // Registered before any waiter's: the lead is gone by the time they look again.
    void answer.then(() => {
      if (this.shared.leading === answer) this.shared.leading = null;
    });
    return login;
  }

  /** 390189 refuses this profile's role, not the credentials: other roles' pools may still log in with them. */
  private refusalScope(raw: RawLoginError | undefined): RefusalScope {
    return raw?.code === '390189' ? this.roleScope : '';
  }

  /** The refusal calls get instead of a login while the back-off after refused credentials runs. */
  private heldBack(): SnowmuxError | undefined {
    const now = this.mono();
    const refused = [this.shared.refused.get(''), this.shared.refused.get(this.roleScope)]
      .filter((r) => r !== undefined && r.until > now)
      .sort((a, b) => b!.until - a!.until)[0];
    if (refused === undefined) return undefined;
    const left = refused.until - now;
    const error = this.adopted(refused);
    // The time of day shown is what is left of the back-off from now, not a wall-clock deadline.
    const retryAt = new Date(this.now() + left).toISOString();
    const at = retryAt.slice(11, 19);
    return new SnowmuxError(
      'AUTH_FAILED',
      `${error.message} The hub does not log in with these credentials again before ${at} UTC (${refused.refusals} refused ${refused.refusals === 1 ? 'login' : 'logins'} in a row; ` +
        `Snowflake locks a user after a few): fix the setting named above — editors started after the fix, and \`snowmux hub --replace\`, use the new value at once.`,
      { details: { ...(error.details ?? {}), retryAt, loginsRefused: refused.refusals } },
    );
  }

  /** True while an interactive login runs: a person is being asked. */
  awaitingPerson(): boolean {
    return this.interactive && this.shared.leading !== null;
  }

  /** What the person must do, for the messages of calls that wait for it. */
  private personStep(): string {
    const auth = this.profile.auth;
    if (auth.method === 'externalbrowser') return `you to finish the sign-in in the browser window Snowflake opened for user "${this.profile.user}"`;
    const passcode = auth.method === 'mfa' ? auth.passcode !== undefined : auth.method === 'password' && auth.mfa?.passcode !== undefined;
    return passcode ? `the MFA login of user "${this.profile.user}" (with the passcode) to finish` : `you to approve the MFA push (Duo) for user "${this.profile.user}" on your device`;
  }

  /** One login with the driver; `said` is told what the driver answered a failed one (for other pools' callers). */
  private login(said?: (raw: RawLoginError) => void): Promise<SfConnection> {
    return new Promise<SfConnection>((resolve, reject) => {
      if (this.closed) {
        reject(this.closedError());
        return;
      }
      const started = performance.now();
      let settled = false;
      let raw: RawLoginError | undefined;
      let unwatch: () => void = () => undefined;
      let connection: SfConnection;
      let landed!: () => void;
      const landing = new Promise<void>((resolve) => {
        landed = resolve;
      });
      this.landing.add(landing);
      void landing.then(() => this.landing.delete(landing));
      const finish = (err: SnowmuxError | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unwatch();
        this.closing.signal.removeEventListener('abort', onClose);
        if (err === undefined) {
          this.logins++;
          this.loggedIn++;
          this.lastLoginFailure = null;
          // These credentials work (and this role with them); another role's refusal stands.
          this.shared.refused.delete('');
          this.shared.refused.delete(this.roleScope);
          this.lastLoginMs = performance.now() - started;
          const now = this.mono();
          this.meta.set(connection, { createdAt: now, lastReleasedAt: now });
          resolve(connection);
        } else {
          this.loginFailures++;
          // A login given up because the pool closes says nothing about the credentials.
          if (!this.closed) this.lastLoginFailure = { error: err, at: this.now(), mono: this.mono(), failures: (this.lastLoginFailure?.failures ?? 0) + 1 };
          if (!this.closed && err.code === 'AUTH_FAILED') {
            const scope = this.refusalScope(raw);
            const refusals = (this.shared.refused.get(scope)?.refusals ?? 0) + 1;
            this.shared.refused.set(scope, { error: err, raw, owner: this, until: this.mono() + loginRefusedWaitMs(refusals, this.timings.refusedRetryAfterMs), refusals });
          }
          reject(err);
        }
      };
      // A login that completes after this is logged out again (see the connect callback).
      const abandon = (err: SnowmuxError): void => finish(err);
      const timer = setTimeout(
        () =>
          abandon(
            this.interactive
              ? new SnowmuxError(
                  'WAREHOUSE_UNAVAILABLE',
                  `The sign-in for profile "${this.profile.name}" was not finished within ${Math.round(this.timings.loginTimeoutMs / 1000)} s (waiting for ${this.personStep()}). Run the call again to be asked again.`,
                  { details: { infrastructure: false, transient: true, profile: this.profile.name, awaitingPerson: true } },
                )
              : new SnowmuxError(
                  'WAREHOUSE_UNAVAILABLE',
                  `Login to Snowflake for profile "${this.profile.name}" did not finish within ${this.timings.loginTimeoutMs} ms. Check the network and ${settingLabel(this.profile, 'account')}; the call can be retried.`,
                  { details: { infrastructure: true, transient: true, profile: this.profile.name } },
                ),
          ),
        this.timings.loginTimeoutMs,
      );
      // A host that does not answer at all ends the login in seconds, not after the driver's retries.
      unwatch = this.timings.watchLogin?.((error) => abandon(error)) ?? unwatch;
      const onClose = (): void => abandon(new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake pool of profile "${this.profile.name}" is closing.`));
      this.closing.signal.addEventListener('abort', onClose, { once: true });
      try {
        connection = this.sdk.createConnection(this.connectionOptions);
      } catch (err) {
        finish(
          new SnowmuxError('CONFIG_INVALID', `Profile "${this.profile.name}": snowflake-sdk refused the connection settings: ${(err as Error).message}`, {
            details: { infrastructure: true, transient: false, profile: this.profile.name },
          }),
        );
        landed();
        return;
      }
      connection.connect((err) => {
        if (settled) {
          // Timed out, or the pool closed meanwhile: this login is unwanted, and its session is logged out
          // before close() returns (it waits for `landing`).
          if (err) landed();
          else void this.logOut(connection).then(landed);
          return;
        }
        if (err) {
          raw = rawLoginError(err);
          said?.(raw);
        }
        finish(err ? toSnowmuxError(err, { profile: this.profile, phase: 'login' }) : undefined);
        landed();
      });
    });
  }

  /** A connection for one call; reject with POOL_EXHAUSTED, a login error, or the signal's reason. */
  async acquire(signal: AbortSignal, cancelled: () => SnowmuxError): Promise<PooledConnection> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.acquireOnce(signal, cancelled);
      const fresh = !this.handedOut.has(connection);
      this.handedOut.add(connection);
      const meta = this.meta.get(connection);
      const now = this.mono();
      if (!fresh && meta !== undefined && attempt < this.profile.pool.max + 1) {
        const age = this.profile.pool.maxConnectionAgeMs;
        if (age > 0 && now - meta.createdAt >= age) {
          this.discard(connection);
          continue;
        }
        if (this.profile.pool.validateOnBorrow && now - meta.lastReleasedAt >= this.timings.validateIdleAfterMs && !(await this.validate(connection))) {
          this.discard(connection);
          continue;
        }
      }
      if (signal.aborted) {
        this.release(connection);
        throw cancelled();
      }
      return { connection, fresh };
    }
  }

  private async acquireOnce(signal: AbortSignal, cancelled: () => SnowmuxError): Promise<SfConnection> {
    const asked = this.mono();
    for (let stale = 0; ; stale++) {
      const entry = await this.acquireEntry(signal, cancelled);
      if (entry.connection) return entry.connection;
      this.pool.destroy(entry).catch(() => {});
      // A failed login fails the call it was made for; one left over from earlier (keeping `min` up)
      // is dropped and the slot tried again, once per slot at most.
      if (entry.at >= asked || stale >= this.profile.pool.max) throw entry.failure;
    }
  }

  private async acquireEntry(signal: AbortSignal, cancelled: () => SnowmuxError): Promise<Entry> {
    const started = performance.now();
    const wait = Math.max(this.profile.pool.acquireTimeoutMs, this.timings.interactiveWaitMs ?? INTERACTIVE_LOGIN_WAIT_MS);
    for (;;) {
      try {
        return await this.acquireEntryOnce(signal, cancelled);
      } catch (err) {
        if (err instanceof SnowmuxError) throw err;
        // A person is being asked (browser, MFA push): that takes longer than a connection coming free.
        if (isTimeout(err) && this.awaitingPerson() && performance.now() - started < wait) continue;
        throw this.acquireError(err, performance.now() - started);
      }
    }
  }

  /** One acquire from generic-pool; its own errors (a timeout) are thrown as they are. */
  private async acquireEntryOnce(signal: AbortSignal, cancelled: () => SnowmuxError): Promise<Entry> {
    if (this.closed) throw new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake pool of profile "${this.profile.name}" is closed.`);
    if (signal.aborted) throw cancelled();
    const acquiring = this.pool.acquire();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([acquiring, aborted]);
    } catch (err) {
      if (signal.aborted) {
        // The pool may still hand us an entry later: give it straight back.
        acquiring.then((e) => (e.connection ? this.release(e.connection) : this.pool.destroy(e).catch(() => {})), () => {});
        throw cancelled();
      }
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort!);
      aborted.catch(() => {});
    }
  }

  private acquireError(err: unknown, waitedMs: number): SnowmuxError {
    if (err instanceof SnowmuxError) return err;
    if (isTimeout(err)) {
      const { max, acquireTimeoutMs } = this.profile.pool;
      const person = this.waitingForPerson(waitedMs);
      if (person !== undefined) return person;
      if (this.pool.borrowed >= max) {
        return new SnowmuxError(
          'POOL_EXHAUSTED',
          `All ${max} connections of profile "${this.profile.name}" are busy (waited ${acquireTimeoutMs} ms for one). Try again shortly, cancel long-running queries, or raise ${settingLabel(this.profile, 'pool.max')}.`,
          { details: { profile: this.profile.name, max, borrowed: this.pool.borrowed, pending: this.pool.pending, infrastructure: false } },
        );
      }
      return new SnowmuxError(
        'WAREHOUSE_UNAVAILABLE',
        `No Snowflake connection for profile "${this.profile.name}" within ${acquireTimeoutMs} ms: the login has not finished. Check the network and ${settingLabel(this.profile, 'account')}; the call can be retried.`,
        { details: { profile: this.profile.name, infrastructure: true, transient: true } },
      );
    }
    return toSnowmuxError(err, { profile: this.profile, phase: 'login' });
  }

  /** A call that waited while the interactive login asked the person: say so, not "check the network". */
  waitingForPerson(waitedMs: number): SnowmuxError | undefined {
    if (!this.awaitingPerson()) return undefined;
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `Waiting for ${this.personStep()} (profile "${this.profile.name}"); this call waited ${Math.round(waitedMs / 1000)} s and nothing ran in Snowflake. ` +
        `The hub asks once for every editor: run the call again once the sign-in is done, and it uses that login.`,
      { details: { profile: this.profile.name, awaitingPerson: true, infrastructure: false, transient: true } },
    );
  }

  /** Heartbeat, bounded in time: a hung connection counts as dead. */
  private async validate(connection: SfConnection): Promise<boolean> {
    this.validations++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.timings.validateTimeoutMs);
    });
    try {
      return await Promise.race([connection.isValidAsync().catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  release(connection: SfConnection): void {
    const meta = this.meta.get(connection);
    if (meta !== undefined) meta.lastReleasedAt = this.mono();
    const entry = this.entries.get(connection);
    if (entry !== undefined) this.pool.release(entry).catch(() => {});
  }

  /**
   * Takes a connection out of the pool at once (its slot is free for a new login) and logs its session out
   * in the background — after `busyUntil` settles when a statement may still be in flight on it.
   */
  discard(connection: SfConnection, busyUntil?: Promise<unknown>): void {
    this.discarded++;
    if (busyUntil !== undefined) this.busyUntil.set(connection, busyUntil);
    const entry = this.entries.get(connection);
    if (entry !== undefined) this.pool.destroy(entry).catch(() => {});
  }

  stats(): PoolStats {
    return {
      size: this.pool.size,
      available: this.pool.available,
      borrowed: this.pool.borrowed,
      pending: this.pool.pending,
      min: this.pool.min,
      max: this.pool.max,
      logins: this.logins,
      loginFailures: this.loginFailures,
      lastLoginMs: this.lastLoginMs === null ? null : Math.round(this.lastLoginMs * 10) / 10,
      validations: this.validations,
      discarded: this.discarded,
      loggedIn: this.loggedIn,
    };
  }

  /**
   * Why this pool cannot serve: its last login failed and no connection is logged in (with one logged
   * in, calls still run on it — a revoked password shows here once the last session ends). Null otherwise.
   */
  loginFailure(): LoginFailure | null {
    return this.loggedIn === 0 ? this.lastLoginFailure : null;
  }

  /**
   * Logs every pooled session out, and the session of a login still in flight once the driver answers it.
   * Borrowed connections and those logins are waited for up to `waitMs`.
   */
  async close(waitMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseShared();
    this.closing.abort();
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    const drained = this.pool
      .drain()
      .then(() => this.pool.clear())
      .catch(() => {});
    await Promise.race([Promise.all([drained, ...this.landing]), bounded]);
    clearTimeout(timer);
  }
}

/** What Snowflake said of a refused login, without the rest of the driver's error (it may carry the HTTP exchange). */
function rawLoginError(err: unknown): RawLoginError {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as { code?: unknown; message?: unknown; sqlState?: unknown };
  return {
    code: typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined,
    message: typeof e.message === 'string' ? e.message : undefined,
    sqlState: typeof e.sqlState === 'string' ? e.sqlState : undefined,
  };
}

function isTimeout(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'TimeoutError';
}
