import { DOUBLE, DuckDBInstance, StatementType, version as duckDbVersion } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { ASK_THE_OPERATOR, SnowmuxError, errorMessage, isSnowmuxError } from '../../../errors.js';
import { quoteIdentifier } from '../../names/identifiers.js';
import type {
  CallContext,
  ColumnDescription,
  DatabaseInfo,
  JsonValue,
  ObjectInfo,
  ObjectDetails,
  ObjectKind,
  ObjectRef,
  QueryOptions,
  QueryPlan,
  QueryResult,
  SchemaInfo,
  Warehouse,
  WarehouseInfo,
} from '../types.js';
import { CallTracker, Slots, cancellationError, closedError } from './call-scope.js';
import { warehouseProblem } from '../warehouse-problem.js';
import type { CallState } from './call-scope.js';
import * as catalog from './duckdb-catalog.js';
import type { CatalogComments } from './duckdb-catalog.js';
import { ResultCache } from './result-cache.js';
import { duckDbPlan, duckDbTableRows } from './duckdb-plan.js';
import { readResult } from './result-reader.js';
import { readerRowBound, rowLimitedText } from './row-limited.js';
import {
  SAMPLE_DATABASE,
  SAMPLE_DATABASE_COMMENT,
  SAMPLE_GENERATOR_VERSION,
  SAMPLE_SCHEMA,
  SAMPLE_SCHEMA_COMMENTS,
  buildSampleDatabase,
  readSampleStampFrom,
  sampleDatabasePath,
  refuseNonFileSample,
} from './sample-database.js';
import { keepStatement, keptStatement } from './prepared-statements.js';
import { readSql, type StatementReading } from '../../guard/sql/sql-reading.js';

export interface DuckDbWarehouseOptions {
  /** Directory holding the sample database file (created when missing), e.g. `<home>/warehouse`. */
  dataDir: string;
  /**
   * DuckDB worker threads per statement; default 1. The sample's tables are each one row group, which
   * DuckDB never splits across threads, so more threads only add wake-ups to every statement (a trivial
   * one costs ~1.6× the CPU with 2 threads, ~3× with 4); calls still run side by side on the statement
   * slots' own threads.
   */
  threads?: number | undefined;
  /** DuckDB memory limit, e.g. "1GB"; default 1GB. */
  memoryLimit?: string | undefined;
  /** Bytes of finished results kept for fetchResults; default 32 MiB. */
  resultCacheBytes?: number | undefined;
  /** Rows of each result kept for fetchResults; default 5000. */
  resultCacheRows?: number | undefined;
  /** After a result is cut at maxRows, keep reading (for fetchResults) for at most this long; default 100 ms. */
  readAheadMs?: number | undefined;
  /** How often onProgress hears about a running statement; default 1000 ms. */
  progressIntervalMs?: number | undefined;
  /**
   * Statements running at once; more wait their turn (onProgress phase "queued"). Each running statement
   * can hold a libuv thread-pool thread, so the default, UV_THREADPOOL_SIZE - 2 (2 with the default pool
   * of 4), leaves one thread for catalog look-ups and at least one for the hub's file I/O.
   */
  maxConcurrentStatements?: number | undefined;
}

const DEFAULTS = {
  memoryLimit: '1GB',
  resultCacheBytes: 32 * 1024 * 1024,
  resultCacheRows: 5000,
  readAheadMs: 100,
  progressIntervalMs: 1000,
};

const NEVER_ABORTED = new AbortController().signal;

/**
 * The time zone of every connection (DuckDB's `TimeZone`): what TIMESTAMPTZ literals without an offset, casts
 * from TIMESTAMP, `date_trunc` and `strftime('%Z')` on TIMESTAMPTZ use. Left unset, DuckDB took the hub
 * process's TZ — that of whichever editor's shim happened to start the hub, or the machine's for a service —
 * so the same query gave other instants from one start to the next. Status shows it (`timeZone`).
 */
export const EMBEDDED_TIME_ZONE = 'UTC';

const SAMPLE_COMMENTS: CatalogComments = {
  database: (name) => (name === SAMPLE_DATABASE ? SAMPLE_DATABASE_COMMENT : undefined),
  schema: (database, schema) => (database === SAMPLE_DATABASE ? SAMPLE_SCHEMA_COMMENTS[schema] : undefined),
};

/**
 * The embedded warehouse: DuckDB over the generated sample database, opened read-only at the engine
 * level (access_mode READ_ONLY), with file system access disabled and the configuration locked so no
 * SQL can undo either. Each call runs on its own connection with its own database/schema context.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb' as const;
  private readonly calls = new CallTracker();
  private readonly results: ResultCache;
  private readonly statementSlots: Slots;
  /** Catalog look-ups are quick; their own slot keeps them from queueing behind long statements. */
  private readonly catalogSlots = new Slots(1);
  private closed = false;
  /** When close() ran (see LoginFailure: the wall-clock time shown, the monotonic one measured). */
  private closedAt: { at: number; mono: number } | null = null;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly file: string,
    private readonly settings: Required<Omit<DuckDbWarehouseOptions, 'dataDir'>>,
    private readonly openFacts: { generated: boolean; openMs: number },
  ) {
    this.results = new ResultCache(settings.resultCacheBytes);
    this.statementSlots = new Slots(settings.maxConcurrentStatements);
  }

  static async open(options: DuckDbWarehouseOptions): Promise<DuckDbWarehouse> {
    const started = performance.now();
    const settings = {
      threads: options.threads ?? 1,
      memoryLimit: options.memoryLimit ?? DEFAULTS.memoryLimit,
      resultCacheBytes: options.resultCacheBytes ?? DEFAULTS.resultCacheBytes,
      resultCacheRows: options.resultCacheRows ?? DEFAULTS.resultCacheRows,
      readAheadMs: options.readAheadMs ?? DEFAULTS.readAheadMs,
      progressIntervalMs: options.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
      maxConcurrentStatements: Math.max(1, Math.floor(options.maxConcurrentStatements ?? defaultStatementSlots())),
    };
    if (!Number.isSafeInteger(settings.threads) || settings.threads < 1) {
      throw new SnowmuxError('INVALID_ARGUMENT', `The embedded warehouse needs at least one thread; got ${String(options.threads)}.`);
    }
    if (!/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/i.test(settings.memoryLimit)) {
      throw new SnowmuxError('INVALID_ARGUMENT', `The embedded warehouse memory limit must look like "1GB" or "512MiB"; got "${settings.memoryLimit}".`);
    }
    const file = sampleDatabasePath(options.dataDir);
    refuseNonFileSample(file);
    let generated = false;
    let opened = await openCurrent(file, settings);
    if (opened.instance === undefined) {
      await buildSampleDatabase(options.dataDir);
      generated = true;
      opened = await openCurrent(file, settings);
    }
    if (opened.instance === undefined) {
      throw new SnowmuxError(
        'WAREHOUSE_UNAVAILABLE',
        `The embedded warehouse cannot open ${file}: ${opened.problem}. Check the warehouse settings (threads, memory limit), or delete the file to have it rebuilt.`,
        // The engine's text quotes the file (and the hub's directories) too: the caller gets neither.
        { details: { transient: false }, callerMessage: `The embedded warehouse cannot open its sample database file on the hub's machine. ${ASK_THE_OPERATOR}` },
      );
    }
    return new DuckDbWarehouse(opened.instance, file, settings, { generated, openMs: Math.round(performance.now() - started) });
  }

  info(): WarehouseInfo {
    // Statements the engine could not interrupt keep their slots past their cancel: status names them (whose,
    // since when), as the calls waiting behind them are told.
    const outlived = this.calls.outlived();
    return {
      kind: 'duckdb',
      name: 'embedded',
      defaultDatabase: SAMPLE_DATABASE,
      defaultSchema: SAMPLE_SCHEMA,
      capacity: this.settings.maxConcurrentStatements,
      detail: {
        file: this.file,
        duckdbVersion: duckDbVersion(),
        sampleVersion: SAMPLE_GENERATOR_VERSION,
        readOnly: true,
        threads: this.settings.threads,
        memoryLimit: this.settings.memoryLimit,
        resultCacheBytes: this.settings.resultCacheBytes,
        maxConcurrentStatements: this.settings.maxConcurrentStatements,
        activeCalls: this.calls.size,
        connectionsOpened: this.calls.opened,
        queuedStatements: this.statementSlots.queued,
        timeZone: EMBEDDED_TIME_ZONE,
        generatedOnOpen: this.openFacts.generated,
        openMs: this.openFacts.openMs,
        ...(outlived.length === 0 ? {} : { outlivedStatements: outlived.map((o) => ({ ...o })) }),
      },
      ...(this.closedAt === null ? {} : { problem: warehouseProblem({ error: closedError(), ...this.closedAt, failures: 1 }) }),
    };
  }

  async query(sql: string, options: QueryOptions): Promise<QueryResult> {
    const started = performance.now();
    if (typeof sql !== 'string' || sql.trim().length === 0) {
      throw new SnowmuxError('SQL_ERROR', 'The query is empty. Pass one SQL statement.');
    }
    const maxRows = checkLimit(options.maxRows, 'maxRows');
    const maxBytes = options.maxBytes === undefined ? undefined : checkLimit(options.maxBytes, 'maxBytes');
    const binds = options.binds === undefined ? undefined : toDuckDbBinds(options.binds);
    return this.run(options, this.statementSlots, async (connection, state) => {
      await this.applyContext(connection, options);
      // The same text in the same context is the same statement: run the one this connection prepared.
      const key = `${currentContext.get(connection) ?? ''}\u0000${sql}`;
      let prepared = keptStatement(connection, key);
      let keep = prepared !== undefined;
      prepared ??= await prepareOne(connection, sql);
      let limited: { statement: DuckDBPreparedStatement; kept: boolean } | undefined;
      try {
        const statementType = StatementType[prepared.statementType];
        // Only reads leave the connection as they found it (see CallTracker): anything else closes it after.
        // DuckDB's type is not enough: a SELECT can call a function that changes the connection
        // (setseed, nextval), so the hub's reading must also find it read-only (a kept statement was).
        if (!READ_STATEMENTS.has(prepared.statementType) || (!keep && !readsOnly(sql, options.statement))) state.reusable = false;
        else if (!keep) {
          keepStatement(connection, key, prepared);
          keep = true;
        }
        // A SELECT known to return no more than one chunk is run whole: one trip to DuckDB's worker thread
        // instead of three (run, first chunk, end), and no more rows held than a stream's first chunk.
        const whole = prepared.statementType === StatementType.SELECT && options.rowBound !== undefined && options.rowBound <= ONE_CHUNK_ROWS;
        // A streamed SELECT not already bounded below what the reader reads runs under a LIMIT (row-limited.ts).
        const limit = readerRowBound(maxRows, this.settings.resultCacheRows) + 1;
        let names: string[] | undefined;
        // A parameter in the select list (`SELECT ? AS x`, a team tool's) leaves the prepared statement's
        // columns unresolved until it is bound: DuckDB then describes them as one column named "unknown", which
        // named the result's first column. Such a statement runs as it is, its result naming its own columns.
        if (!whole && prepared.statementType === StatementType.SELECT && !(options.rowBound !== undefined && options.rowBound <= limit) && columnsResolved(prepared)) {
          const own = prepared;
          names = Array.from({ length: own.columnCount }, (_, i) => own.columnName(i));
          limited = await this.rowLimited(connection, `${key}\u0000${limit}`, sql, limit, keep);
        }
        const statement = limited?.statement ?? prepared;
        if (binds !== undefined) {
          statement.clearBindings();
          // An undefined type is inferred, as without types (bind hands each entry to bindValue); the
          // declared type does not admit the holes.
          statement.bind(binds.values, binds.types as DuckDBType[]);
        }
        const result = whole ? await statement.run() : await statement.stream();
        const read = await readResult(connection, result, state, {
          maxRows,
          maxBytes,
          keepRows: this.settings.resultCacheRows,
          keepBytes: this.results.maxEntryBytes,
          readAheadMs: this.settings.readAheadMs,
        }, names);
        const queryId = ResultCache.newQueryId();
        const kept = this.results.put(queryId, {
          columns: read.columns,
          rows: read.kept,
          estimatedBytes: read.keptBytes,
          complete: read.exhausted,
          statementType,
        });
        const { rows } = read;
        return {
          columns: read.columns,
          rows,
          rowCount: rows.length,
          truncated: read.truncatedBy !== undefined,
          truncatedBy: read.truncatedBy,
          queryId,
          statementType,
          // The reader may hold more rows than the cache keeps (an entry's byte limit): paging reaches only
          // the kept ones, while a stream read to its end still knows its total.
          ...(read.exhausted ? { totalRows: read.kept.length } : {}),
          ...(kept.complete ? {} : { pageableRows: kept.rows }),
          elapsedMs: Math.round(performance.now() - started),
        };
      } finally {
        if (!keep) prepared.destroySync();
        if (limited !== undefined && !limited.kept) limited.statement.destroySync();
      }
    });
  }

  /**
   * The statement under a LIMIT, kept beside it when it is kept; undefined when DuckDB will not prepare it
   * as a subquery (the statement then streams as it is).
   */
  private async rowLimited(connection: DuckDBConnection, key: string, sql: string, limit: number, keep: boolean): Promise<{ statement: DuckDBPreparedStatement; kept: boolean } | undefined> {
    const found = keep ? keptStatement(connection, key) : undefined;
    if (found !== undefined) return { statement: found, kept: true };
    let statement: DuckDBPreparedStatement;
    try {
      statement = await connection.prepare(rowLimitedText(sql, limit));
    } catch {
      return undefined;
    }
    if (statement.statementType !== StatementType.SELECT) {
      statement.destroySync();
      return undefined;
    }
    if (keep) keepStatement(connection, key, statement);
    return { statement, kept: keep };
  }

  /** DuckDB's planner estimate (EXPLAIN compiles, nothing runs). */
  async explain(sql: string, ctx: CallContext): Promise<QueryPlan> {
    let result: QueryResult;
    try {
      result = await this.query(`${EXPLAIN_PREFIX}${sql}`, { ...ctx, maxRows: 10 });
    } catch (err) {
      throw withoutExplainPrefix(err);
    }
    const plan = result.rows.find((r) => r[0] === 'physical_plan')?.[1];
    if (typeof plan !== 'string') throw new SnowmuxError('WAREHOUSE_ERROR', 'DuckDB returned no plan for EXPLAIN.');
    // A table's scan reads all its rows, whatever its filters let through (duckdb-plan.ts).
    const tableRows = await this.run(ctx, this.catalogSlots, (connection) => duckDbTableRows(connection));
    return duckDbPlan(plan, tableRows);
  }

  async fetchResults(queryId: string, page: { offset: number; limit: number; maxBytes?: number }, ctx: CallContext): Promise<QueryResult> {
    const started = performance.now();
    this.assertOpen();
    if (ctx?.signal?.aborted === true) throw cancellationError(ctx.signal);
    const result = this.results.page(queryId, page);
    return { ...result, elapsedMs: Math.round(performance.now() - started) };
  }

  async listDatabases(ctx: CallContext): Promise<DatabaseInfo[]> {
    return await this.run(ctx, this.catalogSlots, (connection) => catalog.listDatabases(connection, SAMPLE_COMMENTS));
  }

  async listSchemas(database: string, ctx: CallContext): Promise<SchemaInfo[]> {
    return await this.run(ctx, this.catalogSlots, (connection) => catalog.listSchemas(connection, database, SAMPLE_COMMENTS));
  }

  async listObjects(database: string, schema: string, kind: ObjectKind, ctx: CallContext): Promise<ObjectInfo[]> {
    return await this.run(ctx, this.catalogSlots, (connection) => catalog.listObjects(connection, database, schema, kind));
  }

  async describeObject(ref: ObjectRef, kind: ObjectKind, ctx: CallContext): Promise<ColumnDescription[]> {
    return await this.run(ctx, this.catalogSlots, (connection) => catalog.describeObject(connection, ref, kind));
  }

  async objectDetails(ref: ObjectRef, kind: ObjectKind, _options: { tags: boolean }, ctx: CallContext): Promise<ObjectDetails> {
    const comment = await this.run(ctx, this.catalogSlots, (connection) => catalog.objectComment(connection, ref, kind));
    return comment === undefined ? {} : { comment };
  }

  /**
   * Resolves once no statement runs any more, including ones whose callers were already answered
   * (a cancelled statement winds down after its call rejected). For graceful shutdown and tests.
   */
  async idle(): Promise<void> {
    await this.calls.idle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closedAt = { at: Date.now(), mono: performance.now() };
    await this.calls.drain();
    this.results.clear();
    this.instance.closeSync();
  }

  private async run<T>(ctx: CallContext, slots: Slots, work: (connection: DuckDBConnection, state: CallState) => Promise<T>): Promise<T> {
    this.assertOpen();
    return await this.calls.run(
      this.instance,
      {
        signal: ctx?.signal ?? NEVER_ABORTED,
        timeoutMs: ctx?.timeoutMs,
        timeoutSetting: ctx?.timeoutSetting,
        onProgress: ctx?.onProgress,
        progressIntervalMs: this.settings.progressIntervalMs,
        slots,
        tag: ctx?.tag,
      },
      work,
    );
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  /** USE this call's database and schema (default SNOWMUX_SAMPLE.TPCH) on this call's own connection. */
  private async applyContext(connection: DuckDBConnection, ctx: CallContext): Promise<void> {
    const database = ctx.database === undefined || ctx.database === '' ? SAMPLE_DATABASE : await catalog.resolveDatabase(connection, ctx.database);
    let schema: string;
    if (ctx.schema !== undefined && ctx.schema !== '') schema = await catalog.resolveSchema(connection, database, ctx.schema);
    else schema = database === SAMPLE_DATABASE ? SAMPLE_SCHEMA : 'main';
    const use = `USE ${quoteIdentifier(database)}.${quoteIdentifier(schema)}`;
    // A pooled connection only ever ran reads since its last USE (see CallTracker), so it is still there.
    if (currentContext.get(connection) === use) return;
    currentContext.delete(connection);
    await connection.run(use);
    currentContext.set(connection, use);
  }
}

/** Opens the file read-only if it carries the current generator stamp; else says why (it must be (re)built). */
async function openCurrent(
  file: string,
  settings: { threads: number; memoryLimit: string },
): Promise<{ instance: DuckDBInstance; problem?: undefined } | { instance?: undefined; problem: string }> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(file, {
      access_mode: 'READ_ONLY',
      // No spilling to disk: a read-only "read" (a large sort or join) must not fill the hub's disk — DuckDB
      // allows 90% of the free space by default, and files of a killed process stay. Beyond the memory
      // limit a statement fails with what to do (toWarehouseError). Set before external access is
      // disabled, which locks the directory settings.
      temp_directory: '',
      enable_external_access: 'false',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
      threads: String(settings.threads),
      memory_limit: settings.memoryLimit,
      // Lets DuckDB's allocator hand freed memory back to the OS while the hub idles.
      allocator_background_threads: 'true',
      // The configuration is locked below, once the time zone is set: DuckDB accepts TimeZone only once its
      // (built-in) ICU extension is loaded, which is after the instance's own options are read.
    });
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  let problem = `it is not a snowmux sample database of version ${SAMPLE_GENERATOR_VERSION}`;
  try {
    const connection = await instance.connect();
    try {
      // Every connection's default, whatever the hub process's TZ; then the lock: from here on no SQL can
      // change any of the above (nor the time zone).
      await connection.run(`SET GLOBAL TimeZone = '${EMBEDDED_TIME_ZONE}'`);
      await connection.run('SET GLOBAL lock_configuration = true');
      if ((await readSampleStampFrom(connection)) === SAMPLE_GENERATOR_VERSION) return { instance };
    } finally {
      connection.closeSync();
    }
  } catch (err) {
    problem = errorMessage(err);
  }
  instance.closeSync();
  return { problem };
}

/** What explain() puts before the caller's query. */
const EXPLAIN_PREFIX = 'EXPLAIN (FORMAT json) ';

/**
 * An engine error about the explained text, as about the caller's query: DuckDB quotes the line it failed
 * on ("LINE 1: EXPLAIN (FORMAT json) selec 1" and a caret under it), and the prefix is the hub's, not
 * something the caller wrote or should remove.
 */
function withoutExplainPrefix(err: unknown): unknown {
  if (!isSnowmuxError(err) || !err.message.includes(EXPLAIN_PREFIX)) return err;
  const lines = err.message.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const quoted = /^(LINE \d+: )/.exec(lines[i]!);
    if (!quoted || !lines[i]!.startsWith(EXPLAIN_PREFIX, quoted[1]!.length)) continue;
    lines[i] = quoted[1]! + lines[i]!.slice(quoted[1]!.length + EXPLAIN_PREFIX.length);
    const caret = lines[i + 1];
    if (caret !== undefined && /^ *\^$/.test(caret)) lines[i + 1] = caret.slice(Math.min(EXPLAIN_PREFIX.length, caret.length - 1));
  }
  return new SnowmuxError(err.code, lines.join('\n'), { cause: err, details: err.details });
}

/** The USE each pooled connection last ran. */
const currentContext = new WeakMap<DuckDBConnection, string>();

/**
 * Prepares exactly one statement. The SQL rules already let one statement through, so DuckDB refusing to
 * prepare "multiple statements" means it expanded that one: a PIVOT with no IN list first queries the
 * values to pivot on, as a statement of its own.
 */
async function prepareOne(connection: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
  try {
    return await connection.prepare(sql);
  } catch (err) {
    if (/Cannot prepare multiple statements at once/.test(errorMessage(err))) {
      throw new SnowmuxError(
        'SQL_ERROR',
        'The embedded engine runs this text as more than one statement (a PIVOT without an IN list first queries the values to pivot on), and a call runs one. Send one statement; for a PIVOT, list the values (PIVOT … ON col IN (\'a\', \'b\') USING …), or write it as a SELECT with GROUP BY.',
        { cause: err },
      );
    }
    throw err;
  }
}

const READ_STATEMENTS = new Set<StatementType>([StatementType.SELECT, StatementType.EXPLAIN]);

/** Whether the classifier finds the statement a pure read: no write, no function with side effects. Text given without the hub's reading is read here. */
function readsOnly(sql: string, statement: StatementReading | undefined): boolean {
  if (statement !== undefined) return statement.readOnly;
  const reading = readSql(sql, 'duckdb');
  return reading.error === undefined && reading.statements.length === 1 && reading.statements[0]!.readOnly;
}
/** DuckDB's vector size: the rows a streamed result's chunk holds at most. */
const ONE_CHUNK_ROWS = 2048;

function defaultStatementSlots(): number {
  const configured = Number(process.env['UV_THREADPOOL_SIZE']);
  const pool = Number.isSafeInteger(configured) && configured > 0 ? configured : 4;
  return Math.max(1, pool - 2);
}

function checkLimit(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SnowmuxError('INVALID_ARGUMENT', `${what} must be a whole number of zero or more; got ${String(value)}.`);
  }
  return value;
}

/** JSON bind values → DuckDB values: integers stay integers (BIGINT when beyond 32 bits), structures go as JSON text. */
function toDuckDbBinds(binds: JsonValue[]): { values: DuckDBValue[]; types: (DuckDBType | undefined)[] } {
  if (!Array.isArray(binds)) throw new SnowmuxError('INVALID_ARGUMENT', 'binds must be an array of values for the ? placeholders.');
  const types: (DuckDBType | undefined)[] = [];
  const values = binds.map((value): DuckDBValue => {
    // DuckDB infers a placeholder's type from its use (BIGINT beside a BIGINT column), and the bindings
    // throw "bigint out of int64 range" for a JSON number past it: such a number goes in as the DOUBLE it
    // is, and compares as the same number written in the SQL would.
    types.push(typeof value === 'number' && Math.abs(value) >= INT64_LIMIT ? DOUBLE : undefined);
    if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
    if (typeof value === 'number') {
      if (Number.isSafeInteger(value) && (value > 2_147_483_647 || value < -2_147_483_648)) return BigInt(value);
      return value;
    }
    return JSON.stringify(value);
  });
  return { values, types };
}

/** 2^63: past every BIGINT (at -2^63 itself, DOUBLE and BIGINT hold the same number). */
const INT64_LIMIT = 2 ** 63;

/** DuckDB's type id (INVALID) of a column it cannot resolve before the statement's parameters are bound. */
const UNRESOLVED_TYPE_ID = 0;

/** Whether a prepared statement already knows its columns (see where a SELECT's LIMIT form is chosen). */
function columnsResolved(statement: DuckDBPreparedStatement): boolean {
  for (let i = 0; i < statement.columnCount; i++) if (statement.columnTypeId(i) === UNRESOLVED_TYPE_ID) return false;
  return true;
}
