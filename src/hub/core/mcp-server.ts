/**
 * The MCP server for one session: the same factory serves 2025-era and 2026-07-28 clients.
 * Pools and other shared things live outside it (in ToolEnv's providers), so a factory call is cheap.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { VERSION } from '../../version.js';
import { registerCatalogTools } from '../tools/catalog-tools.js';
import { registerQueryTools } from '../tools/query-tools.js';
import { recordRefusedCalls } from '../tools/refused-calls.js';
import { serveToolListingOnce, toolsTheEngineLacks } from '../tools/tool-listing.js';
import { registerTeamTools } from '../tools/team-tools.js';
import { registerObjectResources } from '../tools/object-resources.js';
import { registerSearchObjects } from '../tools/search-objects.js';
import { registerDiagnosticTools } from '../tools/diagnostic-tools.js';
import { registerCortexTools } from '../tools/cortex-tools.js';
import type { ToolEnv } from '../tools/tool-runtime.js';
import { offerTextOnly } from '../tools/text-only-tools.js';

const INSTRUCTIONS = `snowmux serves a Snowflake-style warehouse through read-only tools.
Explore with list_databases, list_schemas, list_tables, list_views, describe_table and describe_view; query with execute_query (one read-only statement per call; pass database/schema instead of USE). Large results are truncated: narrow the query, or page on with fetch_results(query_id, offset).`;

export function createMcpServer(env: ToolEnv): McpServer {
  const server = new McpServer(
    { name: 'snowmux', version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );
  // A role that takes its results as text gets tools without output schemas (see text-only-tools.ts).
  const form = env.pipeline.resultFormOf(env.session);
  if (form === 'text') offerTextOnly(server);
  registerCatalogTools(server, env);
  registerQueryTools(server, env);
  registerSearchObjects(server, env);
  registerDiagnosticTools(server, env);
  registerCortexTools(server, env);
  registerTeamTools(server, env, env.teamTools ?? []);
  registerObjectResources(server, env);
  // The schemas embed the hub's limits and the team's tools, and a text-only role's listing has none. The
  // engine is asked at each listing (by then the client has named itself, and a role may match by client).
  serveToolListingOnce(server, JSON.stringify([env.limits, env.teamTools ?? [], form === 'text']), () => toolsTheEngineLacks(env.pipeline.engineOf(env.session)));
  recordRefusedCalls(server, env);
  return server;
}
