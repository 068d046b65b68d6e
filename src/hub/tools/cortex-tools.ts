/**
 * Cortex tools (Snowflake only): cortex_analyst asks Cortex Analyst a question over a semantic view or a
 * semantic model file and runs the SQL it generates as a read-only query — through the same statement
 * rules as execute_query, whatever the role may otherwise write; cortex_search queries a Cortex Search
 * service. Both use the hub's existing Snowflake session (no second login, no credential to the client),
 * and the role's object rules decide which views, stages and services a caller may use.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { SnowmuxError, isSnowmuxError } from '../../errors.js';
import { parseStagedFile } from '../names/staged-file.js';
import { describeLimit, describeWindow } from '../guard/quota.js';
import type { AnalystTurn, JsonValue, SearchReply } from '../warehouse/types.js';
import { targetDatabase, targetObject, targetSchema } from './catalog-tools.js';
import { limitArg, queryOutput, queryResult, rowLimit } from './query-shape.js';
import { renderTable } from './result-format.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type ToolEnv } from './tool-runtime.js';
import { SNOWFLAKE_ONLY } from './tool-listing.js';

const SEARCH_MAX_RESULTS = 1000;

export function registerCortexTools(server: McpServer, env: ToolEnv): void {
  const { limits } = env;
  const limitsKey = JSON.stringify(limits);

  server.registerTool(
    'cortex_analyst',
    {
      title: 'Ask Cortex Analyst',
      description:
        'Snowflake only. Ask a question in plain language over a semantic view (or a semantic model file on a stage); Cortex Analyst ' +
        'answers with SQL, which runs here as one read-only query under your role\'s rules. Pass run=false to get the SQL without running it.',
      inputSchema: cachedSchema(`cortex_analyst.in.${limitsKey}`, () => z.strictObject({
        question: z.string().min(1).max(8000).describe('The question, in plain language.'),
        history: z
          .array(z.object({ role: z.enum(['user', 'analyst']), text: z.string().max(8000), sql: z.string().max(100_000).optional() }))
          .max(20)
          .optional()
          .describe('Earlier turns of this conversation, oldest first (your questions, and the answer text and sql Cortex Analyst gave), so a follow-up question is read in context. Turns alternate, starting with yours.'),
        semantic_view: z.string().min(1).max(255).optional().describe('The semantic view to ask: its name, or DATABASE.SCHEMA.NAME (database and schema default as for describe_table).'),
        semantic_model_file: z.string().min(2).max(1024).optional().describe('Instead of a view: a semantic model YAML on a stage, e.g. @DB.SCHEMA.STAGE/model.yaml.'),
        database: z.string().min(1).max(255).optional().describe('Database of the semantic view. Defaults to the hub\'s default database.'),
        schema: z.string().min(1).max(255).optional().describe('Schema of the semantic view. Defaults to the default schema of the database.'),
        run: z.boolean().optional().describe('Run the generated SQL (default true).'),
        limit: limitArg(limits),
      })),
      outputSchema: cachedSchema('cortex_analyst.out', () => z.object({
        answer: z.string(),
        sql: z.string().nullable(),
        suggestions: z.array(z.string()),
        warnings: z.array(z.string()),
        verified_query: z.string().nullable(),
        request_id: z.string().nullable(),
        result: queryOutput.nullable(),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      _meta: SNOWFLAKE_ONLY,
    },
    (args, mcp) => runTool(env, 'cortex_analyst', mcp, args, async ({ warehouse, ctx, role, rowCap, noteSql }) => {
      if ((args.semantic_view === undefined) === (args.semantic_model_file === undefined)) {
        throw new SnowmuxError('INVALID_ARGUMENT', 'Pass exactly one of semantic_view and semantic_model_file.');
      }
      const database = targetDatabase(warehouse, args.database);
      const schema = targetSchema(warehouse, database, args.schema);
      // The governed warehouse always has it; its execute stage says so when the engine (DuckDB) has no Cortex.
      // A semantic view may be named DB.SCHEMA.VIEW, as describe_table takes a table (one literal name before).
      const reply = await warehouse.cortexAnalyst!(
        args.semantic_view !== undefined
          ? { question: args.question, history: turns(args.history), semanticView: targetObject(warehouse, { database: args.database, schema: args.schema, name: args.semantic_view }, 'semantic view name') }
          : { question: args.question, history: turns(args.history), semanticModelFile: parseStagedFile(args.semantic_model_file!, { database, schema }, 'semantic model file') },
        ctx,
      );
      const answer = {
        answer: reply.text,
        sql: reply.sql ?? null,
        suggestions: reply.suggestions,
        warnings: reply.warnings,
        verified_query: reply.verifiedQuery ?? null,
        request_id: reply.requestId ?? null,
      };
      const parts = [reply.text || '(Cortex Analyst gave no explanation.)'];
      if (reply.warnings.length > 0) parts.push(`Warnings:\n${reply.warnings.map((w) => `- ${w}`).join('\n')}`);
      if (reply.suggestions.length > 0) parts.push(`Cortex Analyst suggests asking instead:\n${reply.suggestions.map((s) => `- ${s}`).join('\n')}`);
      if (reply.sql === undefined) return { content: [{ type: 'text', text: parts.join('\n\n') }], structuredContent: { ...answer, result: null } };
      parts.push(`SQL:\n${reply.sql}`);
      if (args.run === false) {
        parts.push(`Not run (run=false). ${role.toolAllowed('execute_query') ? 'Run it with execute_query, or ask' : 'Ask'} again with run=true.`);
        return { content: [{ type: 'text', text: parts.join('\n\n') }], structuredContent: { ...answer, result: null } };
      }
      noteSql(reply.sql);
      const rows = rowLimit(rowCap, args.limit, limits);
      // Generated SQL is judged read-only whatever the role may write, and passes every statement rule.
      let result;
      try {
        result = await warehouse.query(reply.sql, { ...ctx, maxRows: rows.cap, maxBytes: limits.maxResultBytes, readOnly: true });
      } catch (err) {
        // The caller should still see what Cortex Analyst proposed, and why it did not run.
        if (!isSnowmuxError(err) || err.code === 'QUERY_CANCELLED') throw err;
        throw new SnowmuxError(err.code, `Cortex Analyst answered with SQL that did not run here: ${err.message}\n\nSQL:\n${reply.sql}`, { cause: err, details: err.details });
      }
      const shaped = queryResult(result, limits, rows, 0, role);
      const shown = shaped.content[0]?.type === 'text' ? shaped.content[0].text : '';
      parts.push(shown);
      return { content: [{ type: 'text', text: parts.join('\n\n') }], structuredContent: { ...answer, result: shaped.structuredContent as z.infer<typeof queryOutput> } };
    }),
  );

  server.registerTool(
    'cortex_search',
    {
      title: 'Query a Cortex Search service',
      description:
        'Snowflake only. Search a Cortex Search service (hybrid vector and keyword search over text) and return the best-matching rows, ' +
        'with the columns you ask for. Filters use Cortex Search syntax, e.g. {"@eq": {"REGION": "EU"}}.',
      inputSchema: cachedSchema(`cortex_search.in.${limitsKey}`, () => z.strictObject({
        service: z.string().min(1).max(255).describe('The Cortex Search service name, or DATABASE.SCHEMA.NAME.'),
        query: z.string().min(1).max(8000).describe('What to search for.'),
        columns: z.array(z.string().min(1).max(255)).max(100).optional().describe('Columns to return (the search column and attributes); default: the service\'s.'),
        filter: z.record(z.string(), z.unknown()).optional().describe('A Cortex Search filter object (@eq, @contains, @gte, @lte, @and, @or, @not).'),
        database: z.string().min(1).max(255).optional().describe('Database of the service. Defaults to the hub\'s default database.'),
        schema: z.string().min(1).max(255).optional().describe('Schema of the service. Defaults to the default schema of the database.'),
        limit: z.number().int().min(1).max(Math.min(SEARCH_MAX_RESULTS, limits.maxRowsCeiling)).optional().describe('How many results (default 10).'),
      })),
      outputSchema: cachedSchema('cortex_search.out', () => z.object({
        service: z.string(),
        results: z.array(z.record(z.string(), z.unknown())),
        truncated: z.boolean(),
        request_id: z.string().nullable(),
      })),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      _meta: SNOWFLAKE_ONLY,
    },
    (args, mcp) => runTool(env, 'cortex_search', mcp, args, async ({ warehouse, ctx, role, rowCap }) => {
      // DB.SCHEMA.SERVICE is read as three names, as describe_table reads a table's (it was one literal name).
      const service = targetObject(warehouse, { database: args.database, schema: args.schema, name: args.service }, 'Cortex Search service name');
      const { database, schema } = service;
      const limit = Math.min(rowCap(args.limit ?? 10), SEARCH_MAX_RESULTS);
      const reply = await warehouse.cortexSearch!(
        service,
        { query: args.query, columns: args.columns ?? [], filter: args.filter as JsonValue | undefined, limit },
        ctx,
      );
      const { rows, truncated } = withinBytes(reply.results.slice(0, limit), limits.maxResultBytes);
      const name = `${database}.${schema}.${service.name}`;
      const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const table = rows.length === 0 ? `No results from ${name}.` : renderTable(columns, rows.map((r) => columns.map((c) => cell(r[c]))), role);
      const notice = truncated
        ? `\n\nOnly the first ${rows.length} result(s) fit in ${limits.maxResultBytes} bytes; ask for fewer columns or a smaller limit.`
        : reply.quotaCut !== undefined
          ? `\n\n${quotaNotice(reply.quotaCut)}`
          : '';
      return {
        content: [{ type: 'text', text: `${table}\n\n${rows.length} result(s) from ${name}.${notice}` }],
        structuredContent: { service: name, results: rows, truncated, request_id: reply.requestId ?? null },
      };
    }),
  );
}

/** The leading results whose JSON fits the hub's result size, counted as every result cap counts rows: each one's JSON, summed. */
function withinBytes(results: Record<string, JsonValue>[], maxBytes: number): { rows: Record<string, JsonValue>[]; truncated: boolean } {
  let size = 0;
  for (let i = 0; i < results.length; i++) {
    size += Buffer.byteLength(JSON.stringify(results[i]));
    if (size > maxBytes) return { rows: results.slice(0, i), truncated: true };
  }
  return { rows: results, truncated: false };
}

/** The identity's `rows` or `bytes` quota had less left than the search would have returned: say so, and when it refills. */
function quotaNotice(quota: NonNullable<SearchReply['quotaCut']>): string {
  const left = quota.metric === 'rows' ? `${quota.left} row${quota.left === 1 ? '' : 's'}` : `${quota.left} bytes`;
  return `Results cut: your quota had ${left} left (${describeLimit(quota.metric, quota.limit)} ${describeWindow(quota.windowMs)}), and the search was cut there. ` +
    `The quota refills at ${quota.resetsAt}. Ask for fewer columns or a smaller limit to spend it on the results you need.`;
}

function cell(value: JsonValue | undefined): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'object' ? JSON.stringify(value) : value;
}

/** Earlier turns as Cortex Analyst wants them: alternating, starting with the user's, ending with the analyst's. */
function turns(history: { role: 'user' | 'analyst'; text: string; sql?: string | undefined }[] | undefined): AnalystTurn[] | undefined {
  if (!history || history.length === 0) return undefined;
  history.forEach((turn, i) => {
    if (turn.role !== (i % 2 === 0 ? 'user' : 'analyst')) {
      throw new SnowmuxError('INVALID_ARGUMENT', `history[${i}] should be the ${i % 2 === 0 ? 'user' : 'analyst'}'s turn: turns alternate, starting with yours and ending with Cortex Analyst's answer.`);
    }
  });
  if (history.length % 2 !== 0) throw new SnowmuxError('INVALID_ARGUMENT', 'history ends with your question: add Cortex Analyst\'s answer to it, or leave that question out.');
  return history.map((t) => ({ role: t.role, text: t.text, ...(t.sql === undefined ? {} : { sql: t.sql }) }));
}
