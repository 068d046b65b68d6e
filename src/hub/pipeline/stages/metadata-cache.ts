/**
 * Statement stage: metadata answers from the hub's shared cache (in-flight requests joined), so ten
 * editors asking the same listing cause one warehouse round trip and take no queue slot on a hit. The
 * role's filter (object-policy) applies after the cache, per caller; what the warehouse itself shows
 * depends on the Snowflake role and warehouse the call runs as, so those are part of the key.
 */
import type { Operation, StatementStage } from '../statement.js';

export const metadataCache: StatementStage = {
  name: 'metadata-cache',
  run(st, next) {
    const what = keyOf(st.op);
    if (what === undefined || !st.warehouse) return next();
    const { cache, scope } = st.scope.governance.metadataFor(st.warehouse);
    if (st.op.kind === 'query' || st.op.kind === 'explain') return next();
    const ctx = st.op.ctx;
    return cache.get(metadataKey(scope, ctx, what), ctx.signal, next);
  },
};

/** One cache entry per warehouse, Snowflake role and warehouse the listing runs as, and question. */
export function metadataKey(scope: string, ctx: { role?: string | undefined; warehouse?: string | undefined }, what: string[]): string {
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
