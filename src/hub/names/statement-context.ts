// Which schema unqualified names land in: shared by the object rules (pipeline), the catalog tools and the
// warehouses, so all of them judge and read the same schema.
import { normalizeIdentifier, sameDuckDbName } from './identifiers.js';

/**
 * A profile's default database or schema as Snowflake resolves it at login (the driver sends it as written,
 * and Snowflake reads an unquoted `analytics` as ANALYTICS): '' when the profile sets none (the user's
 * default, unknown to the hub). Resolved once, here, for the target the object rules judge in and for the
 * session the warehouse opens (session-context.ts baselineContext resolves the same way): judged as written,
 * `analytics` was "another database" than the ANALYTICS a call named, so the rules judged the call's
 * unqualified names in PUBLIC while the session stayed in the profile's schema and read them there.
 * A name that is not one (a control character) stays as written: the session's own resolution refuses it.
 */
export function profileContextName(raw: string | undefined, what: 'database' | 'schema'): string {
  if (raw === undefined || raw === '') return '';
  try {
    return normalizeIdentifier(raw, what);
  } catch {
    return raw;
  }
}

/**
 * The database and schema a call's statements run in, which is where their unqualified names resolve: the
 * call's own, else the target's defaults. The default schema belongs to the default database only; in
 * another database the engine starts in that database's default schema (Snowflake's `USE DATABASE` lands in
 * PUBLIC, see session-context.ts; the embedded warehouse uses `main`). The object rules judge names in this
 * context, so it must be the one the warehouse applies.
 */
export function statementContext(
  target: { readonly kind: 'duckdb' | 'snowflake'; readonly defaultDatabase: string; readonly defaultSchema: string },
  database: string | undefined,
  schema: string | undefined,
): { database: string; schema: string } {
  const db = database === undefined || database === '' ? target.defaultDatabase : database;
  if (schema !== undefined && schema !== '') return { database: db, schema };
  // The default database as the engine finds it: the embedded DuckDB ignores the case of ASCII letters, so
  // "snowmux_sample" is the sample database and its call lands in the default schema, not in main (judged
  // in main, `SELECT * FROM ORDERS` with database "snowmux_sample" read the TPCH.ORDERS a role denied).
  const isDefault = target.kind === 'duckdb' ? sameDuckDbName(db, target.defaultDatabase) : db === target.defaultDatabase;
  if (isDefault) return { database: db, schema: target.defaultSchema };
  return { database: db, schema: target.kind === 'duckdb' ? 'main' : 'PUBLIC' };
}
