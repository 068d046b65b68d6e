import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { SnowmuxError } from '../../../errors.js';
import { displayPart, sameDuckDbName } from '../../names/identifiers.js';
import type { ColumnDescription, DatabaseInfo, ObjectInfo, ObjectKind, SchemaInfo } from '../types.js';

/**
 * Catalog look-ups for the embedded warehouse. Every user-supplied name reaches DuckDB only as a bind
 * parameter, never pasted into SQL, so a hostile name can only ever be "not found".
 *
 * DuckDB compares identifiers ignoring the case of ASCII letters (only), so a name resolves to the
 * exact-case match when there is one, else to the one DuckDB's binder would pick (sameDuckDbName). SQL's
 * lower() folds Unicode too, so it only narrows the candidates; the choice is made in sameDuckDbName.
 */

/** DuckDB's own catalogs, never shown to users. */
const HIDDEN_DATABASES = "('system', 'temp')";

export interface CatalogComments {
  database(name: string): string | undefined;
  schema(database: string, schema: string): string | undefined;
}

export async function listDatabases(connection: DuckDBConnection, comments: CatalogComments): Promise<DatabaseInfo[]> {
  const rows = await select(
    connection,
    `SELECT database_name, comment FROM duckdb_databases()
      WHERE NOT internal AND database_name NOT IN ${HIDDEN_DATABASES}
      ORDER BY database_name`,
  );
  return rows.map(([name, comment]) => {
    const database = String(name);
    return { name: database, comment: textOrUndefined(comment) ?? comments.database(database) };
  });
}

export async function listSchemas(connection: DuckDBConnection, rawDatabase: string, comments: CatalogComments): Promise<SchemaInfo[]> {
  const database = await resolveDatabase(connection, rawDatabase);
  // DuckDB marks `main` internal, yet every other tool and the SQL reach it (an unqualified name not found in
  // the call's schema is looked for there): listed, so list_schemas shows what the rest can use.
  const rows = await select(
    connection,
    `SELECT schema_name, comment FROM duckdb_schemas()
      WHERE database_name = $1 AND (NOT internal OR schema_name = 'main')
      ORDER BY schema_name`,
    [database],
  );
  return rows.map(([name, comment]) => {
    const schema = String(name);
    return { database, name: schema, comment: textOrUndefined(comment) ?? comments.schema(database, schema) };
  });
}

export async function listObjects(connection: DuckDBConnection, rawDatabase: string, rawSchema: string, kind: ObjectKind): Promise<ObjectInfo[]> {
  checkKind(kind);
  const database = await resolveDatabase(connection, rawDatabase);
  const schema = await resolveSchema(connection, database, rawSchema);
  const sql =
    kind === 'table'
      ? `SELECT table_name, comment, estimated_size FROM duckdb_tables()
          WHERE database_name = $1 AND schema_name = $2 AND NOT temporary
          ORDER BY table_name`
      : `SELECT view_name, comment, NULL FROM duckdb_views()
          WHERE database_name = $1 AND schema_name = $2 AND NOT internal AND NOT temporary
          ORDER BY view_name`;
  const rows = await select(connection, sql, [database, schema]);
  return rows.map(([name, comment, size]) => ({
    database,
    schema,
    name: String(name),
    kind,
    comment: textOrUndefined(comment),
    rowCount: size === null || size === undefined ? undefined : Number(size),
  }));
}

export async function describeObject(
  connection: DuckDBConnection,
  ref: { database: string; schema: string; name: string },
  kind: ObjectKind,
): Promise<ColumnDescription[]> {
  const { database, schema, name } = await resolveRef(connection, ref, kind);
  const rows = await select(
    connection,
    `SELECT column_name, data_type, is_nullable, column_default, comment FROM duckdb_columns()
      WHERE database_name = $1 AND schema_name = $2 AND table_name = $3
      ORDER BY column_index`,
    [database, schema, name],
  );
  return rows.map(([column, type, nullable, defaultValue, comment]) => ({
    name: String(column),
    type: String(type),
    nullable: nullable === true,
    default: defaultValue === null || defaultValue === undefined ? null : String(defaultValue),
    comment: textOrUndefined(comment) ?? null,
  }));
}

/** The catalog names of a resolved table or view reference; OBJECT_NOT_FOUND when a part does not exist. */
async function resolveRef(connection: DuckDBConnection, ref: { database: string; schema: string; name: string }, kind: ObjectKind): Promise<{ database: string; schema: string; name: string }> {
  checkKind(kind);
  const database = await resolveDatabase(connection, ref.database);
  const schema = await resolveSchema(connection, database, ref.schema);
  return { database, schema, name: await resolveObject(connection, database, schema, ref.name, kind) };
}

/** The object's comment (DuckDB keeps no clustering keys or tags). */
export async function objectComment(connection: DuckDBConnection, ref: { database: string; schema: string; name: string }, kind: ObjectKind): Promise<string | undefined> {
  const { database, schema, name } = await resolveRef(connection, ref, kind);
  const rows = await select(
    connection,
    kind === 'table'
      ? 'SELECT comment FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3'
      : 'SELECT comment FROM duckdb_views() WHERE database_name = $1 AND schema_name = $2 AND view_name = $3',
    [database, schema, name],
  );
  return textOrUndefined(rows[0]?.[0]);
}

/**
 * The catalog name a resolved database name refers to; OBJECT_NOT_FOUND when there is none. Names arrive
 * resolved (warehouse/identifiers.ts, once, in the tool layer, before the policy saw them) and are never
 * re-parsed here: a second pass would turn `""X""` into X after the policy had judged `"X"`.
 */
export async function resolveDatabase(connection: DuckDBConnection, name: string): Promise<string> {
  const found = await bestMatch(
    connection,
    `SELECT database_name FROM duckdb_databases()
      WHERE NOT internal AND database_name NOT IN ${HIDDEN_DATABASES} AND lower(database_name) = lower($1)
      ORDER BY database_name = $1 DESC, database_name`,
    [name],
    name,
  );
  if (found === undefined) {
    throw new SnowmuxError('OBJECT_NOT_FOUND', `Database ${displayPart(name)} does not exist. Use list_databases to see the databases.`, {
      details: { objectType: 'database', name },
    });
  }
  return found;
}

/** The schema a user's schema name refers to in `database` (already resolved). */
export async function resolveSchema(connection: DuckDBConnection, database: string, name: string): Promise<string> {
  const found = await bestMatch(
    connection,
    `SELECT schema_name FROM duckdb_schemas()
      WHERE database_name = $1 AND lower(schema_name) = lower($2)
      ORDER BY schema_name = $2 DESC, schema_name`,
    [database, name],
    name,
  );
  if (found === undefined) {
    throw new SnowmuxError('OBJECT_NOT_FOUND', `Schema ${displayPart(database)}.${displayPart(name)} does not exist. Use list_schemas to see the schemas in ${displayPart(database)}.`, {
      details: { objectType: 'schema', database, name },
    });
  }
  return found;
}

/** The table or view a user's name refers to, of the requested kind. */
export async function resolveObject(connection: DuckDBConnection, database: string, schema: string, name: string, kind: ObjectKind): Promise<string> {
  const rows = await select(
    connection,
    `SELECT name, kind FROM (
        SELECT table_name AS name, 'table' AS kind FROM duckdb_tables()
         WHERE database_name = $1 AND schema_name = $2 AND NOT temporary
        UNION ALL
        SELECT view_name AS name, 'view' AS kind FROM duckdb_views()
         WHERE database_name = $1 AND schema_name = $2 AND NOT internal AND NOT temporary
      ) WHERE lower(name) = lower($3)
      ORDER BY name = $3 DESC, name`,
    [database, schema, name],
  );
  const candidates = rows.filter(([found]) => sameDuckDbName(String(found), name));
  const match = candidates.find(([, objectKind]) => objectKind === kind);
  if (match !== undefined) return String(match[0]);
  const label = kind === 'table' ? 'Table' : 'View';
  const qualifiedName = [database, schema, name].map(displayPart).join('.');
  const other = candidates[0];
  if (other !== undefined) {
    const otherKind = String(other[1]);
    throw new SnowmuxError(
      'OBJECT_NOT_FOUND',
      `${label} ${qualifiedName} does not exist: ${displayPart(String(other[0]))} is a ${otherKind}. Use describe_${otherKind} for it.`,
      { details: { objectType: kind, database, schema, name, actualType: otherKind } },
    );
  }
  throw new SnowmuxError('OBJECT_NOT_FOUND', `${label} ${qualifiedName} does not exist. Use list_${kind}s to see the ${kind}s in ${displayPart(schema)}.`, {
    details: { objectType: kind, database, schema, name },
  });
}

function checkKind(kind: unknown): asserts kind is ObjectKind {
  if (kind !== 'table' && kind !== 'view') {
    throw new SnowmuxError('INVALID_ARGUMENT', `Object kind must be "table" or "view"; got ${String(kind)}.`);
  }
}

/** The first row (exact match first) whose name DuckDB's binder reads as `name`. */
async function bestMatch(connection: DuckDBConnection, sql: string, binds: DuckDBValue[], name: string): Promise<string | undefined> {
  const rows = await select(connection, sql, binds);
  const found = rows.map(([value]) => (value === undefined || value === null ? undefined : String(value))).find((value) => value !== undefined && sameDuckDbName(value, name));
  return found;
}

async function select(connection: DuckDBConnection, sql: string, binds?: DuckDBValue[]): Promise<DuckDBValue[][]> {
  const reader = await connection.runAndReadAll(sql, binds);
  return reader.getRows();
}

function textOrUndefined(value: DuckDBValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
