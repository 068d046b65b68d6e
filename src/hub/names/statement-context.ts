// Which schema unqualified names land in: shared by the object rules (pipeline), the catalog tools and the
// warehouses, so all of them judge and read the same schema.

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
  if (db === target.defaultDatabase) return { database: db, schema: target.defaultSchema };
  return { database: db, schema: target.kind === 'duckdb' ? 'main' : 'PUBLIC' };
}
