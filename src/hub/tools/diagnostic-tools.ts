/**
 * query_history: the caller's own recent SQL calls through the hub — when, what, how it ended, how long it
 * waited and ran, rows and bytes returned, the scan estimate when there was one, and the warehouse's query
 * id (to page with fetch_results, or to look up in Snowflake's QUERY_HISTORY). An identity sees only its
 * own calls, and a role that may use only some objects only those made under it (the others' results are
 * not its to page, nor their SQL its to read). Nothing reaches the warehouse.
 * query_profile: where one of the caller's finished queries spent its time, operator by operator.
 */
import * as z from 'zod';
import { SnowmuxError, isSnowmuxError } from '../../errors.js';
import type { CallContext, Warehouse } from '../warehouse/types.js';
import type { McpServer } from '@modelcontextprotocol/server';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { queryIdArg } from './query-shape.js';
import { runTool, type ToolEnv } from './tool-runtime.js';
import { SNOWFLAKE_ONLY } from './tool-listing.js';

const OUTCOMES = ['ok', 'error', 'refused', 'cancelled'] as const;

/**
 * An empty history answer: no call at all, or none of the recent ones that ended as the filter asks —
 * "no calls yet" would be false in the second case.
 */
function noneFound(recent: number, outcome: string | undefined, everyone: boolean): string {
  const whose = everyone ? '' : 'of yours ';
  if (recent === 0 || outcome === undefined) return `No SQL calls ${whose}through this hub yet.`;
  return `None of the last ${recent} SQL call(s) ${whose}through this hub ended "${outcome}". Leave out outcome to see them.`;
}

export function registerDiagnosticTools(server: McpServer, env: ToolEnv): void {
  const { history } = env;
  server.registerTool(
    'query_history',
    {
      title: 'Your recent queries',
      description:
        'Your own recent SQL calls through this hub (under a role limited to some objects: those made under that role), newest first: time, statement, outcome and error code, duration and queue wait, ' +
        'rows and bytes returned, the scan estimate, and the warehouse query id (page it with fetch_results). ' +
        'Roles with query_history = "all" may ask for every identity\'s calls (all_identities).',
      inputSchema: cachedSchema('query_history.in', () => z.strictObject({
        limit: z.number().int().min(1).max(200).optional().describe('How many calls (default 20, at most 200).'),
        outcome: z.enum(OUTCOMES).optional().describe('Only calls that ended this way.'),
        all_identities: z.boolean().optional().describe('Every identity\'s calls, not only yours (roles with query_history = "all").'),
        include_snowflake: z.boolean().optional().describe('Also what Snowflake recorded for each call (warehouse, status, bytes scanned, elapsed time), joined by query id on the hub\'s QUERY_TAG; needs a running warehouse. Default false.'),
      })),
      outputSchema: cachedSchema('query_history.out', () => z.object({
        queries: z.array(z.object({
          identity: z.string(),
          at: z.string(),
          tool: z.string(),
          sql: z.string(),
          outcome: z.enum(OUTCOMES),
          error_code: z.string().nullable(),
          may_have_run: z.boolean().describe('A failed write the warehouse may have applied (cancelled, timed out or its session lost after it was sent): check query_id before running it again.'),
          ms: z.number(),
          queue_wait_ms: z.number(),
          rows: z.number().nullable(),
          bytes: z.number(),
          query_id: z.string().nullable(),
          profile: z.string().nullable(),
          scan_bytes_estimate: z.number().nullable(),
          trace_id: z.string().nullable(),
          snowflake: z.object({ warehouse: z.string().nullable(), status: z.string(), bytes_scanned: z.number().nullable(), elapsed_ms: z.number().nullable() }).nullable(),
        })),
        snowflake_note: z.string().nullable(),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'query_history', mcp, args, async ({ role, warehouse, ctx }) => {
      const identity = env.session.facts.identity.name;
      const wanted = args.limit ?? 20;
      if (args.all_identities === true && role.queryHistory !== 'all') {
        throw new SnowmuxError('POLICY_DENIED', `Access denied: role "${role.name}" shows each caller only their own calls (query_history = "own"). Ask the hub's operator for a role with query_history = "all", or leave out all_identities.`, { details: { role: role.name, rule: 'query_history' } });
      }
      // One user's editors may run under different roles: a narrow role is not offered what a wider one ran.
      const kept = args.all_identities === true ? history.all(1_000) : history.of(identity, 200, role.objectsRestricted ? role.name : undefined);
      const calls = kept.filter((c) => args.outcome === undefined || c.outcome === args.outcome).slice(0, wanted);
      const { facts, note } = args.include_snowflake === true ? await snowflakeFacts(warehouse, calls.map((c) => c.queryId).filter((id): id is string => id !== null), ctx) : { facts: new Map(), note: null };
      const queries = calls.map((c) => ({
        identity: c.identity,
        at: c.at,
        tool: c.tool,
        // The caller's own calls as it wrote them; others' as the audit keeps them (CallRecord.callerView).
        sql: (c.identity === identity ? (c.callerView?.sql ?? c.sql) : c.sql) ?? '',
        outcome: c.outcome,
        error_code: c.errorCode,
        may_have_run: c.mayHaveRun === true,
        ms: Math.round(c.ms),
        queue_wait_ms: Math.round(c.queueWaitMs),
        rows: c.rows,
        bytes: c.bytes,
        query_id: c.queryId,
        profile: c.profile,
        scan_bytes_estimate: c.scanEstimate?.bytes ?? null,
        trace_id: c.traceId ?? null,
        snowflake: c.queryId !== null && facts.has(c.queryId) ? facts.get(c.queryId)! : null,
      }));
      const everyone = args.all_identities === true;
      const withFacts = args.include_snowflake === true;
      const table = renderTable(
        [...(everyone ? ['identity'] : []), 'at', 'tool', 'outcome', 'ms', 'rows', ...(withFacts ? ['warehouse', 'bytes scanned'] : []), 'query_id', 'sql'],
        queries.map((q) => [...(everyone ? [q.identity] : []), q.at, q.tool, q.error_code ? `${q.outcome} (${q.error_code}${q.may_have_run ? ', may have run' : ''})` : q.outcome, q.ms, q.rows, ...(withFacts ? [q.snowflake?.warehouse ?? null, q.snowflake?.bytes_scanned ?? null] : []), q.query_id, q.sql]),
        role,
      );
      return {
        content: [{ type: 'text', text: (queries.length === 0 ? noneFound(kept.length, args.outcome, everyone) : `${table}\n\n${queries.length} call(s), newest first.`) + (note ? `\n\n${note}` : '') }],
        structuredContent: { queries, snowflake_note: note },
      };
    }),
  );

  server.registerTool(
    'query_profile',
    {
      title: 'Where a query spent its time',
      description:
        'The operator statistics of one of your finished queries (Snowflake GET_QUERY_OPERATOR_STATS): each operator, its parents, ' +
        'the rows it produced and its share of the execution time. Pass a query id from execute_query or query_history.',
      inputSchema: cachedSchema('query_profile.in', () => z.strictObject({ query_id: queryIdArg(100).describe('The query id.') })),
      outputSchema: cachedSchema('query_profile.out', () => z.object({
        query_id: z.string(),
        operators: z.array(z.object({
          operator_id: z.number(),
          parent_operators: z.array(z.number()),
          operator_type: z.string(),
          output_rows: z.number().nullable(),
          percent_of_time: z.number().nullable(),
          detail: z.string().nullable(),
        })),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      _meta: SNOWFLAKE_ONLY,
    },
    (args, mcp) => runTool(env, 'query_profile', mcp, args, async ({ warehouse, ctx, role }) => {
      // The governed warehouse lets only whoever ran the query read its profile (as for fetch_results).
      if (!warehouse.queryProfile) throw new SnowmuxError('UNSUPPORTED', 'This warehouse keeps no query profiles.');
      const profile = await warehouse.queryProfile(args.query_id, ctx);
      const operators = profile.operators.map((o) => ({
        operator_id: o.operatorId,
        parent_operators: o.parentOperators,
        operator_type: o.operatorType,
        output_rows: o.outputRows ?? null,
        percent_of_time: o.percentOfTime ?? null,
        detail: o.detail ?? null,
      }));
      const slowest = [...operators].sort((a, b) => (b.percent_of_time ?? 0) - (a.percent_of_time ?? 0));
      const table = renderTable(['operator', 'type', 'time %', 'rows', 'detail'], slowest.map((o) => [o.operator_id, o.operator_type, o.percent_of_time, o.output_rows, o.detail]), role);
      return {
        content: [{ type: 'text', text: `${table}\n\n${operators.length} operator(s) of query ${profile.queryId}, slowest first.` }],
        structuredContent: { query_id: profile.queryId, operators },
      };
    }),
  );
}

type Facts = { warehouse: string | null; status: string; bytes_scanned: number | null; elapsed_ms: number | null };

/** Snowflake's own record of these query ids (through the governed warehouse), or why there is none. */
async function snowflakeFacts(warehouse: Warehouse, queryIds: string[], ctx: CallContext): Promise<{ facts: Map<string, Facts>; note: string | null }> {
  if (queryIds.length === 0) return { facts: new Map(), note: null };
  try {
    // The governed warehouse always has it; its execute stage answers UNSUPPORTED for the embedded engine.
    const rows = await warehouse.queryFacts!(queryIds, ctx);
    const facts = new Map(rows.map((r) => [r.queryId, { warehouse: r.warehouse, status: r.status, bytes_scanned: r.bytesScanned, elapsed_ms: r.elapsedMs }]));
    const missing = queryIds.filter((id) => !facts.has(id)).length;
    return { facts, note: missing > 0 ? `Snowflake's history has no record of ${missing} of these queries (it keeps 7 days, and shows a user's queries to roles that may see them).` : null };
  } catch (err) {
    if (!isSnowmuxError(err) || !['SQL_ERROR', 'PERMISSION_DENIED', 'OBJECT_NOT_FOUND', 'POLICY_DENIED', 'UNSUPPORTED'].includes(err.code)) throw err;
    return { facts: new Map(), note: err.code === 'UNSUPPORTED' ? err.message : `Snowflake's query history could not be read: ${err.message.slice(0, 300)}` };
  }
}
