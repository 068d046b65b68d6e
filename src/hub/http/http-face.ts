/**
 * The hub's HTTP face as one web-standard handler (`Request → Response`), served by an engine adapter
 * (node-engine.ts). Routes:
 *   /healthz  liveness (no key; 503 from the start of a drain until the hub exits, so load balancers stop sending)
 *   /readyz   ready to serve calls: not draining, some warehouse not behind an open breaker
 *   /metrics  Prometheus text
 *   /status   what `snowmux status --json` shows
 *   /events   Server-Sent Events: sessions opening and closing, calls starting and ending, breaker transitions, draining, reloads
 *   /mcp      MCP Streamable HTTP, both protocol eras, through the same governed tools as the socket
 *
 * Every route but /healthz needs `Authorization: Bearer <key>` (keys.json) unless auth is off, which the
 * hub allows only on a loopback listener. The key's identity is the session's identity for roles, limits,
 * quotas and audit. Host and Origin are checked on every request (DNS rebinding); CORS is off unless
 * origins are configured; every response carries security headers. Snowflake credentials are never taken
 * from an HTTP client: its sessions use the hub's own profiles.
 */
import { isInitializeRequest, isJsonContentType, isLegacyRequest, createMcpHandler, SUPPORTED_PROTOCOL_VERSIONS, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Duplex } from 'node:stream';
import { errorMessage, isSnowmuxError } from '../../errors.js';
import type { AttachedSession, HubCore } from '../core/hub-core.js';
import { createMcpServer } from '../core/mcp-server.js';
import { refusalCode, withRefusalCode, type RpcError } from '../session/refusal-code.js';
import type { ErrorCode } from '../../error-codes.js';
import { recordTransportRefusal } from '../tools/refused-calls.js';
import { LegacyTransport } from './legacy-transport.js';
import { AnswerBudget, MAX_HELD_ANSWER_BYTES } from './answer-budget.js';
import { answeredIds } from './sse-answered-ids.js';
import { assessHealth } from '../core/hub-health.js';
import type { Logger } from '../observe/logger.js';
import { RateLimiter, type BucketLimit } from '../guard/rate-limit.js';
import { DEFAULT_OTHER_REQUEST_RATE, DEFAULT_PROTOCOL_ERROR_RATE, INVALID_REQUEST, SessionBucket, jsonRpcProblem, refusalCost } from '../session/line-transport.js';
import { idAsSent } from '../../wire/request-id.js';
import { shownText } from '../../shown-text.js';
import { observeClientMessage, type Identity } from '../session/session.js';
import { removedIn2026, unsupportedRevision } from '../session/connection-era.js';
import { INVALID_PARAMS, MAX_PARAM_DEPTH, MAX_PARAM_VALUES, messageTextProblem, oversizedValue, requestParamsProblem } from '../session/request-params.js';
import type { AuthRefusal, KeyChecker, KeyCheck } from '../keys/api-keys.js';

/** What the HTTP face needs of a hub: its transport-free core, and where remote shims' links go. */
export type ServedHub = Pick<HubCore, 'events' | 'status' | 'statusFor' | 'seesEveryone' | 'health' | 'isDraining' | 'attachSession' | 'noteAnswerCut'> & {
  acceptRemoteLink(link: Duplex, identity: string, profiles: readonly string[]): void;
};

export interface HttpFaceOptions {
  hub: ServedHub;
  /** null: no key needed (loopback only; the caller checked). */
  keys: KeyChecker | null;
  metrics: { text(): Promise<string>; contentType: string; httpRequest(route: string, status: number): void; authFailure(reason: string): void; watchHttpAnswers?(budget: AnswerBudget): void } | null;
  logger: Logger;
  /** Host names accepted besides loopback ones; empty and `loopbackOnly` false: any host. */
  hosts: string[];
  loopbackOnly: boolean;
  allowedOrigins: string[];
  /** Profiles a remote shim may name in its hello (hub.http_shim_profiles); none when absent. */
  shimProfiles?: readonly string[];
  /** Legacy (2025) sessions idle this long are closed. */
  legacyIdleMs?: number;
  /** Failed authentications per source per minute before the source is refused outright. */
  maxAuthFailuresPerMinute?: number;
  /** Requests other than tools/call per identity over /mcp (a line transport's per-session bound, per key here). */
  otherRequestRate?: BucketLimit;
  /**
   * Refused /mcp bodies (not JSON, too many values, params their method refuses) per identity, in
   * refusalCost units (a line transport's protocol-error bucket, per key here); beyond it the identity's
   * POSTs are answered 429 unread until the bucket refills.
   */
  protocolErrorRate?: BucketLimit;
  /**
   * Writes the audit record of a refused authentication (`auth_refused`). Bounded: every refusal until a
   * source is throttled, then one saying it was; at most MAX_AUTH_AUDITS_PER_MINUTE in all, the rest
   * counted in the next record's `suppressed`.
   */
  auditAuthRefusal?: (refusal: AuthRefusal) => void;
  /**
   * The budget of answers waiting for their clients to read them, shared with the engine (serve-http.ts):
   * the face charges what the MCP SDK's streams produced and have not been handed to the engine yet.
   * Default: one of MAX_HELD_ANSWER_BYTES, the face's own.
   */
  answers?: AnswerBudget;
  /**
   * JSON-RPC requests one identity may have in flight on /mcp at once (hub.http_max_requests_per_identity),
   * from when its POST is read until its answer is handed to the engine; default
   * DEFAULT_MAX_REQUESTS_PER_IDENTITY.
   */
  maxRequestsPerIdentity?: number;
  /**
   * The monotonic clock (ms, any origin) sessions' idle time and the authentication throttle's minute are
   * measured on, so a wall clock stepped by hours neither sweeps every idle session at once nor keeps one
   * forever, nor throttles an address for hours (tests). Default performance.now.
   */
  monotonic?: () => number;
}


export interface RequestInfo {
  remoteAddress: string;
}

/** What an accepted /shim upgrade runs as: the identity, and the key it showed (null with auth off). */
export interface ShimGrant {
  identity: string;
  key: string | null;
}

/** Why a request in flight, or its answer's stream, was ended: the key it showed no longer authenticates. */
const KEY_GONE = 'the API key that made this request is no longer valid (revoked or expired), or now names another identity';

/** How often open links, /events streams and /mcp requests in flight have their key checked again (a team's pub/sub rechecks at once). */
const HELD_KEY_RECHECK_MS = 5_000;

/** A request whose headers passed every check (see HttpFace.admit): who sent it. */
export interface Admission {
  readonly caller: Caller;
}

export interface HttpFace {
  /**
   * What a request's headers alone decide (Host, Origin, route, key), before any body is read: the answer
   * to send as it is (a refusal, a preflight, /healthz), or the admission its fetch goes on with. A client
   * without a key must not make the hub hold its body.
   */
  admit(request: Request, info: RequestInfo): Response | Admission;
  /** The answer; with an admission from admit, the header checks are not made again. */
  fetch(request: Request, info: RequestInfo, admission?: Admission): Promise<Response>;
  /**
   * A WebSocket upgrade to /shim (a remote shim): the same Host, Origin and key checks as every route.
   * Returns the refusal to send, or the identity the link runs as.
   */
  checkShimUpgrade(request: Request, info: RequestInfo): Response | ShimGrant;
  /** Hands an accepted /shim link to the hub; it is closed when its key is revoked or expires. */
  serveShim(link: Duplex, grant: ShimGrant): void;
  close(): Promise<void>;
}

const MAX_MODERN_SESSIONS_PER_IDENTITY = 32;
/** Messages in one JSON-RPC batch: the SDK's own bound, checked before any is counted against a rate. */
const MAX_BATCH_MESSAGES = 100;
const MAX_LEGACY_SESSIONS_PER_IDENTITY = 64;
/** Remote shims' links (/shim) one identity may hold open at once: each is a session with its own memory bounds. */
const MAX_SHIM_LINKS_PER_IDENTITY = 64;
/**
 * /mcp streams that wait for notifications (a 2025 session's GET stream, a 2026-07-28 `subscriptions/listen`)
 * one identity may hold open at once: each holds a connection and ~45 KB, and nothing else bounds them.
 */
const MAX_LISTEN_STREAMS_PER_IDENTITY = 64;

/**
 * JSON-RPC requests an identity may have in flight on /mcp at once (hub.http_max_requests_per_identity's
 * default). Without a bound, one key opening many POSTs (or one batch of many large queries) made the hub
 * build every answer before a byte was sent: the bound of unread answers counts them only once produced.
 */
const DEFAULT_MAX_REQUESTS_PER_IDENTITY = 64;
/** /events streams one identity may hold open at once (each holds a connection). */
const MAX_EVENT_STREAMS_PER_IDENTITY = 8;
/** Events waiting for an /events client to read them; beyond, it is not reading and its stream ends. */
const MAX_EVENT_BACKLOG_BYTES = 1024 * 1024;
/** Audit records of refused authentications per minute, all sources together (a flood must not fill the log). */
const MAX_AUTH_AUDITS_PER_MINUTE = 600;

/** The revision whose requests carry no session (each is self-contained). */
const MODERN_REVISION = '2026-07-28';
/** What /mcp answers (CORS preflights are answered before it). */
const MCP_METHODS = ['GET', 'POST', 'DELETE'];
/**
 * The request headers a browser app may send (a preflight asks for each one not CORS-safelisted): the key,
 * JSON, a 2025 session's id and resumption, and the 2026-07-28 transport's Mcp-Method and Mcp-Name, which
 * it requires on every POST (a browser would refuse every 2026-07-28 request without them). Mcp-Param-*
 * headers are sent only for tools that declare `x-mcp-header`, which no tool here does.
 */
const CORS_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'mcp-session-id', 'last-event-id'];
/**
 * A 2025 session id this hub does not know (or another identity's: never said to exist). Sessions live in
 * the hub that made them: after a restart or `hub --replace` the client only read "Session not found".
 */
const SESSION_NOT_FOUND = 'Session not found: this hub does not know this Mcp-Session-Id. Sessions end when their hub stops, is restarted or replaced (snowmux hub --replace), when they are idle too long, or with HTTP DELETE. Initialize a new one: send an initialize request without the Mcp-Session-Id header.';

/** Every route, as a 404 lists them (/shim too: a remote shim pointed elsewhere is told where to go). */
const ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/status', '/events', '/mcp', '/shim']);
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

/** On every response, the engines' own errors (malformed request, body too large) included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
};

export interface Caller {
  identity: string;
  keyId: string | null;
  /** The key shown (never logged): connections that stay open are checked against it again. */
  key: string | null;
}

interface LegacyEntry {
  attached: AttachedSession;
  transport: LegacyTransport;
  identity: string;
  /** Its last request (or the end of its GET stream), on the monotonic clock. */
  lastSeen: number;
  inFlight: number;
  /** Its GET (notification) stream, while open: someone still listens on the session, so it is not idle. */
  listening: boolean;
}

interface ModernEntry {
  attached: AttachedSession;
  /** Its last request, on the monotonic clock. */
  lastSeen: number;
  inFlight: number;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body)}\n`, { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A JSON-RPC error answering `body`: under its request's id when the body is one request with one (see idOf), else null. */
function jsonRpcError(status: number, code: number, message: string, body?: unknown, refusal: ErrorCode = refusalCode(code, status)): Response {
  return json(status, { jsonrpc: '2.0', id: idOf(body), error: withRefusalCode({ code, message }, refusal) });
}

/**
 * An /mcp refusal (an error answer of 400 and above, the face's or the SDK's) with its stable code in
 * `error.data.code` (session/refusal-code.ts), when it has none: the one exit every /mcp answer passes.
 */
async function codedRefusal(response: Response): Promise<Response> {
  if (response.status < 400 || !(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  let answer: { error?: RpcError };
  try {
    answer = JSON.parse(await response.clone().text()) as typeof answer;
  } catch {
    return response;
  }
  const error = answer.error;
  if (typeof error !== 'object' || error === null || typeof error.code !== 'number') return response;
  const coded = withRefusalCode(error, refusalCode(error.code, response.status));
  if (coded === error) return response;
  return new Response(`${JSON.stringify({ ...answer, error: coded })}\n`, { status: response.status, headers: response.headers });
}

/** What mcpRequest learns of a request that its answer's stream (served) needs. */
interface RequestKind {
  /** A stream that only waits for notifications (a GET, a subscriptions/listen). */
  listen: boolean;
  /** The ids of the requests the body carries (not its notifications or responses). */
  ids: (string | number)[];
  /** Of the identity's requests in flight (maxRequestsPerIdentity), how many this one holds until its answer is handed on. */
  charged: number;
  /** The session it was served in (a 2025 session's id, a 2026-07-28 session's key), once it reached one. */
  session?: string;
}

/** An answer an engine cut because its client did not read it, for the next request of its session to tell. */
interface UnreadNotice {
  ids: (string | number)[];
  why: string;
  /** Answered over SSE (its calls may have been cut short), not as one JSON body built whole. */
  streamed: boolean;
}

/** The ids of a body's requests (messages with a method and an id). */
function requestIdsOf(body: unknown): (string | number)[] {
  const ids: (string | number)[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const message = m as { id?: unknown; method?: unknown } | null;
    if (message === null || typeof message !== 'object' || typeof message.method !== 'string') continue;
    if (typeof message.id === 'string' || (typeof message.id === 'number' && Number.isFinite(message.id))) ids.push(message.id);
  }
  return ids;
}

/** A JSON-RPC id as a key (1 and "1" are different ids). */
function idKey(id: string | number): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/**
 * The refusal of a session's next request after an engine cut an answer of that session its client did not
 * read: the bytes were already on the connection, so all the client saw was the connection closing.
 */
function unreadNoticeAnswer(notice: UnreadNotice, body: unknown): Response {
  const ids = notice.ids.slice(0, 10).map((id) => JSON.stringify(id)).join(', ') + (notice.ids.length > 10 ? ', …' : '');
  const ran = notice.streamed
    ? 'Calls of it still running then were cancelled; answers already sent may not have reached the client.'
    : 'Its call had run to its end (a statement that changes data took effect); only the answer was lost.';
  const error = {
    code: -32000,
    message: `The hub cut its answer to this session's earlier request ${ids} because the client did not read it (${notice.why}); the client saw its connection close. ${ran} Read each answer as it comes (or ask for less: a lower row limit, fetch_results pages). This request was not run: send it again.`,
    data: { code: 'ANSWER_NOT_READ', retryable: true },
  };
  return json(200, { jsonrpc: '2.0', id: idOf(body), error });
}

/** The SSE event answering a request whose answer was cut because its client did not read it. */
function notReadEvent(id: string | number, why: string): string {
  const error = {
    code: -32000,
    message: `The hub cut the answer to this request because the client did not read it: ${why}. Its call was cancelled. Read streamed answers as they come (or ask for less: a lower row limit, fetch_results pages), then send the request again.`,
    data: { code: 'ANSWER_NOT_READ', retryable: true },
  };
  return `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, error })}\n\n`;
}

/**
 * The id to answer a refused body under: that of its one request, or null for a batch, a notification, no body
 * (a GET, a DELETE) or a body not read. An id that cannot be given back as sent never gets this far (badShape).
 */
function idOf(body: unknown): string | number | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

/** The first revision without JSON-RPC batches (2025-06-18 removed them; 2024-11-05 and 2025-03-26 have them). */
const FIRST_WITHOUT_BATCHES = '2025-06-18';

/**
 * The SDK's 2025 transport answers any exception it meets while handling a POST as
 * `400 {"code":-32700,"message":"Parse error","data":"<the exception's text>"}`: an internal text (a
 * RangeError, a stack detail) the client cannot act on. It is logged, and the client told what happened.
 */
export async function withoutExceptionText(response: Response, logger: Logger): Promise<Response> {
  if (response.status !== 400 || !(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  const text = await response.clone().text();
  let error: { code?: unknown; message?: unknown; data?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    return response;
  }
  if (error?.code !== -32700 || error.message !== 'Parse error' || error.data === undefined) return response;
  logger.warn({ err: String(error.data).slice(0, 500) }, 'the MCP SDK failed on a 2025 session\'s message');
  return jsonRpcError(400, -32603, 'Internal error: the hub could not handle this message (its log says why). Check it is a valid JSON-RPC message; if it is, report it with the hub log\'s line.');
}

/**
 * The SDK answers a 2026-07-28 request for a method that revision removed (`ping`, `logging/setLevel`)
 * with a bare "Method not found"; the Unix socket and `snowmux stdio` say why and what to do instead
 * (connection-era.ts), and so does this face, with the SDK's status and code.
 */
async function explainRemovedMethod(response: Response, body: unknown): Promise<Response> {
  const method = (body as { method?: unknown } | null)?.method;
  if (response.status !== 404 || typeof method !== 'string' || Array.isArray(body)) return response;
  const told = removedIn2026(method, 'this request speaks (its _meta envelope says so)');
  if (told === null || !(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  let answer: { jsonrpc?: unknown; id?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    answer = JSON.parse(await response.clone().text()) as typeof answer;
  } catch {
    return response;
  }
  if (answer.error?.code !== -32601 || answer.error.message !== 'Method not found') return response;
  return json(response.status, { ...answer, error: { ...answer.error, message: told } });
}

/**
 * The SDK refuses a request whose 2026-07-28 `_meta` envelope names a revision the hub does not speak with a
 * bare "Unsupported protocol version: X"; the socket and `snowmux stdio` say which versions the hub speaks and
 * how to reach them (connection-era.ts), and so does this face, with the SDK's status, code and data.
 */
async function explainUnsupportedRevision(response: Response, body: unknown): Promise<Response> {
  if (response.status !== 400 || Array.isArray(body) || !(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  let answer: { jsonrpc?: unknown; id?: unknown; error?: { code?: unknown; message?: unknown; data?: { requested?: unknown } } };
  try {
    answer = JSON.parse(await response.clone().text()) as typeof answer;
  } catch {
    return response;
  }
  const requested = answer.error?.data?.requested;
  if (answer.error?.code !== -32022 || typeof requested !== 'string') return response;
  return json(response.status, { ...answer, error: { ...answer.error, message: unsupportedRevision(requested) } });
}

/**
 * The SDK's 2025 transport refuses a POST or GET whose Accept lacks a type it must be able to answer with,
 * and a second GET stream on a session, in words that say what is wrong but not what to send instead
 * ("Not Acceptable: Client must accept both application/json and text/event-stream", "Conflict: Only one
 * SSE stream is allowed per session"), under id null. Same status and code, with the header to send or the
 * stream to close, under the id of the request the POST carried.
 */
async function explainTransportRefusal(response: Response, method: string, body: unknown): Promise<Response> {
  if ((response.status !== 406 && response.status !== 409) || !(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  let answer: { jsonrpc?: unknown; id?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    answer = JSON.parse(await response.clone().text()) as typeof answer;
  } catch {
    return response;
  }
  const said = typeof answer.error?.message === 'string' ? answer.error.message : '';
  let told: string | undefined;
  if (response.status === 406 && said.startsWith('Not Acceptable')) {
    told = method === 'GET'
      ? 'Not Acceptable: a GET on /mcp opens the session\'s notification stream, which is Server-Sent Events; send "Accept: text/event-stream".'
      : 'Not Acceptable: /mcp answers a POST with JSON or with Server-Sent Events, as the request needs, so the client must accept both; send "Accept: application/json, text/event-stream".';
  } else if (response.status === 409 && said.startsWith('Conflict')) {
    told = 'Conflict: this session already has its GET notification stream open (one per session). Read that one, or close it before opening another.';
  }
  if (told === undefined) return response;
  // The SDK answers both under id null; a POST that carried one request is answered under that request's id.
  return new Response(`${JSON.stringify({ ...answer, id: answer.id ?? idOf(body), error: { ...answer.error, message: told } })}\n`, { status: response.status, headers: response.headers });
}

export function createHttpFace(opts: HttpFaceOptions): HttpFace {
  const { hub, logger } = opts;
  const monotonic = opts.monotonic ?? (() => performance.now());
  const answers = opts.answers ?? new AnswerBudget(MAX_HELD_ANSWER_BYTES);
  const legacy = new Map<string, LegacyEntry>();
  const modern = new Map<string, ModernEntry>();
  /** Failed authentications per source, and the audits of them: their minutes start on the monotonic clock. */
  const authFailures = new Map<string, { count: number; windowStart: number; throttled: number }>();
  const authAudits = { windowStart: Number.NEGATIVE_INFINITY, written: 0, suppressed: 0 };
  const otherRequests = new RateLimiter({ limit: opts.otherRequestRate ?? DEFAULT_OTHER_REQUEST_RATE });
  /** Each identity's JSON-RPC requests in flight on /mcp (see maxRequestsPerIdentity). */
  const requestsInFlight = new Map<string, number>();
  const maxRequestsPerIdentity = opts.maxRequestsPerIdentity ?? DEFAULT_MAX_REQUESTS_PER_IDENTITY;
  /** Each identity's refused bodies (see protocolErrorRate); one per key at most, as keys are few. */
  const refusedBodies = new Map<string, SessionBucket>();
  const maxFailures = opts.maxAuthFailuresPerMinute ?? 20;
  /**
   * Open /events streams and whose each is. Whether its holder sees every identity's sessions and calls is
   * asked at each event, not once at the start: a reload that takes the role's query_history = "all" away
   * holds for a stream already open, as it does for /status.
   */
  const eventStreams = new Map<ReadableStreamDefaultController<Uint8Array>, { identity: string; caller: Caller }>();
  /** Whose each open session is, for the /events of holders who see only their own (see core/status-view.ts). */
  const sessionOwners = new Map<string, string>(hub.status().sessions.map((s) => [s.id, s.identity.name]));
  const ownSession = (s: { id: string; identity: string }) => sessionOwners.set(s.id, s.identity);
  hub.events.on('session_open', ownSession);
  const encoder = new TextEncoder();
  /** Open /shim links per identity. */
  const shimLinks = new Map<string, number>();
  /**
   * Connections that outlive the request that authenticated them (/shim links, /events streams), by the key
   * they showed and the identity it named then: a revoked or expired key ends them, not only its next request,
   * and so does a key whose identity was changed (keys.json edited): what they run runs as that identity.
   */
  const heldKeys = new Map<object, { key: string; identity: string; what: string; end: () => void }>();
  /** Sessions whose answer an engine cut unread, told at their next request (see unreadNoticeAnswer). */
  const unreadNotices = new Map<string, UnreadNotice>();
  /** Open listen streams per identity (see MAX_LISTEN_STREAMS_PER_IDENTITY). */
  const listenStreams = new Map<string, number>();
  const recheckHeldKeys = () => {
    if (!opts.keys) return;
    for (const [holder, held] of heldKeys) {
      const check = opts.keys.check(held.key);
      if (check.ok ? check.identity === held.identity : check.reason === 'unavailable') continue;
      heldKeys.delete(holder);
      // Its sessions, calls and view of the hub are the identity's the key named when it connected: a key now
      // naming another identity (its role, limits, quota) must reconnect as that one.
      const reason = check.ok ? 'identity changed' : check.reason;
      logger.info({ what: held.what, reason, ...(check.ok ? { was: held.identity, now: check.identity } : {}) }, 'connection closed: its API key is no longer valid');
      held.end();
    }
  };
  const heldKeyTimer = setInterval(recheckHeldKeys, HELD_KEY_RECHECK_MS);
  heldKeyTimer.unref();
  opts.keys?.onChange?.(recheckHeldKeys);
  // `snowmux keys revoke|rotate` tells the hub (keys-changed), and `snowmux reload` re-reads the keys as its
  // help says: either checks what the keys hold open at once, instead of at the next 5 s round.
  const recheckNow = (): void => recheckHeldKeys();
  hub.events.on('keys_changed', recheckNow);
  hub.events.on('reload', recheckNow);
  let closed = false;

  const modernHandler: McpHttpHandler = createMcpHandler(
    (ctx) => {
      const entry = (ctx.authInfo?.extra as { entry?: ModernEntry } | undefined)?.entry;
      if (!entry) throw new Error('no session for this request');
      return createMcpServer(entry.attached.env);
    },
    { legacy: 'reject', onerror: (err) => logger.debug({ err: errorMessage(err) }, 'http mcp error') },
  );

  const idleSweep = setInterval(() => {
    const now = monotonic();
    for (const [id, e] of legacy) if (legacyIdle(e) && now - e.lastSeen > (opts.legacyIdleMs ?? 30 * 60_000)) closeLegacy(id, 'idle');
    for (const [key, e] of modern) if (e.inFlight === 0 && now - e.lastSeen > 10 * 60_000) closeModern(key, 'idle');
    // Sources whose minute is over start afresh: their records would only grow the map.
    for (const [remote, r] of authFailures) if (now - r.windowStart >= 60_000) authFailures.delete(remote);
  }, 30_000);
  idleSweep.unref();

  const forwardEvent = (name: string) => (payload: unknown) => {
    const chunk = encoder.encode(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
    // Sessions and calls are their identity's own; breakers, draining and reloads are the hub's.
    const about = payload as { identity?: unknown; sessionId?: unknown; id?: unknown };
    const owner = name === 'session_open' ? about.identity
      : name === 'session_close' ? sessionOwners.get(String(about.id))
        : name === 'call_start' || name === 'call' ? sessionOwners.get(String(about.sessionId)) : undefined;
    const ownedEvent = name === 'session_open' || name === 'session_close' || name === 'call_start' || name === 'call';
    if (name === 'session_close') sessionOwners.delete(String(about.id));
    for (const [c, { identity, caller }] of eventStreams) {
      if (ownedEvent && owner !== identity && !seesEveryone(caller)) continue;
      try {
        c.enqueue(chunk);
        // The engine stops reading a stream whose client does not read: what waits here is held for it.
        if ((c.desiredSize ?? 0) < 0) {
          eventStreams.delete(c);
          // Nor held by its key: the entry stayed for good (the key's every recheck ran it), one per such stream.
          heldKeys.delete(c);
          logger.warn({ identity, backlogBytes: MAX_EVENT_BACKLOG_BYTES - (c.desiredSize ?? 0) }, '/events client does not read its events; stream ended');
          c.error(new Error('the client does not read its events'));
        }
      } catch {
        eventStreams.delete(c);
        heldKeys.delete(c);
      }
    }
  };
  const listeners = (['session_open', 'session_close', 'call_start', 'call', 'breaker', 'draining', 'reload'] as const).map((name) => [name, forwardEvent(name)] as const);
  for (const [name, fn] of listeners) hub.events.on(name, fn as never);
  // A 2026-07-28 client's server lives for one request, so no session can be asked whether its offer
  // changed: a reload that changed roles tells every open subscriptions/listen stream that asked for
  // tools/list_changed (a client whose tools did not change lists them again, and gets the same).
  const announceRoles = (reload: Record<string, unknown>): void => {
    if (reload.outcome === 'applied' && Array.isArray(reload.applied) && reload.applied.includes('roles')) modernHandler.notify.toolsChanged();
  };
  hub.events.on('reload', announceRoles);

  function closeLegacy(id: string, why: string): void {
    const e = legacy.get(id);
    if (!e) return;
    legacy.delete(id);
    unreadNotices.delete(id);
    e.attached.detach(why);
    void e.transport.close().catch(() => {});
  }

  /**
   * While the hub drains, a 2025 session closes once it is owed nothing: no POST being handled, no request
   * of it unanswered (a tool call answered over SSE runs on after its POST returned), no call running.
   */
  function closeLegacyIfDone(e: LegacyEntry): void {
    if (hub.isDraining && e.inFlight === 0 && e.transport.owed === 0 && e.attached.session.running.size === 0) closeLegacy(e.attached.session.id, 'hub stopping');
  }

  /**
   * A 2025 session nothing goes on in: no request or call in flight, no answer owed, no GET stream open.
   * The one definition of idle, for the idle sweep and for the per-identity limit alike: the sweep counted
   * only requests in flight, so a session whose client only listened on its GET stream (for list_changed,
   * progress) was closed after 30 minutes under it, while the limit rightly took it for busy.
   */
  function legacyIdle(e: LegacyEntry): boolean {
    return e.inFlight === 0 && e.transport.owed === 0 && e.attached.session.running.size === 0 && !e.listening;
  }

  /**
   * Whether an identity may open another 2025 session. At its limit, its least recently used idle session
   * (no request or call in flight, no GET stream open) is closed to make room: a client that goes away
   * without DELETE (the v1 SDK's close() sends none, nor does a crashed agent) left sessions that locked
   * its identity out for their 30 idle minutes. Only when every one is busy is the new one refused.
   */
  function roomForLegacySession(identity: string): boolean {
    let count = 0;
    let oldest: [string, LegacyEntry] | undefined;
    for (const [id, e] of legacy) {
      if (e.identity !== identity) continue;
      count += 1;
      if (legacyIdle(e) && (oldest === undefined || e.lastSeen < oldest[1].lastSeen)) oldest = [id, e];
    }
    if (count < MAX_LEGACY_SESSIONS_PER_IDENTITY) return true;
    if (oldest === undefined) return false;
    logger.info({ identity, session: oldest[0], idleMs: Math.round(monotonic() - oldest[1].lastSeen) }, 'idle 2025 session closed to make room for a new one of its identity');
    closeLegacy(oldest[0], `replaced: its identity opened a new session at its limit of ${MAX_LEGACY_SESSIONS_PER_IDENTITY}, and this one was the least recently used idle one`);
    return true;
  }

  /** A 2025 session's GET stream, marked on its session while it is open (see roomForLegacySession). */
  function listenedTo(entry: LegacyEntry, response: Response): Response {
    const source = response.body;
    if (!source || !response.ok) return response;
    entry.listening = true;
    const reader = source.getReader();
    const ended = () => {
      entry.listening = false;
      // Its idle time starts now, not at its last request (which may be hours old).
      entry.lastSeen = monotonic();
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (!done) return c.enqueue(value);
          ended();
          c.close();
        } catch (err) {
          ended();
          c.error(err);
        }
      },
      cancel(reason) {
        ended();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  function closeModern(key: string, why: string): void {
    const e = modern.get(key);
    if (!e) return;
    modern.delete(key);
    unreadNotices.delete(key);
    e.attached.detach(why);
  }

  function hostAllowed(request: Request): boolean {
    const host = request.headers.get('host');
    if (!host) return false;
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.includes(name.toLowerCase())) return true;
    if (opts.hosts.length === 0) return !opts.loopbackOnly;
    return opts.hosts.some((h) => h.toLowerCase() === name.toLowerCase());
  }

  function originAllowed(origin: string | null): boolean {
    return origin === null || opts.allowedOrigins.includes(origin);
  }

  function auditRefusal(refusal: AuthRefusal, now: number): void {
    if (!opts.auditAuthRefusal) return;
    if (now - authAudits.windowStart >= 60_000) {
      authAudits.windowStart = now;
      authAudits.written = 0;
    }
    if (authAudits.written >= MAX_AUTH_AUDITS_PER_MINUTE) {
      authAudits.suppressed += 1;
      return;
    }
    authAudits.written += 1;
    const suppressed = authAudits.suppressed;
    authAudits.suppressed = 0;
    try {
      opts.auditAuthRefusal(suppressed > 0 ? { ...refusal, suppressed } : refusal);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'audit of a refused authentication failed');
    }
  }

  /** A hub without keys (loopback, http_auth off) is its owner's: they see everything, as on the socket. */
  function seesEveryone(caller: Caller): boolean {
    return caller.key === null || hub.seesEveryone(callerIdentity(caller));
  }

  function callerIdentity(caller: Caller): Identity {
    return { kind: 'api-key', name: caller.identity };
  }

  function authenticate(request: Request, remote: string, route: string): Caller | Response {
    if (opts.keys === null) return { identity: 'http-anonymous', keyId: null, key: null };
    const header = request.headers.get('authorization') ?? '';
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // A header that is there but not "Bearer <key>" (another scheme, a key with more after it) is malformed, not missing.
    const check: KeyCheck = token === undefined && header.trim() !== '' ? { ok: false, reason: 'malformed' } : opts.keys.check(token);
    // A valid key is always served: the throttle below slows guessing from an address, and behind a load
    // balancer or a NAT one address is everyone's, so it must not lock out the keys that are right.
    if (check.ok) return { identity: check.identity, keyId: check.id, key: token! };
    if (check.reason === 'unavailable') {
      // Not the caller's fault, and not a verdict on the key: another replica may serve it now, this one soon.
      opts.metrics?.authFailure('unavailable');
      return json(503, { error: `Cannot check the API key yet: ${check.why}. Retry in a few seconds (another replica may serve it now).` }, { 'retry-after': '5' });
    }
    const now = monotonic();
    const record = authFailures.get(remote);
    if (record && now - record.windowStart < 60_000 && record.count >= maxFailures) {
      opts.metrics?.authFailure('throttled');
      record.throttled += 1;
      // The first throttled request of the window is audited (from then on this source's refusals are not).
      if (record.throttled === 1) auditRefusal({ reason: 'throttled', route, remote }, now);
      return json(429, { error: 'Too many failed authentications from this address; wait a minute. (A valid key is still served.)' }, { 'retry-after': '60' });
    }
    const fresh = !record || now - record.windowStart >= 60_000;
    authFailures.set(remote, { count: fresh ? 1 : record.count + 1, windowStart: fresh ? now : record.windowStart, throttled: fresh ? 0 : record.throttled });
    opts.metrics?.authFailure(check.reason);
    logger.warn({ remote, route, reason: check.reason, keyId: check.id }, 'http authentication refused');
    auditRefusal({ reason: check.reason, route, remote, keyId: check.id, identity: check.identity }, now);
    const why: Record<typeof check.reason, string> = {
      missing: 'This hub needs an API key: send "Authorization: Bearer <key>" (snowmux keys create).',
      malformed: 'The API key is not a snowmux key (smx_<id>_<secret>).',
      unknown: 'The API key is not valid.',
      revoked: 'The API key was revoked.',
      expired: 'The API key has expired.',
    };
    return json(401, { error: why[check.reason] }, { 'www-authenticate': 'Bearer realm="snowmux"' });
  }

  async function readyz(caller: Caller): Promise<Response> {
    // A key holder reads the hub's facts as /status shows them to that key (no path of the hub's machine).
    const status = caller.key === null ? hub.status() : hub.statusFor(callerIdentity(caller));
    // The one judgement (core/hub-health.ts), the same `snowmux status` exits by.
    const health = status.health ?? assessHealth(status);
    const breakers = ((status.governance as { breakers?: { profile: string; state: string }[] } | undefined)?.breakers ?? []);
    // A team hub without Redis still serves, on per-replica limits: ready, and saying so.
    const team = (status.team as { mode?: string } | undefined)?.mode;
    return json(health.ok ? 200 : 503, {
      ready: health.ok,
      reasons: health.reasons,
      warnings: health.warnings,
      warehouses: status.warehouses.map((w) => ({ kind: w.kind, name: w.name, ...(w.problem ? { problem: w.problem } : {}) })),
      breakers,
      ...(team ? { team: team === 'connected' ? 'connected' : 'local limits (Redis unreachable)' } : {}),
    });
  }

  function events(caller: Caller): Response {
    const open = [...eventStreams.values()].filter((s) => s.identity === caller.identity).length;
    if (open >= MAX_EVENT_STREAMS_PER_IDENTITY) {
      return json(429, { error: `Too many /events streams open for "${caller.identity}" (${MAX_EVENT_STREAMS_PER_IDENTITY}): close one first.` }, { 'retry-after': '5' });
    }
    let controller: ReadableStreamDefaultController<Uint8Array>;
    let keepAlive: NodeJS.Timeout;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        eventStreams.set(c, { identity: caller.identity, caller });
        if (caller.key !== null) {
          heldKeys.set(c, {
            key: caller.key,
            identity: caller.identity,
            what: '/events',
            end: () => {
              clearInterval(keepAlive);
              eventStreams.delete(c);
              try {
                c.close();
              } catch {
                /* already closed */
              }
            },
          });
        }
        c.enqueue(encoder.encode(`event: hello\ndata: ${JSON.stringify({ pid: process.pid, state: hub.status().state })}\n\n`));
        keepAlive = setInterval(() => {
          try {
            c.enqueue(encoder.encode(': keep-alive\n\n'));
          } catch {
            clearInterval(keepAlive);
          }
        }, 15_000);
        keepAlive.unref();
      },
      cancel() {
        clearInterval(keepAlive);
        eventStreams.delete(controller);
        heldKeys.delete(controller);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: MAX_EVENT_BACKLOG_BYTES }));
    return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream', connection: 'keep-alive' } });
  }

  /** A body's JSON, or its refusal; `bytes` is its size (what refusing it cost, see refusedBody). */
  async function readBody(request: Request): Promise<{ body: unknown; bytes: number; text?: Buffer } | { refusal: Response; bytes: number }> {
    if (request.method !== 'POST') return { body: undefined, bytes: 0 };
    if (!isJsonContentType(request.headers.get('content-type'))) return { refusal: jsonRpcError(415, -32000, 'Unsupported Media Type: Content-Type must be application/json'), bytes: 0 };
    // The engines hand the body over as sent: a compressed one would be read as (invalid) JSON.
    const encoding = request.headers.get('content-encoding')?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      return { refusal: jsonRpcError(415, -32000, `Unsupported Media Type: the body is compressed (Content-Encoding: ${encoding.slice(0, 40)}), and the hub takes uncompressed JSON only. Send it without Content-Encoding.`), bytes: 0 };
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    // Counted before it is parsed: a body of 330,000 members took 2.3 s of the hub's only thread to parse
    // and count before its refusal. Any batch the hub takes fits the bound with an envelope per message.
    const shape = messageTextProblem(bytes, MAX_BATCH_MESSAGES);
    if (shape) return { refusal: jsonRpcError(400, shape.code, `${shape.message}.`), bytes: bytes.length };
    try {
      return { body: JSON.parse(new TextDecoder().decode(bytes)) as unknown, bytes: bytes.length, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    } catch {
      return { refusal: jsonRpcError(400, -32700, 'Parse error: the body is not valid JSON'), bytes: bytes.length };
    }
  }

  /**
   * A refused body counts against its identity's protocol-error bucket, by its size (refusalCost): a client
   * that keeps sending large bodies the hub must read and refuse is answered 429, unread, until it refills.
   */
  function refusedBody(caller: Caller, bytes: number, refusal: Response): Response {
    const limit = opts.protocolErrorRate ?? DEFAULT_PROTOCOL_ERROR_RATE;
    let bucket = refusedBodies.get(caller.identity);
    if (!bucket) refusedBodies.set(caller.identity, (bucket = new SessionBucket(limit)));
    bucket.charge(refusalCost(bytes, limit));
    return refusal;
  }

  /** The 429 for an identity whose refused bodies emptied its bucket, or undefined. */
  function refusingBodies(caller: Caller): Response | undefined {
    const waitMs = refusedBodies.get(caller.identity)?.wait() ?? 0;
    if (waitMs === 0) return undefined;
    logger.warn({ identity: caller.identity, retryAfterMs: waitMs }, 'http client keeps sending requests the hub refuses; its requests are refused unread for a while');
    return json(
      429,
      { jsonrpc: '2.0', id: null, error: { code: -32000, message: `Too many refused requests from "${caller.identity}": its recent requests were malformed, too large or had invalid params, and each cost the hub to read. Fix the requests; retry after ~${waitMs} ms.` } },
      { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    );
  }

  /**
   * A 2025 session's POST whose client hangs up cancels the requests it carried, as their
   * `notifications/cancelled` would: the SDK's transport does not tie the request's abort to its handlers,
   * so a query ran on, in the warehouse, for a caller who was gone. The listener stays with the request:
   * handleRequest returns as soon as the answer's stream opens, and the engines abort a request only while
   * its answer is unfinished (a cancel for a request already answered is ignored by the SDK).
   */
  function cancelWhenGone(request: Request, transport: LegacyTransport, body: unknown): void {
    const ids = (Array.isArray(body) ? body : [body])
      .map((m) => (m as { id?: unknown; method?: unknown } | null))
      .filter((m) => m !== null && typeof m === 'object' && typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number'))
      .map((m) => m!.id as string | number);
    if (ids.length === 0) return;
    const onAbort = () => {
      for (const requestId of ids) transport.cancel(requestId, 'the client closed its connection');
    };
    request.signal.addEventListener('abort', onAbort, { once: true });
  }

  /**
   * A 2025 session whose client hung up on an answer and holds nothing else open (no request owed an answer,
   * no GET stream): its client is most likely gone (a crashed agent, a killed process; none sends DELETE). The
   * session stays for the idle sweep, and serves its client if it comes back by its id, but no longer counts
   * as an open editor of its identity (rate shares, the queue's kept slot) until it sends again: 50 abandoned
   * sessions had cut the identity's live editor to a 50th of its rate for their minute of recent activity.
   */
  function awayIfGone(e: LegacyEntry): void {
    if (e.transport.owed === 0 && !e.listening && legacy.get(e.attached.session.id) === e) e.attached.session.away = true;
  }

  /** Learns the client's name and protocol from a body; `initialized`: an existing 2025 session's, whose initialize the SDK refuses. */
  function observe(attached: AttachedSession, body: unknown, initialized = false): void {
    for (const m of Array.isArray(body) ? body : [body]) {
      if (initialized && (m as { method?: unknown } | null)?.method === 'initialize') continue;
      observeClientMessage(attached.session, m);
    }
  }

  /**
   * A message that is no JSON-RPC request, notification or response: the SDK answers every such body with
   * the same "Bad Request: the request body is not a valid JSON-RPC message", under the id as JSON.parse read
   * it (an id past 2^53 rounded: an id the client never sent). The Unix socket and `snowmux stdio` say what
   * is wrong (a null, fractional or too large id, an unknown member, a progress token that is no string or
   * integer) and answer under null an id they cannot give back as sent: so does this face, with the same
   * words (the line transport's jsonRpcProblem) and the SDK's status.
   */
  function badShape(body: unknown, text: Buffer): Response | undefined {
    for (const m of Array.isArray(body) ? body : [body]) {
      // A batch inside a batch is no message (jsonRpcProblem's word for an array is about batches on stdio).
      const problem = Array.isArray(m) ? 'a JSON-RPC message must be a JSON object' : jsonRpcProblem(m);
      if (problem === null) continue;
      const id = m !== null && typeof m === 'object' && !Array.isArray(m) ? (m as { id?: unknown }).id : undefined;
      const answerable = (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) && idAsSent(text, id);
      return json(400, { jsonrpc: '2.0', id: answerable ? id : null, error: { code: INVALID_REQUEST, message: `Invalid Request: ${problem}.` } });
    }
    return undefined;
  }

  /**
   * An MCP-Protocol-Version header naming no version this server speaks, on anything but an initialize (which
   * negotiates its own): the spec's 400. The SDK routes such a request as 2026-07-28, whose refusal spoke of a
   * missing `_meta` envelope, not of the version.
   */
  function unsupportedVersionHeader(request: Request, body: unknown): Response | undefined {
    const version = request.headers.get('mcp-protocol-version');
    if (version === null || version === MODERN_REVISION || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
    if ((Array.isArray(body) ? body : [body]).some((m) => isInitializeRequest(m))) return undefined;
    const known = [MODERN_REVISION, ...SUPPORTED_PROTOCOL_VERSIONS].join(', ');
    return jsonRpcError(400, -32000, `Bad Request: unsupported MCP-Protocol-Version header ${shownText(JSON.stringify(version), 60)}: this server speaks ${known}. Send the version initialize negotiated (a 2025 session), or ${MODERN_REVISION} with its _meta envelope.`, body, 'PROTOCOL_VERSION_UNSUPPORTED');
  }

  /** A request whose params its method's schema refuses: −32602 naming the field (the SDK would answer −32603 with a zod dump). */
  function badParams(body: unknown): Response | undefined {
    for (const m of Array.isArray(body) ? body : [body]) {
      const message = m as { id?: unknown; method?: unknown; params?: unknown } | null;
      if (message === null || typeof message !== 'object' || typeof message.method !== 'string') continue;
      if (typeof message.id !== 'string' && typeof message.id !== 'number') continue;
      const problem = requestParamsProblem(message.method, message.params);
      if (problem) return json(200, { jsonrpc: '2.0', id: message.id, error: { code: INVALID_PARAMS, message: `${problem}. See the MCP schema for ${message.method}.` } });
    }
    return undefined;
  }

  /**
   * A response the client sends (to the hub's sampling or elicitation request) whose result or error holds
   * more than a request's params may: the SDK's checks of it overflowed the stack, and the client was
   * answered "Parse error" with the RangeError's text.
   */
  function badResponse(body: unknown): Response | undefined {
    for (const m of Array.isArray(body) ? body : [body]) {
      const message = m as { method?: unknown; result?: unknown; error?: unknown } | null;
      if (message === null || typeof message !== 'object' || message.method !== undefined) continue;
      const [field, value] = message.result !== undefined ? ['result', message.result] : ['error', message.error];
      const oversized = oversizedValue(value);
      if (oversized === 'depth') return jsonRpcError(400, -32600, `Invalid Request: the response's ${field} nests deeper than ${MAX_PARAM_DEPTH} levels; no answer to the hub needs that. Flatten the response`);
      if (oversized === 'values') return jsonRpcError(400, -32600, `Invalid Request: the response's ${field} holds more than ${MAX_PARAM_VALUES.toLocaleString('en-US')} values; no answer to the hub needs that many. Send a smaller response`);
    }
    return undefined;
  }

  /**
   * `tools/list`, `ping`, `resources/…` answer at once and pass no queue: like a line transport's session,
   * an identity sends them at a bounded rate (tools/call is governed by its rate limit and fair queue).
   */
  function overRequestRate(caller: Caller, body: unknown): Response | undefined {
    for (const m of Array.isArray(body) ? body : [body]) {
      const message = m as { id?: unknown; method?: unknown } | null;
      if (message === null || typeof message !== 'object' || typeof message.method !== 'string' || message.id === undefined) continue;
      if (message.method === 'tools/call') continue;
      const taken = otherRequests.tryTake(caller.identity);
      if (taken.ok) continue;
      const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null;
      return json(
        429,
        { jsonrpc: '2.0', id, error: { code: -32000, message: `Too many ${message.method} requests from "${caller.identity}": it sends them faster than the hub serves non-tool requests. Retry after ~${taken.retryAfterMs} ms.` } },
        { 'retry-after': String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))) },
      );
    }
    return undefined;
  }

  /**
   * An /mcp answer that streams (a 2025 session's GET stream, a 2026-07-28 `subscriptions/listen`, a call
   * answered over SSE):
   * - starts with an SSE comment, so its status and headers leave at once: the SDK writes nothing on a quiet
   *   stream until its first keep-alive, and the engines send headers with the first bytes, so a client
   *   opening a GET stream waited 15 s to learn it was open (one with a headers timeout gave up);
   * - is held open by the key that asked for it: like /shim links and /events streams, it ends when that key
   *   is revoked or expires, not when it next sends a request (a GET stream never does); `request` is then
   *   aborted, so a call the stream was to answer is cancelled in the warehouse.
   */
  function served(response: Response, caller: Caller, listen: boolean, request: AbortController, requestIds: readonly (string | number)[] = [], over: () => void = () => {}): Response {
    const source = response.body;
    if (!source || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return response;
    const holder = {};
    const reader = source.getReader();
    if (listen) listenStreams.set(caller.identity, (listenStreams.get(caller.identity) ?? 0) + 1);
    let released = false;
    /**
     * What the SDK's stream produced and the engine has not taken yet. The SDK enqueues each message as it
     * is sent, whether or not anyone reads (a 2025 POST's batch answered over SSE: every answer), so its
     * stream is read at once and what waits here is charged to the budget of unread answers (one POST
     * carrying 40 large queries, never read, held 367 MiB there, uncounted, until the stalled-output cut).
     */
    const queue: Uint8Array[] = [];
    let ended = false;
    let failure: { err: unknown } | undefined;
    let wake: (() => void) | undefined;
    const woken = () => {
      wake?.();
      wake = undefined;
    };
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    /**
     * The requests of this POST whose answers have not been handed on to the engine yet: on a cut, each is
     * answered with an ANSWER_NOT_READ error (a few hundred bytes each) in place of what was dropped, so a
     * client that reads later (its SDK's pending request) learns what happened, not a truncated stream.
     */
    const unanswered = new Set(requestIds.map(idKey));
    const held = answers.begin((why) => {
      logger.warn({ identity: caller.identity, heldAnswerBytes: answers.heldBytes, limit: answers.limit }, 'http clients do not read their answers; the longest-waiting answer is cut');
      // Its calls are cancelled, as when its client goes.
      request.abort(new Error(`the client did not read its answer: ${why}`));
      const owed = requestIds.filter((id) => unanswered.has(idKey(id)));
      if (owed.length === 0) {
        drop(new Error(`the client did not read its answer: ${why}`));
        return;
      }
      queue.length = 0;
      for (const id of owed) queue.push(encoder.encode(notReadEvent(id, why)));
      // The bytes held now are the explanations alone, which the client takes when it reads (or the
      // engine's stalled-output cut lets go of); what the SDK still produces is dropped.
      release();
      ended = true;
      void reader.cancel(new Error(`the client did not read its answer: ${why}`)).catch(() => {});
      woken();
    }, caller.identity);
    const release = () => {
      if (released) return;
      released = true;
      over();
      held.release();
      heldKeys.delete(holder);
      if (!listen) return;
      const left = (listenStreams.get(caller.identity) ?? 1) - 1;
      if (left > 0) listenStreams.set(caller.identity, left);
      else listenStreams.delete(caller.identity);
    };
    /** Ends the stream for a reason: what waits is dropped, the SDK's stream cancelled. */
    const drop = (err: Error) => {
      queue.length = 0;
      release();
      void reader.cancel(err).catch(() => {});
      try {
        controller?.error(err);
      } catch {
        /* already closed */
      }
      woken();
    };
    const pump = async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || released) break;
          if (!held.add(value.byteLength)) return;
          queue.push(value);
          woken();
        }
      } catch (err) {
        failure = { err };
      }
      ended = true;
      woken();
    };
    // highWaterMark 0: a chunk leaves the queue (and the count) only when the engine asks for it.
    const body = new ReadableStream<Uint8Array>(
      {
        start(c) {
          controller = c;
          c.enqueue(encoder.encode(': stream open\n\n'));
          void pump();
          if (caller.key === null) return;
          heldKeys.set(holder, {
            key: caller.key,
            identity: caller.identity,
            what: '/mcp stream',
            end: () => {
              // What the request started stops too, as when its client goes (see mcp()).
              request.abort(new Error(KEY_GONE));
              queue.length = 0;
              release();
              void reader.cancel(new Error('the API key is no longer valid')).catch(() => {});
              try {
                c.close();
              } catch {
                /* already closed */
              }
              woken();
            },
          });
        },
        async pull(c) {
          while (queue.length === 0 && !ended && !released) await new Promise<void>((resolve) => (wake = resolve));
          const next = queue.shift();
          if (next !== undefined) {
            if (!released) {
              held.sub(next.byteLength);
              if (unanswered.size > 0) for (const id of answeredIds(next)) unanswered.delete(idKey(id));
            }
            c.enqueue(next);
            return;
          }
          if (released && !ended) return;
          release();
          try {
            if (failure) c.error(failure.err);
            else c.close();
          } catch {
            /* already closed */
          }
        },
        cancel(reason) {
          queue.length = 0;
          release();
          woken();
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  async function mcp(request: Request, caller: Caller): Promise<Response> {
    const kind: RequestKind = { listen: false, ids: [], charged: 0 };
    let chargeReturned = false;
    const letGo = () => {
      if (chargeReturned || kind.charged === 0) return;
      chargeReturned = true;
      const left = (requestsInFlight.get(caller.identity) ?? kind.charged) - kind.charged;
      if (left > 0) requestsInFlight.set(caller.identity, left);
      else requestsInFlight.delete(caller.identity);
    };
    // The request's signal aborts when its client goes (the engine) or its key is revoked or expires while its
    // answer streams (served): either way what the request started (a call running in the warehouse) is
    // cancelled. Ending the stream alone left a revoked key's query running to its end, for nobody.
    const ended = new AbortController();
    const gone = () => ended.abort(request.signal.reason);
    if (request.signal.aborted) gone();
    else request.signal.addEventListener('abort', gone, { once: true });
    const held = new Request(request, { signal: ended.signal, duplex: 'half' } as RequestInit);
    // Until its answer starts: a 2026-07-28 call is answered only when it ends, so no stream holds it meanwhile.
    const holder = {};
    if (caller.key !== null) heldKeys.set(holder, { key: caller.key, identity: caller.identity, what: '/mcp request', end: () => ended.abort(new Error(KEY_GONE)) });
    let response: Response;
    try {
      response = await codedRefusal(await mcpRequest(held, caller, kind));
    } catch (err) {
      letGo();
      throw err;
    } finally {
      heldKeys.delete(holder);
    }
    const answer = served(response, caller, kind.listen, ended, kind.ids, letGo);
    // An answer that does not stream was built whole: it is the engine's (and the unread answers' bound's) now.
    if (answer === response) letGo();
    // An engine that cuts an answer its client does not read closes the connection with the answer's bytes
    // already on it: no error can follow them, so the session's next request is told instead.
    const session = kind.session;
    if (session !== undefined && kind.ids.length > 0) {
      ended.signal.addEventListener('abort', () => {
        const reason: unknown = ended.signal.reason;
        if (!isSnowmuxError(reason, 'ANSWER_NOT_READ') || !(legacy.has(session) || modern.has(session))) return;
        unreadNotices.set(session, { ids: kind.ids, why: reason.message, streamed: answer !== response });
      }, { once: true });
    }
    return answer;
  }

  /**
   * The refusal that tells a session of its answer cut unread (see unreadNoticeAnswer), once, at a request.
   * A tool call in the refused body is recorded (ANSWER_NOT_READ) as every call refused before a tool saw it
   * is: answered and not run, it left no record in status or the audit log.
   */
  async function unreadNotice(session: string, env: AttachedSession['env'], body: unknown): Promise<Response | undefined> {
    const notice = unreadNotices.get(session);
    if (notice === undefined || requestIdsOf(body).length === 0) return undefined;
    unreadNotices.delete(session);
    await recordToolCallRefusals(env, body, 'ANSWER_NOT_READ');
    return unreadNoticeAnswer(notice, body);
  }

  /** The `subscriptions/listen` request in a POST body, if there is one. */
  function listenRequest(body: unknown): { id?: unknown } | undefined {
    return (Array.isArray(body) ? body : [body]).find((m) => (m as { method?: unknown } | null)?.method === 'subscriptions/listen') as { id?: unknown } | undefined;
  }

  async function mcpRequest(request: Request, caller: Caller, kind: RequestKind): Promise<Response> {
    if (hub.isDraining) return jsonRpcError(503, -32000, 'The hub is shutting down; retry in a moment.');
    const throttled = refusingBodies(caller);
    if (throttled) return throttled;
    const read = await readBody(request);
    if ('refusal' in read) return read.bytes > 0 ? refusedBody(caller, read.bytes, read.refusal) : read.refusal;
    const { body, bytes, text } = read;
    kind.ids = requestIdsOf(body);
    // The batch size first: a batch the SDK refuses whole must not spend the identity's request budget.
    if (Array.isArray(body) && body.length > MAX_BATCH_MESSAGES) {
        await refusedToolCalls(request, caller, body);
      return refusedBody(caller, bytes, jsonRpcError(400, -32600, `Invalid Request: a batch holds at most ${MAX_BATCH_MESSAGES} messages; this one holds ${body.length}. Send them in smaller batches.`));
    }
    const limited = overRequestRate(caller, body);
    if (limited) return limited;
    const malformed = (text === undefined ? undefined : badShape(body, text)) ?? badParams(body) ?? badResponse(body);
    if (malformed) {
      await refusedToolCalls(request, caller, body);
      return refusedBody(caller, bytes, malformed);
    }
    // A stream that only waits for notifications: a GET, or a subscriptions/listen (what MAX_LISTEN_STREAMS_PER_IDENTITY bounds).
    const listen = request.method === 'GET' ? undefined : listenRequest(body);
    kind.listen = request.method === 'GET' || listen !== undefined;
    if (kind.listen && (listenStreams.get(caller.identity) ?? 0) >= MAX_LISTEN_STREAMS_PER_IDENTITY) {
      const id = typeof listen?.id === 'string' || typeof listen?.id === 'number' ? listen.id : null;
      return json(
        429,
        { jsonrpc: '2.0', id, error: { code: -32000, data: { code: 'TOO_MANY_SESSIONS', retryable: true }, message: `Too many notification streams open for "${caller.identity}" (${MAX_LISTEN_STREAMS_PER_IDENTITY}: GET streams and subscriptions/listen together): close unused ones first.` } },
        { 'retry-after': '5' },
      );
    }
    // Requests in flight: a notification stream is bounded above; anything else holds a place per request.
    if (!kind.listen && request.method === 'POST') {
      const cost = Math.max(1, kind.ids.length);
      const now = requestsInFlight.get(caller.identity) ?? 0;
      if (now + cost > maxRequestsPerIdentity) {
        await refusedToolCalls(request, caller, body);
        const alone = cost > maxRequestsPerIdentity;
        logger.warn({ identity: caller.identity, inFlight: now, requests: cost, limit: maxRequestsPerIdentity }, 'http client has too many requests in flight; refused');
        return json(
          429,
          {
            jsonrpc: '2.0',
            id: idOf(body),
            error: {
              code: -32000,
              data: { code: 'SESSION_BUSY', retryable: true },
              message: alone
                ? `Too many requests at once from "${caller.identity}": this batch holds ${cost}, and a key may have at most ${maxRequestsPerIdentity} in flight on this hub (hub.http_max_requests_per_identity). Send them in smaller batches, each once the answers of the last have come.`
                : `Too many requests in flight for "${caller.identity}": ${now} of its requests are still running or being answered, and a key may have at most ${maxRequestsPerIdentity} at once on this hub (hub.http_max_requests_per_identity); this POST carries ${cost}. Wait for answers before sending more (retry after ~1 s), or give each client its own key.`,
            },
          },
          { 'retry-after': '1' },
        );
      }
      requestsInFlight.set(caller.identity, now + cost);
      kind.charged = cost;
    }
    const authInfo = { token: '', clientId: caller.identity, scopes: [] as string[] };
    const unknownVersion = unsupportedVersionHeader(request, body);
    if (unknownVersion) {
      await refusedToolCalls(request, caller, body);
      return unknownVersion;
    }
    if (await isLegacyRequest(request, body)) {
      const sessionId = request.headers.get('mcp-session-id');
      // GET (a notification stream) and DELETE serve a 2025 session only. The transport spec answers a GET
      // the server does not serve as a stream with 405, and clients that probe GET before they initialize
      // (or that speak 2026-07-28, which has no sessions) go on only on a 405.
      if (request.method !== 'POST' && (!sessionId || request.headers.get('mcp-protocol-version') === MODERN_REVISION)) {
        return json(
          405,
          { jsonrpc: '2.0', id: null, error: { code: -32000, message: `Method Not Allowed: ${request.method} on /mcp serves only a 2025 session named by its Mcp-Session-Id header (GET: its notification stream; DELETE: ends it). Without one, and in MCP 2026-07-28 (which has no sessions), use POST: an initialize request starts a session; a 2026-07-28 request is self-contained (subscriptions/listen streams its notifications).` } },
          { allow: 'POST' },
        );
      }
      if (sessionId) {
        const entry = legacy.get(sessionId);
        // Another identity's session is as good as unknown: never say it exists.
        if (!entry || entry.identity !== caller.identity) {
          await refusedToolCalls(request, caller, body);
          return jsonRpcError(404, -32001, SESSION_NOT_FOUND, body);
        }
        // The SDK refuses it too, tersely and under id null: the client is told under its request's id what
        // an initialize is for.
        if ((Array.isArray(body) ? body : [body]).some((m) => isInitializeRequest(m))) {
          return json(400, {
            jsonrpc: '2.0',
            id: idOf(body),
            error: { code: -32600, message: 'Invalid Request: this session is already initialized (its Mcp-Session-Id header names it). An initialize starts a new session: send it without the Mcp-Session-Id header, and end this one with HTTP DELETE if it is no longer needed.' },
          });
        }
        // A session speaks the revision its initialize negotiated: the SDK took any version it knows on any
        // session, so a request said to be of another revision was served under the negotiated one's rules.
        const negotiated = entry.attached.session.protocolVersion;
        const sent = request.headers.get('mcp-protocol-version');
        if (request.method === 'POST' && sent !== null && negotiated !== null && sent !== negotiated) {
          await recordToolCallRefusals(entry.attached.env, body);
          return json(400, {
            jsonrpc: '2.0',
            id: idOf(body),
            error: { code: -32000, data: { code: 'PROTOCOL_VERSION_UNSUPPORTED', retryable: false }, message: `Bad Request: the MCP-Protocol-Version header says ${shownText(JSON.stringify(sent), 60)}, but this session (its Mcp-Session-Id) negotiated ${negotiated} at initialize. Send the version initialize negotiated on every request of the session, or initialize a new session (without the Mcp-Session-Id header) to speak another.` },
          });
        }
        // MCP 2025-06-18 removed JSON-RPC batches: a session that negotiated it or a later revision is refused
        // one, as that revision's client never sends it (the SDK's transport took it under any revision).
        if (request.method === 'POST' && Array.isArray(body) && negotiated !== null && negotiated >= FIRST_WITHOUT_BATCHES) {
          await recordToolCallRefusals(entry.attached.env, body);
          return json(400, {
            jsonrpc: '2.0',
            id: null,
            error: { code: INVALID_REQUEST, message: `Invalid Request: this session speaks MCP ${negotiated} (negotiated at initialize), which has no JSON-RPC batches (MCP 2025-06-18 removed them); this body is a batch of ${body.length}. Send each message in a POST of its own (requests may run at once, each on its own POST).` },
          });
        }
        // Not its initialize: the session was initialized by the POST that created it, and the SDK refuses
        // another ("Server already initialized"); read first, it renamed the session's client and protocol
        // version (status, the audit records, the query tag, a role chosen by client name) to what was refused.
        kind.session = sessionId;
        const told = request.method === 'POST' ? await unreadNotice(sessionId, entry.attached.env, body) : undefined;
        if (told) return told;
        observe(entry.attached, body, true);
        entry.lastSeen = monotonic();
        entry.inFlight += 1;
        // Whatever it sends, its client is there (again): its session counts in fair shares.
        entry.attached.session.away = false;
        cancelWhenGone(request, entry.transport, body);
        // After cancelWhenGone's listener: the requests it hung up on are owed nothing by then.
        request.signal.addEventListener('abort', () => awayIfGone(entry), { once: true });
        try {
          const response = await explainTransportRefusal(await withoutExceptionText(await entry.transport.handleRequest(request, { parsedBody: body, authInfo }), logger), request.method, body);
          // The SDK's transport refused the POST whole (an Accept it cannot answer, a protocol version the
          // session did not negotiate): its tool calls never reached a tool.
          if (sdkRefused(request, response)) await recordToolCallRefusals(entry.attached.env, body);
          if (request.method === 'DELETE') closeLegacy(sessionId, 'client ended the session');
          return request.method === 'GET' ? listenedTo(entry, response) : response;
        } finally {
          entry.inFlight -= 1;
          closeLegacyIfDone(entry);
        }
      }
      if (!isInitializeRequest(body)) {
        await refusedToolCalls(request, caller, body);
        return jsonRpcError(400, -32000, 'Bad Request: no Mcp-Session-Id header; start with an initialize request.', body, 'SESSION_REQUIRED');
      }
      if (!roomForLegacySession(caller.identity)) {
        return json(
          429,
          { jsonrpc: '2.0', id: idOf(body), error: { code: -32000, data: { code: 'TOO_MANY_SESSIONS', retryable: true }, message: `Too many open sessions for "${caller.identity}": all ${MAX_LEGACY_SESSIONS_PER_IDENTITY} are busy (a call running or a GET stream open). Retry when one of them finishes, end sessions you no longer use (HTTP DELETE with their Mcp-Session-Id), or give each client its own key.` } },
          { 'retry-after': '5' },
        );
      }
      let entry: LegacyEntry | undefined;
      const attached = hub.attachSession(
        { identity: { kind: caller.keyId ? 'api-key' : 'local-user', name: caller.identity }, transport: 'http' },
        {
          drain: () => {
            if (entry) closeLegacyIfDone(entry);
          },
          outstanding: () => (entry ? entry.inFlight + entry.transport.owed : 0),
          close: (why) => closeLegacy(attached.session.id, why),
        },
      );
      const transport = new LegacyTransport({ sessionIdGenerator: () => attached.session.id });
      entry = { attached, transport, identity: caller.identity, lastSeen: monotonic(), inFlight: 1, listening: false };
      // A call answered over SSE ends after its POST returned: the drain learns of it from the answer.
      const own = entry;
      transport.onAllAnswered = () => closeLegacyIfDone(own);
      legacy.set(attached.session.id, entry);
      observe(attached, body);
      let established = false;
      try {
        await createMcpServer(attached.env, { announceListChanges: true }).connect(transport);
        const response = await explainTransportRefusal(await withoutExceptionText(await transport.handleRequest(request, { parsedBody: body, authInfo }), logger), request.method, body);
        established = response.ok && transport.sessionId !== undefined;
        return response;
      } finally {
        entry.inFlight -= 1;
        // An initialize the transport refused (a wrong Accept, say) named no session to the client: none stays.
        if (!established) closeLegacy(attached.session.id, 'initialize refused');
      }
    }
    // 2026-07-28: each request is self-contained; calls of one identity and client share one session in status.
    // The client name is the caller's to choose: a bounded number of sessions per identity, the rest share one.
    const { key, entry: current, fresh } = modernSession(caller, body);
    kind.session = key;
    const told = await unreadNotice(key, current.attached.env, body);
    if (told) return told;
    observe(current.attached, body);
    current.lastSeen = monotonic();
    current.inFlight += 1;
    let refused = true;
    try {
      const response = await explainUnsupportedRevision(await explainRemovedMethod(await modernHandler.fetch(request, { parsedBody: body, authInfo: { ...authInfo, extra: { entry: current } } }), body), body);
      refused = response.status >= 400;
      // The SDK refused the request before any tool saw it (no _meta envelope, Mcp-Method or Mcp-Name headers
      // that disagree with the body): a tool call in it is recorded as the socket records such a call.
      if (sdkRefused(request, response)) await recordToolCallRefusals(current.attached.env, body);
      return response;
    } finally {
      current.inFlight -= 1;
      if (hub.isDraining && current.inFlight === 0) closeModern(key, 'hub stopping');
      // A session this request opened, for a request refused before it reached a tool, leaves with it.
      else if (fresh && refused && current.inFlight === 0 && current.attached.session.calls === 0) closeModern(key, 'request refused');
    }
  }

  /**
   * The 2026-07-28 session that shows an identity's calls from one client name (at most
   * MAX_MODERN_SESSIONS_PER_IDENTITY per identity; further names share one), opened if it is not open.
   */
  function modernSession(caller: Caller, body: unknown): { key: string; entry: ModernEntry; fresh: boolean } {
    let clientName = clientNameOf(body) ?? 'unknown';
    const perIdentity = [...modern.keys()].filter((k) => k.startsWith(`${caller.identity}\u0000`)).length;
    if (!modern.has(`${caller.identity}\u0000${clientName}`) && perIdentity >= MAX_MODERN_SESSIONS_PER_IDENTITY) clientName = '(other clients)';
    const key = `${caller.identity}\u0000${clientName}`;
    const open = modern.get(key);
    if (open) return { key, entry: open, fresh: false };
    let entry: ModernEntry | undefined;
    const attached = hub.attachSession(
      { identity: { kind: caller.keyId ? 'api-key' : 'local-user', name: caller.identity }, transport: 'http' },
      {
        drain: () => {
          if (entry!.inFlight === 0) closeModern(key, 'hub stopping');
        },
        outstanding: () => entry!.inFlight,
        close: (why) => closeModern(key, why),
      },
    );
    entry = { attached, lastSeen: monotonic(), inFlight: 0 };
    modern.set(key, entry);
    return { key, entry, fresh: true };
  }

  /**
   * Records each tools/call of a body refused before any tool saw it (INVALID_REQUEST), as the socket's line
   * transport records the same refusals: params its method's schema refuses, a body that is no JSON-RPC
   * message, a version header the hub does not speak, no session or another's. At most MAX_BATCH_MESSAGES
   * of one body (a batch the SDK would take records no more). The promise is the audit log's back-pressure.
   */
  async function recordToolCallRefusals(env: AttachedSession['env'], body: unknown, code: 'INVALID_REQUEST' | 'ANSWER_NOT_READ' = 'INVALID_REQUEST'): Promise<void> {
    for (const { id, params } of refusedToolCallsOf(body)) {
      try {
        await recordTransportRefusal(env, id, params, code);
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'audit of a refused /mcp tool call failed');
      }
    }
  }

  /**
   * The same, for a request refused before it reached a session: the caller's own 2025 session when its
   * Mcp-Session-Id names one, else its 2026-07-28 session for the client name (over /mcp no session
   * existed for such a request, so the refusal was answered and never audited). A session opened only for
   * the record closes with it.
   */
  async function refusedToolCalls(request: Request, caller: Caller, body: unknown): Promise<void> {
    if (refusedToolCallsOf(body).length === 0 || hub.isDraining) return;
    const sessionId = request.headers.get('mcp-session-id');
    const own = sessionId === null ? undefined : legacy.get(sessionId);
    if (own && own.identity === caller.identity) return recordToolCallRefusals(own.attached.env, body);
    const { key, entry, fresh } = modernSession(caller, body);
    entry.inFlight += 1;
    try {
      await recordToolCallRefusals(entry.attached.env, body);
    } finally {
      entry.inFlight -= 1;
      if (fresh && entry.inFlight === 0 && entry.attached.session.calls === 0) closeModern(key, 'request refused');
    }
  }

  /** The header-only part of every route: the answer it already has, or the caller to serve. */
  function gate(request: Request, info: RequestInfo, path: string): Response | Caller {
    if (!hostAllowed(request)) return json(403, { error: 'Host not allowed (DNS-rebinding protection): add it to hub.http_hosts.' });
    const origin = request.headers.get('origin');
    if (!originAllowed(origin)) return json(403, { error: 'Origin not allowed: add it to hub.http_allowed_origins to let a browser app call the hub.' });
    if (request.method === 'OPTIONS' && origin !== null) {
      return new Response(null, { status: 204, headers: { 'access-control-allow-methods': MCP_METHODS.join(', '), 'access-control-allow-headers': CORS_REQUEST_HEADERS.join(', '), 'access-control-max-age': '600' } });
    }
    if (path === '/healthz') {
      const health = hub.health();
      // A replica that cannot check its team's keys would refuse the team: the load balancer sends it nothing yet.
      const keysPending = opts.keys?.unavailable?.() ?? null;
      if (health.ok && keysPending !== null) return json(503, { ...health.body, status: 'starting', message: `Not serving yet: ${keysPending}. It serves once Redis answers.` });
      return json(health.ok ? 200 : 503, health.body);
    }
    // The path as the client sent it, cut: uWebSockets.js takes a request line of ~128 KiB, all echoed back before.
    if (!ROUTES.has(path)) return json(404, { error: `No such route: ${shownText(path, 200)}. Routes: ${[...ROUTES].join(', ')}.` });
    // /shim answers WebSocket upgrades only (checkShimUpgrade); a plain request there is told so.
    if (path === '/shim') return json(426, { error: '/shim takes only WebSocket upgrades, from remote shims (snowmux shim --url wss://host/shim).' });
    const caller = authenticate(request, info.remoteAddress, path);
    if (caller instanceof Response) return caller;
    if (path === '/mcp' && !MCP_METHODS.includes(request.method)) {
      return json(405, { error: `/mcp answers ${MCP_METHODS.join(', ')}: POST a JSON-RPC message, GET a stream, DELETE a session.` }, { allow: MCP_METHODS.join(', ') });
    }
    if (path !== '/mcp' && request.method !== 'GET') return json(405, { error: `${path} answers GET only.` }, { allow: 'GET' });
    return caller;
  }

  async function route(request: Request, info: RequestInfo, path: string, admitted: Caller | undefined): Promise<Response> {
    const caller = admitted ?? gate(request, info, path);
    if (caller instanceof Response) return caller;
    if (path === '/mcp') return mcp(request, caller);
    if (path === '/readyz') return readyz(caller);
    // statusFor judges the key's role itself; a hub without keys is its owner's (see seesEveryone).
    if (path === '/status') return json(200, caller.key === null ? hub.status() : hub.statusFor(callerIdentity(caller)));
    if (path === '/events') return events(caller);
    if (!opts.metrics) return json(404, { error: 'Metrics are not enabled on this hub.' });
    return new Response(await opts.metrics.text(), { status: 200, headers: { 'content-type': opts.metrics.contentType } });
  }

  /** Every response, /shim refusals included: the security headers, and CORS for an allowed origin. */
  function secured(response: Response, request: Request): Response {
    const headers = new Headers(response.headers);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!headers.has(k)) headers.set(k, v);
    // Every answer here is one caller's: never stored, whatever the SDK set for its streams (no-cache).
    const cache = headers.get('cache-control') ?? '';
    if (!/\bno-store\b/.test(cache)) headers.set('cache-control', /\bno-transform\b/.test(cache) ? 'no-store, no-transform' : 'no-store');
    const origin = request.headers.get('origin');
    if (origin !== null && opts.allowedOrigins.includes(origin)) {
      headers.set('access-control-allow-origin', origin);
      headers.set('vary', 'Origin');
      headers.set('access-control-expose-headers', 'mcp-session-id');
    }
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }

  return {
    checkShimUpgrade(request, info) {
      const path = new URL(request.url).pathname;
      let refusal: Response | undefined;
      if (closed || hub.isDraining) refusal = json(503, { error: 'The hub is shutting down; the shim will retry.' });
      else if (path !== '/shim') refusal = json(404, { error: `No WebSocket route ${shownText(path, 200)}; remote shims connect to /shim.` });
      else if (!hostAllowed(request)) refusal = json(403, { error: 'Host not allowed (DNS-rebinding protection): add it to hub.http_hosts.' });
      else if (!originAllowed(request.headers.get('origin'))) refusal = json(403, { error: 'Origin not allowed.' });
      if (refusal) {
        opts.metrics?.httpRequest('/shim', refusal.status);
        return secured(refusal, request);
      }
      let caller: Caller | Response = authenticate(request, info.remoteAddress, '/shim');
      if (!(caller instanceof Response) && (shimLinks.get(caller.identity) ?? 0) >= MAX_SHIM_LINKS_PER_IDENTITY) {
        // The shim retries as it does when a hub is busy.
        caller = json(429, { error: `Too many shim links open for "${caller.identity}" (${MAX_SHIM_LINKS_PER_IDENTITY}): close unused editors, or give each team member their own key.` }, { 'retry-after': '5' });
      }
      opts.metrics?.httpRequest('/shim', caller instanceof Response ? caller.status : 101);
      return caller instanceof Response ? secured(caller, request) : { identity: caller.identity, key: caller.key };
    },
    serveShim(link, { identity, key }) {
      shimLinks.set(identity, (shimLinks.get(identity) ?? 0) + 1);
      if (key !== null) heldKeys.set(link, { key, identity, what: '/shim', end: () => link.destroy() });
      link.once('close', () => {
        heldKeys.delete(link);
        const left = (shimLinks.get(identity) ?? 1) - 1;
        if (left > 0) shimLinks.set(identity, left);
        else shimLinks.delete(identity);
      });
      hub.acceptRemoteLink(link, identity, opts.shimProfiles ?? []);
    },
    admit(request, info) {
      const path = new URL(request.url).pathname;
      let gated: Response | Caller;
      try {
        gated = closed ? json(503, { error: 'The hub is shutting down.' }) : gate(request, info, path);
      } catch (err) {
        logger.error({ err: errorMessage(err), path }, 'http request failed');
        gated = json(500, { error: 'Internal error; the hub log has details.' });
      }
      if (!(gated instanceof Response)) return { caller: gated };
      opts.metrics?.httpRequest(ROUTES.has(path) ? path : 'other', gated.status);
      return secured(gated, request);
    },
    async fetch(request, info, admission) {
      const path = new URL(request.url).pathname;
      let response: Response;
      try {
        response = closed ? json(503, { error: 'The hub is shutting down.' }) : await route(request, info, path, admission?.caller);
      } catch (err) {
        logger.error({ err: errorMessage(err), path }, 'http request failed');
        response = json(500, { error: 'Internal error; the hub log has details.' });
      }
      opts.metrics?.httpRequest(ROUTES.has(path) ? path : 'other', response.status);
      return secured(response, request);
    },
    async close() {
      closed = true;
      clearInterval(idleSweep);
      clearInterval(heldKeyTimer);
      heldKeys.clear();
      for (const [name, fn] of listeners) hub.events.off(name, fn as never);
      hub.events.off('reload', announceRoles);
      hub.events.off('keys_changed', recheckNow);
      hub.events.off('reload', recheckNow);
      hub.events.off('session_open', ownSession);
      for (const c of eventStreams.keys()) {
        try {
          c.close();
        } catch {
          /* already closed */
        }
      }
      eventStreams.clear();
      for (const id of [...legacy.keys()]) closeLegacy(id, 'http face closed');
      for (const key of [...modern.keys()]) closeModern(key, 'http face closed');
      await modernHandler.close().catch(() => {});
    },
  };
}

/**
 * Whether the SDK refused a request whole, before any handler ran (a 4xx): not a request its client went away
 * from (499, aborted), nor a failure of the hub's (5xx), whose calls ran and are recorded as they ended.
 */
function sdkRefused(request: Request, response: Response): boolean {
  return response.status >= 400 && response.status < 499 && !request.signal.aborted;
}

/** The tools/call requests (with an id) of a body, at most MAX_BATCH_MESSAGES of them. */
function refusedToolCallsOf(body: unknown): { id: string | number; params: unknown }[] {
  const calls: { id: string | number; params: unknown }[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const message = m as { id?: unknown; method?: unknown; params?: unknown } | null;
    if (message === null || typeof message !== 'object' || Array.isArray(message) || message.method !== 'tools/call') continue;
    if (typeof message.id !== 'string' && !(typeof message.id === 'number' && Number.isFinite(message.id))) continue;
    calls.push({ id: message.id, params: message.params });
    if (calls.length >= MAX_BATCH_MESSAGES) break;
  }
  return calls;
}

function clientNameOf(body: unknown): string | undefined {
  const first = (Array.isArray(body) ? body[0] : body) as { params?: { _meta?: Record<string, unknown> } } | undefined;
  const info = first?.params?._meta?.['io.modelcontextprotocol/clientInfo'] as { name?: unknown } | undefined;
  return typeof info?.name === 'string' ? info.name.slice(0, 200) : undefined;
}
