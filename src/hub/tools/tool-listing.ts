/**
 * `tools/list` from one listing per tool set. The SDK converts every tool's zod schemas to JSON Schema on
 * each `tools/list` (about 70% of the hub's cost per listing); the tools a session gets depend only on the
 * hub's limits (they appear in the schemas), so the first listing for a key is kept for the process and
 * every session with the same key is served a copy of it.
 */
import type { McpServer, ServerContext } from '@modelcontextprotocol/server';
import { serializeOnce } from '../session/serialized-once.js';

type ListToolsResult = { tools: unknown[]; [k: string]: unknown };
type Handler = (request: unknown, ctx: ServerContext) => Promise<ListToolsResult>;

const listings = new Map<string, Promise<ListToolsResult>>();

/** Where a tool declares the engines that can serve it (absent: every engine). */
const ENGINES_META_KEY = 'dev.snowmux/engines';

type Engine = 'duckdb' | 'snowflake';

/**
 * A tool's `_meta` for tools only Snowflake serves (Cortex, operator statistics): a session whose
 * warehouse is the embedded DuckDB is not offered them — a model should not spend a call learning that
 * they cannot work. The declaration lives with the tool, so a new tool needs no list kept elsewhere.
 */
export const SNOWFLAKE_ONLY = { [ENGINES_META_KEY]: ['snowflake'] } as const;

/** Whether a listed tool is offered to a session on `engine` (every tool when the engine is unknown: its calls say why). */
export function offeredOn(tool: { _meta?: Record<string, unknown> | undefined }, engine: Engine | undefined): boolean {
  const engines = tool._meta?.[ENGINES_META_KEY];
  return engine === undefined || !Array.isArray(engines) || engines.includes(engine);
}

/**
 * Replaces the SDK's `tools/list` handler of `server` (call after registering every tool) with one that
 * asks the SDK's handler once per `key` and serves that listing afterwards. `engine`, asked at each
 * listing, is where the session's calls would run now: tools that declare other engines (SNOWFLAKE_ONLY)
 * are left out of its listing; they stay callable, and say what they need when called.
 */
export function serveToolListingOnce(server: McpServer, key: string, engine: () => Engine | undefined = () => undefined): void {
  const inner = server.server as unknown as {
    _getRequestHandler(method: string): Handler | undefined;
    removeRequestHandler(method: string): void;
  };
  const sdkHandler = inner._getRequestHandler('tools/list');
  if (!sdkHandler) throw new Error('serveToolListingOnce: the server has no tools/list handler (register tools first)');
  inner.removeRequestHandler('tools/list');
  server.server.setRequestHandler('tools/list', async (request, ctx) => {
    const on = engine();
    // Concatenated, not stringified again: `key` is long (the limits and team tools) and this runs per listing.
    const listingKey = `${on ?? 'any'}\u0000${key}`;
    let listing = listings.get(listingKey);
    if (!listing) {
      // Serialised once too: every session with this key is answered with the same text.
      listing = sdkHandler({ method: 'tools/list', params: request.params ?? {} }, ctx).then((first) => ({
        ...first,
        tools: serializeOnce(first.tools.filter((t) => offeredOn(t as { _meta?: Record<string, unknown> }, on))),
      }));
      listings.set(listingKey, listing);
      listing.catch(() => listings.delete(listingKey));
    }
    // A fresh top-level object per answer: the protocol layer may add `_meta` (cache hints, server info)
    // for one era and must not leak it into another session's answer. The tool definitions are shared.
    const { tools } = await listing;
    return { tools } as never;
  });
}

/** For tests: forget every listing (the next `tools/list` asks the SDK again). */
export function forgetToolListings(): void {
  listings.clear();
}
