/**
 * The one interface every warehouse backend implements (embedded DuckDB, Snowflake).
 * Tools talk only to this interface, never to a driver.
 */

import type { StatementReading } from '../guard/sql/sql-reading.js';
import type { SessionNames } from '../names/session-names.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Who asked, carried into the warehouse (Snowflake QUERY_TAG) and the audit log. */
export interface QueryTag {
  sessionId: string;
  requestId: string;
  client: string;
  tool: string;
  /** The call's W3C trace id (32 hex digits), when it has one: joins Snowflake's history to the trace. */
  traceId?: string | undefined;
}

export interface CallContext {
  /** Aborts the statement in the warehouse: client cancel, disconnect, or timeout. */
  signal: AbortSignal;
  tag: QueryTag;
  /** Context for this call only; never leaks into another call on a pooled connection. */
  database?: string | undefined;
  schema?: string | undefined;
  role?: string | undefined;
  warehouse?: string | undefined;
  /** Server-side statement timeout, where the backend supports one. */
  timeoutMs?: number | undefined;
  /** The setting timeoutMs came from (e.g. "hub.call_timeout_ms"), for the advice of a timeout error. */
  timeoutSetting?: string | undefined;
  /** Called while a long statement runs (queued → running, elapsed time). */
  onProgress?: ((progress: QueryProgress) => void) | undefined;
  /**
   * Snowflake: the name settings (QUOTED_IDENTIFIERS_IGNORE_CASE, SEARCH_PATH) the object rules judged this
   * statement's names with, for a role with object rules; a connection whose login read other values does not
   * run it. Absent: not judged by name (the statement runs whatever the session's settings).
   */
  judgedNames?: SessionNames | undefined;
}

export interface QueryProgress {
  phase: 'queued' | 'running';
  elapsedMs: number;
  message: string;
}

export interface QueryOptions extends CallContext {
  /** Return at most this many rows; reading stops at maxRows + 1 to detect truncation. */
  maxRows: number;
  /** Stop adding rows once the serialized rows exceed this many bytes (approximate, JSON size). */
  maxBytes?: number | undefined;
  /** Positional bind values for `?` placeholders. */
  binds?: JsonValue[] | undefined;
  /**
   * The statement as the hub's one SQL reading found it, in this warehouse's dialect: what a backend needs
   * to know of what it may do (Snowflake's session-effect rule, the embedded engine's connection reuse) it
   * reads here instead of scanning the text again. Absent for SQL the hub did not read (a backend's own
   * statements, direct callers): the backend then reads the text itself.
   */
  statement?: StatementReading | undefined;
  /**
   * The most rows the statement can return, as the hub's one SQL reading found it (a top-level LIMIT, a
   * SELECT of constants, or the LIMIT the row-cap stage appended); absent when the text does not say. A
   * backend may fetch a result this small in one round trip instead of streaming it.
   */
  rowBound?: number | undefined;
  /**
   * Put the row cap into the statement (`LIMIT cap+1`) whatever the role: for SQL the hub writes itself
   * to show a table's or view's first rows (query_view). Read by the hub's row-cap stage; backends ignore it.
   */
  pushRowCap?: boolean | undefined;
  /**
   * Judge the statement read-only whatever the caller's role may do: for SQL the caller did not write
   * (Cortex Analyst's). Read by the hub's SQL policy; backends ignore it.
   */
  readOnly?: boolean | undefined;
  /**
   * The statement may be sent again on a fresh session when the first was lost while it ran: the hub sets
   * false for a statement that may write (it may have run already). Unset: true.
   */
  repeatable?: boolean | undefined;
}

export interface ColumnInfo {
  name: string;
  /** The warehouse's own type name, e.g. `NUMBER(38,0)`, `VARCHAR`, `TIMESTAMP_NTZ`, `DECIMAL(15,2)`. */
  type: string;
  nullable?: boolean | undefined;
}

export interface QueryResult {
  columns: ColumnInfo[];
  /** JSON-safe cells: see serializeValue rules in docs/configuration.md (dates ISO, big ints and decimals as strings, binary hex). */
  rows: JsonValue[][];
  /** Rows returned in `rows`. */
  rowCount: number;
  /** True when more rows existed than were returned. */
  truncated: boolean;
  /**
   * What cut the result: the row cap, the byte cap, or `time` — the call was cancelled or reached its
   * timeout while the rows of a statement that ran were still being read (the rest stays readable by its id).
   */
  truncatedBy?: TruncatedBy | undefined;
  /** The warehouse's id for this statement (Snowflake query id), if it has one. */
  queryId?: string | undefined;
  /** Statement type as the warehouse reports it, when known. */
  statementType?: string | undefined;
  /**
   * How far fetch_results can page this result (rows from the start), when the warehouse keeps only part
   * of it; undefined when it can page to the end.
   */
  pageableRows?: number | undefined;
  /** All rows of the result, when the warehouse knows. */
  totalRows?: number | undefined;
  /**
   * Set by the hub when the statement ran with the row cap in its SQL (`LIMIT cap+1`) and more rows
   * existed: the result has no rows past this many, and how many the query would have returned is unknown.
   */
  cappedAt?: number | undefined;
  /**
   * Set by the hub when what was left of the identity's `rows` or `bytes` quota, not the call's own caps,
   * cut the result: that budget, what was left of it, and when (ISO) its window refills.
   */
  quotaCut?: { metric: 'rows' | 'bytes'; left: number; limit: number; windowMs: number; resetsAt: string } | undefined;
  elapsedMs: number;
}

export interface DatabaseInfo {
  name: string;
  comment?: string | undefined;
}

export interface SchemaInfo {
  database: string;
  name: string;
  comment?: string | undefined;
}

export type ObjectKind = 'table' | 'view';

export interface ObjectInfo {
  database: string;
  schema: string;
  name: string;
  kind: ObjectKind;
  comment?: string | undefined;
  rowCount?: number | undefined;
}

export interface ObjectRef {
  database: string;
  schema: string;
  name: string;
}

/** What the warehouse itself recorded about a statement (Snowflake's query history). */
export interface WarehouseQueryFacts {
  queryId: string;
  warehouse: string | null;
  /** The warehouse's own word: SUCCESS, FAIL, RUNNING, … */
  status: string;
  bytesScanned: number | null;
  elapsedMs: number | null;
}

/** A tag set on an object or one of its columns (Snowflake object tagging). */
export interface ObjectTag {
  tag: ObjectRef;
  value: string;
  /** The column it is set on; undefined for the object itself. */
  column?: string | undefined;
}

/** What describe_table shows about the object itself, beyond its columns. */
export interface ObjectDetails {
  comment?: string | undefined;
  /** Snowflake's clustering key, e.g. `LINEAR(O_ORDERDATE)`. */
  clusteringKey?: string | undefined;
  /** Only when asked for (reading them needs a running Snowflake warehouse). */
  tags?: ObjectTag[] | undefined;
  /** Why tags were asked for but could not be read (privileges, no warehouse). */
  tagsUnavailable?: string | undefined;
}

export interface ColumnDescription {
  name: string;
  type: string;
  nullable: boolean;
  default?: string | null | undefined;
  comment?: string | null | undefined;
}

export interface WarehouseInfo {
  kind: 'duckdb' | 'snowflake';
  /** Profile name, or `embedded`. */
  name: string;
  /** Which open warehouse this is (warehouse-id.ts), as its breaker's `warehouseId` says; absent for one that never opened. */
  id?: number | undefined;
  /** Secret-free facts for status output (account, user, role, pool sizes…). */
  detail: Record<string, JsonValue>;
  defaultDatabase: string;
  defaultSchema: string;
  /**
   * Statements the backend runs at once (DuckDB's statement slots, a Snowflake pool's connections): the
   * hub's fair queue hands out no more than this, so the backend's own FIFO never decides who waits.
   */
  capacity?: number | undefined;
  /**
   * Why this warehouse cannot serve calls now; absent when it can. Secret-free (see warehouse-problem.ts
   * for how long each kind of failure counts).
   */
  problem?: WarehouseProblem | undefined;
}

/** Why a warehouse cannot serve: its last login failed (and none is logged in), its pool could not be built, or it is closed. */
export interface WarehouseProblem {
  /** The snowmux error code: AUTH_FAILED (credentials refused), CONFIG_INVALID (settings refused), WAREHOUSE_UNAVAILABLE, WAREHOUSE_CLOSED… */
  code: string;
  /** Snowflake's own code, when Snowflake answered (390100: incorrect username or password). */
  snowflakeCode?: string;
  /** What happened and which setting to check, naming where it was set, never its value. */
  message: string;
  /**
   * The message as a remote reader of status (a key holder's /status and /readyz) is shown it, when `message`
   * names the hub machine's own files (the embedded warehouse's sample file): see SnowmuxError.callerMessage.
   */
  callerMessage?: string;
  /** When it last failed (ISO 8601). */
  at: string;
  /** Failures in a row (logins since the last good one). */
  failures: number;
  /** True when the next attempt may succeed on its own (network); false when a person must change something. */
  transient: boolean;
}

/**
 * What the engine's planner says a statement would read, before it runs (Snowflake's EXPLAIN compiles
 * without a warehouse; DuckDB's EXPLAIN estimates cardinalities). A figure the engine does not give is
 * undefined, never guessed.
 */
export interface ScanEstimate {
  /** Bytes in the micro-partitions the statement may read (Snowflake's bytesAssigned). */
  bytes?: number | undefined;
  /** Micro-partitions it may read after compile-time pruning, and in total (Snowflake). */
  partitions?: number | undefined;
  partitionsTotal?: number | undefined;
  /** Rows the scans are estimated to produce (DuckDB's estimated cardinality). */
  rows?: number | undefined;
}

export interface PlanOperation {
  operation: string;
  /** Objects a scan reads. */
  objects: string[];
  /** Filters, projections, join keys — as the engine prints them. */
  detail?: string | undefined;
  estimate: ScanEstimate;
}

export interface QueryPlan {
  /** The statement's total estimate (sum over its scans). */
  estimate: ScanEstimate;
  operations: PlanOperation[];
}

/** One operator of a finished query, as the warehouse profiled it (Snowflake's GET_QUERY_OPERATOR_STATS). */
export interface OperatorStats {
  operatorId: number;
  parentOperators: number[];
  operatorType: string;
  /** Rows the operator produced. */
  outputRows?: number | undefined;
  /** Share of the query's execution time spent in this operator, 0–100. */
  percentOfTime?: number | undefined;
  /** The operator's other statistics and attributes, as JSON text. */
  detail?: string | undefined;
}

export interface QueryProfile {
  queryId: string;
  operators: OperatorStats[];
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'snowflake';
  info(): WarehouseInfo;
  query(sql: string, options: QueryOptions): Promise<QueryResult>;
  listDatabases(ctx: CallContext): Promise<DatabaseInfo[]>;
  listSchemas(database: string, ctx: CallContext): Promise<SchemaInfo[]>;
  listObjects(database: string, schema: string, kind: ObjectKind, ctx: CallContext): Promise<ObjectInfo[]>;
  describeObject(ref: ObjectRef, kind: ObjectKind, ctx: CallContext): Promise<ColumnDescription[]>;
  /** What the warehouse recorded about these statements of the hub's (Snowflake's QUERY_HISTORY). */
  queryFacts?(queryIds: string[], ctx: CallContext): Promise<WarehouseQueryFacts[]>;
  /** The object's comment, clustering key and (when asked) tags. */
  objectDetails?(ref: ObjectRef, kind: ObjectKind, options: { tags: boolean }, ctx: CallContext): Promise<ObjectDetails>;
  /** Where a finished query spent its time, operator by operator. */
  queryProfile?(queryId: string, ctx: CallContext): Promise<QueryProfile>;
  /** Snowflake: how its sessions resolve names, as the last login read it (undefined before the first). */
  sessionNames?(): SessionNames | undefined;
  /** The plan and scan estimate of a query, without running it. */
  explain?(sql: string, options: CallContext): Promise<QueryPlan>;
  /** Pages through a finished statement's result by its query id, without re-running it. */
  fetchResults?(queryId: string, page: { offset: number; limit: number; maxBytes?: number }, ctx: CallContext): Promise<QueryResult>;
  /** Cortex Analyst (Snowflake only): a question over a semantic view or model → an answer and SQL. */
  cortexAnalyst?(request: AnalystRequest, ctx: CallContext): Promise<AnalystReply>;
  /** A Cortex Search service's ranked rows (Snowflake only). */
  cortexSearch?(service: ObjectRef, request: SearchRequest, ctx: CallContext): Promise<SearchReply>;
  /**
   * How long a call may wait in the hub's queue for one of `capacity` (a Snowflake pool's acquire timeout)
   * before it is refused with `capacityBusy`; absent: it waits until its own deadline.
   */
  readonly capacityWaitMs?: number | undefined;
  capacityBusy?(waitedMs: number): Error;
  close(): Promise<void>;
  /**
   * Closes it once the operations running on it have finished (the settings it was opened with were
   * superseded: a rotated key, a refreshed token, a reload): resolves when it is closed. An operation that
   * starts after that is refused without reaching the backend, as one of a stale session.
   */
  retire?(): Promise<void>;
}

/*
 * What the Cortex tools ask of a warehouse and what it answers: Cortex Analyst (a question over a semantic
 * view or a semantic model file → an answer and usually one SQL statement) and Cortex Search (a query over
 * a search service → ranked rows). Only Snowflake serves them; names arrive here already resolved.
 */

/** A semantic model file on a stage: `@DB.SCHEMA.STAGE/path/model.yaml`, its stage resolved. */
export interface StagedFile {
  stage: ObjectRef;
  /** The path inside the stage, without a leading slash. */
  path: string;
}

/** One earlier turn of a conversation with Cortex Analyst: the question, or the analyst's answer (its text and SQL). */
export interface AnalystTurn {
  role: 'user' | 'analyst';
  text: string;
  sql?: string | undefined;
}

export interface AnalystRequest {
  question: string;
  /** Earlier turns, oldest first, so a follow-up ("and last year?") is read in context. */
  history?: AnalystTurn[] | undefined;
  /** Exactly one of the two. */
  semanticView?: ObjectRef | undefined;
  semanticModelFile?: StagedFile | undefined;
}

export interface AnalystReply {
  /** The analyst's explanation (or why it could not answer). */
  text: string;
  /** The SQL it generated, when it could answer with one. */
  sql?: string | undefined;
  /** Questions it suggests when the question was ambiguous. */
  suggestions: string[];
  warnings: string[];
  /** Whether a verified query of the model was used. */
  verifiedQuery?: string | undefined;
  requestId?: string | undefined;
}

export interface SearchRequest {
  query: string;
  /** Columns to return (the service's attributes or search column); the service's default when empty. */
  columns: string[];
  /** Cortex Search filter syntax (`@eq`, `@and`, …), passed through as JSON. */
  filter?: JsonValue | undefined;
  limit: number;
}

export interface SearchReply {
  results: Record<string, JsonValue>[];
  requestId?: string | undefined;
  /** Set by the hub when what was left of the identity's `rows` or `bytes` quota cut the results (as QueryResult's). */
  quotaCut?: QueryResult['quotaCut'];
}

export type TruncatedBy = 'rows' | 'bytes' | 'time';
