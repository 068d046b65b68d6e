/**
 * The double's Cortex REST endpoints, in Snowflake's documented request and response shapes:
 * - `POST /api/v2/cortex/analyst/message` — `{messages:[{role:"user",content:[{type:"text",text}]}],
 *   semantic_view | semantic_model_file, stream:false}` → `{message:{role:"analyst",content:[{type:"text"},
 *   {type:"sql",statement,confidence},{type:"suggestions"}]}, request_id, warnings}`;
 * - `POST /api/v2/databases/<db>/schemas/<schema>/cortex-search-services/<name>:query` —
 *   `{query, columns?, filter?, limit?}` → `{results:[{col: value…, "@scores": {…}}], request_id}`.
 * Both authenticate with the session token of a logged-in session (`Authorization: Snowflake Token="…"`).
 *
 * Cortex Analyst is a language model, so a double cannot derive SQL from a question: each semantic model
 * a test declares maps question patterns to the answer (text and SQL) the model would give. Cortex Search
 * is served for real from the sample data: a service declares its backing table, search column and
 * attributes, and a query ranks rows by how many of its words the search column contains, with the filter
 * applied as SQL.
 */
import { randomUUID } from 'node:crypto';

export interface DoubleAnalystAnswer {
  /** The answer applies when the question contains this text (case-insensitive) or matches this pattern. */
  when: string | RegExp;
  /** A follow-up: applies only when an earlier question of the conversation contains this text. */
  after?: string | undefined;
  text: string;
  sql?: string | undefined;
  suggestions?: string[] | undefined;
  /** Name of the verified query the answer used, if any. */
  verifiedQuery?: string | undefined;
}

export interface DoubleSearchService {
  /** Backing table, e.g. `SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION` (names as stored). */
  table: string;
  searchColumn: string;
  attributes?: string[] | undefined;
}

export interface DoubleCortexOptions {
  /** Semantic models by the name the client sends: `DB.SCHEMA.VIEW` or `@DB.SCHEMA.STAGE/file.yaml`. */
  analyst?: Record<string, DoubleAnalystAnswer[]> | undefined;
  /** Search services by `DB.SCHEMA.NAME`. */
  searchServices?: Record<string, DoubleSearchService> | undefined;
}

export interface CortexLogEntry {
  endpoint: 'analyst' | 'search';
  /** The semantic model or search service asked. */
  target: string;
  user: string;
  /** The session's current role when the request came (a REST call runs as it). */
  role: string | null;
  body: Record<string, unknown>;
  status: number;
}

export type CortexEndpoint = { kind: 'analyst' } | { kind: 'search'; service: string };

export interface CortexReply {
  status: number;
  body: unknown;
}

/** Runs SQL on the double's sample data with positional `$n` parameters; rows as JSON objects. */
export type RowReader = (sql: string, params: (string | number | boolean | null)[]) => Promise<Record<string, unknown>[]>;

const SEARCH_PATH = /^\/api\/v2\/databases\/([^/]+)\/schemas\/([^/]+)\/cortex-search-services\/([^/:]+):query$/;

export function cortexEndpointOf(method: string, path: string): CortexEndpoint | undefined {
  if (method !== 'POST') return undefined;
  if (path === '/api/v2/cortex/analyst/message') return { kind: 'analyst' };
  const m = SEARCH_PATH.exec(path);
  if (!m) return undefined;
  return { kind: 'search', service: [m[1]!, m[2]!, m[3]!].map((p) => restName(decodeURIComponent(p))).join('.') };
}

/** A REST path name: `"Mixed"` literal, a plain name upper-cased (as Snowflake resolves it). */
function restName(part: string): string {
  return part.startsWith('"') && part.endsWith('"') && part.length >= 2 ? part.slice(1, -1).replace(/""/g, '"') : part.toUpperCase();
}

function problem(status: number, message: string): CortexReply {
  return { status, body: { message, request_id: randomUUID() } };
}

export function answerAnalyst(options: DoubleCortexOptions, body: Record<string, unknown>): { target: string; reply: CortexReply } {
  const view = typeof body['semantic_view'] === 'string' ? body['semantic_view'] : undefined;
  const file = typeof body['semantic_model_file'] === 'string' ? body['semantic_model_file'] : undefined;
  const target = view ?? file ?? '';
  if ((view === undefined) === (file === undefined)) {
    return { target, reply: problem(400, 'Exactly one of semantic_view, semantic_model_file or semantic_model must be given.') };
  }
  if (body['stream'] === true) return { target, reply: problem(400, 'The double answers stream=false only.') };
  const messages = Array.isArray(body['messages']) ? body['messages'] : [];
  const last = messages[messages.length - 1] as { role?: unknown; content?: unknown } | undefined;
  const text = Array.isArray(last?.content)
    ? (last.content as { type?: unknown; text?: unknown }[]).find((c) => c.type === 'text' && typeof c.text === 'string')?.text
    : undefined;
  if (last?.role !== 'user' || typeof text !== 'string') return { target, reply: problem(400, 'The last message must be the user\'s, with one text content item.') };
  const roles = messages.map((m) => (m as { role?: unknown }).role);
  if (roles.some((r, i) => r !== (i % 2 === 0 ? 'user' : 'analyst'))) return { target, reply: problem(400, 'Messages must alternate between user and analyst, starting with the user.') };
  const earlier = messages
    .slice(0, -1)
    .filter((m) => (m as { role?: unknown }).role === 'user')
    .flatMap((m) => ((m as { content?: { type?: unknown; text?: unknown }[] }).content ?? []).filter((c) => c.type === 'text').map((c) => String(c.text).toLowerCase()));
  const answers = options.analyst?.[target];
  if (!answers) {
    return { target, reply: problem(view ? 404 : 400, view ? `Semantic view '${view}' does not exist or not authorized.` : `Unable to read the semantic model file '${file}'.`) };
  }
  const answer = answers.find(
    (a) =>
      (typeof a.when === 'string' ? text.toLowerCase().includes(a.when.toLowerCase()) : a.when.test(text)) &&
      (a.after === undefined || earlier.some((q) => q.includes(a.after!.toLowerCase()))),
  );
  const content: Record<string, unknown>[] = [];
  if (!answer) {
    content.push({ type: 'text', text: 'This question is ambiguous for the semantic model. Try one of these:' });
    content.push({ type: 'suggestions', suggestions: answers.filter((a) => typeof a.when === 'string').map((a) => `What is the ${String(a.when)}?`) });
  } else {
    content.push({ type: 'text', text: answer.text });
    if (answer.sql !== undefined) {
      content.push({ type: 'sql', statement: answer.sql, confidence: { verified_query_used: answer.verifiedQuery ? { name: answer.verifiedQuery, question: text, sql: answer.sql } : null } });
    }
    if (answer.suggestions) content.push({ type: 'suggestions', suggestions: answer.suggestions });
  }
  return {
    target,
    reply: { status: 200, body: { message: { role: 'analyst', content }, request_id: randomUUID(), warnings: [], response_metadata: { model_names: ['double'] } } },
  };
}

export async function answerSearch(options: DoubleCortexOptions, service: string, body: Record<string, unknown>, read: RowReader): Promise<CortexReply> {
  const def = options.searchServices?.[service];
  if (!def) return problem(404, `Cortex Search Service ${service} does not exist or not authorized.`);
  const query = body['query'];
  if (typeof query !== 'string' || query === '') return problem(400, 'query must be a non-empty string.');
  const limit = body['limit'] === undefined ? 10 : body['limit'];
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000) return problem(400, 'limit must be an integer from 1 to 1000.');
  const known = [def.searchColumn, ...(def.attributes ?? [])];
  const columns = body['columns'] === undefined ? known : body['columns'];
  if (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string' || !known.includes(c))) {
    return problem(400, `columns must name the service's search column or attributes: ${known.join(', ')}.`);
  }
  const params: (string | number | boolean | null)[] = [];
  let where = 'TRUE';
  if (body['filter'] !== undefined) {
    const translated = filterSql(body['filter'], def.attributes ?? [], params);
    if (typeof translated !== 'string') return problem(400, `Invalid filter: ${translated.problem}`);
    where = translated;
  }
  const terms = [...new Set(query.toLowerCase().split(/\W+/).filter(Boolean))];
  const score = terms.length === 0 ? '0' : terms.map((t) => { params.push(t); return `(CASE WHEN contains(lower(CAST(${q(def.searchColumn)} AS VARCHAR)), $${params.length}) THEN 1 ELSE 0 END)`; }).join(' + ');
  const table = def.table.split('.').map(q).join('.');
  const select = (columns as string[]).map(q).join(', ');
  const rows = await read(`SELECT ${select}, ${score} AS "@score" FROM ${table} WHERE ${where} ORDER BY "@score" DESC, ${q(def.searchColumn)} LIMIT ${limit}`, params);
  const results = rows.map((r) => {
    const { ['@score']: s, ...rest } = r;
    return { ...rest, '@scores': { text_match: terms.length === 0 ? 0 : Number(s) / terms.length } };
  });
  return { status: 200, body: { results, request_id: randomUUID() } };
}

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Cortex Search's filter syntax as SQL over the attributes; values become parameters. */
function filterSql(filter: unknown, attributes: string[], params: (string | number | boolean | null)[]): string | { problem: string } {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) return { problem: 'a filter is an object with one operator' };
  const entries = Object.entries(filter as Record<string, unknown>);
  if (entries.length !== 1) return { problem: 'a filter is an object with one operator' };
  const [op, arg] = entries[0]!;
  const comparison = { '@eq': '=', '@gte': '>=', '@lte': '<=' }[op];
  if (comparison !== undefined || op === '@contains') {
    if (arg === null || typeof arg !== 'object' || Array.isArray(arg) || Object.keys(arg).length !== 1) return { problem: `${op} takes {"COLUMN": value}` };
    const [column, value] = Object.entries(arg as Record<string, unknown>)[0]!;
    if (!attributes.includes(column)) return { problem: `${column} is not an attribute of the service` };
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return { problem: `${op} compares with a scalar` };
    params.push(value);
    return op === '@contains' ? `contains(CAST(${q(column)} AS VARCHAR), CAST($${params.length} AS VARCHAR))` : `${q(column)} ${comparison} $${params.length}`;
  }
  if (op === '@and' || op === '@or') {
    if (!Array.isArray(arg) || arg.length === 0) return { problem: `${op} takes a non-empty array` };
    const parts: string[] = [];
    for (const f of arg) {
      const s = filterSql(f, attributes, params);
      if (typeof s !== 'string') return s;
      parts.push(`(${s})`);
    }
    return parts.join(op === '@and' ? ' AND ' : ' OR ');
  }
  if (op === '@not') {
    const s = filterSql(arg, attributes, params);
    return typeof s === 'string' ? `NOT (${s})` : s;
  }
  return { problem: `unknown operator ${op}` };
}
