/**
 * The core the statement stages wrap: the operation, on the opened warehouse. SQL reaches the warehouse
 * only as the text sql-policy judged, with its one reading (so the backend never scans it again).
 */
import { SnowmuxError } from '../../../errors.js';
import { rowBound } from '../../guard/sql/row-bound.js';
import type { CallContext } from '../../warehouse/types.js';
import { onlyReads, type OperationResult, type Statement } from '../statement.js';

export function execute(st: Statement): Promise<OperationResult> {
  const w = st.warehouse;
  if (!w) throw new SnowmuxError('INTERNAL_ERROR', 'An operation reached the warehouse before it was opened.');
  const op = st.op;
  switch (op.kind) {
    case 'query': {
      const first = st.reading?.statements[0];
      if (st.text === undefined || !first) throw new SnowmuxError('INTERNAL_ERROR', 'SQL reached the warehouse without passing the sql-policy stage.');
      st.scope.meter.statementSent = true;
      return w.query(st.text, {
        ...op.options,
        statement: first,
        rowBound: smaller(st.appendedLimit, rowBound(first)),
        repeatable: onlyReads(st),
        ...(st.judgedNames ? { judgedNames: st.judgedNames } : {}),
      });
    }
    case 'explain': {
      if (st.text === undefined) throw new SnowmuxError('INTERNAL_ERROR', 'SQL reached the warehouse without passing the sql-policy stage.');
      if (!w.explain) throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot explain a query without running it.');
      return w.explain(st.text, st.judgedNames ? { ...op.options, judgedNames: st.judgedNames } : op.options);
    }
    case 'profile':
      if (!w.queryProfile) {
        const advice = st.scope.role.toolAllowed('explain_query') ? ' Use explain_query for the plan.' : '';
        throw new SnowmuxError('UNSUPPORTED', `Query profiles come from Snowflake (GET_QUERY_OPERATOR_STATS); the embedded warehouse keeps none.${advice}`);
      }
      return w.queryProfile(op.queryId, op.ctx);
    case 'fetch':
      if (!w.fetchResults) {
        throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot page through earlier results. Re-run the query with a narrower WHERE or a LIMIT.');
      }
      return w.fetchResults(op.queryId, op.page, op.ctx);
    case 'databases':
      return w.listDatabases(op.ctx);
    case 'schemas':
      return w.listSchemas(op.database, judged(st, op.ctx));
    case 'objects':
      return w.listObjects(op.database, op.schema, op.objectKind, judged(st, op.ctx));
    case 'describe':
      return w.describeObject(op.ref, op.objectKind, judged(st, op.ctx));
    case 'facts':
      if (!w.queryFacts) throw new SnowmuxError('UNSUPPORTED', 'The embedded warehouse keeps no query history of its own: the hub\'s records are all there is.');
      return w.queryFacts(op.queryIds, op.ctx);
    case 'details':
      // A warehouse that keeps no more than columns has nothing to add.
      return w.objectDetails ? w.objectDetails(op.ref, op.objectKind, { tags: op.tags }, judged(st, op.ctx)) : Promise.resolve({});
    case 'analyst':
      if (!w.cortexAnalyst) throw cortexUnsupported('Cortex Analyst');
      return w.cortexAnalyst(op.request, judged(st, op.ctx));
    case 'search':
      if (!w.cortexSearch) throw cortexUnsupported('Cortex Search');
      return w.cortexSearch(op.service, op.request, judged(st, op.ctx));
  }
}

/** A listing, description or Cortex call whose names the object rules judged runs only on a session that reads names as they did. */
function judged(st: Statement, ctx: CallContext): CallContext {
  return st.judgedNames ? { ...ctx, judgedNames: st.judgedNames } : ctx;
}

function smaller(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function cortexUnsupported(what: string): SnowmuxError {
  return new SnowmuxError('UNSUPPORTED', `${what} is a Snowflake service; the embedded sample warehouse has none. Point the profile at a Snowflake account to use it.`);
}
