/**
 * Which database objects a piece of SQL reads or names, found lexically from the classifier's tokens.
 *
 * What counts as a reference: every name in a table position — after FROM and JOIN, after a comma in a
 * FROM list, in parenthesised joins, after INTO / UPDATE / MERGE … USING / DELETE … USING, `TABLE t`,
 * `COPY t`, `CLONE t`, `RENAME TO t`, `SWAP WITH t` — at any nesting depth (subqueries, CTE bodies, set
 * operations, EXPLAIN), plus the targets of SHOW … IN / ON, DESCRIBE, USE and DDL statements.
 * CTE names are not objects inside the query that defines them; a CTE's own body and everything outside
 * its scope still see the real table of that name. Self-references follow the engines' binding (Snowflake
 * makes RECURSIVE optional; DuckDB binds a CTE to itself only under WITH RECURSIVE, and otherwise reads
 * the real table of that name in the body): a CTE names itself only in its recursive term
 * (the right operand of a UNION at the top of its body: after the last top-level set operator, when that is
 * a UNION); in the anchor, or in a body whose top operation is not a UNION, its name is the real table
 * (DuckDB reads it there; test/unit/policy-cte-binding-duckdb.test.ts). A write's target (INSERT INTO,
 * UPDATE, DELETE FROM, …) is never a CTE: `WITH t AS (…) INSERT INTO t …` writes the real table t.
 *
 * Unqualified names resolve against the call's context (Snowflake's rules: `t` → DB.SCHEMA.T,
 * `s.t` → DB.S.T, `db..t` → DB.PUBLIC.T). Unquoted names are upper-cased; quoted ones kept literally.
 *
 * "Opaque" means something could not be resolved to a name, so a restricted role must not run it:
 * IDENTIFIER(…), TABLE('…') or $variables naming a table, table functions (their reads are invisible),
 * RESULT_SCAN, GET_DDL and SYSTEM$ functions (they take object names as text), CALL / EXECUTE IMMEDIATE /
 * scripting blocks, engine statements, account-wide SHOW, file reads, and anything the lexer refuses.
 *
 * Functions that are objects are reads of that object: a qualified call (a UDF, or on DuckDB a macro), and on
 * Snowflake an unqualified call of anything that is not a built-in (guard/sql/snowflake-builtins.ts), which
 * the search path resolves to the current schema's UDF, then PUBLIC's.
 *
 * It is lexical, not a resolver: a view, a UDF or a procedure reads what it reads underneath, and the
 * extraction errs towards reporting too much (a false refusal) rather than too little.
 * With dialect 'any' (the default) the SQL is read with both engines' lexical rules and the union of both
 * readings is returned, so a comment in one engine that is code in the other hides nothing.
 */
import { readSql, type SqlDialectChoice, type SqlReading, type StatementType } from '../guard/sql/classifier.js';
import { duckdbReadsAsFile } from '../guard/sql/duckdb-files.js';
import { isDuckDbBuiltinFunction } from '../guard/sql/duckdb-builtins.js';
import { isBuiltinTableFunction, takesStageLocation } from '../guard/sql/function-rules.js';
import { isSnowflakeBuiltinCall } from '../guard/sql/snowflake-builtins.js';
import { qualifiedNameParts } from '../names/identifiers.js';
import { displayName } from '../names/object-pattern.js';
import { defaultSearchPath, type SessionNames } from '../names/session-names.js';
import type { SqlDialect, Token } from '../guard/sql/lexer.js';
import { QUERY_STARTERS, READ_TYPES } from '../guard/sql/statement-types.js';
import type { ObjectRef } from './policy.js';

/** read: data is read; write: data or the object changes; list: unfiltered names inside it are shown; use: the session switches to it. */
export type ObjectAccess = 'read' | 'write' | 'list' | 'use';

export interface ReferencedObject {
  ref: ObjectRef;
  access: ObjectAccess;
  /**
   * What the engine reads instead when `ref` does not exist: an unqualified name falls back along the
   * search path (Snowflake's default `$current, $public`: the database's PUBLIC; DuckDB: the database's
   * `main`), and DuckDB reads a two-part `a.b` as catalog `a`, schema `main` when the current database
   * has no schema `a`. Absent when the name cannot resolve anywhere else.
   */
  fallback?: ObjectRef;
  /** The object is a function the SQL calls (a user-defined function or macro), not a table or view. */
  function?: true;
}

export interface SqlContext {
  database: string;
  schema: string;
  /**
   * Snowflake: how the session resolves names (QUOTED_IDENTIFIERS_IGNORE_CASE, SEARCH_PATH), as its login read
   * them; absent: Snowflake's defaults.
   */
  names?: SessionNames | undefined;
}

export interface SqlObjectsOptions {
  /** The engine the SQL runs on; 'any' (default) reads it both ways and reports both readings. */
  dialect?: SqlDialectChoice;
}

export interface SqlObjectAnalysis {
  refs: ReferencedObject[];
  /** Why something could not be resolved; empty when everything was. */
  opaqueReasons: string[];
}

/** Objects a statement reads or names (FROM/JOIN lists incl. comma joins, subqueries, set operations, DESCRIBE/SHOW … IN targets, LATERAL FLATTEN skipped, table functions reported by name), CTE names excluded, unqualified names resolved against the given context. Never throws. */
export function referencedObjects(
  sql: string,
  context: SqlContext,
  options: SqlObjectsOptions = {},
): { objects: ObjectRef[]; opaque: boolean; opaqueReasons: string[] } {
  const analysis = analyzeSqlObjects(sql, context, options);
  const seen = new Set<string>();
  const objects: ObjectRef[] = [];
  for (const { ref } of analysis.refs) {
    const key = refKey(ref);
    if (seen.has(key)) continue;
    seen.add(key);
    objects.push(ref);
  }
  return { objects, opaque: analysis.opaqueReasons.length > 0, opaqueReasons: analysis.opaqueReasons };
}

/** Like referencedObjects, with how each object is used. Never throws. */
export function analyzeSqlObjects(sql: string, context: SqlContext, options: SqlObjectsOptions = {}): SqlObjectAnalysis {
  const findings = new Findings();
  try {
    if (typeof sql !== 'string') {
      findings.opaque('the query is not text');
    } else {
      const dialect = options.dialect ?? 'any';
      const dialects: SqlDialect[] = dialect === 'any' ? ['snowflake', 'duckdb'] : [dialect];
      for (const d of dialects) analyzeInDialect(sql, normalizeContext(context), d, findings);
    }
  } catch {
    findings.opaque('the SQL could not be analysed');
  }
  return { refs: findings.refs, opaqueReasons: findings.reasons };
}

function normalizeContext(context: SqlContext): SqlContext {
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  return { database: text(context?.database), schema: text(context?.schema), ...(context?.names ? { names: context.names } : {}) };
}

function refKey(ref: ObjectRef): string {
  return JSON.stringify([ref.database, ref.schema ?? null, ref.name ?? null]);
}

/** Statements that write rows of an existing table (its name resolves like a read). */
const ROW_WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'COPY']);

class Findings {
  readonly refs: ReferencedObject[] = [];
  readonly reasons: string[] = [];
  readonly #keys = new Set<string>();

  add(ref: ObjectRef, access: ObjectAccess, fallback?: ObjectRef, isFunction = false): void {
    const key = `${access}:${refKey(ref)}:${fallback ? refKey(fallback) : ''}:${isFunction}`;
    if (this.#keys.has(key)) return;
    this.#keys.add(key);
    this.refs.push({ ref, access, ...(fallback ? { fallback } : {}), ...(isFunction ? { function: true as const } : {}) });
  }

  opaque(reason: string): void {
    if (!this.reasons.includes(reason)) this.reasons.push(reason);
  }
}

/** Objects of SQL already read (by the read-only check): the same tokens, not lexed again. Never throws. */
export function sqlObjectsOfReading(reading: SqlReading, context: SqlContext): SqlObjectAnalysis {
  const findings = new Findings();
  try {
    objectsOfReading(reading, normalizeContext(context), findings);
  } catch {
    findings.opaque('the SQL could not be analysed');
  }
  return { refs: findings.refs, opaqueReasons: findings.reasons };
}

function analyzeInDialect(sql: string, context: SqlContext, dialect: SqlDialect, findings: Findings): void {
  objectsOfReading(readSql(sql, dialect), context, findings);
}

function objectsOfReading(reading: SqlReading, context: SqlContext, findings: Findings): void {
  if (reading.error) {
    findings.opaque(`the SQL could not be read: ${reading.error.message}`);
    return;
  }
  let ctx = context;
  for (const statement of reading.statements) {
    if (statement.tokens.length === 0) continue;
    const scanner = new StatementScanner(statement.tokens, statement.type, ctx, reading.dialect, findings);
    scanner.run();
    // A USE changes how the following statements' names resolve.
    ctx = scanner.contextAfter ?? ctx;
  }
}

// ---- vocabulary -----------------------------------------------------------------------------------

/** Snowflake's file commands: every quoted `'@…'` in them is a stage location. */
const FILE_COMMANDS: ReadonlySet<StatementType> = new Set<StatementType>(['LIST', 'REMOVE', 'GET', 'PUT']);

/** Words that end a FROM list at the current parenthesis depth. */
const FROM_LIST_ENDERS = new Set([
  'WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'FETCH', 'UNION', 'EXCEPT', 'INTERSECT',
  'MINUS', 'SELECT', 'RETURNING', 'CONNECT', 'START', 'VALUES', 'SET',
]);

/** Words after which an ender word is an operand (a column named like a keyword), not a clause. */
const EXPRESSION_WORDS = new Set(['ON', 'AND', 'OR', 'NOT', 'IS', 'IN', 'BETWEEN', 'LIKE', 'ILIKE', 'THEN', 'ELSE', 'WHEN', 'CASE', 'AS', 'BY']);

/** Functions whose arguments use FROM without naming a table: EXTRACT(YEAR FROM d), TRIM(x FROM s)… */
const FROM_FUNCTIONS = new Set(['EXTRACT', 'TRIM', 'BTRIM', 'LTRIM', 'RTRIM', 'SUBSTRING', 'SUBSTR', 'OVERLAY', 'POSITION']);

/**
 * Words that are syntax, not a table name, in a FROM position. Kept to reserved words: an engine that
 * accepts one of these as a table name would otherwise read a table this scanner skipped. LATERAL and
 * ONLY make the next token a table position instead.
 */
const NOT_TABLE_WORDS_FROM = new Set(['SELECT', 'VALUES', 'WITH', 'LATERAL', 'ONLY']);
/** The same for INTO / UPDATE / TABLE / … positions, where statement syntax continues. */
const NOT_TABLE_WORDS_TARGET = new Set([
  'SELECT', 'VALUES', 'WITH', 'LATERAL', 'ONLY', 'TABLE', 'SET', 'ALL', 'FIRST', 'OVERWRITE', 'INTO', 'IF', 'NOT', 'EXISTS',
]);
/** GRANT / REVOKE … FROM <grantee kind> <name>: not tables. */
const GRANTEE_WORDS = new Set(['ROLE', 'USER', 'SHARE', 'APPLICATION', 'DATABASE']);

/** Table functions that generate rows from their arguments and read no table. */
const GENERATOR_FUNCTIONS = new Set(['FLATTEN', 'GENERATOR', 'SPLIT_TO_TABLE', 'STRTOK_SPLIT_TO_TABLE', 'UNNEST', 'RANGE', 'GENERATE_SERIES']);

/** Scalar functions that read objects named as text, or earlier results. */
const TEXT_NAMED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['IDENTIFIER', 'IDENTIFIER(…) names an object at run time'],
  ['RESULT_SCAN', 'RESULT_SCAN reads the result of an earlier query, which may have read any object'],
  ['GET_DDL', 'GET_DDL takes an object name as text'],
  ['QUERY', 'query(…) runs SQL given as text'],
  ['QUERY_TABLE', 'query_table(…) reads a table named as text'],
  // DuckDB plans the SQL text against the catalog: the plan lists the columns of every table it names and,
  // with optimize := true, drops a filter its statistics rule out, which tells a column's minimum and maximum.
  ['JSON_SERIALIZE_PLAN', 'json_serialize_plan(…) plans SQL given as text, showing the columns and statistics of the tables it names'],
]);
/**
 * Snowflake functions that read the object named, as text, by their first argument: checked like a table
 * when the name is a string literal (the `cortex_search` tool judges the same service), opaque otherwise.
 */
const NAME_ARGUMENT_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['SEARCH_PREVIEW', 'SEARCH_PREVIEW(…) names the Cortex Search service it queries'],
  ['EXTRACT_SEMANTIC_CATEGORIES', 'EXTRACT_SEMANTIC_CATEGORIES(…) names the table it reads'],
]);
/**
 * DuckDB's built-in scalar macros over its catalog readers (`pg_get_viewdef(oid)` is
 * `(SELECT sql FROM duckdb_views() …)`): a catalog view called as a scalar, so opaque like the view.
 * policy-sql-objects-duckdb.test.ts derives this list from the engine's own macro definitions.
 */
const DUCKDB_CATALOG_MACROS: ReadonlyMap<string, string> = new Map([
  ['PG_GET_VIEWDEF', "pg_get_viewdef(…) reads every view's definition from DuckDB's catalog"],
  ['PG_GET_CONSTRAINTDEF', "pg_get_constraintdef(…) reads every constraint from DuckDB's catalog"],
  ['FORMAT_TYPE', "format_type(…) reads every type from DuckDB's catalog"],
  ['GET_BLOCK_SIZE', "get_block_size(…) reads DuckDB's storage catalog"],
]);
/** Words before `name(` that make it a name being declared with its columns or parameters, not a function call (CALL runs a procedure: opaque). */
const DECLARING_WORDS = new Set(['FUNCTION', 'PROCEDURE', 'TABLE', 'VIEW', 'INTO', 'AS', 'KEY', 'REFERENCES', 'MACRO', 'TYPE', 'INDEX', 'ON', 'CALL']);
/** Session parameters that change which object a name resolves to (see #nameResolutionSettings). */
const NAME_RESOLUTION_SETTINGS: ReadonlySet<string> = new Set(['QUOTED_IDENTIFIERS_IGNORE_CASE', 'SEARCH_PATH']);
/** SYSTEM$ functions that take no object names. */
const HARMLESS_SYSTEM_FUNCTIONS = new Set(['SYSTEM$TYPEOF', 'SYSTEM$WAIT']);

/** DuckDB catalogs and schemas that hold its system views: the first part of a two-part name that may reach them. */
const DUCKDB_CATALOG_SCHEMAS = new Set(['SYSTEM', 'TEMP', 'MAIN', 'PG_CATALOG', 'INFORMATION_SCHEMA']);
/** DuckDB's own catalogs: `system` holds every catalog view, `temp` is searched before the current schema. */
const DUCKDB_INTERNAL_CATALOGS = new Set(['SYSTEM', 'TEMP']);
/** Schemas that exist only in DuckDB's system catalog, whichever catalog a name puts them in. */
const DUCKDB_SYSTEM_SCHEMAS = new Set(['PG_CATALOG', 'INFORMATION_SCHEMA']);
/**
 * Names of DuckDB's catalog views in `system.main` and `system.pg_catalog`, which are on DuckDB's search
 * path, so an unqualified name reaches them (policy-sql-objects-duckdb.test.ts checks every view the engine has).
 */
const DUCKDB_CATALOG_VIEW_NAME = /^(DUCKDB_|PG_|SQLITE_|PRAGMA_)/;

const PIVOT_STATEMENTS = new Set(['PIVOT', 'UNPIVOT', 'PIVOT_WIDER', 'PIVOT_LONGER']);

const CODE_TYPES = new Set<StatementType>(['CALL', 'EXECUTE', 'SCRIPT', 'PREPARE']);
const ENGINE_TYPES = new Set<StatementType>(['PRAGMA', 'ATTACH', 'DETACH', 'INSTALL', 'LOAD', 'EXPORT', 'IMPORT', 'CHECKPOINT', 'VACUUM', 'ANALYZE']);

type KindCategory = 'database' | 'schema' | 'object' | 'code' | 'column' | 'none' | 'result' | 'on';

/** Object kinds as written after CREATE / ALTER / DROP / DESCRIBE / COMMENT ON / GRANT … ON, longest first. */
const KIND_PHRASES: ReadonlyArray<[string[], KindCategory]> = (
  [
    ['EXTERNAL ACCESS INTEGRATION', 'none'],
    ['ROW ACCESS POLICY', 'object'],
    ['DATA METRIC FUNCTION', 'code'],
    ['CORTEX SEARCH SERVICE', 'object'],
    ['MATERIALIZED VIEW', 'object'],
    ['EXTERNAL TABLE', 'object'],
    ['DYNAMIC TABLE', 'object'],
    ['ICEBERG TABLE', 'object'],
    ['HYBRID TABLE', 'object'],
    ['EVENT TABLE', 'object'],
    ['SEMANTIC VIEW', 'object'],
    ['FILE FORMAT', 'object'],
    ['MASKING POLICY', 'object'],
    ['PROJECTION POLICY', 'object'],
    ['AGGREGATION POLICY', 'object'],
    ['PASSWORD POLICY', 'object'],
    ['SESSION POLICY', 'object'],
    ['AUTHENTICATION POLICY', 'object'],
    ['PACKAGES POLICY', 'object'],
    ['NETWORK RULE', 'object'],
    ['GIT REPOSITORY', 'object'],
    ['IMAGE REPOSITORY', 'object'],
    ['EXTERNAL FUNCTION', 'code'],
    ['TABLE MACRO', 'code'],
    ['SEARCH OPTIMIZATION', 'on'],
    ['DATABASE ROLE', 'none'],
    ['NETWORK POLICY', 'none'],
    ['RESOURCE MONITOR', 'none'],
    ['API INTEGRATION', 'none'],
    ['STORAGE INTEGRATION', 'none'],
    ['NOTIFICATION INTEGRATION', 'none'],
    ['SECURITY INTEGRATION', 'none'],
    ['CATALOG INTEGRATION', 'none'],
    ['COMPUTE POOL', 'none'],
    ['EXTERNAL VOLUME', 'none'],
    ['FAILOVER GROUP', 'none'],
    ['REPLICATION GROUP', 'none'],
    ['APPLICATION PACKAGE', 'none'],
    ['MANAGED ACCOUNT', 'none'],
    ['TABLE', 'object'],
    ['VIEW', 'object'],
    ['STAGE', 'object'],
    ['SEQUENCE', 'object'],
    ['STREAM', 'object'],
    ['TASK', 'object'],
    ['PIPE', 'object'],
    ['TAG', 'object'],
    ['ALERT', 'object'],
    ['SECRET', 'object'],
    ['MODEL', 'object'],
    ['NOTEBOOK', 'object'],
    ['STREAMLIT', 'object'],
    ['SERVICE', 'object'],
    ['SNAPSHOT', 'object'],
    ['DATASET', 'object'],
    ['INDEX', 'object'],
    ['TYPE', 'object'],
    ['FUNCTION', 'code'],
    ['PROCEDURE', 'code'],
    ['MACRO', 'code'],
    ['DATABASE', 'database'],
    ['SCHEMA', 'schema'],
    ['COLUMN', 'column'],
    ['RESULT', 'result'],
    ['WAREHOUSE', 'none'],
    ['USER', 'none'],
    ['ROLE', 'none'],
    ['INTEGRATION', 'none'],
    ['SHARE', 'none'],
    ['CONNECTION', 'none'],
    ['APPLICATION', 'none'],
    ['ACCOUNT', 'none'],
    ['SESSION', 'none'],
    ['TRANSACTION', 'none'],
    ['EXTENSION', 'none'],
    ['ORGANIZATION', 'none'],
  ] as Array<[string, KindCategory]>
).map(([phrase, category]) => [phrase.split(' '), category]);

/** Words CREATE may carry before the object kind. */
const CREATE_MODIFIERS = new Set([
  'OR', 'REPLACE', 'ALTER', 'TEMPORARY', 'TEMP', 'TRANSIENT', 'LOCAL', 'GLOBAL', 'VOLATILE', 'SECURE', 'RECURSIVE',
  'UNIQUE', 'PERSISTENT', 'FORCE',
]);

/** SHOW <kind> listings whose rows are not database objects (no object policy applies). */
const NON_DATA_SHOW_LAST_WORDS = new Set([
  'WAREHOUSES', 'USERS', 'ROLES', 'INTEGRATIONS', 'SHARES', 'CONNECTIONS', 'APPLICATIONS', 'PACKAGES', 'MONITORS', 'POOLS',
  'VOLUMES', 'GROUPS', 'REGIONS', 'ACCOUNTS', 'PARAMETERS', 'VARIABLES', 'TRANSACTIONS', 'LOCKS', 'GRANTS',
  'AUTHORIZATIONS', 'DIRECTIVES', 'CHANNELS', 'EXTENSIONS', 'PROVIDERS', 'LISTINGS', 'OFFERS', 'RELEASES',
]);
/**
 * SHOW <kind> listings of the account whose rows are databases by name, like SHOW DATABASES: an application
 * or application package is a database (addressed as one, `APP.CORE.T`, and listed by SHOW DATABASES), and
 * each share's row names the database it shares (`database_name`). Refused for a restricted role, as SHOW
 * DATABASES is: list_databases shows the databases it may see.
 */
const DATABASE_LISTINGS: ReadonlyMap<string, string> = new Map([
  ['APPLICATIONS', 'lists every application in the account, each a database'],
  ['APPLICATION PACKAGES', 'lists every application package in the account, each a database'],
  ['SHARES', 'names the database of every share in the account'],
]);
/** SHOW <kind> IN <name>: kinds whose bare name is a table rather than a schema. */
const TABLE_SCOPED_SHOW_KINDS = new Set(['COLUMNS', 'PRIMARY KEYS', 'IMPORTED KEYS', 'UNIQUE KEYS', 'EXPORTED KEYS', 'PARAMETERS']);
/**
 * SHOW <kind> IN <name> whose bare name is an object, not a schema: `SHOW SEMANTIC DIMENSIONS | METRICS | FACTS
 * IN <semantic view>` (also `… DIMENSIONS FOR METRIC m IN <view>`), `SHOW GIT BRANCHES | TAGS IN <repository>`.
 */
function objectScopedShow(kindWords: readonly string[]): boolean {
  const [first, second] = kindWords;
  if (first === 'SEMANTIC') return second === 'DIMENSIONS' || second === 'METRICS' || second === 'FACTS';
  return first === 'GIT' && (second === 'BRANCHES' || second === 'TAGS');
}
const SHOW_CLAUSES = new Set(['LIKE', 'IN', 'STARTS', 'LIMIT', 'FROM', 'ON', 'TO', 'OF', 'HISTORY']);

interface Level {
  /** Index of the "(" that opened it (-1 for the statement). */
  open: number;
  /** Inside a FROM list: a comma here starts another table. */
  inFrom: boolean;
  /** The parenthesis belongs to EXTRACT/TRIM/…, whose FROM is not a table's. */
  fromFunction: boolean;
  /** A parenthesised join, `(a JOIN b ON …)`: its first token is a table. */
  joinGroup: boolean;
}

/**
 * Where a name stands: read (`from`), written (`target`), named by the statement (`named`), or an object the
 * statement puts to use on another (`used`: a policy or tag attached to a table), which the role must be
 * allowed to read.
 */
type Position = 'from' | 'target' | 'named' | 'used';

interface ParsedName {
  parts: string[];
  /** Index just past the name. */
  end: number;
}

interface CteScope {
  from: number;
  to: number;
}

class StatementScanner {
  /** Set by a USE statement: the context later statements resolve names in. */
  contextAfter: SqlContext | undefined;

  readonly #toks: readonly Token[];
  readonly #type: StatementType;
  readonly #ctx: SqlContext;
  readonly #dialect: SqlDialect;
  readonly #out: Findings;
  readonly #match: Int32Array;
  readonly #enclosing: Int32Array;
  /** CTE name → the token ranges where that name means the CTE. */
  readonly #ctes = new Map<string, CteScope[]>();
  /** Where a name in a table position starts: a call there is a table function (#tableFunction), or a name followed by its column list. */
  readonly #tableNameStarts = new Set<number>();
  /** Tokens in a table position that name no table (set before #scan runs): `SHOW TABLES FROM db.schema`. */
  readonly #notTables = new Set<number>();
  /** The kind of object a CREATE / ALTER / DROP statement names (set by #ddl before #scan reads the rest). */
  #ddlCategory: KindCategory | undefined;

  constructor(tokens: readonly Token[], type: StatementType, ctx: SqlContext, dialect: SqlDialect, out: Findings) {
    this.#toks = tokens;
    this.#type = type;
    this.#ctx = ctx;
    this.#dialect = dialect;
    this.#out = out;
    this.#match = new Int32Array(tokens.length).fill(-1);
    this.#enclosing = new Int32Array(tokens.length).fill(-1);
    const stack: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      this.#enclosing[i] = stack.length > 0 ? stack[stack.length - 1]! : -1;
      const t = tokens[i]!;
      if (t.kind !== 'punct') continue;
      if (t.text === '(') stack.push(i);
      else if (t.text === ')') {
        const open = stack.pop();
        if (open !== undefined) {
          this.#match[open] = i;
          this.#match[i] = open;
        }
      }
    }
  }

  run(): void {
    const type = this.#type;
    if (type === 'UNKNOWN') this.#out.opaque('the statement is not one snowmux recognises');
    else if (CODE_TYPES.has(type)) this.#out.opaque(`${type} runs code whose reads and writes cannot be checked`);
    else if (ENGINE_TYPES.has(type)) this.#out.opaque(`${type} is an engine statement outside the object policy`);
    this.#findCtes();
    this.#nameResolutionSettings();
    switch (type) {
      case 'SHOW':
        this.#show();
        break;
      case 'DESCRIBE':
        this.#describe();
        break;
      case 'USE':
        this.#use();
        break;
      case 'CREATE':
      case 'ALTER':
      case 'DROP':
      case 'UNDROP':
        this.#ddl();
        break;
      case 'COMMENT':
        this.#comment();
        break;
      case 'GRANT':
      case 'REVOKE':
        this.#grant();
        break;
      default:
        break;
    }
    this.#scan();
    if (this.#dialect === 'snowflake') {
      this.#stages();
      this.#streamOffsets();
    }
  }

  /**
   * Time Travel to a stream's offset (`t AT(STREAM => 'hr.s')`, `BEFORE(STREAM => …)`, after CHANGES): the
   * stream is an object of its own schema, named as text. Unjudged, a role learnt whether a stream exists in
   * a schema it is denied, and where its offset stands; it is judged as a read, like a name in TABLE('…').
   */
  #streamOffsets(): void {
    for (let i = 2; i < this.#toks.length; i++) {
      if (this.#word(i) !== 'STREAM' || !this.#isPunct(i + 1, '=>') || !this.#isPunct(i - 1, '(')) continue;
      const clause = this.#word(i - 2);
      if (clause === 'AT' || clause === 'BEFORE' || clause === 'END') this.#nameArgument(i + 1, `${clause}(STREAM => …) names the stream whose offset it reads`);
    }
  }

  /**
   * `ALTER SESSION SET QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE` makes `"abc"` name ABC, and `SEARCH_PATH` moves
   * where an unqualified name falls back to: every name here is judged under the defaults (quoted names
   * literal, `$current, $public`), so a statement that changes either (the last part of a `->>` chain runs
   * after it; a later statement of the call too) would read objects other than the ones judged.
   */
  #nameResolutionSettings(): void {
    for (let i = 0; i + 1 < this.#toks.length; i++) {
      if (this.#word(i) !== 'ALTER' || this.#word(i + 1) !== 'SESSION') continue;
      for (let j = i + 2; j < this.#toks.length && !this.#isPunct(j, '->>') && !this.#isPunct(j, ';'); j++) {
        const t = this.#toks[j]!;
        const setting = t.kind === 'word' || t.kind === 'quoted_ident' ? namePart(t).toUpperCase() : '';
        if (NAME_RESOLUTION_SETTINGS.has(setting)) {
          this.#out.opaque(`ALTER SESSION changes ${setting}, which changes the objects the names resolve to; run the query without changing it`);
          return;
        }
      }
    }
  }

  // ---- stages -----------------------------------------------------------------------------------

  /**
   * A named stage is an object in a schema, like a table: `LIST @db.hr.files`, `SELECT $1 FROM @hr.files/x.csv`,
   * `COPY INTO t FROM @files`, `GET_PRESIGNED_URL(@files, …)`, and the same written as a string where Snowflake
   * takes a location (`INFER_SCHEMA(LOCATION => '@hr.files')`, `TO_FILE('@hr.files/x')`, `FROM '@files/x.csv'`).
   * A table's stage (`@%t`, `@hr.%t`) holds that table's files, so it is judged as the table; the user's own
   * stage (`@~`) is no object. Whether a read-only role may read staged files at all is `stage_listing`'s
   * business (the classifier); which stages it may read is the object rules'.
   */
  #stages(): void {
    for (let i = 0; i < this.#toks.length; i++) {
      const t = this.#toks[i]!;
      if ((t.kind === 'word' || t.kind === 'quoted_ident') && this.#isPunct(i + 1, '(') && takesStageLocation(namePart(t))) this.#stageArgument(i + 1, namePart(t));
      let location: string | undefined;
      if (t.kind === 'stage') location = t.text;
      else if ((t.kind === 'string' || t.kind === 'dollar_string') && this.#takesLocation(i)) location = literalValue(t)?.trim();
      if (location === undefined || !location.startsWith('@')) continue;
      if (location.includes('"') && this.#ctx.names?.quotedIgnoreCase === true) {
        this.#out.opaque(`the session's QUOTED_IDENTIFIERS_IGNORE_CASE is TRUE, so the quoted stage name ${short(location)} is read in upper case; write it unquoted`);
        continue;
      }
      const parts = stageNameParts(location);
      if (parts === undefined) {
        // Where Snowflake takes a location, a string it cannot read as a stage name is one all the same, and
        // so is one anywhere that starts like a name ('@\\hr.files' is '@hr.files' to Snowflake); an '@' that
        // no name follows ('@' in SPLIT_PART(email, '@', 2), '@.com') is only text.
        if (this.#isLocationOfCommand(i) || /^@[^\s.,;:/@\-+*=<>()'!?&|#0-9]/.test(location)) this.#out.opaque(`cannot tell which stage ${short(location)} is`);
        continue;
      }
      if (parts.length === 0) continue; // @~: the user's own stage
      const writes = this.#type === 'PUT' || this.#type === 'REMOVE' || (this.#type === 'COPY' && this.#word(i - 1) === 'INTO');
      this.#add(this.#objectRef(parts), writes ? 'write' : 'read');
    }
  }

  /**
   * A function that reads the stage location its first argument names (`TO_FILE`, `GET_PRESIGNED_URL`,
   * `PARSE_DOCUMENT`, …; `open` is its parenthesis): the location must be written out — a stage (`@hr.files`)
   * or a string naming one (`'@hr.files/x.pdf'`), which the loop above judges. One computed when the query runs
   * (`TO_FILE(CONCAT('@hr', '.files'), 'x')`, a column, `$var`, a file URL) names a stage no rule can see.
   */
  #stageArgument(open: number, name: string): void {
    let j = open + 1;
    const close = this.#match[open] ?? -1;
    if (close < 0) return;
    // A named first argument: `TO_FILE(STAGE_NAME => …)`, `INFER_SCHEMA(LOCATION => …)`.
    if (this.#isPunct(j + 1, '=>')) j += 2;
    let end = j;
    while (end < close && !this.#isPunct(end, ',')) end = this.#isPunct(end, '(') && (this.#match[end] ?? -1) > end ? this.#match[end]! + 1 : end + 1;
    const arg = this.#toks[j];
    if (end === j + 1 && arg !== undefined) {
      if (arg.kind === 'stage') return;
      const text = arg.kind === 'string' || arg.kind === 'dollar_string' ? literalValue(arg)?.trim() : undefined;
      if (text?.startsWith('@') && stageNameParts(text) !== undefined) return;
    }
    this.#out.opaque(`cannot tell which stage ${name}(…) reads: its location is not written as a stage (@db.schema.stage) or a string naming one`);
  }

  /** A string at i is a location by its position alone: after FROM / INTO / TO / LOCATION = or in a file command. */
  #isLocationOfCommand(i: number): boolean {
    if (FILE_COMMANDS.has(this.#type)) return true;
    const before = this.#word(i - 1);
    return before === 'FROM' || before === 'INTO' || before === 'TO' || before === 'JOIN' || (this.#isPunct(i - 1, '=') && this.#word(i - 2) === 'LOCATION') || (this.#isPunct(i - 1, '=>') && this.#word(i - 2) === 'LOCATION');
  }

  /**
   * A string at i is where Snowflake takes a location: an argument, after FROM / INTO / TO / LOCATION, or
   * anywhere in a file command (`LIST '@hr.files'`, `RM '@s/x'`, `GET '@s/x' 'file:///…'`, `PUT 'file://…'
   * '@s'`), which takes its stage quoted as readily as bare.
   */
  #takesLocation(i: number): boolean {
    if (FILE_COMMANDS.has(this.#type)) return true;
    if (this.#isPunct(i - 1, '(') || this.#isPunct(i - 1, ',') || this.#isPunct(i - 1, '=>')) return true;
    const before = this.#word(i - 1);
    // `LOCATION = '@s'`, and a Streamlit's `ROOT_LOCATION = '@s'` (the files it serves and runs); `USING '@s'`: an
    // application version or a dev-mode application built from a stage's files.
    return (
      before === 'FROM' ||
      before === 'INTO' ||
      before === 'TO' ||
      before === 'JOIN' ||
      before === 'USING' ||
      (this.#isPunct(i - 1, '=') && (this.#word(i - 2) === 'LOCATION' || this.#word(i - 2) === 'ROOT_LOCATION'))
    );
  }

  // ---- token helpers ----------------------------------------------------------------------------

  #word(i: number): string | undefined {
    const t = this.#toks[i];
    return t?.kind === 'word' ? t.upper : undefined;
  }

  #isPunct(i: number, text: string): boolean {
    const t = this.#toks[i];
    return t?.kind === 'punct' && t.text === text;
  }

  #isNameToken(i: number): boolean {
    const kind = this.#toks[i]?.kind;
    return kind === 'word' || kind === 'quoted_ident';
  }

  /** A name, or a string DuckDB would read as a file name. */
  #isNameOrText(i: number): boolean {
    const kind = this.#toks[i]?.kind;
    return kind === 'word' || kind === 'quoted_ident' || kind === 'string' || kind === 'dollar_string';
  }

  /** Index of the first top-level (same depth as `from`) occurrence of `word`, or -1. */
  #findWord(from: number, word: string): number {
    for (let i = from; i < this.#toks.length; i++) {
      if (this.#isPunct(i, '(')) {
        const close = this.#match[i] ?? -1;
        if (close < 0) return -1;
        i = close;
        continue;
      }
      if (this.#word(i) === word) return i;
    }
    return -1;
  }

  #parseName(j: number): ParsedName | undefined {
    const parts: string[] = [];
    let k = j;
    for (;;) {
      const t = this.#toks[k];
      if (t === undefined || (t.kind !== 'word' && t.kind !== 'quoted_ident')) break;
      parts.push(this.#namePart(t));
      k++;
      if (!this.#isPunct(k, '.')) break;
      k++;
      if (this.#isPunct(k, '.')) {
        parts.push(''); // db..name: the default schema
        k++;
      }
    }
    return parts.length > 0 ? { parts, end: k } : undefined;
  }

  #skipIfExists(j: number): number {
    if (this.#word(j) !== 'IF') return j;
    let k = j + 1;
    if (this.#word(k) === 'NOT') k++;
    return this.#word(k) === 'EXISTS' ? k + 1 : j;
  }

  // ---- name resolution --------------------------------------------------------------------------

  /** A 1–3 part object name → DB.SCHEMA.NAME in the current context. */
  #objectRef(parts: readonly string[]): ObjectRef | undefined {
    const ctx = this.#ctx;
    let ref: ObjectRef | undefined;
    if (parts.length === 1) ref = ctx.database && ctx.schema ? { database: ctx.database, schema: ctx.schema, name: parts[0]! } : undefined;
    else if (parts.length === 2) ref = ctx.database ? { database: ctx.database, schema: parts[0]!, name: parts[1]! } : undefined;
    else if (parts.length === 3) ref = { database: parts[0]!, schema: parts[1] === '' ? 'PUBLIC' : parts[1]!, name: parts[2]! };
    if (ref === undefined) {
      if (parts.length > 3) this.#out.opaque(`the name ${parts.join('.')} has more than three parts`);
      else this.#out.opaque(`the name ${parts.join('.')} needs a current database and schema, and the call has none`);
      return undefined;
    }
    if (ref.database === '' || ref.schema === '' || ref.name === '') {
      this.#out.opaque(`the name ${parts.join('.')} has an empty part`);
      return undefined;
    }
    return ref;
  }

  /** A 1–2 part schema name → DB.SCHEMA. */
  #schemaRef(parts: readonly string[]): ObjectRef | undefined {
    if (parts.length === 1 && this.#ctx.database && parts[0]) return { database: this.#ctx.database, schema: parts[0] };
    if (parts.length === 2 && parts[0] && parts[1]) return { database: parts[0], schema: parts[1] };
    this.#out.opaque(parts.length === 1 ? `the schema ${parts[0]} needs a current database, and the call has none` : `cannot tell which schema ${parts.join('.')} is`);
    return undefined;
  }

  #databaseRef(parts: readonly string[]): ObjectRef | undefined {
    if (parts.length === 1 && parts[0]) return { database: parts[0] };
    this.#out.opaque(`cannot tell which database ${parts.join('.')} is`);
    return undefined;
  }

  #currentDatabase(): ObjectRef | undefined {
    if (this.#ctx.database) return { database: this.#ctx.database };
    this.#out.opaque('the statement lists the current database, and the call has none');
    return undefined;
  }

  #currentSchema(): ObjectRef | undefined {
    if (this.#ctx.database && this.#ctx.schema) return { database: this.#ctx.database, schema: this.#ctx.schema };
    this.#out.opaque('the statement lists the current schema, and the call has none');
    return undefined;
  }

  #add(ref: ObjectRef | undefined, access: ObjectAccess, fallback?: ObjectRef): void {
    if (!ref) return;
    this.#duckDbCatalogCheck([], [ref, fallback]);
    this.#out.add(ref, access, fallback);
  }

  /** An object named in the SQL: where it resolves in the context, and where the engine looks if it is not there. */
  #addName(parts: readonly string[], access: ObjectAccess, isFunction = false): void {
    const ref = this.#objectRef(parts);
    // A name being created, altered or dropped is not looked up along the search path as a table is
    // (and need not be a table or view); reads and writes of rows are.
    const looksUp = access === 'read' || access === 'list' || (access === 'write' && ROW_WRITES.has(this.#type));
    const fallback = ref && looksUp ? this.#fallbackOf(parts, ref) : undefined;
    this.#duckDbCatalogCheck(parts, [ref, fallback]);
    if (ref) this.#out.add(ref, access, fallback, isFunction);
  }

  /**
   * DuckDB resolves some names outside the Snowflake-style context: an unqualified name falls back to its
   * catalog views (duckdb_tables, pg_tables, …) on the search path, a two-part name may be catalog.table
   * or one of its system schemas, and any name — written with three parts, or resolved in a call whose
   * database is `system` — may sit in its system catalog. Those views list names, not data, but they list
   * every name (with columns, row counts and DDL), so a restricted role may not use them. Judged on the
   * parts as written and on every object the name resolves to, so every place a name is read (FROM,
   * DESCRIBE, SUMMARIZE, SHOW, PIVOT, …) is judged the same way.
   */
  #duckDbCatalogCheck(parts: readonly string[], refs: ReadonlyArray<ObjectRef | undefined>): void {
    if (this.#dialect !== 'duckdb') return;
    const first = (parts[0] ?? '').toUpperCase();
    if (parts.length === 1 && DUCKDB_CATALOG_VIEW_NAME.test(first)) {
      this.#out.opaque(`${parts[0]} may be one of DuckDB's catalog views, which list every object`);
      return;
    }
    if (parts.length === 2 && DUCKDB_CATALOG_SCHEMAS.has(first)) {
      this.#out.opaque(`${parts.join('.')} may name DuckDB's own catalog, which lists every object`);
      return;
    }
    for (const ref of refs) {
      if (ref === undefined) continue;
      if (DUCKDB_INTERNAL_CATALOGS.has(ref.database.toUpperCase()) || DUCKDB_SYSTEM_SCHEMAS.has((ref.schema ?? '').toUpperCase())) {
        this.#out.opaque(`${displayName(ref)} is in DuckDB's own catalog, which lists every object`);
        return;
      }
    }
  }

  /**
   * A part of a name as the engine resolves it: with QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE in the session (an
   * account's or user's setting, read at login), Snowflake reads `"orders"` as ORDERS.
   */
  #namePart(t: Token): string {
    const part = namePart(t);
    return t.kind === 'quoted_ident' && this.#dialect === 'snowflake' && this.#ctx.names?.quotedIgnoreCase === true ? part.toUpperCase() : part;
  }

  #fallbackOf(parts: readonly string[], ref: ObjectRef): ObjectRef | undefined {
    const name = ref.name!;
    if (this.#dialect === 'snowflake') {
      const names = this.#ctx.names;
      if (parts.length === 1 && names !== undefined && !defaultSearchPath(names)) {
        // Another search path (an account's or user's SEARCH_PATH) may find the name in a schema it lists.
        this.#out.opaque(`the session's SEARCH_PATH is ${names.searchPath.length > 80 ? `${names.searchPath.slice(0, 77)}...` : names.searchPath}, so the unqualified name ${parts[0]} may resolve in another schema; qualify it (schema.${parts[0]})`);
        return undefined;
      }
      return parts.length === 1 && ref.schema !== 'PUBLIC' ? { database: ref.database, schema: 'PUBLIC', name } : undefined;
    }
    if (parts.length === 1) return ref.schema!.toLowerCase() === 'main' ? undefined : { database: ref.database, schema: 'main', name };
    if (parts.length === 2) return { database: parts[0]!, schema: 'main', name };
    return undefined;
  }

  // ---- CTEs ---------------------------------------------------------------------------------------

  /** Every `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body), …` list and the range its names cover. */
  #findCtes(): void {
    for (let i = 0; i < this.#toks.length; i++) {
      if (this.#word(i) !== 'WITH') continue;
      let j = i + 1;
      const recursive = this.#word(j) === 'RECURSIVE';
      if (recursive) j++;
      const found: Array<{ name: string; open: number; close: number }> = [];
      for (;;) {
        if (!this.#isNameToken(j)) break;
        const name = this.#namePart(this.#toks[j]!);
        j++;
        if (this.#isPunct(j, '(')) j = (this.#match[j] ?? -2) + 1;
        if (j <= 0) break;
        if (this.#word(j) === 'USING' && this.#word(j + 1) === 'KEY') {
          j += 2;
          if (this.#isPunct(j, '(')) j = (this.#match[j] ?? -2) + 1;
          if (j <= 0) break;
        }
        if (this.#word(j) !== 'AS') break;
        j++;
        if (this.#word(j) === 'NOT') j++;
        if (this.#word(j) === 'MATERIALIZED') j++;
        if (!this.#isPunct(j, '(')) break;
        const close = this.#match[j] ?? -1;
        if (close < 0) break;
        found.push({ name, open: j, close });
        j = close + 1;
        if (!this.#isPunct(j, ',')) break;
        j++;
      }
      if (found.length === 0) continue;
      const enclosing = this.#enclosing[i] ?? -1;
      const end = enclosing >= 0 ? (this.#match[enclosing] ?? -1) : -1;
      const to = end >= 0 ? end : this.#toks.length;
      for (const cte of found) {
        const scopes = this.#ctes.get(cte.name) ?? [];
        // Snowflake makes RECURSIVE optional: a CTE whose body has a recursive term names itself there either way.
        // DuckDB does not: without the keyword the body's name is the real table (or an error when there is none).
        const selfNamed = recursive || this.#dialect === 'snowflake';
        scopes.push({ from: selfNamed ? this.#recursiveTermStart(cte.open, cte.close) : cte.close, to });
        this.#ctes.set(cte.name, scopes);
      }
    }
  }

  /**
   * Where a recursive CTE starts to name itself: its recursive term, the right operand of the set
   * operation at the top of its body, when that operation is a UNION. Set operations associate to the
   * left, so in `a UNION ALL b UNION ALL c` the anchor is `a UNION ALL b` and only `c` names the CTE
   * (DuckDB reads the real table in `b`); a body whose top operation is EXCEPT / MINUS / INTERSECT, or
   * DuckDB's UNION BY NAME, is not recursive at all and reads the real table everywhere. INTERSECT binds
   * tighter than UNION and EXCEPT in DuckDB; Snowflake does not document its precedence, so there a
   * top-level INTERSECT after the last UNION makes the body count as not recursive (the real table is
   * reported: at worst a refusal, never a laundered read). Without a recursive term the whole body sees
   * the real table.
   */
  #recursiveTermStart(open: number, close: number): number {
    let lastUnionOrExcept = -1;
    let intersectAfter = false;
    for (let k = open + 1; k < close; k++) {
      if (this.#enclosing[k] !== open) continue;
      const w = this.#word(k);
      if (w === 'UNION' || w === 'EXCEPT' || w === 'MINUS') {
        lastUnionOrExcept = k;
        intersectAfter = false;
      } else if (w === 'INTERSECT') intersectAfter = true;
    }
    if (lastUnionOrExcept < 0 || this.#word(lastUnionOrExcept) !== 'UNION') return close;
    if (intersectAfter && this.#dialect === 'snowflake') return close;
    let m = lastUnionOrExcept + 1;
    if (this.#word(m) === 'ALL' || this.#word(m) === 'DISTINCT') m++;
    if (this.#word(m) === 'BY' && this.#word(m + 1) === 'NAME') return close;
    return lastUnionOrExcept;
  }

  #isCte(name: string, at: number): boolean {
    return this.#ctes.get(name)?.some((c) => at > c.from && at < c.to) ?? false;
  }

  // ---- queries: table positions -------------------------------------------------------------------

  #scan(): void {
    const usingTakesTables = this.#type === 'DELETE' || this.#type === 'MERGE';
    const levels: Level[] = [{ open: -1, inFrom: false, fromFunction: false, joinGroup: false }];
    for (let i = 0; i < this.#toks.length; i++) {
      const t = this.#toks[i]!;
      const level = levels[levels.length - 1]!;
      const position = this.#positionAt(i, level, usingTakesTables);
      if (position !== undefined && !this.#notTables.has(i)) this.#tableAt(i, position);
      if ((t.kind === 'word' || t.kind === 'quoted_ident') && this.#isPunct(i + 1, '(')) this.#functionCall(i);
      if (this.#dialect === 'snowflake' && t.kind === 'word' && t.upper === 'NEXTVAL' && this.#isPunct(i - 1, '.')) this.#sequence(i);
      if (t.kind === 'punct' && t.text === '(') {
        const next = this.#word(i + 1);
        const subquery = next !== undefined && QUERY_STARTERS.has(next);
        const joinGroup = position === 'from' && !subquery;
        levels.push({ open: i, inFrom: joinGroup, fromFunction: FROM_FUNCTIONS.has(this.#word(i - 1) ?? ''), joinGroup });
      } else if (t.kind === 'punct' && t.text === ')') {
        if (levels.length > 1) levels.pop();
      } else if (t.kind === 'word') {
        const w = t.upper ?? '';
        if ((w === 'FROM' && !level.fromFunction) || w === 'JOIN') level.inFrom = true;
        else if (w === 'USING' && usingTakesTables) level.inFrom = true;
        else if (FROM_LIST_ENDERS.has(w) && this.#isClauseKeyword(i)) level.inFrom = false;
      }
    }
  }

  /**
   * `seq.NEXTVAL` (`db.schema.seq.NEXTVAL`, anywhere: a column, a DEFAULT, a VALUES row) takes the next value
   * of a sequence, an object in a schema like a table, and advances it: a change of that sequence.
   */
  #sequence(nextval: number): void {
    const parts: string[] = [];
    let k = nextval - 1;
    while (this.#isPunct(k, '.') && this.#isNameToken(k - 1)) {
      parts.unshift(this.#namePart(this.#toks[k - 1]!));
      k -= 2;
    }
    if (parts.length === 0) return;
    // `db..seq.NEXTVAL` and other shapes the walk cannot read as one name.
    if (this.#isPunct(k, '.')) {
      this.#out.opaque(`cannot tell which sequence …${parts.join('.')}.NEXTVAL advances: write its name as database.schema.sequence`);
      return;
    }
    this.#add(this.#objectRef(parts), 'write');
  }

  /**
   * Whether the word at i starts a clause rather than being an operand that happens to be spelt like
   * one (`ON a.start = 1`, `ON minus = 1`, `AND offset`): ending a FROM list too early would hide the
   * tables after the next comma.
   */
  #isClauseKeyword(i: number): boolean {
    const prev = this.#toks[i - 1];
    const next = this.#toks[i + 1];
    if (prev?.kind === 'punct' && prev.text !== ')' && prev.text !== '(') return false;
    if (prev?.kind === 'word' && EXPRESSION_WORDS.has(prev.upper ?? '')) return false;
    if (next?.kind === 'punct' && next.text !== '(' && next.text !== '*') return false;
    return true;
  }

  #positionAt(i: number, level: Level, usingTakesTables: boolean): Position | undefined {
    const prev = this.#toks[i - 1];
    if (prev === undefined) return undefined;
    if (prev.kind === 'punct') {
      if (prev.text === '(' && this.#dialect === 'snowflake' && this.#word(i - 2) === 'TAG' && this.#isNameToken(i)) return 'used';
      if (prev.text === '(') return level.joinGroup && level.open === i - 1 ? 'from' : undefined;
      if (prev.text === ',' && this.#inTagList(i - 1)) return 'used';
      if (prev.text === ',') return level.inFrom ? 'from' : undefined;
      return undefined;
    }
    if (prev.kind !== 'word') return undefined;
    const pw = prev.upper;
    const w = this.#word(i);
    switch (pw) {
      case 'FROM':
        if (level.fromFunction) return undefined;
        return this.#word(i - 2) === 'DELETE' ? 'target' : 'from';
      case 'JOIN':
      case 'LATERAL':
      case 'ONLY':
        return 'from';
      case 'USING':
        return usingTakesTables ? 'from' : undefined;
      case 'INTO':
        return 'target';
      case 'UPDATE': {
        const before = this.#word(i - 2);
        if (before === 'FOR' || before === 'ON' || w === 'SET') return undefined;
        return 'target';
      }
      case 'TRUNCATE':
        return w === 'TABLE' ? undefined : 'target';
      case 'COPY':
        return i - 1 === 0 && w !== 'INTO' ? 'target' : undefined;
      case 'TABLE':
        return this.#isNameOrText(i) ? 'named' : undefined;
      case 'CLONE':
        return 'named';
      case 'WITH':
        return this.#word(i - 2) === 'SWAP' ? 'target' : undefined;
      case 'TO':
        return this.#word(i - 2) === 'RENAME' ? 'target' : undefined;
      // `ADD ROW ACCESS POLICY p ON (…)`, `SET MASKING POLICY p`, `SET TAG t = 'v'`, `UNSET TAG t`: the policy or
      // tag is an object of its schema; attached from a schema the role is denied, a policy's body (which reads
      // its own mapping tables) would filter or mask by what the role may not see.
      case 'POLICY':
      case 'TAG':
        return this.#dialect === 'snowflake' && this.#isNameToken(i) ? 'used' : undefined;
      default:
        if (pw !== undefined && PIVOT_STATEMENTS.has(pw) && this.#dialect === 'duckdb' && this.#isNameOrText(i)) return 'named';
        return undefined;
    }
  }

  /**
   * Whether the comma at `comma` separates the tags of a list (`SET TAG a = 'x', b = 'y'`, `WITH TAG (a = 'x', b =
   * 'y')`, `UNSET TAG a, b`): walking back over `name = 'text'` (or `name`) items reaches TAG.
   */
  #inTagList(comma: number): boolean {
    if (this.#dialect !== 'snowflake') return false;
    let j = comma - 1;
    for (let items = 0; j >= 0 && items < 50; items++) {
      const t = this.#toks[j];
      if (t?.kind === 'string' && this.#isPunct(j - 1, '=')) j -= 2;
      let start = j;
      while (start >= 0 && this.#isNameToken(start)) {
        if (!this.#isPunct(start - 1, '.')) break;
        start -= 2;
      }
      if (!this.#isNameToken(start)) return false;
      const before = start - 1;
      if (this.#word(before) === 'TAG' || (this.#isPunct(before, '(') && this.#word(before - 1) === 'TAG')) return true;
      if (!this.#isPunct(before, ',')) return false;
      j = before - 1;
    }
    return false;
  }

  #tableAt(i: number, position: Position): void {
    const j = position === 'from' ? i : this.#skipIfExists(i);
    const t = this.#toks[j];
    if (t === undefined) return;
    this.#tableNameStarts.add(j);
    // `CREATE TABLE x CLONE t`: t is read (copied), not changed.
    const access: ObjectAccess = position === 'from' || position === 'used' || READ_TYPES.has(this.#type) || this.#word(i - 1) === 'CLONE' ? 'read' : 'write';
    switch (t.kind) {
      case 'stage':
        return; // stage access is the stage-listing rule's business
      case 'string':
      case 'dollar_string':
        if (position === 'target') return;
        if (this.#dialect === 'snowflake' && /^'\s*@/.test(t.text)) return;
        this.#out.opaque(`${short(t.text)} in a table position reads a file or names a table as text`);
        return;
      case 'variable':
        if (this.#word(j - 1) === 'INTO') return; // SELECT … INTO :var
        this.#out.opaque(`${short(t.text)} names a table at run time`);
        return;
      case 'word': {
        const w = t.upper ?? '';
        if (w === 'TABLE' && position === 'from' && this.#isPunct(j + 1, '(')) {
          this.#tableWrapper(j + 1);
          return;
        }
        if (w === 'IDENTIFIER' && this.#isPunct(j + 1, '(')) return; // reported by #functionCall
        const syntax = position === 'from' ? NOT_TABLE_WORDS_FROM : NOT_TABLE_WORDS_TARGET;
        const grantee = (this.#type === 'GRANT' || this.#type === 'REVOKE') && GRANTEE_WORDS.has(w);
        if ((syntax.has(w) || grantee) && !this.#isPunct(j + 1, '.')) return;
        break;
      }
      case 'quoted_ident':
        break;
      default:
        return;
    }
    const name = this.#parseName(j);
    if (!name) return;
    // `FROM t a(x)`: the alias's column list.
    if (position === 'from' && this.#isNameToken(name.end)) this.#tableNameStarts.add(name.end);
    if (position === 'from' && this.#isPunct(name.end, '(')) {
      this.#tableFunction(name);
      return;
    }
    // `CREATE SCHEMA s CLONE x`, `ALTER SCHEMA s SWAP WITH x`, `ALTER DATABASE d RENAME TO x`: x is a schema or a
    // database like the statement's own, not a table in the current schema (which let a role clone or swap in a
    // schema it is denied, and read its tables under the new name).
    const other = this.#ddlCategory === 'schema' || this.#ddlCategory === 'database' ? this.#word(j - 1) : undefined;
    if (position !== 'from' && (other === 'CLONE' || other === 'WITH' || other === 'TO')) {
      this.#add(this.#ddlCategory === 'schema' ? this.#schemaRef(name.parts) : this.#databaseRef(name.parts), access);
      return;
    }
    if (position !== 'target') this.#readsAsFile(name);
    // A write's target is the real table even where a CTE of that name is in scope (DuckDB writes it).
    if (position !== 'target' && name.parts.length === 1 && this.#isCte(name.parts[0]!, j)) return;
    this.#addName(name.parts, access);
  }

  /** DuckDB reads a table name that looks like a file as that file (duckdb-files.ts), which no rule can name. */
  #readsAsFile(name: ParsedName): void {
    if (this.#dialect === 'duckdb' && duckdbReadsAsFile(name.parts)) this.#out.opaque(`${short(name.parts.join('.'))} may be read as a file by the embedded engine`);
  }

  /** Snowflake `TABLE(…)` in a FROM list: a table function call, or a table named at run time. */
  #tableWrapper(open: number): void {
    const first = this.#toks[open + 1];
    if (first === undefined) return;
    if (first.kind === 'string' || first.kind === 'dollar_string' || first.kind === 'variable') {
      this.#out.opaque(`TABLE(${short(first.text)}) names a table at run time`);
      return;
    }
    if (first.kind === 'word' && first.upper === 'IDENTIFIER') return; // reported by #functionCall
    this.#tableNameStarts.add(open + 1);
    const name = this.#parseName(open + 1);
    if (!name) {
      this.#out.opaque('cannot tell what TABLE(…) reads');
      return;
    }
    if (this.#isPunct(name.end, '(')) this.#tableFunction(name);
    else this.#addName(name.parts, 'read');
  }

  #tableFunction(name: ParsedName): void {
    const last = name.parts[name.parts.length - 1] ?? '';
    const upperParts = name.parts.map((p) => p.toUpperCase());
    if (name.parts.length === 1 && GENERATOR_FUNCTIONS.has(last.toUpperCase())) return;
    if (TEXT_NAMED_FUNCTIONS.has(last.toUpperCase())) return; // reported by #functionCall
    // DIRECTORY(@stage) lists the files of the stage it names, which #stages judges as that object.
    if (this.#dialect === 'snowflake' && name.parts.length === 1 && last.toUpperCase() === 'DIRECTORY' && this.#match[name.end] === name.end + 2 && this.#toks[name.end + 1]?.kind === 'stage') return;
    const shown = name.parts.join('.');
    if (isBuiltinTableFunction(upperParts)) {
      this.#out.opaque(`the table function ${shown} reads objects that cannot be checked`);
      return;
    }
    this.#addName(name.parts, 'read');
    this.#out.opaque(`the table function ${shown} reads objects that cannot be checked`);
  }

  #functionCall(i: number): void {
    const t = this.#toks[i]!;
    const name = namePart(t).toUpperCase();
    const reason = TEXT_NAMED_FUNCTIONS.get(name) ?? (this.#dialect === 'duckdb' ? DUCKDB_CATALOG_MACROS.get(name) : undefined);
    if (reason !== undefined) this.#out.opaque(reason);
    else if (name.startsWith('SYSTEM$') && !HARMLESS_SYSTEM_FUNCTIONS.has(name)) this.#out.opaque(`${name} takes object names as text`);
    const start = this.#nameStart(i);
    if (this.#tableNameStarts.has(start)) return; // a table function or a table's column list: #tableAt judged the name
    if (this.#dialect === 'duckdb') {
      this.#duckDbQualifiedCall(start, i);
      return;
    }
    const textNamed = NAME_ARGUMENT_FUNCTIONS.get(name);
    if (textNamed !== undefined) this.#nameArgument(i + 1, textNamed);
    // A qualified function (`DB.HR.GET_SALARY(1)`) is a UDF in that schema, and `M!PREDICT(…)` a method of
    // the model or class instance M: each returns what its object reads, so it is an object like a view.
    if (start < i) {
      const parts = this.#parseName(start)?.parts ?? [];
      // SNOWFLAKE.CORTEX.…, SNOWFLAKE.ML.…, INFORMATION_SCHEMA.…: Snowflake's own functions (a table
      // function among them is reported as such by #tableFunction).
      const upper = parts.map((p) => p.toUpperCase());
      if (upper[0] !== 'SNOWFLAKE' && !isBuiltinTableFunction(upper)) this.#addName(parts, 'read', true);
    } else if (this.#isPunct(start - 1, '!')) {
      const receiver = this.#nameStart(start - 2);
      const parts = this.#parseName(receiver)?.parts;
      if (parts === undefined) this.#out.opaque(`cannot tell whose method ${name} is`);
      else this.#addName(parts, 'read');
    } else if (this.#isUnqualifiedUdf(i)) {
      // Not one of Snowflake's own: a UDF the search path finds in the current schema (then PUBLIC).
      this.#addName([this.#namePart(t)], 'read', true);
    }
  }

  /** Whether the unqualified `name(` at i calls a user-defined function rather than a built-in, syntax or a name being declared. */
  #isUnqualifiedUdf(i: number): boolean {
    const t = this.#toks[i]!;
    if (isSnowflakeBuiltinCall(t.kind === 'word' ? (t.upper ?? '') : namePart(t))) return false;
    const before = this.#word(i - 1);
    if (before !== undefined && DECLARING_WORDS.has(before)) return false;
    // `FROM range(3) r(x)`, `LATERAL (…) l(y)`: an alias's column list; no call follows a closing parenthesis.
    if (this.#isPunct(i - 1, ')')) return false;
    // `WITH name (columns) AS (…)`: a CTE's column list.
    const declaresCte = before === 'WITH' || before === 'RECURSIVE' || this.#isPunct(i - 1, ',');
    return !(declaresCte && this.#ctes.has(this.#namePart(t)) && this.#word((this.#match[i + 1] ?? -2) + 1) === 'AS');
  }

  /**
   * DuckDB: `schema.macro(…)` or `db.schema.macro(…)` runs that schema's macro, whose body reads what it
   * reads, so it is an object like a view. The engine looks the name up in the catalog first and only when
   * that schema has no such function reads `a.f()` as the method call `f(a)` on a column `a`: a built-in's
   * name after a dot is that method call (a macro given a built-in's name is not told apart; docs §4).
   */
  #duckDbQualifiedCall(start: number, i: number): void {
    if (start === i) return;
    const parts = this.#parseName(start)?.parts ?? [];
    if (parts.length < 2 || parts.length > 3 || isDuckDbBuiltinFunction(parts[parts.length - 1]!)) return;
    this.#addName(parts, 'read', true);
  }

  /** Where the dotted name ending at token `end` starts (`db.schema.fn`, `db..fn`). */
  #nameStart(end: number): number {
    const isName = (k: number) => this.#toks[k]?.kind === 'word' || this.#toks[k]?.kind === 'quoted_ident';
    if (!isName(end)) return end;
    let start = end;
    for (;;) {
      if (this.#isPunct(start - 1, '.') && isName(start - 2)) start -= 2;
      else if (this.#isPunct(start - 1, '.') && this.#isPunct(start - 2, '.') && isName(start - 3)) start -= 3;
      else return start;
    }
  }

  /** A function whose first argument names an object as text: the literal name is read; anything else is opaque. */
  #nameArgument(open: number, what: string): void {
    const first = this.#toks[open + 1];
    const literal = first?.kind === 'string' && (this.#isPunct(open + 2, ',') || this.#isPunct(open + 2, ')')) ? /^'(.*)'$/s.exec(first.text)?.[1] : undefined;
    const text = literal?.replace(/''/g, "'").trim();
    const parts = text === undefined ? undefined : (qualifiedNameParts(text) ?? (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(text) ? [text] : undefined));
    if (parts === undefined) {
      this.#out.opaque(`${what} as text, and snowmux can check only a name written as one string literal`);
      return;
    }
    // A quoted part as the session reads it, like a quoted name in the SQL itself (#namePart): under
    // QUOTED_IDENTIFIERS_IGNORE_CASE `'"hr"."pay"'` names HR.PAY, not the "hr"."pay" an allow may hold.
    const ignoreCase = this.#dialect === 'snowflake' && this.#ctx.names?.quotedIgnoreCase === true;
    const quoted = (p: string): string => {
      const name = p.slice(1, -1).replace(/""/g, '"');
      return ignoreCase ? name.toUpperCase() : name;
    };
    this.#addName(parts.map((p) => (p.startsWith('"') ? quoted(p) : p.toUpperCase())), 'read');
  }

  // ---- SHOW / DESCRIBE / USE ---------------------------------------------------------------------

  #show(): void {
    let k = 1;
    if (this.#word(k) === 'TERSE') k++;
    if (this.#dialect === 'duckdb') {
      this.#showDuckDb(k);
      return;
    }
    const kindWords: string[] = [];
    while (this.#word(k) !== undefined && !SHOW_CLAUSES.has(this.#word(k)!)) kindWords.push(this.#word(k++)!);
    const kind = kindWords.join(' ');
    if (kind === '') {
      this.#out.opaque('cannot tell what this SHOW lists');
      return;
    }
    const last = kindWords[kindWords.length - 1]!;
    const databases = DATABASE_LISTINGS.get(kind);
    if (databases !== undefined && (this.#findWord(k, 'IN') < 0 || this.#word(this.#findWord(k, 'IN') + 1) === 'ACCOUNT')) {
      this.#out.opaque(`SHOW ${kind} ${databases}`);
      return;
    }
    const nonData = NON_DATA_SHOW_LAST_WORDS.has(last) && !(last === 'POLICIES' && kindWords[0] !== 'NETWORK');
    if (last === 'GRANTS') {
      // TO ROLE / DATABASE ROLE / SHARE / APPLICATION [ROLE]: every privilege the grantee holds, with the
      // names of the objects it holds them on, in every database. (TO USER and OF … list roles only.)
      const to = this.#findWord(k, 'TO');
      const grantee = to >= 0 ? this.#word(to + 1) : undefined;
      if (grantee !== undefined && grantee !== 'USER') {
        this.#out.opaque(`SHOW ${kind} TO ${grantee} lists objects in every database`);
        return;
      }
    }
    if (kind === 'GRANTS') {
      const on = this.#findWord(k, 'ON');
      if (on >= 0 && this.#word(on + 1) !== 'ACCOUNT') this.#kindAndName(on + 1, 'list');
      return;
    }
    const inAt = this.#findWord(k, 'IN');
    if (inAt < 0) {
      if (nonData) return;
      if (last === 'DATABASES') {
        this.#out.opaque('SHOW DATABASES lists every database in the account');
        return;
      }
      this.#add(this.#currentDatabase(), 'list');
      return;
    }
    const j = inAt + 1;
    const w = this.#word(j);
    if (w === 'ACCOUNT') {
      if (!nonData) this.#out.opaque(`SHOW ${kind} IN ACCOUNT lists objects in every database`);
      return;
    }
    if (w === 'DATABASE') {
      const name = this.#parseName(j + 1);
      this.#add(name ? this.#databaseRef(name.parts) : this.#currentDatabase(), 'list');
      return;
    }
    if (w === 'SCHEMA') {
      const name = this.#parseName(j + 1);
      this.#add(name ? this.#schemaRef(name.parts) : this.#currentSchema(), 'list');
      return;
    }
    if (w === 'APPLICATION') {
      // An application or application package is addressed like a database (`APP.CORE.T`), and its listing shows its names.
      const name = this.#parseName(this.#word(j + 1) === 'PACKAGE' ? j + 2 : j + 1);
      if (name) this.#add(this.#databaseRef(name.parts), 'list');
      else this.#out.opaque(`cannot tell which application SHOW ${kind} lists`);
      return;
    }
    if (w !== undefined && this.#kindAt(j) !== undefined) {
      this.#kindAndName(j, 'list');
      return;
    }
    const name = this.#parseName(j);
    if (!name) {
      this.#out.opaque(`cannot tell where SHOW ${kind} looks`);
      return;
    }
    if (TABLE_SCOPED_SHOW_KINDS.has(kind) || objectScopedShow(kindWords) || name.parts.length === 3) {
      this.#addName(name.parts, 'list');
    } else if (name.parts.length === 1) {
      // `IN x`: a schema for some kinds, a database for others; check both readings.
      this.#add(this.#databaseRef(name.parts), 'list');
      this.#add(this.#schemaRef(name.parts), 'list');
    } else {
      this.#add(this.#schemaRef(name.parts), 'list');
    }
  }

  /** DuckDB: SHOW TABLES, SHOW ALL TABLES, SHOW DATABASES, SHOW <table>, SHOW <query>. */
  #showDuckDb(k: number): void {
    const w = this.#word(k);
    if (this.#isPunct(k, '(') || (w !== undefined && QUERY_STARTERS.has(w))) return; // a query: #scan reads it
    if (w === 'TABLES') {
      if (this.#word(k + 1) === 'FROM') {
        const name = this.#parseName(k + 2);
        // The name is where the listing looks, not a table #scan should judge as read (`FROM db.schema` read
        // as the table `schema` of a schema `db`).
        if (name) this.#notTables.add(k + 2);
        if (name && name.parts.length >= 2) {
          // `db.schema` is that schema alone (DuckDB lists no other).
          this.#add(this.#schemaRef(name.parts), 'list');
        } else if (name) {
          // One name is a schema of the current database when it has one, and otherwise a database (every schema
          // of it): the schema, with the database as where the engine looks if it is not there (the
          // name-resolution stage asks the catalog when the role may use only one of the two).
          const database = this.#databaseRef(name.parts.slice(0, 1));
          const schema = this.#schemaRef(name.parts);
          if (schema) this.#add(schema, 'list', database);
          else this.#add(database, 'list');
        } else this.#out.opaque('cannot tell where SHOW TABLES FROM looks');
      } else {
        // DuckDB lists the tables and views of every schema on its search path, which after the call's
        // USE db.schema also holds db.main: its names were listed to a role that may not see that schema.
        const current = this.#currentSchema();
        this.#add(current, 'list');
        if (current && current.schema!.toLowerCase() !== 'main') this.#add({ database: current.database, schema: 'main' }, 'list');
      }
      return;
    }
    if (w === 'ALL' || w === 'DATABASES' || w === 'SCHEMAS') {
      this.#out.opaque(`SHOW ${w === 'ALL' ? 'ALL TABLES' : w} lists objects in every database`);
      return;
    }
    const name = this.#parseName(k);
    if (name) this.#readsAsFile(name);
    if (name) this.#addName(name.parts, 'read');
    else this.#out.opaque('cannot tell what this SHOW lists');
  }

  #describe(): void {
    const k = 1;
    const w = this.#word(k);
    if (this.#isPunct(k, '(') || (w !== undefined && QUERY_STARTERS.has(w))) return; // DESCRIBE <query>: #scan reads it
    if (this.#kindAt(k) !== undefined) {
      this.#kindAndName(k, 'read');
      return;
    }
    // DuckDB: DESCRIBE t, SUMMARIZE t (which reads all of t).
    const name = this.#parseName(k);
    const after = name ? this.#toks[name.end] : undefined;
    if (name && (after?.kind === 'word' || after?.kind === 'quoted_ident')) {
      // `DESCRIBE AGENT hr.a`, `DESC DBT PROJECT hr.p`: a kind snowmux does not know, then the object's name.
      // Reading the kind word as a table would let the object itself through unjudged.
      this.#out.opaque(`DESCRIBE ${name.parts.join(' ')} ${namePart(after)} describes a kind of object snowmux does not know`);
      return;
    }
    if (name) this.#readsAsFile(name);
    if (name) this.#addName(name.parts, 'read');
    else this.#out.opaque('cannot tell what this DESCRIBE describes');
  }

  #use(): void {
    let k = 1;
    const w = this.#word(k);
    if (w === 'ROLE' || w === 'WAREHOUSE' || w === 'SECONDARY') return;
    if (w === 'DATABASE' || w === 'SCHEMA') k++;
    const name = this.#parseName(k);
    if (!name) {
      this.#out.opaque('cannot tell what USE switches to');
      return;
    }
    let target: ObjectRef | undefined;
    if (w === 'SCHEMA' || name.parts.length === 2) target = this.#schemaRef(name.parts);
    else {
      target = this.#databaseRef(name.parts);
      // DuckDB reads `USE x` as a schema of the current database as well.
      if (w !== 'DATABASE' && this.#dialect === 'duckdb') {
        this.#add(this.#schemaRef(name.parts), 'use');
        this.#out.opaque(`USE ${name.parts[0]} may name a database or a schema, so later names cannot be resolved`);
      }
    }
    this.#add(target, 'use');
    if (target) this.contextAfter = { database: target.database, schema: target.schema ?? (w === 'DATABASE' || name.parts.length === 1 ? 'PUBLIC' : ''), ...(this.#ctx.names ? { names: this.#ctx.names } : {}) };
  }

  // ---- DDL / COMMENT / GRANT ------------------------------------------------------------------------

  #ddl(): void {
    let k = 1;
    if (this.#type === 'CREATE') while (CREATE_MODIFIERS.has(this.#word(k) ?? '')) k++;
    if (this.#kindAt(k) === undefined) {
      this.#out.opaque(`cannot tell which object this ${this.#type} statement changes`);
      return;
    }
    this.#ddlCategory = this.#kindAt(k)?.category;
    const end = this.#kindAndName(k, 'write');
    if (this.#type === 'CREATE' && end !== undefined && this.#word(end) === 'LIKE') {
      const source = this.#parseName(end + 1);
      if (source) this.#addName(source.parts, 'read');
    }
    // `CREATE [UNIQUE] INDEX i ON t (…)`: the index is built on t, which it changes (and reads).
    if (this.#type === 'CREATE' && end !== undefined && this.#word(k) === 'INDEX' && this.#word(end) === 'ON') {
      const table = this.#parseName(end + 1);
      if (table) this.#addName(table.parts, 'write');
      else this.#out.opaque('cannot tell which table this index is on');
    }
    if ((this.#type === 'CREATE' || this.#type === 'ALTER') && end !== undefined) this.#definitionReads(end);
    if ((this.#type === 'CREATE' || this.#type === 'ALTER') && this.#dialect === 'snowflake') this.#codeBody();
    if (this.#type === 'DROP' && end !== undefined) {
      // DROP TABLE a, b
      let at = end;
      while (this.#isPunct(at, ',')) {
        const next = this.#parseName(at + 1);
        if (!next) break;
        this.#addName(next.parts, 'write');
        at = next.end;
      }
    }
  }

  /**
   * Tables a CREATE or ALTER reads by naming them in a definition rather than in a table position: a column
   * list's `LIKE t` (`CREATE TABLE x (LIKE t INCLUDING ALL)`, `(a INT, LIKE t)`: t's columns, defaults,
   * constraints) and a foreign key's `REFERENCES t (…)` (its key is looked up on every write). A query in the
   * definition (AS SELECT, a DEFAULT or CHECK subquery) is read where its FROM is.
   */
  #definitionReads(from: number): void {
    // An object put under another (#objectOver) is named in the statement's own clauses: not inside parentheses
    // (an alert's condition, a column list) nor in a query body after the first top-level AS, whose reads are
    // judged as the query's (there `FROM TABLE(GENERATOR(…))` and `ON view = 1` are no such phrase).
    const bodyAt = this.#findWord(from, 'AS');
    let depth = 0;
    for (let j = from; j < this.#toks.length; j++) {
      const w = this.#word(j);
      if (this.#isPunct(j, '(')) depth++;
      else if (this.#isPunct(j, ')')) depth--;
      if (this.#dialect === 'snowflake' && depth === 0 && (bodyAt < 0 || j < bodyAt) && this.#objectOver(j)) continue;
      const listLike = w === 'LIKE' && this.#type === 'CREATE' && (this.#isPunct(j - 1, '(') || this.#isPunct(j - 1, ','));
      if (w !== 'REFERENCES' && !listLike) continue;
      const name = this.#parseName(j + 1);
      if (name) this.#addName(name.parts, 'read');
      else this.#out.opaque(`cannot tell which table ${w} names`);
    }
  }

  /**
   * A task's or alert's body that runs code (`CREATE TASK t AS CALL p()`, `… AS EXECUTE IMMEDIATE '…'`, `AS EXECUTE TASK
   * u`, `AS [DECLARE …] BEGIN … END`, `ALTER TASK t MODIFY AS …`, an alert's `THEN …` or `MODIFY ACTION …`): opaque, as
   * the same statement sent alone is. The task runs later with the profile's Snowflake role, so its dynamic SQL could
   * copy a denied table into an allowed one.
   */
  #codeBody(): void {
    let k = 1;
    if (this.#type === 'CREATE') while (CREATE_MODIFIERS.has(this.#word(k) ?? '')) k++;
    const kind = this.#word(k);
    if (kind !== 'TASK' && kind !== 'ALERT') return;
    // The body follows the first top-level AS (a task's) or THEN / MODIFY ACTION (an alert's): not an alias's AS
    // inside the body, nor a CASE's THEN inside the alert's IF (…).
    const body = [this.#findWord(k, 'AS'), this.#findWord(k, 'THEN'), this.#findWord(k, 'ACTION')].filter((at) => at >= 0);
    for (const at of body) {
      const j = at + 1;
      const w = this.#word(j);
      const next = this.#word(j + 1);
      const runs =
        w === 'CALL' || w === 'DECLARE' || ((w === 'EXECUTE' || w === 'EXEC') && next !== undefined) || (w === 'BEGIN' && next !== 'TRANSACTION' && next !== 'WORK' && next !== 'NAME');
      if (runs) {
        this.#out.opaque(`${w} in the body of this ${this.#type} runs code whose reads and writes cannot be checked`);
        return;
      }
    }
  }

  /**
   * An object a CREATE or ALTER puts over another one, named after a kind word rather than in a table position
   * (Snowflake): `CREATE STREAM s ON VIEW | STAGE | … x` (reading the stream returns x's rows or files),
   * `CREATE SNAPSHOT s FROM SERVICE x` (x's volume) and `ADD | DROP DATA METRIC FUNCTION f ON (…)[, g ON (…)]` (f's
   * body reads what it reads, and its results are visible): each such x, f or g is read. Snowflake's own data metric
   * functions (`SNOWFLAKE.CORE.NULL_COUNT`) are not objects. Returns whether j started such a phrase.
   */
  #objectOver(j: number): boolean {
    const w = this.#word(j);
    if (w === 'FROM' && this.#word(j + 1) === 'APPLICATION' && this.#word(j + 2) === 'PACKAGE') {
      // `CREATE APPLICATION a FROM APPLICATION PACKAGE p`: the package is a database, which the application is built from.
      const name = this.#parseName(j + 3);
      if (name) this.#add(this.#databaseRef(name.parts), 'read');
      else this.#out.opaque('cannot tell which application package this application is built from');
      return true;
    }
    if (w === 'ON' || w === 'FROM') {
      const kind = this.#kindAt(j + 1);
      if (kind === undefined || (kind.category !== 'object' && kind.category !== 'code')) return false;
      const name = this.#parseName(j + 1 + kind.words);
      if (name) this.#addName(name.parts, 'read');
      else this.#out.opaque(`cannot tell which object this ${this.#type} is over`);
      return true;
    }
    if (w !== 'DATA' || this.#word(j + 1) !== 'METRIC' || this.#word(j + 2) !== 'FUNCTION') return false;
    let at = j + 3;
    for (;;) {
      const name = this.#parseName(at);
      if (!name) {
        this.#out.opaque(`cannot tell which data metric function this ${this.#type} names`);
        return true;
      }
      if (name.parts[0] !== 'SNOWFLAKE' || name.parts.length !== 3) this.#addName(name.parts, 'read', true);
      at = name.end;
      if (this.#word(at) === 'ON' && this.#isPunct(at + 1, '(')) {
        const close = this.#match[at + 1] ?? -1;
        at = close < 0 ? -1 : close + 1;
      }
      if (at < 0 || !this.#isPunct(at, ',')) return true;
      at++;
    }
  }

  #comment(): void {
    const on = this.#findWord(1, 'ON');
    if (on < 0 || this.#kindAt(on + 1) === undefined) {
      this.#out.opaque('cannot tell which object this COMMENT changes');
      return;
    }
    this.#kindAndName(on + 1, 'write');
  }

  #grant(): void {
    const on = this.#findWord(1, 'ON');
    if (on < 0) return; // GRANT ROLE r TO …: no object
    const j = on + 1;
    const w = this.#word(j);
    if (w === 'ACCOUNT') return;
    if (w === 'ALL' || w === 'FUTURE') {
      const inAt = this.#findWord(j, 'IN');
      const scope = inAt >= 0 ? this.#word(inAt + 1) : undefined;
      const name = inAt >= 0 ? this.#parseName(inAt + 2) : undefined;
      if (scope === 'DATABASE' && name) this.#add(this.#databaseRef(name.parts), 'write');
      else if (scope === 'SCHEMA' && name) this.#add(this.#schemaRef(name.parts), 'write');
      else this.#out.opaque(`cannot tell which objects this ${this.#type} covers`);
      return;
    }
    if (this.#kindAt(j) === undefined) {
      // GRANT SELECT ON t: a table.
      const name = this.#parseName(j);
      if (name) this.#addName(name.parts, 'write');
      else this.#out.opaque(`cannot tell which object this ${this.#type} covers`);
      return;
    }
    this.#kindAndName(j, 'write');
  }

  /** The object kind phrase starting at j, if any. */
  #kindAt(j: number): { words: number; category: KindCategory } | undefined {
    for (const [phrase, category] of KIND_PHRASES) {
      if (phrase.every((word, n) => this.#word(j + n) === word)) return { words: phrase.length, category };
    }
    return undefined;
  }

  /** `<kind> [IF [NOT] EXISTS] <name>` at j: records the object; returns the index after the name. */
  #kindAndName(j: number, access: ObjectAccess): number | undefined {
    const kind = this.#kindAt(j);
    if (kind === undefined) return undefined;
    let k = j + kind.words;
    if (kind.category === 'none') return k;
    if (kind.category === 'result') {
      this.#out.opaque('RESULT describes an earlier query, which may have read any object');
      return k;
    }
    if (kind.category === 'on') {
      if (this.#word(k) === 'ON') k++;
      return this.#kindAndName(k, access) ?? this.#nameAt(k, 'object', access);
    }
    k = this.#skipIfExists(k);
    return this.#nameAt(k, kind.category, access);
  }

  #nameAt(k: number, category: KindCategory, access: ObjectAccess): number | undefined {
    const name = this.#parseName(k);
    if (!name) {
      if (category === 'database' && access === 'read') this.#add(this.#currentDatabase(), 'list');
      else if (category === 'schema' && access === 'read') this.#add(this.#currentSchema(), 'list');
      else this.#out.opaque('cannot tell which object the statement names');
      return undefined;
    }
    switch (category) {
      case 'database':
        this.#add(this.#databaseRef(name.parts), access === 'read' ? 'list' : access);
        break;
      case 'schema':
        this.#add(this.#schemaRef(name.parts), access === 'read' ? 'list' : access);
        break;
      case 'column':
        this.#addName(name.parts.slice(0, -1), access);
        break;
      case 'code':
        this.#addName(name.parts, access);
        if (this.#type === 'CREATE') this.#out.opaque('a function or procedure body runs queries that cannot be checked');
        break;
      default:
        this.#addName(name.parts, access);
        break;
    }
    return name.end;
  }
}

/**
 * The object a stage location names, as name parts (quoted parts unquoted, others upper case): `@db.sch.st/p`
 * → [DB, SCH, ST], `@"my st"` → [my st], `@%t` and `@sch.%t` → the table T; [] for the user's stage `@~`;
 * undefined when the name cannot be read.
 */
function stageNameParts(location: string): string[] | undefined {
  const text = location.slice(1);
  if (text === '~' || text.startsWith('~/')) return [];
  const parts: string[] = [];
  let k = 0;
  for (;;) {
    let part: string;
    if (text[k] === '"') {
      let end = k + 1;
      let value = '';
      for (;;) {
        const q = text.indexOf('"', end);
        if (q < 0) return undefined;
        value += text.slice(end, q);
        if (text[q + 1] === '"') {
          value += '"';
          end = q + 2;
          continue;
        }
        end = q + 1;
        break;
      }
      part = value;
      k = end;
    } else {
      const m = /^%?[A-Za-z0-9_$]*/.exec(text.slice(k))![0];
      k += m.length;
      part = m.toUpperCase();
      if (parts.length === 0 && part === '' && text[k] === '.') return undefined;
    }
    parts.push(part);
    if (text[k] === '.') {
      k++;
      continue;
    }
    if (k < text.length && text[k] !== '/') return undefined;
    break;
  }
  const last = parts.length - 1;
  if (parts[last]!.startsWith('%')) parts[last] = parts[last]!.slice(1); // a table's stage: the table
  if (parts.length > 3 || parts[last] === '') return undefined;
  return parts;
}

/** The text of a string literal ('…' with '' and backslash escapes as written, or $$…$$); undefined for a token that is none. */
function literalValue(t: Token): string | undefined {
  if (t.kind === 'dollar_string') return /^\$([^$]*)\$([\s\S]*)\$\1\$$/.exec(t.text)?.[2];
  if (t.kind === 'string') return /^'(.*)'$/s.exec(t.text)?.[1]?.replace(/''/g, "'");
  return undefined;
}

/** The normalized name of a word or quoted identifier token. */
function namePart(t: Token): string {
  if (t.kind === 'quoted_ident') return t.text.slice(1, -1).replace(/""/g, '"');
  return t.upper ?? t.text.toUpperCase();
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
