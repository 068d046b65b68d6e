/**
 * `tools/list` from one listing per tool set. The SDK converts every tool's zod schemas to JSON Schema on
 * each `tools/list` (about 70% of the hub's cost per listing); the tools a server registers depend only on
 * the hub's limits and team tools (they appear in the schemas), so the SDK is asked once per key and the
 * answer kept for the process. A session is offered the part of it that is its own: the tools its role
 * grants, on the engine its calls run on. Each such selection is serialised once too.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import { serializeOnce } from '../session/serialized-once.js';
import { wrapSdkHandler } from './sdk-handler.js';
import { toolMembersOf } from '../session/protocol-revision.js';

type ListedTool = { name: string; _meta?: Record<string, unknown> | undefined; [k: string]: unknown };
type ListToolsResult = { tools: ListedTool[]; [k: string]: unknown };

/** Per key, every tool the SDK lists. */
const listings = new Map<string, Promise<readonly ListedTool[]>>();
/** Per key and selection, the tools offered (registered with serializeOnce): as many as distinct offers the roles and engines make. */
const selections = new Map<string, ListedTool[]>();

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

/** What decides, at each listing, which of the registered tools a session is offered. */
export interface ListingView {
  /** Where the session's calls would run now; tools declaring other engines (SNOWFLAKE_ONLY) are left out. */
  engine(): Engine | undefined;
  /** What the session's role grants now (resolved once per listing); tools it does not are left out. */
  grants(): (tool: string) => boolean;
  /**
   * Whether the session's role may write (`write = true`): a tool whose statements the role decides is
   * then offered as its `asWriter` entry says (annotations, description), not as the read-only tool it is
   * for every other role. Absent: no role writes.
   */
  writes?(): boolean;
  /**
   * The protocol revision the session negotiated (null: not yet known). A client of a revision before
   * 2025-06-18 is offered each tool with the members its revision defines (no outputSchema, title or
   * _meta; before 2025-03-26 no annotations either): see session/protocol-revision.ts. Absent: the latest.
   */
  revision?(): string | null;
}

/**
 * How a tool is offered to a role that may write, where that differs from its registration (which is what
 * read-only roles are offered): clients act on the annotations — several run a tool marked
 * `readOnlyHint: true` without asking the user — so they must be true of what the tool does for this role.
 */
export type WriterListing = Readonly<Record<string, { title: string; description: string; annotations: Record<string, boolean> }>>;

const EVERYTHING: ListingView = { engine: () => undefined, grants: () => () => true };

/** A server's listing, as its transport needs to know it: whether what the client last saw is still what it would get. */
export interface ServedListing {
  /**
   * True when the client was answered a `tools/list` and would now be answered a different one (a reload
   * changed its role's grants or its engine): the moment to send notifications/tools/list_changed. False
   * before the first listing (a client that never listed has nothing stale). Remembers the answer as seen.
   */
  changedSinceListed(): boolean;
}

/**
 * Replaces the SDK's `tools/list` handler of `server` (call after registering every tool) with one that
 * asks the SDK's handler once per `key` and serves, from then on, the part of that listing `view` offers.
 * Tools left out stay callable: the call is judged by the pipeline and says why it is refused or cannot
 * run, as it would for a client that kept an older listing.
 */
export function serveToolListingOnce(server: McpServer, key: string, view: ListingView = EVERYTHING, asWriter: WriterListing = {}): ServedListing {
  let known: readonly ListedTool[] | undefined;
  let lastSelection: string | undefined;
  const wrapped = wrapSdkHandler<ListToolsResult>(server, 'tools/list', (sdkHandler) => async (request, ctx) => {
    let listing = listings.get(key);
    if (!listing) {
      listing = sdkHandler({ method: 'tools/list', params: request.params ?? {} }, ctx).then((first) => Object.freeze(first.tools.map(withoutDefaultDialect)));
      listings.set(key, listing);
      listing.catch(() => listings.delete(key));
    }
    known = await listing;
    const selection = selectionOf(known, view);
    lastSelection = selection;
    // A fresh top-level object per answer: the protocol layer may add `_meta` (cache hints, server info)
    // for one era and must not leak it into another session's answer. The tool definitions are shared.
    return { tools: offered(key, known, selection, asWriter, toolMembersOf(view.revision?.() ?? null)) };
  });
  if (!wrapped) throw new Error('serveToolListingOnce: the server has no tools/list handler (register tools first)');
  return {
    changedSinceListed() {
      if (known === undefined || lastSelection === undefined) return false;
      const now = selectionOf(known, view);
      if (now === lastSelection) return false;
      lastSelection = now;
      return true;
    },
  };
}

/** The JSON Schema dialect MCP assumes when a tool's schema names none (2025-11-25, "JSON Schema usage"). */
const DEFAULT_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/**
 * The tool without a `$schema` that names MCP's default dialect. zod writes it into every input and output
 * schema: 24 copies, 7% of the listing's bytes, which every editor sends its model with each conversation
 * and every hop copies. The schemas use no keyword whose meaning differs in draft-07, the dialect clients
 * of older protocol versions assume.
 */
function withoutDefaultDialect(tool: ListedTool): ListedTool {
  const strip = (schema: unknown): unknown => {
    if (typeof schema !== 'object' || schema === null || (schema as Record<string, unknown>).$schema !== DEFAULT_DIALECT) return schema;
    const { $schema: _dialect, ...rest } = schema as Record<string, unknown>;
    return rest;
  };
  const { inputSchema, outputSchema } = tool;
  return {
    ...tool,
    ...(inputSchema === undefined ? {} : { inputSchema: strip(inputSchema) }),
    ...(outputSchema === undefined ? {} : { outputSchema: strip(outputSchema) }),
  };
}

/**
 * One character per registered tool, '1' when offered, then 'w' when the role may write: short, and the
 * same for every session offered the same (a reload that makes a role a writer changes it too).
 */
function selectionOf(tools: readonly ListedTool[], view: ListingView): string {
  const engine = view.engine();
  const granted = view.grants();
  let selection = '';
  for (const tool of tools) selection += offeredOn(tool, engine) && granted(tool.name) ? '1' : '0';
  return view.writes?.() === true ? `${selection}w` : selection;
}

/** The tool as a role that may write is offered it (asWriter), else as registered. */
function forWriter(tool: ListedTool, asWriter: WriterListing): ListedTool {
  const variant = Object.hasOwn(asWriter, tool.name) ? asWriter[tool.name] : undefined;
  if (variant === undefined) return tool;
  return { ...tool, title: variant.title, description: variant.description, annotations: { ...(tool.annotations as Record<string, unknown> | undefined), ...variant.annotations } };
}

/** The tool with only the members its client's revision defines (all of them when `members` is null). */
function forRevision(tool: ListedTool, members: ReadonlySet<string> | null): ListedTool {
  if (members === null) return tool;
  return Object.fromEntries(Object.entries(tool).filter(([member]) => members.has(member))) as ListedTool;
}

function offered(key: string, tools: readonly ListedTool[], selection: string, asWriter: WriterListing, members: ReadonlySet<string> | null): ListedTool[] {
  // Concatenated, not stringified again: `key` is long (the limits and team tools) and this runs per listing.
  const selectionKey = `${selection}\u0000${members === null ? '' : [...members].join(',')}\u0000${key}`;
  let kept = selections.get(selectionKey);
  if (!kept) {
    // Serialised once too: every session offered these tools is answered with the same text.
    const writer = selection.endsWith('w');
    kept = serializeOnce(tools.filter((_, i) => selection[i] === '1').map((tool) => forRevision(writer ? forWriter(tool, asWriter) : tool, members)));
    selections.set(selectionKey, kept);
  }
  return kept;
}

/** For tests: forget every listing (the next `tools/list` asks the SDK again). */
export function forgetToolListings(): void {
  listings.clear();
  selections.clear();
}
