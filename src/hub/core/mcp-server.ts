/**
 * The MCP server for one session: the same factory serves 2025-era and 2026-07-28 clients.
 * Pools and other shared things live outside it (in ToolEnv's providers), so a factory call is cheap.
 */
import { McpServer, ProtocolError, ProtocolErrorCode, type ServerOptions } from '@modelcontextprotocol/server';
import { VERSION } from '../../version.js';
import { registerCatalogTools } from '../tools/catalog-tools.js';
import { WRITER_QUERY_TOOLS, registerQueryTools } from '../tools/query-tools.js';
import { shownName } from '../../shown-text.js';
import { recordRefusedCalls } from '../tools/refused-calls.js';
import { explainNotFound } from './not-found-hints.js';
import { serveToolListingOnce } from '../tools/tool-listing.js';
import { registerTeamTools } from '../tools/team-tools.js';
import { registerObjectResources } from '../tools/object-resources.js';
import { registerSearchObjects } from '../tools/search-objects.js';
import { registerDiagnosticTools } from '../tools/diagnostic-tools.js';
import { registerCortexTools } from '../tools/cortex-tools.js';
import type { ToolEnv } from '../tools/tool-runtime.js';
import { dropStructuredContentFor, listEntriesFor, offerTextOnly } from '../tools/text-only-tools.js';
import { capabilitiesFor, readsStructuredContent } from '../session/protocol-revision.js';
import { wrapSdkHandler } from '../tools/sdk-handler.js';

// Said before the client names itself, so before its role is known: what execute_query may run is the
// role's, and the tool's own listing (description, annotations) says it for this session.
const INSTRUCTIONS = `snowmux serves a Snowflake-style warehouse through governed tools.
Explore with list_databases, list_schemas, list_tables, list_views, describe_table and describe_view; query with execute_query (one statement per call, read-only unless your role may write, as its description says; pass database/schema instead of USE). Large results are truncated: narrow the query, or page on with fetch_results(query_id, offset).`;

/**
 * How long a 2026-07-28 client may keep a tools/list, prompts/list or server/discover answer. The tool
 * listing depends on the caller's role (the tools it grants, its result form, its profile's engine), and
 * `snowmux reload` changes roles without dropping sessions. Clients are told (notifications/tools/list_changed:
 * sessions that live with their link when their offer changed, 2026-07-28 HTTP listeners after any change
 * of roles, see http-face); for one that does not listen, a minute bounds how long it may go on with a
 * listing a reload made stale. A stale listing grants nothing (every call is judged against the current
 * role), so a bound rather than 0 (which makes a client ask before every use).
 */
const LISTING_TTL_MS = 60_000;

/**
 * The cache hints of the 2026-07-28 revision (the SDK stamps them on modern answers only; 2025-era answers
 * carry none). Every answer here depends on the caller (its role decides the listing and which objects a
 * read may show), so `private` throughout. Resources are the warehouse's metadata, which the hub itself
 * shares for limits.metadata_cache_ttl: a client may keep them as long (0 when that cache is off).
 */
function cacheHints(env: ToolEnv): NonNullable<ServerOptions['cacheHints']> {
  const listing = { ttlMs: LISTING_TTL_MS, cacheScope: 'private' } as const;
  const metadata = { ttlMs: env.pipeline.metadataCacheTtlMs(), cacheScope: 'private' } as const;
  return {
    'tools/list': listing,
    'prompts/list': listing,
    'server/discover': listing,
    'resources/list': metadata,
    'resources/templates/list': metadata,
    'resources/read': metadata,
  };
}

/** When each session was last served by a server whose tools declare output schemas. */
const schemasOfferedAt = new WeakMap<ToolEnv['session'], number>();

export interface McpServerOptions {
  /**
   * The server lives as long as its session (a socket link, a 2025-era HTTP session), so it can tell its
   * client when a reload changed the tools it offers (notifications/tools/list_changed). Off for servers
   * made per request (the 2026-07-28 HTTP era): they end with their answer; http-face tells that era's
   * subscriptions/listen streams instead.
   */
  announceListChanges?: boolean;
}

/**
 * The SDK answers a method nobody handles with a bare "Method not found"; a client (or the person reading
 * its log) should see which of its requests it was and what this server does serve. The name is the
 * client's own text, shown as an unknown tool's is (quoted, cut short, invisible characters escaped).
 */
async function unknownMethod(request: { method: string }): Promise<never> {
  throw new ProtocolError(
    ProtocolErrorCode.MethodNotFound,
    `Method not found: ${shownName(request.method)} is not an MCP method this server serves (it serves tools, resources, prompts and completions: tools/list, tools/call, resources/list, resources/templates/list, resources/read, prompts/list, prompts/get, completion/complete, ping; and by protocol version, initialize up to 2025-11-25, or server/discover and subscriptions/listen in 2026-07-28).`,
  );
}

export function createMcpServer(env: ToolEnv, options: McpServerOptions = {}): McpServer {
  const server = new McpServer(
    { name: 'snowmux', version: VERSION },
    {
      // The resource template and the prompt are fixed for the hub's life: advertising listChanged (the SDK's
      // default) would have clients wait on, and 2026-07-28 listens subscribe to, notifications never sent.
      capabilities: { tools: {}, resources: { listChanged: false }, prompts: { listChanged: false } },
      instructions: INSTRUCTIONS,
      cacheHints: cacheHints(env),
    },
  );
  // A role that takes its results as text gets tools without output schemas (see text-only-tools.ts). A
  // reload can switch a role to text while a 2026-07-28 client (a server per request) holds a listing with
  // output schemas for up to LISTING_TTL_MS: until then its results keep their structured content.
  const form = env.pipeline.resultFormOf(env.session);
  if (form === 'text') offerTextOnly(server, { keepStructuredContent: performance.now() - (schemasOfferedAt.get(env.session) ?? -Infinity) < LISTING_TTL_MS });
  else schemasOfferedAt.set(env.session, performance.now());
  registerCatalogTools(server, env);
  registerQueryTools(server, env);
  registerSearchObjects(server, env);
  registerDiagnosticTools(server, env);
  registerCortexTools(server, env);
  registerTeamTools(server, env, env.teamTools ?? []);
  registerObjectResources(server, env);
  // The schemas embed the hub's limits and the team's tools, and a text-only role's listing has none. What
  // the session is offered is asked at each listing (by then the client has named itself, and a role may
  // match by client): the tools its role grants, on its engine.
  const listing = serveToolListingOnce(server, JSON.stringify([env.limits, env.teamTools ?? [], form === 'text']), {
    engine: () => env.pipeline.engineOf(env.session),
    grants: () => env.pipeline.toolGrantsOf(env.session),
    // A role that may write is offered execute_query as what it is for that role (not read-only).
    writes: () => env.pipeline.writesOf(env.session),
    // A client of a revision before 2025-06-18 is offered what its revision defines (no output schemas).
    revision: () => env.session.protocolVersion,
  }, WRITER_QUERY_TOOLS);
  recordRefusedCalls(server, env);
  explainNotFound(server);
  // Asked per call: over a socket or stdio this server exists before initialize names the revision.
  dropStructuredContentFor(server, () => readsStructuredContent(env.session.protocolVersion));
  listEntriesFor(server, () => env.session.protocolVersion);
  // The SDK answers every revision with the capabilities of the latest (completions, for the prompt's and
  // the template's arguments); the revision the client gets is the one its answer says.
  wrapSdkHandler<{ protocolVersion: string; capabilities: Record<string, unknown> }>(server, 'initialize', (sdkHandler) => async (request, ctx) => {
    const result = await sdkHandler(request, ctx);
    return { ...result, capabilities: capabilitiesFor(result.protocolVersion, result.capabilities) };
  });
  server.server.fallbackRequestHandler = unknownMethod;
  // The SDK advertises tools.listChanged: this is what makes it true.
  if (options.announceListChanges) {
    env.afterReload?.(() => {
      // The SDK's McpServer.sendToolListChanged drops the promise: a link closing meanwhile would reject unheard.
      if (server.isConnected() && listing.changedSinceListed()) server.server.sendToolListChanged().catch(() => {});
    });
  }
  return server;
}
