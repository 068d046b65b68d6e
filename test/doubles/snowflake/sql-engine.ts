/**
 * The double's SQL engine: one in-memory DuckDB database holding the sample warehouse, one DuckDB
 * connection per Snowflake session. Snowflake-only commands (USE, ALTER SESSION, SHOW, DESCRIBE,
 * SYSTEM$WAIT, CURRENT_*()) are answered here from the session's own state; everything else is
 * rewritten for DuckDB (unquoted names upper-cased, `:N` binds, Snowflake string escapes).
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { encodeDuckResult, encodeTable, snowflakeTypeName, type EncodedResult, type SfType } from './encode.js';
import { loadSampleData } from './sample-data.js';
import {
  identifierValue,
  quoteDuck,
  readQualifiedName,
  significant,
  splitFlow,
  splitStatements,
  stringLiteralDuck,
  tokenize,
  tokensToText,
  type Token,
} from './sql-text.js';

/** A Snowflake SQL error as the server reports it (HTTP 200, success:false, data.sqlState). */
export class SfError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
    this.name = 'SfError';
  }
}

/** Session parameters SHOW PARAMETERS lists with their defaults (a few of Snowflake's). */
const PARAMETER_DEFAULTS: Record<string, string> = {
  QUOTED_IDENTIFIERS_IGNORE_CASE: 'false',
  SEARCH_PATH: '$current, $public',
  TIMEZONE: 'America/Los_Angeles',
  QUERY_TAG: '',
};

export interface SessionState {
  user: string;
  role: string | null;
  warehouse: string | null;
  database: string | null;
  schema: string | null;
  /** Session parameters set with ALTER SESSION (upper-case names). */
  params: Map<string, string>;
  sessionId: string;
  allowedRoles: string[];
  /** USE SECONDARY ROLES: `ALL` (a user's default since Snowflake's 2024_08 bundle) or `NONE`. */
  secondaryRoles: string;
}

/** One row of the double's QUERY_HISTORY_BY_USER, from its own query log. */
export interface DoubleHistoryRow {
  queryId: string;
  queryText: string;
  queryTag: string;
  userName: string;
  warehouse: string | null;
  /** Snowflake's EXECUTION_STATUS: SUCCESS, FAIL, RUNNING. */
  status: string;
  errorCode: string | null;
  startedAt: number;
  endedAt: number | null;
  rowsProduced: number | null;
}

export interface StatementOutcome {
  result: EncodedResult;
  statementTypeId: number;
}

export interface ExecuteOptions {
  bindings?: Record<string, { type: string; value: unknown }> | undefined;
  /** Statement-level parameters from the query request (override session parameters). */
  parameters?: Record<string, unknown> | undefined;
  signal: AbortSignal;
  /** Called for each USE / ALTER SESSION statement, so the server can count them. */
  onSessionStateStatement: () => void;
  /** This session's user's recent queries (for INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER). */
  queryHistory?: () => DoubleHistoryRow[];
  /** A query this session's user ran (for GET_QUERY_OPERATOR_STATS); undefined for unknown or another user's. */
  queryById?: (queryId: string) => { sql: string } | undefined;
}

const STATUS_OK = 'Statement executed successfully.';
const CREATED_ON = new Date(Date.UTC(2024, 0, 1, 0, 0, 0));
const HIDDEN_DATABASES = new Set(['system', 'temp', 'memory']);
const HIDDEN_SCHEMAS = new Set(['main', 'information_schema', 'pg_catalog']);
const TYPE = {
  SELECT: 0x1000,
  INSERT: 0x3100,
  UPDATE: 0x3200,
  DELETE: 0x3300,
  ALTER_SESSION: 0x4100,
  USE: 0x4300,
  SHOW: 0x4400,
  DESCRIBE: 0x4500,
  TCL: 0x5000,
  DDL: 0x6000,
} as const;

/** Rejects when `signal` aborts; resolves after `ms`. The reason decides the server's error. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A tag set on an object (or one of its columns): names as stored, e.g. `GOVERNANCE.TAGS.PII`. */
export interface DoubleTag {
  object: string;
  column?: string | undefined;
  tag: string;
  value: string;
}

export interface EngineOptions {
  warehouses: string[];
  /** Object tags, answered by TAG_REFERENCES / TAG_REFERENCES_ALL_COLUMNS. */
  tags?: DoubleTag[] | undefined;
  /** Clustering keys by `DB.SCHEMA.TABLE`, shown by SHOW TABLES (`cluster_by`). */
  clusterBy?: Record<string, string> | undefined;
}

export class SnowflakeSqlEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly catalog: DuckDBConnection,
    readonly warehouses: string[],
    readonly tags: readonly DoubleTag[],
    readonly clusterBy: Readonly<Record<string, string>>,
  ) {}

  static async create(options: EngineOptions): Promise<SnowflakeSqlEngine> {
    const instance = await DuckDBInstance.create(':memory:');
    const catalog = await instance.connect();
    await loadSampleData(catalog);
    return new SnowflakeSqlEngine(instance, catalog, options.warehouses.map((w) => w.toUpperCase()), options.tags ?? [], options.clusterBy ?? {});
  }

  async openSession(state: SessionState): Promise<EngineSession> {
    const connection = await this.instance.connect();
    return new EngineSession(this, connection, state);
  }

  async databaseExists(name: string): Promise<boolean> {
    return (await this.databases()).includes(name);
  }

  async databases(): Promise<string[]> {
    const reader = await this.catalog.runAndReadAll('SELECT database_name FROM duckdb_databases() ORDER BY 1');
    return reader
      .getRowsJson()
      .map((r) => String(r[0]))
      .filter((n) => !HIDDEN_DATABASES.has(n));
  }

  async schemas(database: string): Promise<{ name: string; comment: string | null }[]> {
    const reader = await this.catalog.runAndReadAll(
      'SELECT schema_name, comment FROM duckdb_schemas() WHERE database_name = $1 ORDER BY 1',
      [database],
    );
    return reader
      .getRowsJson()
      .map((r) => ({ name: String(r[0]), comment: r[1] === null ? null : String(r[1]) }))
      .filter((s) => !HIDDEN_SCHEMAS.has(s.name));
  }

  async objects(database: string | null, schema: string | null): Promise<CatalogObject[]> {
    const reader = await this.catalog.runAndReadAll(`
      SELECT database_name, schema_name, table_name, 'TABLE' AS kind, comment, estimated_size, NULL AS sql
        FROM duckdb_tables() WHERE NOT internal
      UNION ALL
      SELECT database_name, schema_name, view_name, 'VIEW', comment, NULL, sql
        FROM duckdb_views() WHERE NOT internal
      ORDER BY 1, 2, 3`);
    return reader
      .getRowsJson()
      .map((r) => ({
        database: String(r[0]),
        schema: String(r[1]),
        name: String(r[2]),
        kind: r[3] === 'VIEW' ? ('VIEW' as const) : ('TABLE' as const),
        comment: r[4] === null ? null : String(r[4]),
        rows: r[5] === null ? null : Number(r[5]),
        text: r[6] === null ? null : String(r[6]),
      }))
      .filter(
        (o) =>
          !HIDDEN_DATABASES.has(o.database) &&
          !HIDDEN_SCHEMAS.has(o.schema) &&
          (database === null || o.database === database) &&
          (schema === null || o.schema === schema),
      );
  }

  async columns(database: string, schema: string, table: string): Promise<CatalogColumn[]> {
    const reader = await this.catalog.runAndReadAll(
      `SELECT column_name, data_type, is_nullable, column_default, comment FROM duckdb_columns()
        WHERE database_name = $1 AND schema_name = $2 AND table_name = $3 ORDER BY column_index`,
      [database, schema, table],
    );
    return reader.getRowsJson().map((r) => ({
      name: String(r[0]),
      type: snowflakeTypeName(String(r[1])),
      nullable: r[2] === true,
      default: r[3] === null ? null : String(r[3]),
      comment: r[4] === null ? null : String(r[4]),
    }));
  }

  /** Rows of a query on the sample data as JSON objects ($n parameters): for the double's own endpoints (Cortex Search). */
  async readRows(sql: string, params: (string | number | boolean | null)[]): Promise<Record<string, unknown>[]> {
    const reader = await this.catalog.runAndReadAll(sql, params);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  close(): void {
    this.catalog.closeSync();
    this.instance.closeSync();
  }
}

interface CatalogObject {
  database: string;
  schema: string;
  name: string;
  kind: 'TABLE' | 'VIEW';
  comment: string | null;
  rows: number | null;
  text: string | null;
}

interface CatalogColumn {
  name: string;
  type: string;
  nullable: boolean;
  default: string | null;
  comment: string | null;
}

export class EngineSession {
  /** DuckDB runs one statement at a time per connection; waits happen outside this lock. */
  private lock: Promise<void> = Promise.resolve();

  constructor(
    private readonly engine: SnowflakeSqlEngine,
    private readonly duck: DuckDBConnection,
    readonly state: SessionState,
  ) {}

  parameter(name: string, statementParams?: Record<string, unknown>): string | undefined {
    const fromStatement = statementParams?.[name];
    if (fromStatement !== undefined && fromStatement !== null) return String(fromStatement);
    return this.state.params.get(name);
  }

  async execute(sql: string, options: ExecuteOptions): Promise<StatementOutcome> {
    const statements = splitStatements(sql);
    if (statements.length === 0) throw new SfError('000900', '42000', 'SQL compilation error:\nEmpty SQL statement.');
    const desired = Number(this.parameter('MULTI_STATEMENT_COUNT', options.parameters) ?? '1');
    if (desired !== 0 && desired !== statements.length) {
      throw new SfError(
        '000008',
        '0A000',
        `Actual statement count ${statements.length} did not match the desired statement count ${desired}.`,
      );
    }
    let outcome: StatementOutcome | undefined;
    // Multi-statement text (when allowed) runs in order; the double answers with the last result.
    // So does a `->>` chain.
    for (const statement of statements) for (const part of splitFlow(statement)) outcome = await this.executeOne(part, options);
    return outcome!;
  }

  private async executeOne(tokens: Token[], options: ExecuteOptions): Promise<StatementOutcome> {
    const sig = significant(tokens);
    const first = sig[0]?.kind === 'word' ? sig[0].value : '';
    const second = sig[1]?.kind === 'word' ? sig[1].value : '';
    if (first === 'USE') {
      options.onSessionStateStatement();
      return this.use(sig);
    }
    if (first === 'ALTER' && second === 'SESSION') {
      options.onSessionStateStatement();
      return this.alterSession(sig);
    }
    if (first === 'SHOW') return this.show(sig);
    if (first === 'EXPLAIN') return this.explain(tokens, sig, options);
    const statsAt = sig.findIndex((t) => t.kind === 'word' && t.value === 'GET_QUERY_OPERATOR_STATS');
    if (statsAt >= 0) return this.operatorStats(sig, statsAt, options);
    const tagsAt = sig.findIndex((t) => t.kind === 'word' && (t.value === 'TAG_REFERENCES' || t.value === 'TAG_REFERENCES_ALL_COLUMNS'));
    if (tagsAt >= 0) return this.tagReferences(sig, tagsAt);
    if (sig.some((t) => t.kind === 'word' && t.value === 'QUERY_HISTORY_BY_USER')) return this.generic(tokenize(this.withQueryHistory(tokens, options)), options);
    if (first === 'DESCRIBE' || first === 'DESC') return this.describe(sig);
    return this.generic(tokens, options);
  }

  // ---- USE -------------------------------------------------------------------------------------

  private async use(sig: Token[]): Promise<StatementOutcome> {
    let kind = sig[1]?.kind === 'word' ? sig[1].value : '';
    let at = 2;
    if (!['ROLE', 'WAREHOUSE', 'DATABASE', 'SCHEMA', 'SECONDARY'].includes(kind)) {
      kind = '';
      at = 1;
    }
    if (kind === 'SECONDARY') {
      const which = sig[3]?.kind === 'word' ? sig[3].value : '';
      if (sig[2]?.kind !== 'word' || sig[2].value !== 'ROLES' || (which !== 'ALL' && which !== 'NONE')) throw syntaxError(sig[3] ?? sig[2]);
      this.state.secondaryRoles = which;
      return statusResult(TYPE.USE);
    }
    const parts = this.sessionParts(readQualifiedName(sig, at).parts);
    if (parts.length === 0) throw syntaxError(sig[at]);
    if (kind === 'ROLE') {
      const role = parts[0]!;
      if (!this.state.allowedRoles.includes(role)) {
        throw new SfError('002003', '02000', `SQL compilation error:\nRole '${role}' does not exist or not authorized.`);
      }
      this.state.role = role;
      return statusResult(TYPE.USE);
    }
    if (kind === 'WAREHOUSE') {
      const warehouse = parts[0]!;
      if (!this.engine.warehouses.includes(warehouse)) {
        throw new SfError('002003', '02000', `SQL compilation error:\nObject does not exist, or operation cannot be performed.`);
      }
      this.state.warehouse = warehouse;
      return statusResult(TYPE.USE + 3);
    }
    if (kind === 'DATABASE' || (kind === '' && parts.length === 1)) {
      const database = parts[0]!;
      if (!(await this.engine.databaseExists(database))) {
        throw new SfError('002003', '02000', `SQL compilation error:\nDatabase '${database}' does not exist or not authorized.`);
      }
      this.state.database = database;
      const schemas = await this.engine.schemas(database);
      this.state.schema = schemas.some((s) => s.name === 'PUBLIC') ? 'PUBLIC' : null;
      return statusResult(TYPE.USE + 1);
    }
    // USE SCHEMA [db.]schema
    const database = parts.length > 1 ? parts[0]! : this.state.database;
    const schema = parts[parts.length - 1]!;
    if (database === null) {
      throw new SfError('090105', '22000', 'Cannot perform USE SCHEMA. This session does not have a current database. Call \'USE DATABASE\', or use a qualified name.');
    }
    const schemas = await this.engine.schemas(database);
    if (!schemas.some((s) => s.name === schema)) {
      throw new SfError('002003', '02000', `SQL compilation error:\nSchema '${database}.${schema}' does not exist or not authorized.`);
    }
    this.state.database = database;
    this.state.schema = schema;
    return statusResult(TYPE.USE + 2);
  }

  // ---- ALTER SESSION ---------------------------------------------------------------------------

  private alterSession(sig: Token[]): StatementOutcome {
    const verb = sig[2]?.kind === 'word' ? sig[2].value : '';
    let i = 3;
    if (verb === 'SET') {
      while (i < sig.length) {
        const name = identifierValue(sig[i]);
        if (name === undefined || sig[i + 1]?.text !== '=') throw syntaxError(sig[i]);
        const valueToken = sig[i + 2];
        if (valueToken === undefined) throw syntaxError(valueToken);
        let value = valueToken.kind === 'string' ? valueToken.value : valueToken.text;
        i += 3;
        if (valueToken.text === '-' && sig[i]?.kind === 'number') {
          value = `-${sig[i]!.text}`;
          i++;
        }
        this.state.params.set(name.toUpperCase(), value);
        if (sig[i]?.text === ',') i++;
      }
      return statusResult(TYPE.ALTER_SESSION);
    }
    if (verb === 'UNSET') {
      while (i < sig.length) {
        const name = identifierValue(sig[i]);
        if (name === undefined) throw syntaxError(sig[i]);
        this.state.params.delete(name.toUpperCase());
        i++;
        if (sig[i]?.text === ',') i++;
      }
      return statusResult(TYPE.ALTER_SESSION);
    }
    throw syntaxError(sig[2]);
  }

  // ---- SHOW ------------------------------------------------------------------------------------

  private async show(sig: Token[]): Promise<StatementOutcome> {
    let i = 1;
    if (sig[i]?.kind === 'word' && sig[i]!.value === 'TERSE') i++;
    const what = sig[i]?.kind === 'word' ? sig[i]!.value : '';
    i++;
    let like: RegExp | undefined;
    if (sig[i]?.kind === 'word' && sig[i]!.value === 'LIKE' && sig[i + 1]?.kind === 'string') {
      like = likeToRegExp(sig[i + 1]!.value);
      i += 2;
    }
    let scope: { kind: string; parts: string[] } | undefined;
    if (sig[i]?.kind === 'word' && sig[i]!.value === 'IN') {
      i++;
      let kind = '';
      if (sig[i]?.kind === 'word' && ['ACCOUNT', 'DATABASE', 'SCHEMA', 'TABLE', 'VIEW'].includes(sig[i]!.value)) {
        kind = sig[i]!.value;
        i++;
      }
      const { parts } = readQualifiedName(sig, i);
      scope = { kind, parts: this.sessionParts(parts) };
    }
    const matches = (name: string): boolean => like === undefined || like.test(name);
    switch (what) {
      case 'DATABASES':
        return this.showDatabases(matches);
      case 'SCHEMAS':
        return this.showSchemas(matches, scope);
      case 'TABLES':
      case 'VIEWS':
      case 'OBJECTS':
        return this.showObjects(what, matches, scope);
      case 'COLUMNS':
        return this.showColumns(matches, scope);
      case 'WAREHOUSES':
        return {
          statementTypeId: TYPE.SHOW,
          result: encodeTable(
            [col('name', 'text'), col('state', 'text'), col('type', 'text'), col('size', 'text'), col('is_current', 'text')],
            this.engine.warehouses.filter(matches).map((w) => [w, 'STARTED', 'STANDARD', 'X-Small', w === this.state.warehouse ? 'Y' : 'N']),
          ),
        };
      case 'PARAMETERS':
        return this.showParameters(matches);
      case 'ROLES':
        return {
          statementTypeId: TYPE.SHOW,
          result: encodeTable(
            [col('name', 'text'), col('is_current', 'text')],
            this.state.allowedRoles.filter(matches).map((r) => [r, r === this.state.role ? 'Y' : 'N']),
          ),
        };
      default:
        throw syntaxError(sig[1]);
    }
  }

  /** SHOW PARAMETERS [LIKE …] [IN SESSION]: the session's values of the parameters the double knows, and any set. */
  private showParameters(matches: (n: string) => boolean): StatementOutcome {
    const known = new Map(Object.entries(PARAMETER_DEFAULTS));
    for (const key of this.state.params.keys()) if (!known.has(key)) known.set(key, '');
    const rows = [...known]
      .filter(([key]) => matches(key))
      .map(([key, fallback]) => {
        const set = this.state.params.get(key);
        return [key, set ?? fallback, fallback, set === undefined ? '' : 'SESSION', '', 'STRING'];
      });
    return {
      statementTypeId: TYPE.SHOW,
      result: encodeTable(
        [col('key', 'text'), col('value', 'text'), col('default', 'text'), col('level', 'text'), col('description', 'text'), col('type', 'text')],
        rows,
      ),
    };
  }

  private async showDatabases(matches: (n: string) => boolean): Promise<StatementOutcome> {
    const rows = (await this.engine.databases())
      .filter(matches)
      .map((name) => [CREATED_ON, name, 'N', name === this.state.database ? 'Y' : 'N', '', 'SYSADMIN', '', '', '1', 'STANDARD', 'ROLE']);
    return {
      statementTypeId: TYPE.SHOW,
      result: encodeTable(
        [
          col('created_on', 'timestamp_ltz'),
          col('name', 'text'),
          col('is_default', 'text'),
          col('is_current', 'text'),
          col('origin', 'text'),
          col('owner', 'text'),
          col('comment', 'text'),
          col('options', 'text'),
          col('retention_time', 'text'),
          col('kind', 'text'),
          col('owner_role_type', 'text'),
        ],
        rows,
      ),
    };
  }

  private async requireDatabase(name: string | null): Promise<string> {
    if (name === null) {
      throw new SfError('090105', '22000', 'Cannot perform SHOW. This session does not have a current database. Call \'USE DATABASE\', or use a qualified name.');
    }
    if (!(await this.engine.databaseExists(name))) {
      throw new SfError('002003', '02000', `SQL compilation error:\nDatabase '${name}' does not exist or not authorized.`);
    }
    return name;
  }

  private async requireSchema(database: string, schema: string): Promise<void> {
    await this.requireDatabase(database);
    if (!(await this.engine.schemas(database)).some((s) => s.name === schema)) {
      throw new SfError('002003', '02000', `SQL compilation error:\nSchema '${database}.${schema}' does not exist or not authorized.`);
    }
  }

  private async showSchemas(matches: (n: string) => boolean, scope?: { kind: string; parts: string[] }): Promise<StatementOutcome> {
    const database = await this.requireDatabase(scope?.parts[0] ?? this.state.database);
    const rows = (await this.engine.schemas(database))
      .filter((s) => matches(s.name))
      .map((s) => [
        CREATED_ON,
        s.name,
        'N',
        database === this.state.database && s.name === this.state.schema ? 'Y' : 'N',
        database,
        'SYSADMIN',
        s.comment ?? '',
        '',
        '1',
        'ROLE',
      ]);
    return {
      statementTypeId: TYPE.SHOW,
      result: encodeTable(
        [
          col('created_on', 'timestamp_ltz'),
          col('name', 'text'),
          col('is_default', 'text'),
          col('is_current', 'text'),
          col('database_name', 'text'),
          col('owner', 'text'),
          col('comment', 'text'),
          col('options', 'text'),
          col('retention_time', 'text'),
          col('owner_role_type', 'text'),
        ],
        rows,
      ),
    };
  }

  /** Resolves `IN SCHEMA x.y` / `IN DATABASE x` / nothing to a (database, schema) filter. */
  private async objectScope(scope?: { kind: string; parts: string[] }): Promise<{ database: string | null; schema: string | null }> {
    if (scope === undefined) {
      const database = await this.requireDatabase(this.state.database);
      if (this.state.schema === null) return { database, schema: null };
      return { database, schema: this.state.schema };
    }
    if (scope.kind === 'ACCOUNT') return { database: null, schema: null };
    if (scope.kind === 'DATABASE' || (scope.kind === '' && scope.parts.length === 1)) {
      return { database: await this.requireDatabase(scope.parts[0] ?? null), schema: null };
    }
    const database = scope.parts.length > 1 ? scope.parts[0]! : await this.requireDatabase(this.state.database);
    const schema = scope.parts[scope.parts.length - 1]!;
    await this.requireSchema(database, schema);
    return { database, schema };
  }

  private async showObjects(
    what: 'TABLES' | 'VIEWS' | 'OBJECTS',
    matches: (n: string) => boolean,
    scope?: { kind: string; parts: string[] },
  ): Promise<StatementOutcome> {
    const { database, schema } = await this.objectScope(scope);
    const objects = (await this.engine.objects(database, schema)).filter(
      (o) => matches(o.name) && (what === 'OBJECTS' || (what === 'TABLES' ? o.kind === 'TABLE' : o.kind === 'VIEW')),
    );
    if (what === 'VIEWS') {
      return {
        statementTypeId: TYPE.SHOW,
        result: encodeTable(
          [
            col('created_on', 'timestamp_ltz'),
            col('name', 'text'),
            col('reserved', 'text'),
            col('database_name', 'text'),
            col('schema_name', 'text'),
            col('owner', 'text'),
            col('comment', 'text'),
            col('text', 'text'),
            col('is_secure', 'text'),
            col('is_materialized', 'text'),
            col('owner_role_type', 'text'),
            col('change_tracking', 'text'),
          ],
          objects.map((o) => [CREATED_ON, o.name, '', o.database, o.schema, 'SYSADMIN', o.comment ?? '', o.text ?? '', 'false', 'false', 'ROLE', 'OFF']),
        ),
      };
    }
    return {
      statementTypeId: TYPE.SHOW,
      result: encodeTable(
        [
          col('created_on', 'timestamp_ltz'),
          col('name', 'text'),
          col('database_name', 'text'),
          col('schema_name', 'text'),
          col('kind', 'text'),
          col('comment', 'text'),
          col('cluster_by', 'text'),
          col('rows', 'fixed'),
          col('bytes', 'fixed'),
          col('owner', 'text'),
          col('retention_time', 'text'),
          col('owner_role_type', 'text'),
        ],
        objects.map((o) => [
          CREATED_ON,
          o.name,
          o.database,
          o.schema,
          o.kind,
          o.comment ?? '',
          this.engine.clusterBy[`${o.database}.${o.schema}.${o.name}`] ?? '',
          o.kind === 'TABLE' ? (o.rows ?? 0) : null,
          o.kind === 'TABLE' ? (o.rows ?? 0) * 64 : null,
          'SYSADMIN',
          '1',
          'ROLE',
        ]),
      ),
    };
  }

  /**
   * Names as this session reads them: with QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE a quoted `"weather"` is WEATHER
   * (unquoted names are upper case already). Applied to the names of USE, SHOW scopes and DESCRIBE only.
   */
  private sessionParts(parts: string[]): string[] {
    return this.parameter('QUOTED_IDENTIFIERS_IGNORE_CASE')?.toUpperCase() === 'TRUE' ? parts.map((p) => p.toUpperCase()) : parts;
  }

  private async resolveObject(given: string[]): Promise<{ database: string; schema: string; name: string }> {
    const parts = this.sessionParts(given);
    if (parts.length === 0) throw new SfError('001003', '42000', 'SQL compilation error:\nsyntax error: missing object name.');
    const name = parts[parts.length - 1]!;
    const schema = parts.length >= 2 ? parts[parts.length - 2]! : this.state.schema;
    const database = parts.length >= 3 ? parts[parts.length - 3]! : this.state.database;
    if (database === null || schema === null) {
      throw new SfError('090105', '22000', `Cannot resolve '${name}': this session does not have a current database and schema. Use a qualified name.`);
    }
    return { database, schema, name };
  }

  private async showColumns(matches: (n: string) => boolean, scope?: { kind: string; parts: string[] }): Promise<StatementOutcome> {
    let targets: { database: string; schema: string; name: string }[];
    if (scope !== undefined && (scope.kind === 'TABLE' || scope.kind === 'VIEW')) {
      const ref = await this.resolveObject(scope.parts);
      const found = (await this.engine.objects(ref.database, ref.schema)).find((o) => o.name === ref.name);
      if (found === undefined) throw objectNotFound(ref);
      targets = [ref];
    } else {
      const { database, schema } = await this.objectScope(scope);
      targets = await this.engine.objects(database, schema);
    }
    const rows: unknown[][] = [];
    for (const t of targets) {
      for (const c of await this.engine.columns(t.database, t.schema, t.name)) {
        if (!matches(c.name)) continue;
        rows.push([t.name, t.schema, c.name, JSON.stringify(typeJson(c.type, c.nullable)), String(c.nullable), c.default ?? '', 'COLUMN', '', c.comment ?? '', t.database, '']);
      }
    }
    return {
      statementTypeId: TYPE.SHOW,
      result: encodeTable(
        [
          col('table_name', 'text'),
          col('schema_name', 'text'),
          col('column_name', 'text'),
          col('data_type', 'text'),
          col('null?', 'text'),
          col('default', 'text'),
          col('kind', 'text'),
          col('expression', 'text'),
          col('comment', 'text'),
          col('database_name', 'text'),
          col('autoincrement', 'text'),
        ],
        rows,
      ),
    };
  }

  // ---- DESCRIBE --------------------------------------------------------------------------------

  private async describe(sig: Token[]): Promise<StatementOutcome> {
    let i = 1;
    let kind = 'TABLE';
    if (sig[i]?.kind === 'word' && ['TABLE', 'VIEW'].includes(sig[i]!.value)) {
      kind = sig[i]!.value;
      i++;
    }
    const ref = await this.resolveObject(readQualifiedName(sig, i).parts);
    const found = (await this.engine.objects(ref.database, ref.schema)).find((o) => o.name === ref.name);
    // Snowflake's DESCRIBE TABLE also describes views; DESCRIBE VIEW refuses tables.
    if (found === undefined || (kind === 'VIEW' && found.kind !== 'VIEW')) throw objectNotFound(ref, kind === 'VIEW' ? 'View' : 'Table');
    const columns = await this.engine.columns(ref.database, ref.schema, ref.name);
    return {
      statementTypeId: TYPE.DESCRIBE,
      result: encodeTable(
        [
          col('name', 'text'),
          col('type', 'text'),
          col('kind', 'text'),
          col('null?', 'text'),
          col('default', 'text'),
          col('primary key', 'text'),
          col('unique key', 'text'),
          col('check', 'text'),
          col('expression', 'text'),
          col('comment', 'text'),
          col('policy name', 'text'),
          col('privacy domain', 'text'),
        ],
        columns.map((c) => [c.name, c.type, 'COLUMN', c.nullable ? 'Y' : 'N', c.default, 'N', 'N', null, null, c.comment, null, null]),
      ),
    };
  }

  // ---- EXPLAIN ---------------------------------------------------------------------------------

  /**
   * `EXPLAIN [USING TABULAR] <query>`: compiles without running, as Snowflake does. The plan is DuckDB's,
   * renamed to Snowflake's operations; each scanned table is modelled as ceil(rows / EXPLAIN_ROWS_PER_PARTITION)
   * micro-partitions of EXPLAIN_BYTES_PER_ROW bytes a row, all assigned (the double does not prune).
   */
  private async explain(tokens: Token[], sig: Token[], options: ExecuteOptions): Promise<StatementOutcome> {
    let at = 1;
    if (sig[1]?.kind === 'word' && sig[1].value === 'USING') {
      const format = sig[2]?.kind === 'word' ? sig[2].value : '';
      if (format !== 'TABULAR') throw new SfError('001003', '42000', `SQL compilation error:\nthe double answers EXPLAIN USING TABULAR only (got ${format}).`);
      at = 3;
    }
    const start = sig[at];
    if (start === undefined) throw syntaxError(start);
    const rewritten = this.rewrite(tokens.slice(tokens.indexOf(start)));
    // Bind values compile with the statement, as for any query request.
    const values = bindValues(options.bindings);
    return this.withLock(async () => {
      await this.syncDuckContext();
      let planText: string;
      try {
        const reader = await this.duck.runAndReadAll(`EXPLAIN (FORMAT json) ${rewritten.sql}`, values.length > 0 ? values : undefined);
        planText = String(reader.getRows().find((r) => r[0] === 'physical_plan')?.[1] ?? '[]');
      } catch (err) {
        throw duckErrorToSnowflake(err);
      }
      const out: unknown[][] = [];
      let id = 0;
      const totals = { partitions: 0, bytes: 0 };
      const walk = async (node: { name?: string; extra_info?: Record<string, unknown>; children?: unknown[] }, parent: number | null): Promise<void> => {
        const me = id++;
        const name = String(node.name ?? '').trim();
        const info = node.extra_info ?? {};
        const table = typeof info['Table'] === 'string' ? String(info['Table']) : undefined;
        if (table !== undefined) {
          const rows = await this.tableRows(table);
          const partitions = Math.max(1, Math.ceil(rows / EXPLAIN_ROWS_PER_PARTITION));
          const bytes = rows * EXPLAIN_BYTES_PER_ROW;
          totals.partitions += partitions;
          totals.bytes += bytes;
          out.push([1, me, parent === null ? null : `[${parent}]`, 'TableScan', table.toUpperCase(), null, info['Projections'] ?? null, partitions, partitions, bytes]);
        } else {
          out.push([1, me, parent === null ? null : `[${parent}]`, SNOWFLAKE_OPERATION[name] ?? name, null, null, info['Filters'] ?? info['Conditions'] ?? null, null, null, null]);
        }
        for (const child of node.children ?? []) await walk(child as typeof node, me);
      };
      for (const root of JSON.parse(planText) as unknown[]) await walk(root as never, null);
      out.unshift([null, null, null, 'GlobalStats', null, null, null, totals.partitions, totals.partitions, totals.bytes]);
      return {
        statementTypeId: TYPE.SELECT,
        result: encodeTable(
          [
            col('step', 'fixed'),
            col('id', 'fixed'),
            col('parentOperators', 'text'),
            col('operation', 'text'),
            col('objects', 'text'),
            col('alias', 'text'),
            col('expressions', 'text'),
            col('partitionsTotal', 'fixed'),
            col('partitionsAssigned', 'fixed'),
            col('bytesAssigned', 'fixed'),
          ],
          out,
        ),
      };
    });
  }

  /**
   * `… FROM TABLE([db.]INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER(…)) …`: the table function becomes a subquery
   * over this user's queries in the double's log, and the rest of the statement (its WHERE, ORDER BY…) runs
   * on DuckDB as written. BYTES_SCANNED follows the double's EXPLAIN model (EXPLAIN_BYTES_PER_ROW per row
   * produced); TOTAL_ELAPSED_TIME is the log's own timing, in milliseconds.
   */
  private withQueryHistory(tokens: Token[], options: ExecuteOptions): string {
    const fn = tokens.findIndex((t) => t.kind === 'word' && t.value === 'QUERY_HISTORY_BY_USER');
    let table = fn;
    while (table >= 0 && !(tokens[table]!.kind === 'word' && tokens[table]!.value === 'TABLE')) table--;
    if (table < 0) throw new SfError('001003', '42000', 'SQL compilation error:\nQUERY_HISTORY_BY_USER is a table function: use it as TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_USER()).');
    let depth = 0;
    let close = -1;
    for (let i = table + 1; i < tokens.length; i++) {
      if (tokens[i]!.text === '(') depth++;
      else if (tokens[i]!.text === ')' && --depth === 0) {
        close = i;
        break;
      }
    }
    if (close < 0) throw syntaxError(tokens[fn]);
    const columns = ['QUERY_ID', 'QUERY_TEXT', 'QUERY_TAG', 'USER_NAME', 'WAREHOUSE_NAME', 'EXECUTION_STATUS', 'ERROR_CODE', 'START_TIME', 'END_TIME', 'TOTAL_ELAPSED_TIME', 'BYTES_SCANNED', 'ROWS_PRODUCED'];
    const text = (v: string | null) => (v === null ? 'CAST(NULL AS VARCHAR)' : stringLiteralDuck(v));
    const int = (v: number | null) => (v === null ? 'CAST(NULL AS BIGINT)' : `CAST(${Math.round(v)} AS BIGINT)`);
    const time = (ms: number | null) => (ms === null ? 'CAST(NULL AS TIMESTAMP)' : `CAST(to_timestamp(${ms / 1000}) AS TIMESTAMP)`);
    const rows = (options.queryHistory?.() ?? []).map((r) =>
      `(${[text(r.queryId), text(r.queryText), text(r.queryTag), text(r.userName), text(r.warehouse), text(r.status), text(r.errorCode), time(r.startedAt), time(r.endedAt),
        int(r.endedAt === null ? null : r.endedAt - r.startedAt), int(r.rowsProduced === null ? null : r.rowsProduced * EXPLAIN_BYTES_PER_ROW), int(r.rowsProduced)].join(', ')})`,
    );
    const source =
      rows.length > 0
        ? `(SELECT * FROM (VALUES ${rows.join(', ')}) AS h(${columns.map((c) => `"${c}"`).join(', ')}))`
        : `(SELECT ${columns.map((c, i) => `${i >= 9 ? 'CAST(NULL AS BIGINT)' : i >= 7 ? 'CAST(NULL AS TIMESTAMP)' : 'CAST(NULL AS VARCHAR)'} AS "${c}"`).join(', ')} WHERE FALSE)`;
    return `${tokensToText(tokens.slice(0, table))}${source}${tokensToText(tokens.slice(close + 1))}`;
  }

  /**
   * `SELECT … FROM TABLE(<db>.INFORMATION_SCHEMA.TAG_REFERENCES('<object>', 'table'))` — the object's own
   * tags — and `TAG_REFERENCES_ALL_COLUMNS('<object>', 'table')` — its columns' tags: Snowflake's columns,
   * every one selected (the double ignores the select list).
   */
  private async tagReferences(sig: Token[], at: number): Promise<StatementOutcome> {
    const allColumns = sig[at]!.value === 'TAG_REFERENCES_ALL_COLUMNS';
    const nameArg = sig[at + 2];
    const domainArg = sig[at + 4];
    if (nameArg?.kind !== 'string' || domainArg?.kind !== 'string') throw syntaxError(nameArg);
    if (domainArg.value.toUpperCase() !== 'TABLE') throw new SfError('001044', '42P13', `SQL compilation error:\nInvalid domain '${domainArg.value}' for this double.`);
    const ref = await this.resolveObject(readQualifiedName(tokenize(nameArg.value).filter((t) => t.kind !== 'space'), 0).parts);
    const object = `${ref.database}.${ref.schema}.${ref.name}`;
    if (!(await this.engine.objects(ref.database, ref.schema)).some((o) => o.name === ref.name)) {
      throw new SfError('002003', '02000', `SQL compilation error:\nTable '${object}' does not exist or not authorized.`);
    }
    const rows = this.engine.tags
      .filter((t) => t.object === object && (allColumns ? t.column !== undefined : t.column === undefined))
      .map((t) => {
        const [tagDatabase, tagSchema, tagName] = t.tag.split('.');
        return [tagDatabase!, tagSchema!, tagName!, t.value, allColumns ? 'COLUMN' : 'TABLE', ref.database, ref.schema, ref.name, t.column ?? null, allColumns ? 'COLUMN' : 'TABLE'];
      });
    return {
      statementTypeId: TYPE.SELECT,
      result: encodeTable(
        ['TAG_DATABASE', 'TAG_SCHEMA', 'TAG_NAME', 'TAG_VALUE', 'LEVEL', 'OBJECT_DATABASE', 'OBJECT_SCHEMA', 'OBJECT_NAME', 'COLUMN_NAME', 'DOMAIN'].map((n) => col(n, 'text')),
        rows,
      ),
    };
  }

  /**
   * `SELECT * FROM TABLE(GET_QUERY_OPERATOR_STATS('<id>'))` for a query of this user: one row per operator
   * of DuckDB's plan of that query, renamed to Snowflake's operators, with its estimated rows as
   * output_rows and the time split evenly (the double does not time operators).
   */
  private async operatorStats(sig: Token[], at: number, options: ExecuteOptions): Promise<StatementOutcome> {
    const arg = sig[at + 2];
    if (arg?.kind !== 'string') throw syntaxError(arg);
    const query = options.queryById?.(arg.value);
    if (!query) throw new SfError('002003', '02000', `SQL compilation error:\nQuery '${arg.value}' does not exist or not authorized.`);
    const rewritten = this.rewrite(tokenize(query.sql));
    const operators: { type: string; parent: number | null; rows: number | null; table: string | null }[] = [];
    await this.withLock(async () => {
      await this.syncDuckContext();
      try {
        const reader = await this.duck.runAndReadAll(`EXPLAIN (FORMAT json) ${rewritten.sql}`);
        const plan = JSON.parse(String(reader.getRows().find((r) => r[0] === 'physical_plan')?.[1] ?? '[]')) as unknown[];
        const walk = (node: { name?: string; extra_info?: Record<string, unknown>; children?: unknown[] }, parent: number | null): void => {
          const id = operators.length;
          const name = String(node.name ?? '').trim();
          const info = node.extra_info ?? {};
          const rows = Number(info['Estimated Cardinality']);
          operators.push({ type: typeof info['Table'] === 'string' ? 'TableScan' : SNOWFLAKE_OPERATION[name] ?? name, parent, rows: Number.isFinite(rows) ? rows : null, table: typeof info['Table'] === 'string' ? String(info['Table']).toUpperCase() : null });
          for (const child of node.children ?? []) walk(child as typeof node, id);
        };
        for (const root of plan) walk(root as never, null);
      } catch {
        operators.push({ type: 'Result', parent: null, rows: null, table: null });
      }
    });
    const share = Math.round((100 / operators.length) * 100) / 100;
    return {
      statementTypeId: TYPE.SELECT,
      result: encodeTable(
        [
          col('QUERY_ID', 'text'),
          col('STEP_ID', 'fixed'),
          col('OPERATOR_ID', 'fixed'),
          col('PARENT_OPERATORS', 'array'),
          col('OPERATOR_TYPE', 'text'),
          col('OPERATOR_STATISTICS', 'variant'),
          col('EXECUTION_TIME_BREAKDOWN', 'variant'),
          col('OPERATOR_ATTRIBUTES', 'variant'),
        ],
        operators.map((o, i) => [
          arg.value,
          1,
          i,
          JSON.stringify(o.parent === null ? [] : [o.parent]),
          o.type,
          JSON.stringify(o.rows === null ? {} : { output_rows: o.rows }),
          JSON.stringify({ overall_percentage: share }),
          JSON.stringify(o.table === null ? {} : { table_name: o.table }),
        ]),
      ),
    };
  }

  private async tableRows(qualified: string): Promise<number> {
    const name = qualified.split('.').map((p) => quoteDuck(p)).join('.');
    const reader = await this.duck.runAndReadAll(`SELECT count(*) FROM ${name}`);
    return Number(reader.getRows()[0]?.[0] ?? 0);
  }

  // ---- everything else: DuckDB -------------------------------------------------------------------

  private async generic(tokens: Token[], options: ExecuteOptions): Promise<StatementOutcome> {
    const rewritten = this.rewrite(tokens);
    if (rewritten.waitMs > 0) await abortableSleep(rewritten.waitMs, options.signal);
    const values = bindValues(options.bindings);
    return this.withLock(async () => {
      await this.syncDuckContext();
      let reader;
      try {
        reader = await this.duck.runAndReadAll(rewritten.sql, values.length > 0 ? values : undefined);
      } catch (err) {
        throw duckErrorToSnowflake(err);
      }
      const statementType = reader.statementType as number;
      // DuckDB statement types: 1 SELECT, 2 INSERT, 3 UPDATE, 4 EXPLAIN, 5 DELETE, 10 TRANSACTION.
      if (statementType === 2 || statementType === 3 || statementType === 5) {
        const label = statementType === 2 ? 'inserted' : statementType === 3 ? 'updated' : 'deleted';
        return {
          statementTypeId: statementType === 2 ? TYPE.INSERT : statementType === 3 ? TYPE.UPDATE : TYPE.DELETE,
          result: encodeTable([col(`number of rows ${label}`, 'fixed')], [[reader.rowsChanged]]),
        };
      }
      if (statementType !== 1 && statementType !== 4) {
        return statusResult(statementType === 10 ? TYPE.TCL : TYPE.DDL);
      }
      const names = reader.columnNames().map((n) => rewritten.names.get(n) ?? (n === 'count_star()' ? 'COUNT(*)' : n));
      return { statementTypeId: TYPE.SELECT, result: encodeDuckResult(reader, names) };
    });
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private duckContext = '';

  private async syncDuckContext(): Promise<void> {
    const { database, schema } = this.state;
    const wanted = database === null ? 'memory' : schema === null ? quoteDuck(database) : `${quoteDuck(database)}.${quoteDuck(schema)}`;
    if (wanted === this.duckContext) return;
    await this.duck.run(`USE ${wanted}`);
    this.duckContext = wanted;
  }

  /** Snowflake text → DuckDB text, with CURRENT_*() answered from the session and SYSTEM$WAIT timed. */
  private rewrite(tokens: Token[]): { sql: string; waitMs: number; names: Map<string, string> } {
    const out: string[] = [];
    const names = new Map<string, string>();
    let waitMs = 0;
    const sessionFunctions: Record<string, () => string | null> = {
      CURRENT_DATABASE: () => this.state.database,
      CURRENT_SCHEMA: () => this.state.schema,
      CURRENT_ROLE: () => this.state.role,
      CURRENT_WAREHOUSE: () => this.state.warehouse,
      CURRENT_USER: () => this.state.user,
      CURRENT_SESSION: () => this.state.sessionId,
      CURRENT_VERSION: () => '9.0.0',
    };
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'word') {
        const fn = sessionFunctions[t.value];
        const args = fn === undefined && t.value !== 'SYSTEM$WAIT' ? undefined : readCallArgs(tokens, i + 1);
        if (fn !== undefined && args !== undefined) {
          const value = fn();
          const literal = value === null ? 'CAST(NULL AS VARCHAR)' : stringLiteralDuck(value);
          names.set(value === null ? literal : `'${value.replace(/'/g, "''")}'`, `${t.value}()`);
          out.push(literal);
          i = args.end;
          continue;
        }
        if (t.value === 'SYSTEM$WAIT' && args !== undefined) {
          const amount = Number(args.args[0]?.text ?? '0');
          const unit = (args.args[1]?.value ?? 'SECONDS').toUpperCase();
          const factor = unit.startsWith('MILLI') ? 1 : unit.startsWith('MIN') ? 60_000 : unit.startsWith('HOUR') ? 3_600_000 : 1000;
          waitMs += amount * factor;
          const text = `waited ${amount} ${unit.toLowerCase()}`;
          out.push(stringLiteralDuck(text));
          names.set(`'${text}'`, tokensToText(tokens.slice(i, args.end + 1)).toUpperCase());
          i = args.end;
          continue;
        }
        if (t.value === 'TIMESTAMP_TZ') {
          // Snowflake's TIMESTAMP_TZ keeps each value's own UTC offset, which DuckDB's TIMESTAMPTZ does not:
          // the value stays its text in a one-member UNION(sf_tstz_n VARCHAR), encode.ts sends it as Snowflake does.
          const scale = readCallArgs(tokens, i + 1);
          const n = scale !== undefined && scale.args.length === 1 && scale.args[0]!.kind === 'number' ? Number(scale.args[0]!.text) : undefined;
          out.push(`UNION(sf_tstz_${n ?? 9} VARCHAR)`);
          if (n !== undefined) i = scale!.end;
          continue;
        }
        const time = t.value === 'TIME' ? timeScaleAt(tokens, i) : undefined;
        if (time !== undefined) {
          out.push(duckTime(tokens, i, time.end, time.scale));
          i = time.end;
          continue;
        }
        out.push(t.value);
      } else if (t.kind === 'string') {
        out.push(stringLiteralDuck(t.value));
      } else if (t.kind === 'param') {
        out.push(t.text === '?' ? '?' : `$${t.value}`);
      } else if (t.kind === 'comment') {
        out.push(' ');
      } else {
        out.push(t.text);
      }
    }
    return { sql: out.join(''), waitMs, names };
  }

  close(): void {
    this.duck.closeSync();
  }
}

/** `TIME ( n )` at `i`: Snowflake's TIME with a scale; `end` is the index of its `)`. */
function timeScaleAt(tokens: Token[], i: number): { scale: number; end: number } | undefined {
  const args = readCallArgs(tokens, i + 1);
  if (args === undefined || args.args.length !== 1 || !/^\d$/.test(args.args[0]!.text)) return undefined;
  return { scale: Number(args.args[0]!.text), end: args.end };
}

/**
 * Snowflake's TIME(n) for DuckDB, whose TIME has no scale: a value cast to it becomes TIME_NS wrapped in a
 * one-member UNION(sf_time_n TIME_NS), the type that carries n into the result (encode.ts sends rowtype
 * scale n and n fraction digits). `x::TIME(n)` and `CAST(x AS TIME(n))` carry the scale; elsewhere (a
 * column definition) it is TIME_NS, sent as TIME(9).
 */
function duckTime(tokens: Token[], start: number, end: number, scale: number): string {
  const union = `UNION(sf_time_${scale} TIME_NS)`;
  const before = previousSignificant(tokens, start);
  if (before?.text === '::') return `TIME_NS::${union}`;
  // CAST(x AS TIME(n)) → CAST(x AS TIME_NS)::UNION(…): the CAST's own ")" closes the UNION's parenthesis.
  if (before?.value === 'AS' && nextSignificant(tokens, end)?.text === ')') return `TIME_NS)::UNION(sf_time_${scale} TIME_NS`;
  return 'TIME_NS';
}

function previousSignificant(tokens: Token[], i: number): Token | undefined {
  for (let j = i - 1; j >= 0; j--) if (tokens[j]!.kind !== 'space' && tokens[j]!.kind !== 'comment') return tokens[j];
  return undefined;
}

function nextSignificant(tokens: Token[], i: number): Token | undefined {
  for (let j = i + 1; j < tokens.length; j++) if (tokens[j]!.kind !== 'space' && tokens[j]!.kind !== 'comment') return tokens[j];
  return undefined;
}

/** Reads `( a, b )` after a function name: returns the significant argument tokens and the index of `)`. */
function readCallArgs(tokens: Token[], start: number): { args: Token[]; end: number } | undefined {
  let i = start;
  while (tokens[i]?.kind === 'space') i++;
  if (tokens[i]?.text !== '(') return undefined;
  const args: Token[] = [];
  for (i = i + 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === ')') return { args, end: i };
    if (t.kind !== 'space' && t.kind !== 'comment' && t.text !== ',') args.push(t);
  }
  return undefined;
}

function bindValues(bindings: ExecuteOptions['bindings']): DuckDBValue[] {
  if (bindings === undefined || bindings === null) return [];
  return Object.keys(bindings)
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => {
      const { type, value } = bindings[key]!;
      if (value === null || value === undefined) return null;
      const text = String(value);
      switch (type) {
        case 'FIXED':
          return BigInt(text);
        case 'REAL':
          return Number(text);
        case 'BOOLEAN':
          return text.toLowerCase() === 'true';
        default:
          return text;
      }
    });
}

/** The double's model of a table's storage, for EXPLAIN: rows per micro-partition, bytes per row. */
export const EXPLAIN_ROWS_PER_PARTITION = 1000;
export const EXPLAIN_BYTES_PER_ROW = 100;

/** DuckDB operator names → Snowflake's. */
const SNOWFLAKE_OPERATION: Record<string, string> = {
  FILTER: 'Filter',
  PROJECTION: 'Projection',
  HASH_JOIN: 'Join',
  NESTED_LOOP_JOIN: 'Join',
  PIECEWISE_MERGE_JOIN: 'Join',
  HASH_GROUP_BY: 'Aggregate',
  PERFECT_HASH_GROUP_BY: 'Aggregate',
  UNGROUPED_AGGREGATE: 'Aggregate',
  ORDER_BY: 'Sort',
  TOP_N: 'SortWithLimit',
  STREAMING_LIMIT: 'Limit',
  LIMIT: 'Limit',
  UNION: 'UnionAll',
};

function col(name: string, type: SfType): { name: string; type: SfType } {
  return { name, type };
}

function statusResult(statementTypeId: number): StatementOutcome {
  return { statementTypeId, result: encodeTable([col('status', 'text')], [[STATUS_OK]]) };
}

function syntaxError(token: Token | undefined): SfError {
  return new SfError(
    '001003',
    '42000',
    `SQL compilation error:\nsyntax error line 1 at position 0 unexpected '${token?.text ?? '<EOF>'}'.`,
  );
}

function objectNotFound(ref: { database: string; schema: string; name: string }, what = 'Object'): SfError {
  return new SfError('002003', '42S02', `SQL compilation error:\n${what} '${ref.database}.${ref.schema}.${ref.name}' does not exist or not authorized.`);
}

function likeToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.*+^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function typeJson(type: string, nullable: boolean): Record<string, unknown> {
  const num = /^NUMBER\((\d+),(\d+)\)$/.exec(type);
  if (num) return { type: 'FIXED', precision: Number(num[1]), scale: Number(num[2]), nullable };
  if (type.startsWith('VARCHAR')) return { type: 'TEXT', length: 16777216, byteLength: 16777216, nullable, fixed: false };
  return { type: type.replace(/\(.*$/, ''), nullable };
}

function duckErrorToSnowflake(err: unknown): SfError {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  let m = /Table with name "?([^"!]+?)"? does not exist/.exec(firstLine);
  if (m) return new SfError('002003', '42S02', `SQL compilation error:\nObject '${m[1]!.toUpperCase()}' does not exist or not authorized.`);
  m = /Function with name (\S+) does not exist/.exec(firstLine);
  if (m) return new SfError('002140', '42601', `SQL compilation error:\nUnknown function ${m[1]!.toUpperCase()}`);
  m = /Referenced column "?([^"]+)"? not found/.exec(firstLine);
  if (m) return new SfError('000904', '42000', `SQL compilation error: error line 1 at position 7\ninvalid identifier '${m[1]}'`);
  if (firstLine.startsWith('Parser Error')) {
    const near = /at or near "([^"]*)"/.exec(firstLine);
    return new SfError('001003', '42000', `SQL compilation error:\nsyntax error line 1 at position 0 unexpected '${near?.[1] ?? '<EOF>'}'.`);
  }
  if (firstLine.startsWith('Conversion Error')) return new SfError('100038', '22018', firstLine.replace(/^Conversion Error: /, ''));
  if (firstLine.startsWith('Catalog Error')) return new SfError('002003', '02000', `SQL compilation error:\n${firstLine.replace(/^Catalog Error: /, '')}`);
  return new SfError('002000', '42000', `SQL compilation error:\n${firstLine}`);
}
