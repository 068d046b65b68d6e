/**
 * The QUERY_TAG every statement carries, so Snowflake's query history joins to the hub's own records:
 * `snowmux:{"s":"<session>","c":"<client>","r":"<request>","t":"<tool>"}`, plus `"trace":"<trace id>"`
 * when the call has a W3C trace id (the editor's traceparent, or the hub's own span when traces are
 * exported), so one id joins the editor, the hub and Snowflake's QUERY_HISTORY.
 */
import type { QueryTag } from '../types.js';

/**
 * Snowflake limits QUERY_TAG to 2000 characters; each part is capped, as JSON writes it, so the tag always
 * fits: a client name of quotes or control characters (2 and 6 characters each once escaped) would otherwise
 * make a tag Snowflake refuses, and every statement of that client would fail.
 */
const MAX_PART = 256;

function part(s: string): string {
  if (s.length <= MAX_PART && JSON.stringify(s).length - 2 <= MAX_PART) return s;
  let kept = '';
  let written = 0;
  for (const ch of s) {
    written += JSON.stringify(ch).length - 2;
    if (written > MAX_PART) break;
    kept += ch;
  }
  return kept;
}

export function queryTagText(tag: QueryTag): string {
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
