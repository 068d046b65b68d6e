/**
 * query_history: the caller's own recent SQL calls through the hub — when, what, how it ended, how long it
 * waited and ran, rows and bytes returned, the scan estimate when there was one, and the warehouse's query
 * id (to page with fetch_results, or to look up in Snowflake's QUERY_HISTORY). An identity sees only its
 * own calls. Nothing reaches the warehouse.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';

const OUTCOMES = ['ok', 'error', 'refused', 'cancelled'] as const;

export function registerDiagnosticTools(server: McpServer, env: ToolEnv): void {
  const { history } = env;
  server.registerTool(
    'query_history',
    {
      title: 'Your recent queries',
      description:
        'Your own recent SQL calls through this hub, newest first: time, statement, outcome and error code, duration and queue wait, ' +
        'rows and bytes returned, the scan estimate, and the warehouse query id (page it with fetch_results).',
      inputSchema: cachedSchema('query_history.in', () => z.object({
        limit: z.number().int().min(1).max(200).optional().describe('How many calls (default 20, at most 200).'),
        outcome: z.enum(OUTCOMES).optional().describe('Only calls that ended this way.'),
      })),
      outputSchema: cachedSchema('query_history.out', () => z.object({
        queries: z.array(z.object({
          at: z.string(),
          tool: z.string(),
          sql: z.string(),
          outcome: z.enum(OUTCOMES),
          error_code: z.string().nullable(),
          ms: z.number(),
          queue_wait_ms: z.number(),
          rows: z.number().nullable(),
          bytes: z.number(),
          query_id: z.string().nullable(),
          profile: z.string().nullable(),
          scan_bytes_estimate: z.number().nullable(),
        })),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'query_history', mcp, args, async () => {
      const identity = env.session.facts.identity.name;
      const wanted = args.limit ?? 20;
      const calls = history.of(identity, 200).filter((c) => args.outcome === undefined || c.outcome === args.outcome).slice(0, wanted);
      const queries = calls.map((c) => ({
        at: c.at,
        tool: c.tool,
        sql: c.sql ?? '',
        outcome: c.outcome,
        error_code: c.errorCode,
        ms: Math.round(c.ms),
        queue_wait_ms: Math.round(c.queueWaitMs),
        rows: c.rows,
        bytes: c.bytes,
        query_id: c.queryId,
        profile: c.profile,
        scan_bytes_estimate: c.scanEstimate?.bytes ?? null,
      }));
      const table = renderTable(
        ['at', 'outcome', 'ms', 'rows', 'query_id', 'sql'],
        queries.map((q) => [q.at, q.error_code ? `${q.outcome} (${q.error_code})` : q.outcome, q.ms, q.rows, q.query_id, q.sql.length > 120 ? `${q.sql.slice(0, 117)}...` : q.sql]),
      );
      return {
        content: [{ type: 'text', text: queries.length === 0 ? 'No SQL calls of yours through this hub yet.' : `${table}\n\n${queries.length} call(s), newest first.` }],
        structuredContent: { queries },
      };
    }),
  );
}
