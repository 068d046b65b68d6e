/**
 * The catalog's own spelling of the names a tool was given, for what the tool echoes.
 *
 * Snowflake resolves a name exactly as the tools normalize it (unquoted → upper case), so there the
 * normalized name is the catalog's. The embedded DuckDB compares names ignoring the case of ASCII letters:
 * `Mixed`, normalized to MIXED, reaches the schema "Mixed", and an answer that echoed MIXED would name a
 * schema that does not exist as spelled, next to rows that say "Mixed".
 */
import { sameDuckDbName } from '../names/identifiers.js';
import type { CallContext, ObjectKind, ObjectRef, Warehouse } from '../warehouse/types.js';

type Catalog = Pick<Warehouse, 'info' | 'listDatabases' | 'listSchemas' | 'listObjects'>;

/**
 * The entry of a listing that `name` means on this engine: the exact one, else (embedded) the one DuckDB's
 * binder picks, the first in the listing's order (the catalog's, by name) that differs only in ASCII case.
 */
export function catalogEntry<T extends { name: string }>(catalog: Pick<Warehouse, 'info'>, entries: readonly T[], name: string): T | undefined {
  const exact = entries.find((entry) => entry.name === name);
  if (exact !== undefined || catalog.info().kind !== 'duckdb') return exact;
  return entries.find((entry) => sameDuckDbName(entry.name, name));
}

/** A database's name as the catalog spells it (unchanged on Snowflake). */
export async function catalogDatabase(catalog: Catalog, database: string, ctx: CallContext): Promise<string> {
  if (catalog.info().kind !== 'duckdb') return database;
  return catalogEntry(catalog, await catalog.listDatabases(ctx), database)?.name ?? database;
}

/** The database and schema as the catalog spells them (unchanged on Snowflake, or when the listing does not show them). */
export async function catalogSchema(catalog: Catalog, database: string, schema: string, ctx: CallContext): Promise<{ database: string; schema: string }> {
  if (catalog.info().kind !== 'duckdb') return { database, schema };
  const schemas = await catalog.listSchemas(database, ctx);
  const found = catalogEntry(catalog, schemas, schema);
  return { database: found?.database ?? schemas[0]?.database ?? database, schema: found?.name ?? schema };
}

/** A table's or view's full name as the catalog spells it. */
export async function catalogObject(catalog: Catalog, ref: ObjectRef, kind: ObjectKind, ctx: CallContext): Promise<ObjectRef> {
  if (catalog.info().kind !== 'duckdb') return ref;
  const { database, schema } = await catalogSchema(catalog, ref.database, ref.schema, ctx);
  const found = catalogEntry(catalog, await catalog.listObjects(database, schema, kind, ctx), ref.name);
  return { database, schema, name: found?.name ?? ref.name };
}
