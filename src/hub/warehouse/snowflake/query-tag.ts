/**
 * The QUERY_TAG every statement carries, so Snowflake's query history joins to the hub's own records:
 * `snowmux:{"s":"<session>","c":"<client>","r":"<request>","t":"<tool>"}`, plus `"trace":"<trace id>"`
 * when the call has a W3C trace id (the editor's traceparent, or the hub's own span when traces are
 * exported), so one id joins the editor, the hub and Snowflake's QUERY_HISTORY.
 */
import type { QueryTag } from '../types.js';

/** Snowflake limits QUERY_TAG to 2000 characters; each part is capped so the JSON always fits. */
const MAX_PART = 256;

export function queryTagText(tag: QueryTag): string {
  const part = (s: string): string => (s.length > MAX_PART ? s.slice(0, MAX_PART) : s);
  const fields: Record<string, string> = { s: part(tag.sessionId), c: part(tag.client), r: part(tag.requestId), t: part(tag.tool) };
  if (tag.traceId !== undefined) fields.trace = part(tag.traceId);
  return `snowmux:${JSON.stringify(fields)}`;
}

/** Parses a tag written by queryTagText (for tests and for joining Snowflake's query history). */
export function parseQueryTag(text: string): { s: string; c: string; r: string; t: string; trace?: string } | undefined {
  if (!text.startsWith('snowmux:')) return undefined;
  try {
    const value = JSON.parse(text.slice('snowmux:'.length)) as Record<string, unknown>;
    if (typeof value.s !== 'string' || typeof value.c !== 'string' || typeof value.r !== 'string' || typeof value.t !== 'string') return undefined;
    return { s: value.s, c: value.c, r: value.r, t: value.t, ...(typeof value.trace === 'string' ? { trace: value.trace } : {}) };
  } catch {
    return undefined;
  }
}
