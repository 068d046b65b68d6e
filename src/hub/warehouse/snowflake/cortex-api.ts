/**
 * Snowflake's Cortex REST endpoints (Analyst's `/api/v2/cortex/analyst/message`, Search's
 * `…/cortex-search-services/<name>:query`), called with the session token of a connection the pool already
 * logged in — no second login, and no credential ever reaches the client. The token comes from the
 * driver's public `connection.serialize()` (its documented way to hand a session to another process).
 *
 * Answers are read with a size cap, and every failure becomes a SnowmuxError saying what to do; an expired
 * session token is reported as `expired` so the caller can let the driver renew it and try once more.
 */
import { SnowmuxError } from '../../../errors.js';
import type { AnalystReply, AnalystRequest, JsonValue, ObjectRef, SearchReply, SearchRequest, StagedFile } from '../types.js';
import { snowflakeFetch, type SnowflakeFetchOptions } from './proxy-fetch.js';
import type { SfConnection } from './sdk-types.js';

/** Far above any real answer (Search returns at most 1000 rows); a bigger body is refused, not buffered. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Snowflake's code for an expired session token: the driver renews it on the next statement. */
const EXPIRED_TOKEN = '390112';

export type CortexOutcome<T> = { ok: true; value: T } | { ok: false; expired: true } | { ok: false; expired: false; error: SnowmuxError };

export interface CortexCall {
  /** `https://<account>.snowflakecomputing.com` or the profile's access URL. */
  baseUrl: string;
  connection: SfConnection;
  signal: AbortSignal;
  /** What the caller was doing, for messages ("Cortex Analyst", "Cortex Search service X"). */
  what: string;
  /** The abort reason when the signal fired (timeout, cancel, hub closing). */
  cancelled: () => SnowmuxError;
  /** Through HTTP(S)_PROXY (except NO_PROXY hosts), as the driver's own requests go. */
  proxy: SnowflakeFetchOptions;
}

/** The base URL the driver itself uses for a profile's connection options. */
export function cortexBaseUrl(options: { accessUrl?: string | undefined; account: string }): string {
  return (options.accessUrl ?? `https://${options.account}.snowflakecomputing.com`).replace(/\/+$/, '');
}

export async function analystMessage(call: CortexCall, request: AnalystRequest): Promise<CortexOutcome<AnalystReply>> {
  const body: Record<string, JsonValue> = {
    messages: [
      ...(request.history ?? []).map((turn): JsonValue => {
        const content: JsonValue[] = [{ type: 'text', text: turn.text }];
        if (turn.role === 'analyst' && turn.sql !== undefined) content.push({ type: 'sql', statement: turn.sql });
        return { role: turn.role, content };
      }),
      { role: 'user', content: [{ type: 'text', text: request.question }] },
    ],
    stream: false,
  };
  if (request.semanticView) body['semantic_view'] = qualifiedName(request.semanticView);
  else if (request.semanticModelFile) body['semantic_model_file'] = stagedFileText(request.semanticModelFile);
  const outcome = await post(call, '/api/v2/cortex/analyst/message', body);
  return outcome.ok ? { ok: true, value: analystReply(outcome.value) } : outcome;
}

export async function searchService(call: CortexCall, service: ObjectRef, request: SearchRequest): Promise<CortexOutcome<SearchReply>> {
  const path =
    `/api/v2/databases/${pathName(service.database)}/schemas/${pathName(service.schema)}` +
    `/cortex-search-services/${pathName(service.name)}:query`;
  const body: Record<string, JsonValue> = { query: request.query, limit: request.limit };
  if (request.columns.length > 0) body['columns'] = request.columns;
  if (request.filter !== undefined) body['filter'] = request.filter;
  const outcome = await post(call, path, body);
  return outcome.ok ? { ok: true, value: searchReply(outcome.value) } : outcome;
}

/** `DB.SCHEMA.NAME`, each part quoted only where Snowflake needs it (so plain names read as users write them). */
export function qualifiedName(ref: ObjectRef): string {
  return [ref.database, ref.schema, ref.name].map(sqlName).join('.');
}

export function stagedFileText(file: StagedFile): string {
  return `@${qualifiedName(file.stage)}/${file.path}`;
}

function sqlName(name: string): string {
  return /^[A-Z_][A-Z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function pathName(name: string): string {
  return encodeURIComponent(sqlName(name));
}

async function post(call: CortexCall, path: string, body: Record<string, JsonValue>): Promise<CortexOutcome<Record<string, unknown>>> {
  const token = sessionToken(call.connection);
  if (token === undefined) return { ok: false, expired: true };
  let res: Response;
  try {
    res = await snowflakeFetch(
      `${call.baseUrl}${path}`,
      {
        method: 'POST',
        headers: { authorization: `Snowflake Token="${token}"`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: call.signal,
      },
      call.proxy,
    );
  } catch (err) {
    if (call.signal.aborted) return { ok: false, expired: false, error: call.cancelled() };
    return {
      ok: false,
      expired: false,
      error: new SnowmuxError('WAREHOUSE_UNAVAILABLE', `${call.what} could not be reached (${(err as Error).message}). Check the network to Snowflake; the call can be retried.`),
    };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = await readJson(res, call);
  } catch (err) {
    if (call.signal.aborted) return { ok: false, expired: false, error: call.cancelled() };
    return { ok: false, expired: false, error: err instanceof SnowmuxError ? err : new SnowmuxError('WAREHOUSE_ERROR', `${call.what} answered HTTP ${res.status} with a body that is not JSON.`) };
  }
  if (res.ok && parsed['success'] !== false) return { ok: true, value: parsed };
  const code = stringField(parsed, 'code') ?? stringField(parsed, 'error_code');
  if (code === EXPIRED_TOKEN) return { ok: false, expired: true };
  return { ok: false, expired: false, error: replyError(call.what, res.status, code, parsed) };
}

/** The connection's current session token, from the driver's public serialize(); undefined if it has none. */
function sessionToken(connection: SfConnection): string | undefined {
  try {
    const config = JSON.parse(connection.serialize()) as { services?: { sf?: { tokenInfo?: { sessionToken?: unknown } } } };
    const token = config.services?.sf?.tokenInfo?.sessionToken;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

async function readJson(res: Response, call: CortexCall): Promise<Record<string, unknown>> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_REPLY_BYTES) throw tooBig(call.what);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_REPLY_BYTES) throw tooBig(call.what);
      chunks.push(chunk);
    }
  }
  const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SnowmuxError('WAREHOUSE_ERROR', `${call.what} answered HTTP ${res.status} with JSON that is not an object.`);
  return value as Record<string, unknown>;
}

function tooBig(what: string): SnowmuxError {
  return new SnowmuxError('WAREHOUSE_ERROR', `${what} answered with more than ${MAX_REPLY_BYTES / 1024 / 1024} MiB; ask for fewer rows or columns.`);
}

function replyError(what: string, status: number, code: string | undefined, body: Record<string, unknown>): SnowmuxError {
  const said = (stringField(body, 'message') ?? '').slice(0, 500);
  const theirs = `${said ? `: ${said}` : ''}${code ? ` (Snowflake code ${code})` : ''}`;
  const details = { status, snowflakeCode: code ?? null, requestId: stringField(body, 'request_id') ?? null };
  switch (status) {
    case 400:
    case 422:
      return new SnowmuxError('INVALID_ARGUMENT', `${what} refused the request${theirs}. Check the names and the question; the model or service must exist and be usable by the profile's Snowflake role.`, { details });
    case 401:
      return new SnowmuxError('CONNECTION_LOST', `${what} did not accept the session${theirs}. A new session is opened for the next call.`, { details });
    case 403:
      return new SnowmuxError('PERMISSION_DENIED', `${what} was refused to the profile's Snowflake role${theirs}. Grant the role USAGE on it (and the SNOWFLAKE.CORTEX_USER database role), or use another profile.`, { details });
    case 404:
      return new SnowmuxError('OBJECT_NOT_FOUND', `${what} does not exist or the profile's Snowflake role cannot see it${theirs}.`, { details });
    default:
      return new SnowmuxError('WAREHOUSE_ERROR', `${what} failed with HTTP ${status}${theirs}. The call can be retried.`, { details });
  }
}

function analystReply(body: Record<string, unknown>): AnalystReply {
  const message = objectField(body, 'message');
  const content = Array.isArray(message?.['content']) ? (message['content'] as unknown[]) : [];
  const texts: string[] = [];
  const suggestions: string[] = [];
  let sql: string | undefined;
  let verifiedQuery: string | undefined;
  for (const item of content) {
    if (item === null || typeof item !== 'object') continue;
    const part = item as Record<string, unknown>;
    if (part['type'] === 'text' && typeof part['text'] === 'string') texts.push(part['text']);
    else if (part['type'] === 'sql' && typeof part['statement'] === 'string' && sql === undefined) {
      sql = part['statement'];
      const verified = objectField(objectField(part, 'confidence') ?? {}, 'verified_query_used');
      if (verified && typeof verified['name'] === 'string') verifiedQuery = verified['name'];
    } else if (part['type'] === 'suggestions' && Array.isArray(part['suggestions'])) {
      suggestions.push(...part['suggestions'].filter((s): s is string => typeof s === 'string'));
    }
  }
  const warnings = Array.isArray(body['warnings'])
    ? body['warnings'].map((w) => (w !== null && typeof w === 'object' && typeof (w as { message?: unknown }).message === 'string' ? (w as { message: string }).message : '')).filter(Boolean)
    : [];
  return { text: texts.join('\n\n'), sql, suggestions, warnings, verifiedQuery, requestId: stringField(body, 'request_id') };
}

function searchReply(body: Record<string, unknown>): SearchReply {
  const results = Array.isArray(body['results'])
    ? body['results'].filter((r): r is Record<string, JsonValue> => r !== null && typeof r === 'object' && !Array.isArray(r))
    : [];
  return { results, requestId: stringField(body, 'request_id') };
}

function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function objectField(body: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = body[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
