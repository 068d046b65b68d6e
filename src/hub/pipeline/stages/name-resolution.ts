/**
 * Statement stage: where the object rules could not tell from the SQL alone which object a name means.
 * An unqualified name the role may read resolves to another object when it does not exist (Snowflake's
 * search path falls back to the database's PUBLIC schema, the embedded engine to its `main`; DuckDB
 * reads a two-part name as database.object when no such schema exists). When the role may not use that
 * other object, the statement runs only if the allowed one exists — looked up in the warehouse's catalog
 * through the shared metadata cache (the same entries list_tables/list_views use) — and is refused
 * otherwise, before anything runs. Roles without object rules never get here.
 *
 * The look-up is a statement of the call like any other (Statement.lookup): on a cache miss it waits for a slot
 * in the fair queue and passes the breaker and retries. Called on the warehouse directly, it ran past
 * limits.max_concurrent_queries and reached a warehouse whose breaker was open (each such call waiting for the
 * outage instead of failing fast, and its failure uncounted).
 */
import { SnowmuxError, isSnowmuxError } from '../../../errors.js';
import { sameDuckDbName } from '../../names/identifiers.js';
import { unresolvedNameDenied } from '../../policy/enforce.js';
import type { CallContext, ObjectInfo, ObjectKind } from '../../warehouse/types.js';
import type { Statement, StatementStage } from '../statement.js';

export const nameResolution: StatementStage = {
  name: 'name-resolution',
  async run(st, next) {
    const names = st.namesToResolve;
    if (names === undefined || names.length === 0 || !st.warehouse || (st.op.kind !== 'query' && st.op.kind !== 'explain')) return next();
    const lookup = st.lookup;
    if (!lookup) throw new SnowmuxError('INTERNAL_ERROR', 'The name-resolution stage ran outside runStatement.');
    const ctx = st.op.options;
    // The engine the SQL was read for (the target's), so the names are the ones the rules judged.
    const dialect = st.scope.target.kind === 'snowflake' ? 'snowflake' : 'duckdb';
    for (const name of names) {
      const present = name.ref.name === undefined ? await schemaExists(lookup, name.ref, ctx) : await exists(lookup, dialect, { ...name.ref, name: name.ref.name }, ctx);
      if (!present) throw unresolvedNameDenied(st.scope.role, name, dialect);
    }
    return next();
  },
};

/** Whether the current database has the schema DuckDB's `SHOW TABLES FROM x` would list (compared as its binder does). */
async function schemaExists(lookup: NonNullable<Statement['lookup']>, ref: { database: string; schema: string }, ctx: CallContext): Promise<boolean> {
  try {
    const schemas = await lookup({ kind: 'schemas', database: ref.database, ctx });
    return schemas.some((s) => sameDuckDbName(s.name, ref.schema));
  } catch (err) {
    if (isSnowmuxError(err) && err.code === 'OBJECT_NOT_FOUND') return false;
    throw err;
  }
}

async function exists(
  lookup: NonNullable<Statement['lookup']>,
  dialect: 'snowflake' | 'duckdb',
  ref: { database: string; schema: string; name: string },
  ctx: CallContext,
): Promise<boolean> {
  // DuckDB compares names ignoring the case of ASCII letters only (as its binder does: a Unicode fold would
  // find an object the engine does not, and the engine would fall back); Snowflake's are in their resolved case.
  const same = dialect === 'snowflake' ? (n: string) => n === ref.name : (n: string) => sameDuckDbName(n, ref.name);
  for (const kind of ['table', 'view'] as ObjectKind[]) {
    let objects: ObjectInfo[];
    try {
      // Through the metadata-cache stage: the same entries list_tables/list_views use, in-flight listings joined.
      objects = await lookup({ kind: 'objects', database: ref.database, schema: ref.schema, objectKind: kind, ctx });
    } catch (err) {
      // No such database or schema: nothing in it exists either.
      if (isSnowmuxError(err) && err.code === 'OBJECT_NOT_FOUND') return false;
      throw err;
    }
    if (objects.some((o) => same(o.name))) return true;
  }
  return false;
}
