/**
 * For roles with `result_form = "text"`: every tool this server registers is offered without an output
 * schema and answers with its text alone. The protocol requires structured content from a tool that
 * declares an output schema, so a text-only answer needs a listing without them; clients that bill both
 * forms then pay once, for the table they read. Must run before any tool is registered. With
 * `keepStructuredContent` the listing still has no output schemas but results keep their structured
 * content: for a client that may hold an earlier listing that had them (see createMcpServer).
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { wrapSdkHandler } from './sdk-handler.js';
import { entriesFor } from '../session/protocol-revision.js';

export function offerTextOnly(server: McpServer, options: { keepStructuredContent?: boolean } = {}): void {
  const register = server.registerTool.bind(server);
  const textOnly = ((name: string, config: { outputSchema?: unknown }, handler: (...args: unknown[]) => Promise<{ structuredContent?: unknown }>) =>
    register(name, { ...config, outputSchema: undefined } as never, (async (...args: unknown[]) => {
      const result = await handler(...args);
      // A client that may still hold a listing with output schemas must get structured content (the
      // protocol requires it of a tool that declares one; the SDK client throws without it).
      if (options.keepStructuredContent) return result;
      const { structuredContent: _dropped, ...text } = result;
      return text;
    }) as never)) as unknown as McpServer['registerTool'];
  server.registerTool = textOnly;
}

/**
 * For a session whose protocol revision reads no structured content (before 2025-06-18, see
 * session/protocol-revision.ts; asked per call, as over a socket the server exists before `initialize`
 * names the revision): its tool results leave without structuredContent, after the SDK checked it against
 * the tool's output schema. Its listing has no output schemas (tool-listing.ts), and its results' text
 * carries what the structured content did (whole table cells: the call pipeline shapes them as text).
 * Call after every other wrapper of tools/call.
 */
export function dropStructuredContentFor(server: McpServer, readsStructuredContent: () => boolean): void {
  wrapSdkHandler(server, 'tools/call', (sdkHandler) => async (request, ctx) => {
    const result = await sdkHandler(request, ctx);
    if (readsStructuredContent() || !Object.hasOwn(result, 'structuredContent')) return result;
    const { structuredContent: _dropped, ...text } = result;
    return text;
  });
}

/** Listings besides tools/list whose entries carry members later revisions added (see entriesFor). */
const ENTRY_LISTINGS = [['prompts/list', 'prompts'], ['resources/list', 'resources'], ['resources/templates/list', 'resourceTemplates']] as const;

/**
 * A client of a revision before 2025-06-18 is listed prompts and resources with the members its revision
 * defines (no `title`, `icons`), as its tools are (tool-listing.ts). Asked per request, as the revision is.
 */
export function listEntriesFor(server: McpServer, revision: () => string | null): void {
  for (const [method, key] of ENTRY_LISTINGS) {
    wrapSdkHandler(server, method, (sdkHandler) => async (request, ctx) => entriesFor(revision(), await sdkHandler(request, ctx), key));
  }
}
