/**
 * The Snowflake warehouse: one snowflake-sdk pool per profile, shared by every editor using the profile.
 *
 * Each call borrows a connection, moves it to the call's context (USE … only where it differs), runs
 * its statement with statement-level parameters — QUERY_TAG naming snowmux, session, client, request and
 * tool; MULTI_STATEMENT_COUNT = 1; STATEMENT_TIMEOUT_IN_SECONDS — so nothing is left in the session for
 * the next call, and gives the connection back (or discards it when the statement may have changed
 * session state). A connection whose session is gone (expired master token, deleted session) is
 * discarded and the call is tried once more on a fresh one.
 *
 * snowflake-sdk is loaded on first use only (see sdk-loader.ts).
 */
import { SnowmuxError, isSnowmuxError } from '../../../errors.js';
import { browserSignInNote } from '../../config/browser-sign-in.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';
import { quoteIdentifier, stringLiteral } from '../../names/identifiers.js';
import { profileContextName } from '../../names/statement-context.js';
import type {
  AnalystReply,
  AnalystRequest,
  CallContext,
  ColumnDescription,
  DatabaseInfo,
  JsonValue,
  ObjectDetails,
  ObjectInfo,
  ObjectKind,
  ObjectRef,
  QueryOptions,
  QueryPlan,
  QueryProfile,
  QueryResult,
  SchemaInfo,
  SearchReply,
  SearchRequest,
  Warehouse,
  WarehouseInfo,
  WarehouseQueryFacts,
} from '../types.js';
import { accessUrlOf, buildConnectionOptions } from './connection-options.js';
import { analystMessage, cortexBaseUrl, qualifiedName, searchService, type CortexCall, type CortexOutcome } from './cortex-api.js';
import { queryTagText } from './query-tag.js';
import { loadSnowflakeSdk, sdkLoadMs } from './sdk-loader.js';
import type { SfConnection, SfConnectionOptions } from './sdk-types.js';
import { knownSessionNames, recordSessionNames, sameSessionNames, sessionName, sessionNamesKey, sessionNamesOfRows, type SessionNames } from '../../names/session-names.js';
import { baselineContext, contextStatements, desiredContext, sessionEffect, statementEffect, TrackedContext, type DesiredContext } from './session-context.js';
import {
  DEFAULT_LOGIN_WATCH,
  DEFAULT_OUTAGE_TIMINGS,
  OutageWatch,
  probeEndpoint,
  watchLogin,
  type LoginWatchTimings,
  type Outage,
  type OutageState,
  type OutageWatchTimings,
} from './outage-watch.js';
import { contextSwitchError, isSessionLost, profileTimeoutSetting, settingLabel } from './snowflake-errors.js';
import { snowflakePlan, snowflakeProfile } from './snowflake-plan.js';
import { INTERACTIVE_LOGIN_WAIT_MS, interactiveLogin, SnowflakePool } from './snowflake-pool.js';
import { fetchStatementResult, runStatement, type RowWindow, type StatementOutcome, type StatementSuccess } from './statement-runner.js';
import { failureNow, warehouseProblem, type LoginFailure } from '../warehouse-problem.js';

export interface SnowflakeWarehouseOptions {
  /** Extra snowflake-sdk connection options (e.g. `timeout`, `sfRetryMaxLoginRetries`); never secrets. */
  driverOptions?: Partial<SfConnectionOptions> | undefined;
  /** How often onProgress is called while a statement runs. Default 1000 ms. */
  progressIntervalMs?: number | undefined;
  /** Ask Snowflake whether a long statement is queued or running on each progress tick. Default true. */
  pollQueryStatus?: boolean | undefined;
  /** How long to wait for Snowflake to confirm a cancel before discarding the connection. Default 3000 ms. */
  cancelGraceMs?: number | undefined;
  /** Validate (heartbeat) connections idle at least this long before use. Default 60 000 ms. */
  validateIdleAfterMs?: number | undefined;
  validateTimeoutMs?: number | undefined;
  /** Longest a login may take. Default max(30 s, the pool's acquire timeout); for interactive logins (a person answers) max(INTERACTIVE_LOGIN_WAIT_MS, that). */
  loginTimeoutMs?: number | undefined;
  /** After Snowflake refused the credentials, no login for this long (growing ×4 per refusal). Default LOGIN_RETRY_AFTER_MS. */
  refusedRetryAfterMs?: number | undefined;
  /** How long a call waits while an interactive login asks a person. Default INTERACTIVE_LOGIN_WAIT_MS. */
  interactiveWaitMs?: number | undefined;
  /** How long close() waits for running calls to give their connections back. Default 5000 ms. */
  closeWaitMs?: number | undefined;
  /** Honour HTTP(S)_PROXY and NO_PROXY (the driver's setting is process-wide: the first Snowflake profile loaded decides). Default true, as in the driver. */
  useEnvProxy?: boolean | undefined;
  /** When a waiting statement starts checking that Snowflake answers, and how (see outage-watch.ts). */
  outageTimings?: OutageWatchTimings | undefined;
  /** When a pending login starts checking that the host answers at all, and how (watchLogin in outage-watch.ts). */
  loginWatchTimings?: LoginWatchTimings | undefined;
}

/** Rows read per SHOW/DESCRIBE page; Snowflake's SHOW returns at most 10 000 rows by default. */
const METADATA_MAX_ROWS = 100_000;
const QUERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Lease {
  connection: SfConnection;
  tracked: TrackedContext;
  /** Set when the connection must not serve another call. */
  discard: boolean;
  /** The call's signal, also aborted when the warehouse closes. */
  signal: AbortSignal;
  cancelled: () => SnowmuxError;
}

export class SnowflakeWarehouse implements Warehouse {
  readonly kind = 'snowflake' as const;
  private pool: Promise<SnowflakePool> | undefined;
  private readyPool: SnowflakePool | undefined;
  private readonly tracked = new WeakMap<SfConnection, TrackedContext>();
  /** Connections told USE SECONDARY ROLES NONE (see primaryRoleOnly). */
  private readonly primaryOnly = new WeakSet<SfConnection>();
  /** How each connection's session resolves names, read once after its login (SHOW PARAMETERS IN SESSION). */
  private readonly namesOf = new WeakMap<SfConnection, SessionNames>();
  private readonly baseline: DesiredContext;
  private readonly active = new Set<AbortController>();
  /** Operations begun and not finished (counted before their first await, unlike `active`). */
  private running = 0;
  /** Set by retire(): close once `running` is 0; resolves when closed. */
  private retired: { closed: Promise<void>; done: () => void } | undefined;
  private closed = false;
  /** When close() ran: the wall-clock time shown, and the monotonic one (see LoginFailure). */
  private closedAt = { at: 0, mono: 0 };
  /** Why the pool could not be built (driver missing, settings refused), until it is. */
  private poolFailure: LoginFailure | null = null;
  private method: string;
  private readonly baseUrl: string;
  private readonly outages: OutageWatch;

  constructor(
    readonly profile: SnowflakeProfile,
    private readonly options: SnowflakeWarehouseOptions = {},
  ) {
    this.baseline = baselineContext(profile);
    this.method = profile.auth.method;
    this.baseUrl = cortexBaseUrl({ accessUrl: accessUrlOf(profile), account: profile.account });
    const timings = options.outageTimings ?? DEFAULT_OUTAGE_TIMINGS;
    const proxy = { useEnvProxy: options.useEnvProxy ?? true };
    this.outages = new OutageWatch(() => probeEndpoint(this.baseUrl, proxy, timings.probeTimeoutMs), timings);
  }

  // ---- Warehouse --------------------------------------------------------------------------------

  info(): WarehouseInfo {
    const p = this.profile;
    const detail: Record<string, JsonValue> = {
      account: p.account,
      user: p.user,
      authenticator: this.method,
      role: p.role ?? null,
      warehouse: p.warehouse ?? null,
      database: p.database ?? null,
      schema: p.schema ?? null,
      pool: this.readyPool ? { ...this.readyPool.stats() } : { size: 0, available: 0, borrowed: 0, pending: 0, min: p.pool.min, max: p.pool.max, logins: 0 },
      driverLoadMs: sdkLoadMs() === undefined ? null : Math.round(sdkLoadMs()!),
    };
    if (p.accessUrl !== undefined) detail['accessUrl'] = p.accessUrl;
    const signIn = browserSignInNote(p);
    if (signIn !== undefined) detail['signInNote'] = signIn;
    const failing = this.outages.failingNow();
    if (failing !== null) detail['outage'] = { reason: failing.reason, since: new Date(failing.since).toISOString(), checks: failing.probes };
    const problem = warehouseProblem(this.failure() ?? this.outageFailure(failing));
    return { kind: 'snowflake', name: p.name, detail, defaultDatabase: profileContextName(p.database, 'database'), defaultSchema: profileContextName(p.schema, 'schema'), capacity: p.pool.max, ...(problem ? { problem } : {}) };
  }

  /** Why calls cannot run here now: closed, the pool could not be built, or its logins fail (see WarehouseInfo.problem). */
  private failure(): LoginFailure | null {
    if (this.closed) {
      return { error: new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake warehouse of profile "${this.profile.name}" is closed (the hub is stopping).`), ...this.closedAt, failures: 1 };
    }
    return this.poolFailure ?? this.readyPool?.loginFailure() ?? null;
  }

  /** Ends a pending login whose host does not answer at all (see watchLogin), with what to check. */
  private watchLogin(dead: (error: SnowmuxError) => void): () => void {
    const timings = this.options.loginWatchTimings ?? DEFAULT_LOGIN_WATCH;
    const proxy = { useEnvProxy: this.options.useEnvProxy ?? true };
    return watchLogin(
      () => probeEndpoint(this.baseUrl, proxy, timings.probeTimeoutMs, 'front-page'),
      timings,
      ({ reason, waitedMs, proxy: via }) => dead(deadHostError(this.profile, this.baseUrl, reason, waitedMs, proxy.useEnvProxy, via)),
    );
  }

  /**
   * An outage the reachability checks see (outage-watch.ts) while logins still work — e.g. the query service
   * answering 503 behind its gateway — as the problem status, doctor and /readyz show. Transient: it counts
   * from the last failed check, so once nothing waits on Snowflake (no more checks) it lapses after
   * LOGIN_RETRY_AFTER_MS, and a statement that finishes clears it at once.
   */
  private outageFailure(failing: OutageState | null): LoginFailure | null {
    if (failing === null) return null;
    const error = new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `Snowflake at ${new URL(this.baseUrl).origin} is unavailable: ${failing.reason} on ${failing.probes} check(s) in a row since ${new Date(failing.since).toISOString()}, while statements waited on it. ` +
        `Statements on this profile fail as WAREHOUSE_UNAVAILABLE (retryable) until it answers again; check Snowflake's status page and the network or proxy.`,
      { details: { profile: this.profile.name, reason: failing.reason, unreachable: true, infrastructure: true, transient: true } },
    );
    return { error, at: failing.lastAt, mono: failing.lastMono, failures: failing.probes };
  }

  /**
   * The hub's queue holds calls for this pool's connections: they wait as long as the pool would let them —
   * longer while an interactive login asks a person (or before the first one), who may take a minute.
   */
  get capacityWaitMs(): number {
    const { acquireTimeoutMs } = this.profile.pool;
    const asking = interactiveLogin(this.profile) && (this.readyPool === undefined || this.readyPool.awaitingPerson());
    return asking ? Math.max(acquireTimeoutMs, this.options.interactiveWaitMs ?? INTERACTIVE_LOGIN_WAIT_MS) : acquireTimeoutMs;
  }

  /** A call that waited capacityWaitMs in the hub's queue without getting a connection. */
  capacityBusy(waitedMs: number): SnowmuxError {
    const { max } = this.profile.pool;
    const person = this.readyPool?.waitingForPerson(waitedMs);
    if (person !== undefined) return person;
    const failing = this.outages.failingNow();
    if (failing !== null) return this.busyInOutage(failing, waitedMs);
    return new SnowmuxError(
      'POOL_EXHAUSTED',
      `All ${max} connections of profile "${this.profile.name}" are busy (this call waited ${Math.round(waitedMs)} ms for one; nothing ran in Snowflake). ` +
        `Try again shortly, cancel long-running queries, or raise ${settingLabel(this.profile, 'pool.max')} or ${profileTimeoutSetting(this.profile, 'pool.acquireTimeoutMs')}.`,
      { details: { profile: this.profile.name, max, waitedMs: Math.round(waitedMs), infrastructure: false } },
    );
  }

  /**
   * Waiting for a connection while Snowflake is unreachable: the connections are held by calls waiting on
   * it, so more connections would not help — the outage is what to report.
   */
  private busyInOutage(failing: OutageState, waitedMs: number): SnowmuxError {
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `No connection of profile "${this.profile.name}" came free within ${Math.round(waitedMs)} ms: Snowflake at ${new URL(this.baseUrl).origin} has not answered since ${new Date(failing.since).toISOString()} (${failing.reason}), and the calls holding the connections wait on it, so more connections would not help. Nothing ran in Snowflake for this call. Check Snowflake's status and the network or proxy; retry once it answers.`,
      { details: { profile: this.profile.name, waitedMs: Math.round(waitedMs), reason: failing.reason, unreachable: true, infrastructure: true, transient: true } },
    );
  }

  /** Logs in ahead of the first call (the driver load and one login), so the first call is warm. */
  async warmUp(): Promise<void> {
    const pool = await this.getPool();
    const controller = new AbortController();
    const { connection } = await pool.acquire(controller.signal, () => cancelledError(controller.signal, 'Warm-up'));
    pool.release(connection);
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const started = performance.now();
    const effect = options.statement ? statementEffect(options.statement) : sessionEffect(sql);
    const window: RowWindow = { start: 0, maxRows: Math.max(0, options.maxRows), maxBytes: options.maxBytes };
    const success = await this.withConnection(options, 'statement', options.repeatable !== false, async (lease) => {
      const outcome = await this.execute(lease, sql, options, window, options.binds, options.onProgress);
      // Statements that may change session state (beyond USE, which is tracked) cost their connection.
      if (effect === 'dirty') lease.discard = true;
      return outcome;
    });
    return {
      columns: success.columns,
      rows: success.rows,
      rowCount: success.rows.length,
      truncated: success.truncated,
      truncatedBy: success.truncatedBy,
      // How many rows the result has (Snowflake says with the answer): notices give "of N", a page past the
      // end says so, and a row too large for the byte cap is not told of rows after it that do not exist.
      totalRows: success.totalRows,
      queryId: success.queryId,
      statementType: leadingKeyword(sql),
      elapsedMs: performance.now() - started,
    };
  }

  /** Where a finished query spent its time: GET_QUERY_OPERATOR_STATS (Snowflake keeps it for 14 days). */
  async queryProfile(queryId: string, ctx: CallContext): Promise<QueryProfile> {
    if (!QUERY_ID.test(queryId)) {
      throw new SnowmuxError('INVALID_ARGUMENT', `"${queryId.slice(0, 80)}" is not a Snowflake query id. Pass a query id from execute_query or query_history.`);
    }
    // The id is checked above to be a UUID: it is safe as a literal.
    let result: QueryResult;
    try {
      result = await this.query(`SELECT * FROM TABLE(GET_QUERY_OPERATOR_STATS('${queryId}'))`, { ...ctx, maxRows: 10_000 });
    } catch (err) {
      // Snowflake's "Query '…' does not exist or not authorized" went out as a name to check ("quoted names
      // are case-sensitive"): it is about the id, which Snowflake has no statistics for.
      if (!isSnowmuxError(err) || err.code !== 'OBJECT_NOT_FOUND') throw err;
      throw new SnowmuxError(
        'RESULT_NOT_FOUND',
        `Snowflake has no operator statistics for query id ${queryId}: it is unknown, older than the 14 days Snowflake keeps them, or was not run by this profile's Snowflake user (${err.message.replace(/\s*Check the name.*$/s, '')}). ` +
          'Pass a query id from execute_query or query_history, or run the query again.',
        { cause: err, details: { ...err.details, queryId } },
      );
    }
    return snowflakeProfile(queryId, result);
  }

  /**
   * What Snowflake recorded about these statements of the hub's (INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER,
   * kept 7 days; needs a running warehouse): joined by query id, and only statements carrying the hub's
   * QUERY_TAG, so nothing run outside the hub under the same user comes back.
   */
  async queryFacts(queryIds: string[], ctx: CallContext): Promise<WarehouseQueryFacts[]> {
    // Checked to be UUIDs: safe as literals.
    const ids = [...new Set(queryIds)].filter((id) => QUERY_ID.test(id));
    if (ids.length === 0) return [];
    const sql =
      'SELECT QUERY_ID, WAREHOUSE_NAME, EXECUTION_STATUS, BYTES_SCANNED, TOTAL_ELAPSED_TIME ' +
      'FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER(RESULT_LIMIT => 10000)) ' +
      `WHERE QUERY_ID IN (${ids.map((id) => `'${id}'`).join(', ')}) AND QUERY_TAG LIKE 'snowmux:%'`;
    const result = await this.query(sql, { ...ctx, maxRows: ids.length });
    const at = (name: string) => result.columns.findIndex((c) => c.name.toUpperCase() === name);
    const [id, wh, status, bytes, elapsed] = ['QUERY_ID', 'WAREHOUSE_NAME', 'EXECUTION_STATUS', 'BYTES_SCANNED', 'TOTAL_ELAPSED_TIME'].map(at) as [number, number, number, number, number];
    const num = (v: JsonValue | undefined) => (v === null || v === undefined || v === '' ? null : Number(v));
    return result.rows.map((r) => ({
      queryId: String(r[id]),
      warehouse: r[wh] === null || r[wh] === undefined ? null : String(r[wh]),
      status: String(r[status] ?? ''),
      bytesScanned: num(r[bytes]),
      elapsedMs: num(r[elapsed]),
    }));
  }

  /** Snowflake's compile-time plan and scan estimate: EXPLAIN needs no running warehouse and runs nothing. */
  async explain(sql: string, ctx: CallContext): Promise<QueryPlan> {
    const result = await this.query(`EXPLAIN USING TABULAR ${sql}`, { ...ctx, maxRows: 10_000 });
    return snowflakePlan(result);
  }

  /** Cortex Analyst: the question over a semantic view or model file → an answer and usually one SQL statement. */
  cortexAnalyst(request: AnalystRequest, ctx: CallContext): Promise<AnalystReply> {
    return this.withSession(ctx, 'Cortex Analyst', (call) => analystMessage(call, request));
  }

  /** A Cortex Search service's ranked rows for a query. */
  cortexSearch(service: ObjectRef, request: SearchRequest, ctx: CallContext): Promise<SearchReply> {
    return this.withSession(ctx, `Cortex Search service ${qualifiedName(service)}`, (call) => searchService(call, service, request));
  }

  async listDatabases(ctx: CallContext): Promise<DatabaseInfo[]> {
    const rows = await this.metadata('SHOW DATABASES', ctx);
    return rows.map((r) => ({ name: text(r, 'name'), ...optional('comment', r['comment']) }));
  }

  async listSchemas(database: string, ctx: CallContext): Promise<SchemaInfo[]> {
    const rows = await this.metadata(`SHOW SCHEMAS IN DATABASE ${quoteIdentifier(database)}`, ctx);
    return rows.map((r) => ({ database: text(r, 'database_name'), name: text(r, 'name'), ...optional('comment', r['comment']) }));
  }

  async listObjects(database: string, schema: string, kind: ObjectKind, ctx: CallContext): Promise<ObjectInfo[]> {
    const where = `${quoteIdentifier(database)}.${quoteIdentifier(schema)}`;
    const rows = await this.metadata(`SHOW ${kind === 'view' ? 'VIEWS' : 'TABLES'} IN SCHEMA ${where}`, ctx);
    return rows.map((r) => {
      const info: ObjectInfo = { database: text(r, 'database_name'), schema: text(r, 'schema_name'), name: text(r, 'name'), kind };
      const comment = r['comment'];
      if (typeof comment === 'string' && comment !== '') info.comment = comment;
      const count = r['rows'];
      if (kind === 'table' && (typeof count === 'number' || (typeof count === 'string' && /^\d+$/.test(count)))) info.rowCount = Number(count);
      return info;
    });
  }

  async describeObject(ref: ObjectRef, kind: ObjectKind, ctx: CallContext): Promise<ColumnDescription[]> {
    const name = `${quoteIdentifier(ref.database)}.${quoteIdentifier(ref.schema)}.${quoteIdentifier(ref.name)}`;
    const rows = await this.metadata(`DESCRIBE ${kind === 'view' ? 'VIEW' : 'TABLE'} ${name}`, ctx);
    return rows.map((r) => ({
      name: text(r, 'name'),
      type: text(r, 'type'),
      nullable: r['null?'] !== 'N',
      default: typeof r['default'] === 'string' ? r['default'] : null,
      comment: typeof r['comment'] === 'string' && r['comment'] !== '' ? r['comment'] : null,
    }));
  }

  /**
   * The object's comment and clustering key (SHOW … LIKE: no running warehouse needed) and, when asked, its
   * tags and its columns' tags (INFORMATION_SCHEMA table functions, which need a warehouse and the
   * privilege to see the tags: when they fail, the reason is returned instead of failing the call).
   */
  async objectDetails(ref: ObjectRef, kind: ObjectKind, options: { tags: boolean }, ctx: CallContext): Promise<ObjectDetails> {
    const schema = `${quoteIdentifier(ref.database)}.${quoteIdentifier(ref.schema)}`;
    // LIKE narrows the listing; the exact name is picked below (a LIKE pattern may match more).
    const rows = await this.metadata(`SHOW ${kind === 'view' ? 'VIEWS' : 'TABLES'} LIKE ${stringLiteral(ref.name)} IN SCHEMA ${schema}`, ctx);
    // Under QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE `"orders"` is ORDERS (sessionName): picked by the name as
    // written, its comment and clustering key were lost. When how the session reads names is not known (a role
    // without object rules), the name as written, else in upper case: without the setting, DESCRIBE (run with
    // this) finds only an object of the name as written, which the listing then holds.
    const names = this.sessionNames();
    const wanted = names === undefined ? [ref.name, ref.name.toUpperCase()] : [sessionName(ref.name, names)];
    const row = wanted.map((name) => rows.find((r) => r['name'] === name)).find((r) => r !== undefined);
    const details: ObjectDetails = {};
    if (row) {
      if (typeof row['comment'] === 'string' && row['comment'] !== '') details.comment = row['comment'];
      if (typeof row['cluster_by'] === 'string' && row['cluster_by'] !== '') details.clusteringKey = row['cluster_by'];
    }
    if (!options.tags) return details;
    const object = stringLiteral(`${schema}.${quoteIdentifier(ref.name)}`);
    const from = (fn: string): string =>
      `SELECT TAG_DATABASE, TAG_SCHEMA, TAG_NAME, TAG_VALUE, COLUMN_NAME FROM TABLE(${quoteIdentifier(ref.database)}.INFORMATION_SCHEMA.${fn}(${object}, 'table'))`;
    try {
      const tagRows = [...(await this.metadata(from('TAG_REFERENCES'), ctx)), ...(await this.metadata(from('TAG_REFERENCES_ALL_COLUMNS'), ctx))];
      details.tags = tagRows.map((r) => ({
        tag: { database: text(r, 'TAG_DATABASE'), schema: text(r, 'TAG_SCHEMA'), name: text(r, 'TAG_NAME') },
        value: text(r, 'TAG_VALUE'),
        ...(typeof r['COLUMN_NAME'] === 'string' && r['COLUMN_NAME'] !== '' ? { column: r['COLUMN_NAME'] } : {}),
      }));
    } catch (err) {
      if (!isSnowmuxError(err) || !['SQL_ERROR', 'PERMISSION_DENIED', 'OBJECT_NOT_FOUND'].includes(err.code)) throw err;
      details.tagsUnavailable = `Snowflake did not give the tags: ${err.message.slice(0, 300)} Reading tags needs a running warehouse and a role that may see the tags.`;
    }
    return details;
  }

  async fetchResults(queryId: string, page: { offset: number; limit: number; maxBytes?: number }, ctx: CallContext): Promise<QueryResult> {
    const started = performance.now();
    if (!QUERY_ID.test(queryId)) {
      throw new SnowmuxError('INVALID_ARGUMENT', `"${queryId.slice(0, 80)}" is not a Snowflake query id. Pass the query id reported with a truncated result.`);
    }
    const window: RowWindow = { start: Math.max(0, page.offset), maxRows: Math.max(0, page.limit), maxBytes: page.maxBytes };
    const success = await this.withConnection(ctx, 'fetch', true, (lease) =>
      fetchStatementResult(lease.connection, queryId, window, lease.signal, lease.cancelled, {
        profile: this.profile,
        phase: 'fetch',
      }),
    );
    return {
      columns: success.columns,
      rows: success.rows,
      rowCount: success.rows.length,
      truncated: success.truncated,
      truncatedBy: success.truncatedBy,
      totalRows: success.totalRows,
      queryId,
      elapsedMs: performance.now() - started,
    };
  }

  /**
   * Its settings were superseded (see Warehouse.retire): statements running finish, then every session of
   * the pool is logged out, as on hub stop. A statement that reaches it later is refused (staleError).
   */
  retire(): Promise<void> {
    if (this.retired === undefined) {
      let done!: () => void;
      const closed = new Promise<void>((resolve) => {
        done = resolve;
      });
      this.retired = { closed, done };
      this.closeIfRetired();
    }
    return this.retired.closed;
  }

  private closeIfRetired(): void {
    const retired = this.retired;
    if (retired === undefined || this.running > 0) return;
    void this.close().then(retired.done, retired.done);
  }

  /** Counts `work` as running, so a retired warehouse closes only after it. */
  private async inUse<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.closeIfRetired();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closedAt = { at: Date.now(), mono: performance.now() };
    const closing = new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake warehouse of profile "${this.profile.name}" is shutting down. Retry once the hub is back.`);
    for (const controller of this.active) controller.abort(closing);
    const pool = this.pool;
    this.pool = undefined;
    if (pool === undefined) return;
    try {
      await (await pool).close(this.options.closeWaitMs ?? 5_000);
    } catch {
      // The pool never started (e.g. bad settings): nothing to log out.
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private getPool(): Promise<SnowflakePool> {
    if (this.closed && this.retired !== undefined) return Promise.reject(this.staleError());
    if (this.closed) {
      return Promise.reject(new SnowmuxError('WAREHOUSE_CLOSED', `The Snowflake warehouse of profile "${this.profile.name}" is closed.`));
    }
    if (this.pool === undefined) {
      const creating = (async () => {
        const sdk = await loadSnowflakeSdk({ useEnvProxy: this.options.useEnvProxy });
        const built = buildConnectionOptions(this.profile, this.options.driverOptions);
        this.method = built.method;
        const settings = this.profile.pool;
        const pool = new SnowflakePool(sdk, this.profile, built.options, built.interactive, {
          validateIdleAfterMs: this.options.validateIdleAfterMs ?? 60_000,
          validateTimeoutMs: this.options.validateTimeoutMs ?? 5_000,
          loginTimeoutMs: this.options.loginTimeoutMs ?? Math.max(built.interactive ? (this.options.interactiveWaitMs ?? INTERACTIVE_LOGIN_WAIT_MS) : 30_000, settings.acquireTimeoutMs),
          destroyTimeoutMs: 5_000,
          destroyDeferMs: 120_000,
          refusedRetryAfterMs: this.options.refusedRetryAfterMs,
          interactiveWaitMs: this.options.interactiveWaitMs,
          watchLogin: (dead) => this.watchLogin(dead),
        });
        this.readyPool = pool;
        this.poolFailure = null;
        return pool;
      })();
      this.pool = creating;
      creating.catch((err: unknown) => {
        this.poolFailure = failureNow(err, (this.poolFailure?.failures ?? 0) + 1);
        if (this.pool === creating) this.pool = undefined; // settings may be fixed; try again next call
      });
    }
    return this.pool;
  }

  /**
   * For a statement that had picked this warehouse before its settings were superseded and reached it only
   * after its sessions were logged out: nothing was sent, and the call's next run uses the new settings.
   * Not an outage (the breaker does not count it) and not retried on this warehouse.
   */
  private staleError(): SnowmuxError {
    return new SnowmuxError(
      'CONNECTION_LOST',
      `The Snowflake settings of profile "${this.profile.name}" changed while this call waited (rotated credentials, or a reload), and the sessions logged in with the old ones were closed; nothing was sent to Snowflake. Run the call again: it uses the new settings.`,
      { details: { profile: this.profile.name, infrastructure: false, settingsChanged: true } },
    );
  }

  /**
   * Borrows a connection, runs `work` with the call's context applied, and gives the connection back —
   * or discards it (unhealthy, session state changed, context not restorable). A lost session is retried
   * once on a fresh connection.
   */
  private withConnection(ctx: CallContext, phase: 'statement' | 'fetch', repeatable: boolean, work: (lease: Lease) => Promise<StatementOutcome>): Promise<StatementSuccess> {
    return this.inUse(() => this.connectionCall(ctx, phase, repeatable, work));
  }

  private async connectionCall(ctx: CallContext, phase: 'statement' | 'fetch', repeatable: boolean, work: (lease: Lease) => Promise<StatementOutcome>): Promise<StatementSuccess> {
    // Bad names in the call's context fail here, before a connection is taken.
    const desired = phase === 'statement' ? desiredContext(this.baseline, ctx) : undefined;
    const pool = await this.getPool();
    const controller = new AbortController();
    const forward = (): void => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) forward();
    else ctx.signal.addEventListener('abort', forward, { once: true });
    this.active.add(controller);
    const signal = controller.signal;
    const cancelled = (): SnowmuxError => cancelledError(signal, phase === 'fetch' ? 'Fetching the result' : 'The statement');
    try {
      for (let attempt = 0; ; attempt++) {
        const { connection } = await pool.acquire(signal, cancelled).catch((err: unknown) => {
          const failing = this.outages.failingNow();
          throw failing !== null && isSnowmuxError(err) && err.code === 'POOL_EXHAUSTED' ? this.busyInOutage(failing, this.profile.pool.acquireTimeoutMs) : err;
        });
        const lease: Lease = { connection, tracked: this.trackedFor(connection), discard: false, signal, cancelled };
        let outage: Outage | undefined;
        const unwatch = this.outages.watch((found) => {
          outage = found;
          controller.abort(unreachableError(this.profile.name, this.baseUrl, found, undefined));
        });
        let outcome: StatementOutcome;
        // The hub's own USE failed: the call's statement was never sent, whatever query id the USE had.
        let unsent = false;
        try {
          const namesRefused = desired === undefined || ctx.judgedNames === undefined ? undefined : await this.checkNames(lease, ctx.judgedNames, ctx);
          const contextFailed = namesRefused ?? (desired === undefined ? undefined : ((await this.primaryRoleOnly(lease, desired, ctx)) ?? (await this.applyContext(lease, desired, ctx))));
          unsent = contextFailed !== undefined;
          outcome = contextFailed ?? (await work(lease));
          if (desired !== undefined && outcome.ok) lease.tracked.observe(outcome.sessionState);
        } catch (err) {
          pool.discard(connection);
          throw err;
        } finally {
          unwatch();
        }
        const lost = !outcome.ok && isSessionLost(outcome.raw ?? outcome.error);
        // The driver still retries the abandoned request on this connection: it must not serve another call.
        const keep = outage === undefined && (outcome.ok ? true : outcome.healthy && !lost);
        if (!keep || lease.discard || !lease.tracked.restorable(this.baseline)) pool.discard(connection, outcome.ok ? undefined : outcome.finished);
        else pool.release(connection);
        if (outcome.ok) {
          this.outages.answered();
          return outcome;
        }
        if (outage !== undefined) throw unreachableError(this.profile.name, this.baseUrl, outage, outcome.queryId);
        // A lost session is tried once more on a fresh one, unless the statement may write and Snowflake had
        // taken it (it has a query id): it may have run, and sending it again ran an INSERT twice.
        if (lost && attempt === 0 && !signal.aborted && (repeatable || unsent || outcome.queryId === undefined)) continue;
        if (lost && !repeatable && !unsent && outcome.queryId !== undefined) throw mayHaveRun(outcome.error, outcome.queryId);
        // A USE's query id is not the call's: its record and query_history would name a statement that never ran.
        if (unsent) throw whoseTimeout(outcome.error, undefined);
        throw withQueryId(whoseTimeout(outcome.error, outcome.queryId), outcome.queryId);
      }
    } finally {
      ctx.signal.removeEventListener('abort', forward);
      this.active.delete(controller);
    }
  }

  /**
   * Borrows a logged-in connection for a Cortex REST call made with its session token. An expired token is
   * renewed the driver's way (any statement renews it) and the call tried once more on the same session; a
   * session Snowflake no longer accepts costs its connection.
   */
  private withSession<T>(ctx: CallContext, what: string, work: (call: CortexCall) => Promise<CortexOutcome<T>>): Promise<T> {
    return this.inUse(() => this.sessionCall(ctx, what, work));
  }

  private async sessionCall<T>(ctx: CallContext, what: string, work: (call: CortexCall) => Promise<CortexOutcome<T>>): Promise<T> {
    const pool = await this.getPool();
    const controller = new AbortController();
    const forward = (): void => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) forward();
    else ctx.signal.addEventListener('abort', forward, { once: true });
    const timeoutMs = this.timeoutMs(ctx);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => controller.abort(new SnowmuxError('QUERY_TIMEOUT', `${what} took longer than ${timeoutMs} ms and was abandoned. Ask a narrower question, or raise ${this.timeoutSetting(ctx)}.`)), timeoutMs)
        : undefined;
    this.active.add(controller);
    const signal = controller.signal;
    const cancelled = (): SnowmuxError => cancelledError(signal, what);
    let acquired = false;
    // Bad names in the call's context fail here, before a connection is taken.
    const desired = desiredContext(this.baseline, ctx);
    try {
      const { connection } = await pool.acquire(signal, cancelled);
      acquired = true;
      const call: CortexCall = { baseUrl: this.baseUrl, connection, signal, what, cancelled, proxy: { useEnvProxy: this.options.useEnvProxy ?? true } };
      const lease: Lease = { connection, tracked: this.trackedFor(connection), discard: false, signal, cancelled };
      let keep = true;
      try {
        // The names the object rules judged (a service, a semantic view, a stage) are read by the session that
        // serves the REST call: judged with other name settings than it has, the call is not made.
        const namesRefused = ctx.judgedNames === undefined ? undefined : await this.checkNames(lease, ctx.judgedNames, ctx);
        // The REST call runs as the session's current role (and warehouse): the call's own, not what the
        // pooled session's previous call (another role's, another user's) left there.
        const contextFailed = namesRefused ?? (await this.primaryRoleOnly(lease, desired, ctx)) ?? (await this.applyContext(lease, desired, ctx));
        if (contextFailed !== undefined) {
          keep = contextFailed.ok || (contextFailed.healthy && !isSessionLost(contextFailed.raw ?? contextFailed.error));
          throw contextFailed.ok ? new SnowmuxError('INTERNAL_ERROR', `${what}: the session context failed without an error.`) : contextFailed.error;
        }
        let outcome = await work(call);
        if (!outcome.ok && outcome.expired) {
          const renewed = await this.hubStatement({ connection, signal, cancelled }, 'SELECT 1', ctx);
          if (!renewed.ok) {
            keep = false;
            throw renewed.error;
          }
          outcome = await work(call);
        }
        if (outcome.ok) return outcome.value;
        keep = outcome.expired ? false : outcome.error.code !== 'CONNECTION_LOST';
        throw outcome.expired ? new SnowmuxError('CONNECTION_LOST', `${what}: Snowflake did not accept the renewed session. A new session is opened for the next call.`) : outcome.error;
      } finally {
        // A REST call leaves nothing in the session: only a failed renewal or a refused session costs it, or a
        // context the next call cannot restore (a role switched where the profile names none).
        if (keep && !lease.discard && lease.tracked.restorable(this.baseline)) pool.release(connection);
        else pool.discard(connection);
      }
    } catch (err) {
      throw acquired ? callersTimeout(err) : err;
    } finally {
      if (timer) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', forward);
      this.active.delete(controller);
    }
  }

  private trackedFor(connection: SfConnection): TrackedContext {
    let tracked = this.tracked.get(connection);
    if (tracked === undefined) {
      tracked = new TrackedContext(this.baseline);
      this.tracked.set(connection, tracked);
    }
    return tracked;
  }

  /** How this profile's user's sessions resolve names, as the last login read them (undefined before one did). */
  sessionNames(): SessionNames | undefined {
    return knownSessionNames(sessionNamesKey(this.profile));
  }

  /**
   * A statement whose names the object rules judged runs only on a session that resolves names as they
   * assumed: an account or user may set QUOTED_IDENTIFIERS_IGNORE_CASE or SEARCH_PATH, which a login takes on.
   * Read once per connection (SHOW PARAMETERS IN SESSION, the session's values whatever level set them);
   * a session with other values than the statement was judged with does not run it, and the next call is
   * judged with what this one read. ALTER SESSION of either is refused to these roles (sql-objects.ts), and
   * a connection that ran ALTER SESSION is not pooled, so the values read stay the session's.
   */
  private async checkNames(lease: Lease, judged: SessionNames, ctx: CallContext): Promise<StatementOutcome | undefined> {
    let names = this.namesOf.get(lease.connection);
    if (names === undefined) {
      const outcome = await this.hubStatement(lease, 'SHOW PARAMETERS IN SESSION', ctx, { start: 0, maxRows: 10_000 });
      if (!outcome.ok) return outcome;
      lease.tracked.observe(outcome.sessionState);
      names = sessionNamesOfRows(
        outcome.columns.map((c) => c.name),
        outcome.rows,
      );
      this.namesOf.set(lease.connection, names);
      recordSessionNames(sessionNamesKey(this.profile), names);
    }
    if (sameSessionNames(names, judged)) return undefined;
    const shown = (n: SessionNames): string => `QUOTED_IDENTIFIERS_IGNORE_CASE = ${n.quotedIgnoreCase ? 'TRUE' : 'FALSE'}, SEARCH_PATH = '${n.searchPath}'`;
    const error = new SnowmuxError(
      'POLICY_DENIED',
      `Query refused: its object names were judged with ${shown(judged)}, but the Snowflake session of profile "${this.profile.name}" resolves names with ${shown(names)} ` +
        `(set for its Snowflake user or account), so they could mean other objects; nothing was sent (rule: session-names). Run the call again: it is judged with the session's settings.`,
      { details: { rule: 'session-names', profile: this.profile.name, quotedIdentifiersIgnoreCase: names.quotedIgnoreCase, searchPath: names.searchPath } },
    );
    return { ok: false, error, raw: undefined, healthy: true, queryId: undefined };
  }

  /**
   * A call that names its Snowflake role (its role's `snowflake_role`, or the profile's role) runs with that
   * role's privileges only. A session starts with the user's DEFAULT_SECONDARY_ROLES — `('ALL')` for users
   * created since Snowflake's 2024_08 bundle —, under which every role granted to the user authorizes its
   * statements too, whatever `USE ROLE` the hub sends: a read-only snowflake_role then read (and wrote) with
   * the user's other roles. So once per login, before such a call: USE SECONDARY ROLES NONE. Where the profile
   * names no role, a call without one of its own would have run with the login's secondary roles: a session
   * changed for a call that names one is not pooled.
   */
  private async primaryRoleOnly(lease: Lease, desired: DesiredContext, ctx: CallContext): Promise<StatementOutcome | undefined> {
    if (desired.role === null || this.primaryOnly.has(lease.connection)) return undefined;
    const outcome = await this.hubStatement(lease, 'USE SECONDARY ROLES NONE', ctx);
    if (!outcome.ok) return outcome;
    this.primaryOnly.add(lease.connection);
    if (this.baseline.role === null) lease.discard = true;
    return undefined;
  }

  /**
   * A statement of the hub's own on a call's connection (its context, the name settings, a session renewal): run
   * with the call's parameters, signal and cancel, no status polling, its errors said as the profile's.
   */
  private hubStatement(on: Pick<Lease, 'connection' | 'signal' | 'cancelled'>, sqlText: string, ctx: CallContext, rows?: { start: number; maxRows: number }): Promise<StatementOutcome> {
    return runStatement({
      connection: on.connection,
      sqlText,
      parameters: this.statementParameters(ctx),
      signal: on.signal,
      cancelled: on.cancelled,
      progressIntervalMs: this.options.progressIntervalMs ?? 1000,
      pollStatus: false,
      cancelGraceMs: this.options.cancelGraceMs ?? 3000,
      ...(rows ? { rows } : {}),
      errors: { profile: this.profile, phase: 'statement' },
    });
  }

  /** Sends the USE statements that give the connection this call's context; a failure is the call's outcome. */
  private async applyContext(lease: Lease, desired: DesiredContext, ctx: CallContext): Promise<StatementOutcome | undefined> {
    for (const statement of contextStatements(lease.tracked, desired, this.baseline)) {
      const outcome = await this.hubStatement(lease, statement.sql, ctx);
      if (!outcome.ok) {
        const fields = Object.keys(statement.sets) as (keyof DesiredContext)[];
        // The call's own value (its hub role's, or its arguments) when it gave one, else the profile's.
        const origin = fields.some((f) => ctx[f] !== undefined && ctx[f] !== '') ? 'call' : 'profile';
        const role = lease.tracked.get('role') ?? null;
        return { ...outcome, error: contextSwitchError(outcome.error, this.profile, { sql: statement.sql, fields, origin, role }) };
      }
      for (const [field, value] of Object.entries(statement.sets)) lease.tracked.set(field as keyof DesiredContext, value);
      lease.tracked.observe(outcome.sessionState);
    }
    return undefined;
  }

  private statementParameters(ctx: CallContext): Record<string, string | number> {
    const params: Record<string, string | number> = {
      QUERY_TAG: queryTagText(ctx.tag),
      MULTI_STATEMENT_COUNT: 1,
    };
    const timeoutMs = this.timeoutMs(ctx);
    if (timeoutMs > 0) params['STATEMENT_TIMEOUT_IN_SECONDS'] = Math.max(1, Math.ceil(timeoutMs / 1000));
    return params;
  }

  /**
   * The statement's timeout: the call's (its role's or the hub's call timeout), or the profile's own
   * statement_timeout_s when someone set it and it is shorter — a profile's admin caps what its connection
   * runs. Its default (300 s) does not cap: a role or call timeout raised past it is meant.
   */
  private timeoutMs(ctx: CallContext): number {
    if (ctx.timeoutMs === undefined || this.profileTimeoutCaps(ctx.timeoutMs)) return this.profile.statementTimeoutMs;
    return ctx.timeoutMs;
  }

  /** The setting a timeout's advice names: the one timeoutMs came from. */
  private timeoutSetting(ctx: CallContext): string {
    if (ctx.timeoutMs === undefined || this.profileTimeoutCaps(ctx.timeoutMs)) return profileTimeoutSetting(this.profile);
    return ctx.timeoutSetting ?? profileTimeoutSetting(this.profile);
  }

  private profileTimeoutCaps(callTimeoutMs: number): boolean {
    return this.profile.sources['statementTimeoutMs'] !== undefined && this.profile.statementTimeoutMs < callTimeoutMs;
  }

  private execute(
    lease: Lease,
    sql: string,
    ctx: CallContext,
    window: RowWindow | undefined,
    binds: JsonValue[] | undefined,
    onProgress: CallContext['onProgress'],
  ): Promise<StatementOutcome> {
    const timeoutMs = this.timeoutMs(ctx);
    const setting = this.timeoutSetting(ctx);
    return runStatement({
      connection: lease.connection,
      sqlText: sql,
      binds,
      parameters: this.statementParameters(ctx),
      signal: lease.signal,
      cancelled: lease.cancelled,
      timeoutMs,
      // Whose fault the timeout is (the breaker's question) is decided in withConnection, once the statement
      // settled: the answer to the cancel may still bring the query id Snowflake had given it.
      timeoutError: (queryId) =>
        new SnowmuxError(
          'QUERY_TIMEOUT',
          queryId
            ? `The statement ran longer than ${timeoutMs} ms and was cancelled in Snowflake (query id ${queryId}). Narrow the query, or raise ${setting}.`
            : // No query id yet: a statement Snowflake is running has none on the client for up to ~45 s, and one
              // Snowflake never accepted (an outage the driver keeps retrying) has none either. Which it was is
              // not known here, so the message gives both ways forward rather than blaming the query.
              `The statement did not finish within ${timeoutMs} ms and was cancelled before Snowflake returned a query id: either it was still running, or Snowflake did not answer (an outage or a network problem the driver kept retrying). \`snowmux status\` shows whether Snowflake answers; if it does, narrow the query or raise ${setting}.`,
          { details: { profile: this.profile.name, queryId, timeoutMs } },
        ),
      onProgress,
      progressIntervalMs: this.options.progressIntervalMs ?? 1000,
      pollStatus: this.options.pollQueryStatus ?? true,
      cancelGraceMs: this.options.cancelGraceMs ?? 3000,
      rows: window,
      errors: { profile: this.profile, phase: 'statement', timeoutSetting: setting },
    });
  }

  /** Runs a SHOW/DESCRIBE and returns its rows as objects keyed by Snowflake's (lower-case) column names. */
  private async metadata(sql: string, ctx: CallContext): Promise<Record<string, JsonValue>[]> {
    const success = await this.withConnection(ctx, 'statement', true, (lease) =>
      this.execute(lease, sql, ctx, { start: 0, maxRows: METADATA_MAX_ROWS }, undefined, ctx.onProgress),
    );
    const names = success.columns.map((c) => c.name);
    return success.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
  }
}

/**
 * A Cortex call that reached its deadline on a logged-in session: Snowflake was reachable, and a language
 * model or a search over a large index is slow by nature, so the timeout is the caller's, like a statement
 * Snowflake had taken — not an outage that should open the breaker for everyone. An unreachable service
 * fails sooner and otherwise (WAREHOUSE_UNAVAILABLE), and a login that never finished still counts.
 */
function callersTimeout(err: unknown): unknown {
  if (!isSnowmuxError(err) || err.code !== 'QUERY_TIMEOUT' || err.details?.['infrastructure'] === false) return err;
  return new SnowmuxError(err.code, err.message, { cause: err.cause, details: { ...(err.details ?? {}), infrastructure: false } });
}

/** The error for an aborted call: the abort reason when it is already one (QUERY_TIMEOUT, WAREHOUSE_CLOSED…). */
function cancelledError(signal: AbortSignal, what: string): SnowmuxError {
  const reason: unknown = signal.reason;
  if (isSnowmuxError(reason)) return reason;
  return new SnowmuxError('QUERY_CANCELLED', `${what} was cancelled; Snowflake was told to stop it. Run it again if you still need it.`);
}

function text(row: Record<string, JsonValue>, key: string): string {
  const value = row[key];
  return value === null || value === undefined ? '' : String(value);
}

function optional(key: 'comment', value: JsonValue | undefined): { comment?: string } {
  return typeof value === 'string' && value !== '' ? { [key]: value } : {};
}

function leadingKeyword(sql: string): string | undefined {
  const m = /^(?:\s|\(|--[^\n]*\n|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/.exec(sql);
  return m?.[1]?.toUpperCase();
}

/**
 * Whose fault a statement's timeout is, for the breaker. A statement Snowflake had taken (it has a query id,
 * if only from its answer to the cancel) was running: the caller's query reached its own limit (the role's,
 * or the call's), and counted as an outage five slow queries of one identity paused the profile for every
 * user. With no query id Snowflake never confirmed receiving it, which is what an outage looks like.
 */
function whoseTimeout(error: SnowmuxError, queryId: string | undefined): SnowmuxError {
  if (error.code !== 'QUERY_TIMEOUT' || typeof error.details?.['infrastructure'] === 'boolean') return error;
  return new SnowmuxError(error.code, error.message, {
    cause: error,
    details: { ...error.details, ...(queryId === undefined ? {} : { queryId }), infrastructure: queryId === undefined },
  });
}

/**
 * A statement that ended after Snowflake had taken it — cancelled by the client or a closed session, timed
 * out, failed — keeps its query id in the error's details, whatever the code: the call's record, query_history
 * and a write's "may have run" advice read it from there (stages/accounting.ts). A cancel's error is the abort
 * reason, shared by every statement of the call, so it is copied, never changed.
 */
function withQueryId(error: SnowmuxError, queryId: string | undefined): SnowmuxError {
  if (queryId === undefined || typeof error.details?.['queryId'] === 'string') return error;
  return new SnowmuxError(error.code, error.message, { cause: error.cause ?? error, details: { ...error.details, queryId } });
}

/**
 * A login given up because its host does not answer at all (watchLogin): names the host, the setting it came
 * from and what to check — or, when the checks went through a proxy and met no answer there, the proxy (the
 * hub spoke to nothing else: "the host does not answer" sent people after a Snowflake that was fine).
 * Transient and infrastructure (the breaker counts it; the call can be retried).
 */
function deadHostError(profile: SnowflakeProfile, baseUrl: string, reason: string, waitedMs: number, useEnvProxy: boolean, via?: string): SnowmuxError {
  const url = new URL(baseUrl);
  const details = { profile: profile.name, host: url.host, reason, unreachable: true, infrastructure: true, transient: true, ...(via === undefined ? {} : { proxy: via }) };
  const gaveUp = `Login to Snowflake for profile "${profile.name}" gave up after ${(waitedMs / 1000).toFixed(1)} s`;
  if (via !== undefined) {
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `${gaveUp}: the proxy ${via} it reaches ${url.host} through does not answer (${reason}, on consecutive checks). ` +
        `Check that the proxy runs and the hub's proxy variables (HTTPS_PROXY/HTTP_PROXY, NO_PROXY for hosts to reach directly), or set hub.use_env_proxy = false to connect without it; the call can be retried.`,
      { details },
    );
  }
  const setting =
    profile.accessUrl !== undefined
      ? settingLabel(profile, 'accessUrl')
      : profile.host !== undefined
        ? settingLabel(profile, 'host')
        : `${settingLabel(profile, 'account')}, from which the host is derived`;
  const proxy = useEnvProxy ? ', the proxy (HTTPS_PROXY/NO_PROXY, when one is set)' : '';
  return new SnowmuxError(
    'WAREHOUSE_UNAVAILABLE',
    `${gaveUp}: the host ${url.host} does not answer (${reason}, on consecutive checks). ` +
      `Check ${setting}, the network or VPN${proxy}, and whether ${url.host} is reachable from this machine; the call can be retried.`,
    { details },
  );
}

/** A statement given up because Snowflake stopped answering (see outage-watch.ts), or the proxy to it did. */
function unreachableError(profile: string, baseUrl: string, outage: Outage, queryId: string | undefined): SnowmuxError {
  const origin = new URL(baseUrl).origin;
  const taken =
    queryId === undefined
      ? 'Snowflake had not confirmed receiving it'
      : `Snowflake had taken it (query id ${queryId}), so it may still run or have run: check query_history before running a write again`;
  const what = outage.proxy === undefined ? `Snowflake at ${origin} is unavailable` : `The proxy ${outage.proxy} the hub reaches Snowflake at ${origin} through does not answer`;
  const check = outage.proxy === undefined ? "Check Snowflake's status and the network or proxy" : "Check that the proxy runs and the hub's proxy variables (HTTPS_PROXY/HTTP_PROXY, NO_PROXY)";
  return new SnowmuxError(
    'WAREHOUSE_UNAVAILABLE',
    `${what} (${outage.reason} on consecutive checks while the statement waited ${Math.round(outage.waitedMs / 1000)} s); the statement was abandoned and its connection closed — ${taken}. ` +
      `${check}; the call can be retried once Snowflake answers.`,
    { details: { profile, reason: outage.reason, unreachable: true, queryId, infrastructure: true, transient: true, ...(outage.proxy === undefined ? {} : { proxy: outage.proxy }) } },
  );
}

/**
 * A statement that may write, whose session was lost after Snowflake took it: not sent again, and said so.
 * The lost session's own message is not quoted: it ends "run the call again", the advice that wrote twice.
 */
function mayHaveRun(error: SnowmuxError, queryId: string): SnowmuxError {
  const code = error.details?.['snowflakeCode'];
  const why = typeof code === 'string' ? `, Snowflake code ${code}` : '';
  return new SnowmuxError(
    'CONNECTION_LOST',
    `The Snowflake session was lost while the statement ran (query id ${queryId}${why}); it may or may not have completed, so the hub did not send it again. ` +
      `Check its outcome first (query_history with include_snowflake, or QUERY_HISTORY in Snowflake, by its query id): run it again only if it did not complete. The hub opens a new session for the next call.`,
    { cause: error, details: { ...(error.details ?? {}), queryId, mayHaveRun: true } },
  );
}
