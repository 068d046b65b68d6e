/**
 * Statement stage: where the object rules could not tell from the SQL alone which object a name means.
 * An unqualified name the role may read resolves to another object when it does not exist (Snowflake's
 * search path falls back to the database's PUBLIC schema, the embedded engine to its `main`; DuckDB
 * reads a two-part name as database.object when no such schema exists). When the role may not use that
 * other object, the statement runs only if the allowed one exists — looked up in the warehouse's catalog
 * through the shared metadata cache (the same entries list_tables/list_views use) — and is refused
 * otherwise, before anything runs. Roles without object rules never get here.
 */
import { isSnowmuxError } from '../../../errors.js';
import { sameDuckDbName } from '../../names/identifiers.js';
import { unresolvedNameDenied } from '../../policy/enforce.js';
import type { Governance } from '../../governance/governance.js';
import type { CallContext, ObjectInfo, ObjectKind, Warehouse } from '../../warehouse/types.js';
import type { StatementStage } from '../statement.js';
import { metadataKey } from './metadata-cache.js';

export const nameResolution: StatementStage = {
  name: 'name-resolution',
  async run(st, next) {
    const names = st.namesToResolve;
    if (names === undefined || names.length === 0 || !st.warehouse || (st.op.kind !== 'query' && st.op.kind !== 'explain')) return next();
    const warehouse = st.warehouse;
    const ctx = st.op.options;
    // The engine the SQL was read for (the target's), so the names are the ones the rules judged.
    const dialect = st.scope.target.kind === 'snowflake' ? 'snowflake' : 'duckdb';
    for (const name of names) {
      const present = await exists(st.scope.governance.metadataFor(warehouse), warehouse, dialect, name.ref, ctx);
      if (!present) throw unresolvedNameDenied(st.scope.role, name, dialect);
    }
    return next();
  },
};

async function exists(
  metadata: ReturnType<Governance['metadataFor']>,
  warehouse: Warehouse,
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
      objects = await metadata.cache.get(metadataKey(metadata.scope, ctx, ['objects', ref.database, ref.schema, kind]), ctx.signal, () =>
        warehouse.listObjects(ref.database, ref.schema, kind, ctx),
      );
    } catch (err) {
      // No such database or schema: nothing in it exists either.
      if (isSnowmuxError(err) && err.code === 'OBJECT_NOT_FOUND') return false;
      throw err;
    }
    if (objects.some((o) => same(o.name))) return true;
  }
  return false;
}
