/**
 * Query tools: execute_query (read-only SQL), explain_query (plan and scan estimate, nothing runs), query_view, and fetch_results (page through a finished
 * result by query id without re-running it).
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { SnowmuxError } from '../../errors.js';
import { tokenize } from '../guard/sql/lexer.js';
import { displayPart, normalizeIdentifier, quoteIdentifier } from '../names/identifiers.js';
import type { CallContext, ObjectRef, Warehouse } from '../warehouse/types.js';
import { catalogEntry } from './catalog-names.js';
import { targetObject } from './catalog-tools.js';
import { formatBytes } from '../observe/byte-size.js';
import { ENGINE_SCAN_FIGURES } from '../config/config-schema.js';
import { limitArg, queryIdArg, queryOutput, queryResult, rowLimit } from './query-shape.js';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';
import type { WriterListing } from './tool-listing.js';

/**
 * Whether the statement is itself an EXPLAIN. explain_query puts its own in front, and the engine's answer to
 * EXPLAIN EXPLAIN … is a syntax error quoting the hub's prefix, about text the caller never wrote.
 */
function startsWithExplain(sql: string): boolean {
  const first = tokenize(sql).tokens.find((token) => token.kind !== 'comment');
  return first?.kind === 'word' && first.upper === 'EXPLAIN';
}

/**
 * query_view reads views, as describe_view describes them: a table of that name is refused the way
 * describe_view refuses it, naming the tools for tables. Looked up in the listings the role may see (the
 * metadata cache), so a name the role may not see is judged by the query's own object rules, as before.
 */
async function refuseTable(catalog: Pick<Warehouse, 'info' | 'listObjects'>, ref: ObjectRef, ctx: CallContext): Promise<void> {
  if (catalogEntry(catalog, await catalog.listObjects(ref.database, ref.schema, 'view', ctx), ref.name) !== undefined) return;
  const table = catalogEntry(catalog, await catalog.listObjects(ref.database, ref.schema, 'table', ctx), ref.name);
  if (table === undefined) return;
  throw new SnowmuxError(
    'OBJECT_NOT_FOUND',
    `View ${[ref.database, ref.schema, ref.name].map(displayPart).join('.')} does not exist: ${displayPart(table.name)} is a table. ` +
      `Use execute_query (SELECT … FROM ${[table.database, table.schema, table.name].map(quoteIdentifier).join('.')}) or describe_table for it.`,
    { details: { objectType: 'view', ...ref, actualType: 'table' } },
  );
}

/**
 * execute_query as a role that may write (`write = true`) is offered it: its statements may change data
 * and objects, so it is neither read-only nor idempotent, and may destroy (a DELETE, a DROP). Clients act
 * on these hints (several run a read-only tool without asking the user), so a writer's listing must not
 * carry the read-only tool's. See tool-listing.ts (WriterListing).
 */
export const WRITER_QUERY_TOOLS: WriterListing = {
  execute_query: {
    title: 'Run a SQL statement (your role may write)',
    description:
      'Run one SQL statement and return its rows. Your role may write: statements that change data or objects (INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, …) ' +
      'run as sent, within your role\'s object rules, and cannot be undone by the hub — confirm a change with the user first. ' +
      'Multiple statements, transactions (BEGIN, COMMIT) and session changes (USE, SET, ALTER SESSION) are refused; pass database/schema to set the context for this call. ' +
      'In the text table, NULL is SQL NULL and \\NULL the string \'NULL\'.',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  },
};

export function registerQueryTools(server: McpServer, env: ToolEnv): void {
  const { limits } = env;
  const limitsKey = JSON.stringify(limits);

  server.registerTool(
    'execute_query',
    {
      title: 'Run a read-only SQL query',
      description:
        'Run one read-only SQL statement (SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN) and return its rows. ' +
        'Writes, multiple statements, USE and session changes are refused; pass database/schema to set the context for this call. ' +
        'In the text table, NULL is SQL NULL and \\NULL the string \'NULL\'.',
      inputSchema: cachedSchema(`execute_query.in.${limitsKey}`, () => z.strictObject({
        query: z.string().min(1).describe('One SQL statement.'),
        database: z.string().min(1).max(255).optional().describe('Database context for this call only.'),
        schema: z.string().min(1).max(255).optional().describe('Schema context for this call only.'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'execute_query', mcp, args, async ({ warehouse, ctx, role, rowCap, noteSql }) => {
      noteSql(args.query);
      // The governed warehouse checks the SQL (read-only, one statement, objects), as for every tool.
      const rows = rowLimit(rowCap, args.limit, limits);
      const result = await warehouse.query(args.query, {
        ...ctx,
        database: args.database === undefined ? undefined : normalizeIdentifier(args.database, 'database name'),
        schema: args.schema === undefined ? undefined : normalizeIdentifier(args.schema, 'schema name'),
        maxRows: rows.cap,
        maxBytes: limits.maxResultBytes,
      });
      return queryResult(result, limits, rows, 0, role);
    }),
  );

  server.registerTool(
    'explain_query',
    {
      title: 'Explain a query without running it',
      description:
        'Show the plan of one read-only query and what the engine estimates it would scan (Snowflake: bytes and micro-partitions after pruning; ' +
        'the embedded warehouse: rows), without running it. Use it before a query that might be large.',
      inputSchema: cachedSchema('explain_query.in', () => z.strictObject({
        query: z.string().min(1).describe('One SQL query.'),
        database: z.string().min(1).max(255).optional().describe('Database context for this call only.'),
        schema: z.string().min(1).max(255).optional().describe('Schema context for this call only.'),
      })),
      outputSchema: cachedSchema('explain_query.out', () => z.object({
        estimate: z.object({ bytes: z.number().nullable(), partitions: z.number().nullable(), partitions_total: z.number().nullable(), rows: z.number().nullable() }),
        operations: z.array(z.object({ operation: z.string(), objects: z.array(z.string()), detail: z.string().nullable() })),
        scan_limit: z.object({ bytes: z.number().nullable(), partitions: z.number().nullable(), rows: z.number().nullable() }).nullable(),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'explain_query', mcp, args, async ({ warehouse, ctx, role, noteSql }) => {
      noteSql(args.query);
      if (startsWithExplain(args.query)) {
        throw new SnowmuxError('INVALID_ARGUMENT', 'The query starts with EXPLAIN: pass the query itself; explain_query adds EXPLAIN (e.g. "SELECT …", not "EXPLAIN SELECT …").');
      }
      if (!warehouse.explain) throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot explain a query without running it.');
      const plan = await warehouse.explain(args.query, {
        ...ctx,
        database: args.database === undefined ? undefined : normalizeIdentifier(args.database, 'database name'),
        schema: args.schema === undefined ? undefined : normalizeIdentifier(args.schema, 'schema name'),
      });
      const e = plan.estimate;
      // Only the limits this engine's estimate can be held to (scan-limit.ts): the others are said to be inert.
      const estimated = ENGINE_SCAN_FIGURES[warehouse.kind];
      const limit = role.scanLimit && {
        bytes: estimated.includes('bytes') ? role.scanLimit.bytes : undefined,
        partitions: estimated.includes('partitions') ? role.scanLimit.partitions : undefined,
        rows: estimated.includes('rows') ? role.scanLimit.rows : undefined,
      };
      const inert = (['bytes', 'partitions', 'rows'] as const).filter((k) => role.scanLimit?.[k] !== undefined && limit?.[k] === undefined).map((k) => `max_scan_${k}`);
      const estimate = { bytes: e.bytes ?? null, partitions: e.partitions ?? null, partitions_total: e.partitionsTotal ?? null, rows: e.rows ?? null };
      const figures = [
        e.bytes !== undefined ? `${formatBytes(e.bytes)}` : '',
        e.partitions !== undefined ? `${e.partitions}${e.partitionsTotal !== undefined ? ` of ${e.partitionsTotal}` : ''} partitions` : '',
        e.rows !== undefined ? `about ${Math.round(e.rows)} rows` : '',
      ].filter(Boolean);
      const limits = limit ? [limit.bytes !== undefined ? `${formatBytes(limit.bytes)}` : '', limit.partitions !== undefined ? `${limit.partitions} partitions` : '', limit.rows !== undefined ? `${limit.rows} rows` : ''].filter(Boolean) : [];
      const table = renderTable(['operation', 'objects', 'detail'], plan.operations.map((o) => [o.operation, o.objects.join(', '), o.detail ?? '']), role);
      const text =
        `Estimated scan: ${figures.join(', ') || 'no estimate from this engine'}.` +
        (limits.length ? ` Your role's per-statement limit: ${limits.join(', ')}.` : '') +
        (inert.length ? ` Your role's ${inert.join(' and ')} ${inert.length === 1 ? 'does' : 'do'} not apply here: ${warehouse.kind === 'duckdb' ? 'the embedded warehouse estimates rows only' : 'Snowflake estimates bytes and partitions, not rows'}.` : '') +
        `\n\n${table}`;
      return {
        content: [{ type: 'text', text }],
        structuredContent: {
          estimate,
          operations: plan.operations.map((o) => ({ operation: o.operation, objects: o.objects, detail: o.detail ?? null })),
          scan_limit: limit ? { bytes: limit.bytes ?? null, partitions: limit.partitions ?? null, rows: limit.rows ?? null } : null,
        },
      };
    }),
  );

  server.registerTool(
    'query_view',
    {
      title: 'Read rows from a view',
      description: 'Return rows from a view (SELECT * with a row limit). A table is refused: read one with execute_query.',
      inputSchema: cachedSchema(`query_view.in.${limitsKey}`, () => z.strictObject({
        database: z.string().min(1).max(255).optional().describe('Database name. Defaults to the hub\'s default database.'),
        view_name: z.string().min(1).max(255).describe('View name, or DATABASE.SCHEMA.NAME.'),
        schema: z.string().min(1).max(255).optional().describe('Schema name. Defaults to the default schema of the database.'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'query_view', mcp, args, async ({ warehouse, lookups, ctx, role, rowCap, noteSql }) => {
      const { database, schema, name } = targetObject(warehouse, { database: args.database, schema: args.schema, name: args.view_name }, 'view name');
      await refuseTable(lookups, { database, schema, name }, ctx);
      const rows = rowLimit(rowCap, args.limit, limits);
      // Identifiers are quoted. The row cap goes into the statement (the row-cap stage): a view can be large.
      const sql = `SELECT * FROM ${quoteIdentifier(database)}.${quoteIdentifier(schema)}.${quoteIdentifier(name)}`;
      noteSql(sql);
      const result = await warehouse.query(sql, { ...ctx, maxRows: rows.cap, maxBytes: limits.maxResultBytes, pushRowCap: true });
      return queryResult(result, limits, rows, 0, role);
    }),
  );

  server.registerTool(
    'fetch_results',
    {
      title: 'Page through a finished result',
      description: 'Fetch more rows of a finished query by its query id (from a truncated result), without running it again.',
      inputSchema: cachedSchema(`fetch_results.in.${limitsKey}`, () => z.strictObject({
        query_id: queryIdArg(200).describe('The query id reported by execute_query or query_view.'),
        offset: z.number().int().min(0).optional().describe('Rows to skip (default 0).'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'fetch_results', mcp, args, async ({ warehouse, ctx, role, rowCap }) => {
      if (!warehouse.fetchResults) throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot page through earlier results.');
      const offset = args.offset ?? 0;
      const rows = rowLimit(rowCap, args.limit, limits);
      const result = await warehouse.fetchResults(args.query_id, { offset, limit: rows.cap, maxBytes: limits.maxResultBytes }, ctx);
      return queryResult(result, limits, rows, offset, role);
    }),
  );
}
