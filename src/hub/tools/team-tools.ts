/**
 * Team-defined tools: `[tools.<name>]` in config.toml turns one parameterized statement into a tool. The
 * statement is checked once, when the config loads: one read-only statement (for both engines' lexers),
 * with exactly one `?` placeholder per declared parameter and no other variables. At call time the
 * arguments are bound, never interpolated, and the call goes through runTool like every tool: the
 * caller's role must list the tool, its object rules apply to the statement, and the call is audited.
 */
import * as z from 'zod';
import type { McpServer } from '@modelcontextprotocol/server';
import { SnowmuxError } from '../../errors.js';
import type { TeamToolParam, TeamToolSettings } from '../config/config-schema.js';
import { checkSql } from '../guard/sql/classifier.js';
import { tokenize } from '../guard/sql/lexer.js';
import { queryResult, queryOutput, limitArg, rowLimit } from './query-shape.js';
import { cachedSchema } from './schema-cache.js';
import { runTool, type TeamTool, type ToolEnv } from './tool-runtime.js';

export type { TeamTool } from './tool-runtime.js';

/**
 * Tool names snowmux itself registers (test/e2e/tools.test.ts checks this list against a live listing, and
 * test/integration/http-every-tool.test.ts calls each over /mcp): a
 * team tool may not take one, and a role's `tools` entries must name one of these or a team tool.
 */
export const BUILTIN_TOOL_NAMES: ReadonlySet<string> = new Set([
  'list_databases', 'list_schemas', 'list_tables', 'list_views', 'describe_table', 'describe_view',
  'execute_query', 'explain_query', 'query_view', 'fetch_results', 'search_objects',
  'query_history', 'query_profile', 'cortex_analyst', 'cortex_search',
]);

/** Checks every team tool; throws CONFIG_INVALID listing each problem with its key. */
export function compileTeamTools(tools: Record<string, TeamToolSettings>, file: string): TeamTool[] {
  const problems: string[] = [];
  const out: TeamTool[] = [];
  for (const [name, t] of Object.entries(tools)) {
    const where = `Config error in ${file} at tools.${name}`;
    if (BUILTIN_TOOL_NAMES.has(name)) {
      problems.push(`${where}: "${name}" is a built-in tool; choose another name.`);
      continue;
    }
    const names = t.params.map((p) => p.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) problems.push(`${where}.params: "${dup}" is declared twice.`);
    // Every team tool also takes the row cap `limit`, which would silently take this parameter's place.
    if (names.includes('limit')) problems.push(`${where}.params: "limit" is the row cap every team tool takes; give the parameter another name (e.g. "max_value").`);
    for (const dialect of ['snowflake', 'duckdb'] as const) {
      const verdict = checkSql(t.sql, { allowWrite: false, dialect });
      if (!verdict.allowed) {
        problems.push(`${where}.sql: ${verdict.message} A team tool runs one read-only statement.`);
        break;
      }
      const { tokens } = tokenize(t.sql, { dialect });
      const variables = tokens.filter((tok) => tok.kind === 'variable');
      const other = variables.find((v) => v.text !== '?');
      if (other) {
        problems.push(`${where}.sql: "${other.text}" is not a bind placeholder; use one "?" per parameter, in the order of [[tools.${name}.params]].`);
        break;
      }
      if (variables.length !== t.params.length) {
        problems.push(`${where}.sql: it has ${variables.length} "?" placeholder(s) for ${t.params.length} declared parameter(s); they must match, in order.`);
        break;
      }
    }
    out.push({ name, description: t.description, sql: t.sql, params: t.params });
  }
  if (problems.length > 0) throw new SnowmuxError('CONFIG_INVALID', problems.join('\n'), { details: { path: file } });
  return out;
}

function paramSchema(p: TeamToolParam) {
  const base = p.type === 'string' ? z.string().max(10_000) : p.type === 'integer' ? z.number().int() : p.type === 'number' ? z.number() : z.boolean();
  const described = base.describe(p.description);
  return p.required ? described : described.optional();
}

export function registerTeamTools(server: McpServer, env: ToolEnv, tools: readonly TeamTool[]): void {
  const { limits } = env;
  for (const tool of tools) {
    const inputSchema = cachedSchema(`team.${JSON.stringify([tool, limits])}`, () => {
      const shape: Record<string, z.ZodType> = Object.fromEntries(tool.params.map((p) => [p.name, paramSchema(p)]));
      shape.limit = limitArg(limits);
      return z.strictObject(shape);
    });
    server.registerTool(
      tool.name,
      {
        title: tool.name,
        description: `${tool.description} (a team-defined query; read-only)`,
        inputSchema,
        outputSchema: queryOutput,
        annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      (args, mcp) => runTool(env, tool.name, mcp, args as Record<string, unknown>, async ({ warehouse, ctx, role, rowCap, noteSql }) => {
        const values = args as Record<string, unknown>;
        // Bound by position, never interpolated: a value is data whatever it contains.
        const binds = tool.params.map((p) => (values[p.name] === undefined ? null : (values[p.name] as string | number | boolean)));
        noteSql(tool.sql);
        const rows = rowLimit(rowCap, values.limit as number | undefined, limits);
        const result = await warehouse.query(tool.sql, { ...ctx, maxRows: rows.cap, maxBytes: limits.maxResultBytes, binds });
        return queryResult(result, limits, rows, 0, role);
      }),
    );
  }
}
