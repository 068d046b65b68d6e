/**
 * Statement stage: metadata answers from the hub's shared cache (in-flight requests joined), so ten
 * editors asking the same listing cause one warehouse round trip and take no queue slot on a hit. The
 * role's filter (object-policy) applies after the cache, per caller; what the warehouse itself shows
 * depends on the Snowflake role and warehouse the call runs as, so those are part of the key. A statement
 * through the hub that may change objects or grants (DDL, GRANT, CALL…) empties the cache when it ends;
 * changes made elsewhere (Snowsight, another replica) show once the TTL has passed.
 */
import { chainsStatements, type SqlReading } from '../../guard/sql/sql-reading.js';
import { READ_TYPES, type StatementType } from '../../guard/sql/statement-types.js';
import type { Operation, Statement, StatementStage } from '../statement.js';

export const metadataCache: StatementStage = {
  name: 'metadata-cache',
  run(st, next) {
    if (!st.warehouse) return next();
    const { cache, scope } = st.scope.governance.metadataFor(st.warehouse);
    if (st.op.kind === 'query' && st.reading !== undefined && changesCatalog(st.reading)) {
      // Whatever the statement's outcome (a timed-out DROP may still have run), no listing from before it
      // is served after it: the editor who ran it (and the name-resolution stage) sees its effect at once.
      return next().finally(() => cache.clear());
    }
    const what = keyOf(st.op);
    if (what === undefined || st.op.kind === 'query' || st.op.kind === 'explain') return next();
    // A call that took its role before a reload changed the rules is judged again by rules-current, after the
    // queue; a hit would end it before that, answering (a description, say) about an object the reload denied.
    if (rulesChanged(st)) return next();
    const ctx = st.op.ctx;
    // Apart by the name settings a listing was judged with: one fetched for a session that reads `"weather"` as
    // WEATHER answers only a call whose rules judged that name so (see object-policy).
    // A listing names its objects in full, so the search path does not matter here.
    const names = st.judgedNames === undefined ? '' : `quoted-ignore-case=${st.judgedNames.quotedIgnoreCase}`;
    return cache.get(metadataKey(scope, ctx, [...what, names]), ctx.signal, next);
  },
};

function rulesChanged(st: Statement): boolean {
  const rules = st.scope.rules;
  return rules !== undefined && rules.generation !== st.scope.governance.policyGeneration;
}

/** Statement types that may change what listings and descriptions show (objects, comments, grants, or code that may do so). */
const CATALOG_CHANGES: ReadonlySet<StatementType> = new Set<StatementType>([
  'CREATE', 'ALTER', 'DROP', 'UNDROP', 'COMMENT', 'GRANT', 'REVOKE', 'CALL', 'EXECUTE', 'SCRIPT', 'ATTACH', 'DETACH', 'IMPORT', 'UNKNOWN',
]);

/**
 * A statement that is not read-only may change the catalog when its type says so, when it chains parts
 * with `->>` (its type is one part's: `SELECT 1 ->> INSERT … ->> DROP …` reads as INSERT), or when it is
 * a read hiding something else (a procedure in `TABLE(…)` runs anything).
 */
export function changesCatalog(reading: SqlReading): boolean {
  return reading.statements.some((s) => !s.readOnly && (CATALOG_CHANGES.has(s.type) || READ_TYPES.has(s.type) || chainsStatements(s, reading.dialect)));
}

/** One cache entry per warehouse, Snowflake role and warehouse the listing runs as, and question. */
function metadataKey(scope: string, ctx: { role?: string | undefined; warehouse?: string | undefined }, what: string[]): string {
  return [scope, ctx.role ?? '', ctx.warehouse ?? '', ...what].join('\u0000');
}

function keyOf(op: Operation): string[] | undefined {
  switch (op.kind) {
    case 'databases':
      return ['databases'];
    case 'schemas':
      return ['schemas', op.database];
    case 'objects':
      return ['objects', op.database, op.schema, op.objectKind];
    case 'describe':
      return ['describe', op.objectKind, op.ref.database ?? '', op.ref.schema ?? '', op.ref.name];
    case 'details':
      return ['details', op.objectKind, op.ref.database, op.ref.schema, op.ref.name, op.tags ? 'tags' : ''];
    default:
      return undefined;
  }
}
