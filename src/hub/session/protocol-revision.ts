/**
 * What each MCP protocol revision a session may have negotiated defines, where the hub's answers differ by
 * it. Revisions are dated (YYYY-MM-DD), so they order as strings. A session speaks the revision its
 * `initialize` agreed on (Session.protocolVersion), or 2026-07-28 per request; before either it is unknown
 * (null) and is answered as the latest.
 *
 * MCP 2025-06-18 added structured tool results (`structuredContent`, a tool's `outputSchema`), `title` on
 * tools, prompts and resources, and `_meta` on tools; 2025-03-26 added tool `annotations` and the
 * `completions` capability. A client of an earlier revision reads none of these: a result it is sent must say
 * everything in its content, and a listing (or its initialize answer) only what its revision defines.
 */

/** The first revision with structured tool results (structuredContent, outputSchema) and titles. */
const FIRST_WITH_STRUCTURED_RESULTS = '2025-06-18';
/** The first revision with tool annotations (readOnlyHint and the rest), and with the `completions` capability. */
const FIRST_WITH_TOOL_ANNOTATIONS = '2025-03-26';

/** Whether a client of `revision` reads a tool result's structuredContent (and a tool's outputSchema). */
export function readsStructuredContent(revision: string | null): boolean {
  return revision === null || revision >= FIRST_WITH_STRUCTURED_RESULTS;
}

/**
 * The members of a listed tool that `revision` defines, or null when it defines every member the hub lists
 * (2025-06-18 and later: their listings are not cut). A list rather than members to leave out: a member a
 * later revision adds is not sent to older clients by default.
 */
export function toolMembersOf(revision: string | null): ReadonlySet<string> | null {
  if (readsStructuredContent(revision)) return null;
  return revision !== null && revision >= FIRST_WITH_TOOL_ANNOTATIONS ? MEMBERS_2025_03_26 : MEMBERS_2024_11_05;
}

const MEMBERS_2024_11_05: ReadonlySet<string> = new Set(['name', 'description', 'inputSchema']);
const MEMBERS_2025_03_26: ReadonlySet<string> = new Set([...MEMBERS_2024_11_05, 'annotations']);

/** Members of a listed prompt, resource or resource template that MCP 2025-06-18 added (and 2025-11-25's icons). */
const LATER_ENTRY_MEMBERS: ReadonlySet<string> = new Set(['title', 'icons']);

/**
 * A prompts/list, resources/list or resources/templates/list answer with, for a client of a revision
 * before 2025-06-18, no member of an entry (or of a prompt's argument) that its revision does not define:
 * `title` (2025-06-18) and `icons` (2025-11-25). Other revisions' answers are returned as they are.
 */
export function entriesFor<R extends Record<string, unknown>>(revision: string | null, result: R, key: string): R {
  const entries = result[key];
  if (readsStructuredContent(revision) || !Array.isArray(entries)) return result;
  const trim = (entry: unknown): unknown => {
    if (typeof entry !== 'object' || entry === null) return entry;
    const kept = Object.fromEntries(Object.entries(entry).filter(([member]) => !LATER_ENTRY_MEMBERS.has(member)));
    return Array.isArray(kept.arguments) ? { ...kept, arguments: kept.arguments.map(trim) } : kept;
  };
  return { ...result, [key]: entries.map(trim) };
}

/**
 * An initialize result's server capabilities as `revision` defines them: 2024-11-05 has no `completions`
 * capability (2025-03-26 added it), so its clients are not told of one. Other revisions' are returned as they are.
 */
export function capabilitiesFor<C extends Record<string, unknown>>(revision: string, capabilities: C): C {
  if (revision >= FIRST_WITH_TOOL_ANNOTATIONS || !('completions' in capabilities)) return capabilities;
  const { completions: _completions, ...defined } = capabilities;
  return defined as C;
}
