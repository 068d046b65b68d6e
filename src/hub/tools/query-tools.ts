/**
 * Query tools: execute_query (read-only SQL), query_view, and fetch_results (page through a finished
 * result by query id without re-running it).
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { SnowmuxError } from '../../errors.js';
import { normalizeIdentifier, quoteIdentifier } from '../names/identifiers.js';
import { targetDatabase, targetSchema } from './catalog-tools.js';
import { limitArg, queryOutput, queryResult } from './query-shape.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';

export function registerQueryTools(server: McpServer, env: ToolEnv): void {
  const { limits } = env;
  const limitsKey = JSON.stringify(limits);

  server.registerTool(
    'execute_query',
    {
      title: 'Run a read-only SQL query',
      description:
        'Run one read-only SQL statement (SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN) and return its rows. ' +
        'Writes, multiple statements, USE and session changes are refused; pass database/schema to set the context for this call.',
      inputSchema: cachedSchema(`execute_query.in.${limitsKey}`, () => z.object({
        query: z.string().min(1).describe('One SQL statement.'),
        database: z.string().min(1).max(255).optional().describe('Database context for this call only.'),
        schema: z.string().min(1).max(255).optional().describe('Schema context for this call only.'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'execute_query', mcp, args, async ({ warehouse, ctx, rowCap, noteSql }) => {
      noteSql(args.query);
      // The governed warehouse checks the SQL (read-only, one statement, objects), as for every tool.
      const maxRows = rowCap(args.limit);
      const result = await warehouse.query(args.query, {
        ...ctx,
        database: args.database === undefined ? undefined : normalizeIdentifier(args.database, 'database name'),
        schema: args.schema === undefined ? undefined : normalizeIdentifier(args.schema, 'schema name'),
        maxRows,
        maxBytes: limits.maxResultBytes,
      });
      return queryResult(result, limits, maxRows);
    }),
  );

  server.registerTool(
    'query_view',
    {
      title: 'Read rows from a view',
      description: 'Return rows from a view (SELECT * with a row limit).',
      inputSchema: cachedSchema(`query_view.in.${limitsKey}`, () => z.object({
        database: z.string().min(1).max(255).optional().describe('Database name. Defaults to the hub\'s default database.'),
        view_name: z.string().min(1).max(255).describe('View name.'),
        schema: z.string().min(1).max(255).optional().describe('Schema name. Defaults to the default schema of the database.'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'query_view', mcp, args, async ({ warehouse, ctx, rowCap, noteSql }) => {
      const database = targetDatabase(warehouse, args.database);
      const schema = targetSchema(warehouse, database, args.schema);
      const name = normalizeIdentifier(args.view_name, 'view name');
      const maxRows = rowCap(args.limit);
      // Identifiers are quoted; the limit is an integer validated by the schema, and maxRows caps reading anyway.
      const sql = `SELECT * FROM ${quoteIdentifier(database)}.${quoteIdentifier(schema)}.${quoteIdentifier(name)} LIMIT ${maxRows + 1}`;
      noteSql(sql);
      const result = await warehouse.query(sql, { ...ctx, maxRows, maxBytes: limits.maxResultBytes });
      return queryResult(result, limits, maxRows);
    }),
  );

  server.registerTool(
    'fetch_results',
    {
      title: 'Page through a finished result',
      description: 'Fetch more rows of a finished query by its query id (from a truncated result), without running it again.',
      inputSchema: cachedSchema(`fetch_results.in.${limitsKey}`, () => z.object({
        query_id: z.string().min(1).max(200).describe('The query id reported by execute_query or query_view.'),
        offset: z.number().int().min(0).optional().describe('Rows to skip (default 0).'),
        limit: limitArg(limits),
      })),
      outputSchema: queryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, mcp) => runTool(env, 'fetch_results', mcp, args, async ({ warehouse, ctx, rowCap }) => {
      if (!warehouse.fetchResults) throw new SnowmuxError('UNSUPPORTED', 'This warehouse cannot page through earlier results.');
      const offset = args.offset ?? 0;
      const limit = rowCap(args.limit);
      const result = await warehouse.fetchResults(args.query_id, { offset, limit, maxBytes: limits.maxResultBytes }, ctx);
      return queryResult(result, limits, limit, offset);
    }),
  );
}
