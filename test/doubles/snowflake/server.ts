/**
 * A local Snowflake: the REST endpoints snowflake-sdk 3.3.0 uses, on 127.0.0.1, backed by DuckDB.
 * Wire facts: shared/notes/snowflake-wire.md. Every answer is JSON `{ success, code, message, data }`;
 * SQL errors are HTTP 200 with `data.sqlState` (otherwise the driver re-sends the statement).
 */
import { randomUUID, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { authenticate, type DoubleUser, type IssuedTokens, type LoginData } from './auth.js';
import { answerAnalyst, answerSearch, cortexEndpointOf, type CortexEndpoint, type CortexLogEntry, type CortexReply, type DoubleCortexOptions } from './cortex.js';
import { FaultTable, type Endpoint, type SnowflakeFault } from './faults.js';
import { abortableSleep, EngineSession, type DoubleTag, SfError, SnowflakeSqlEngine, type StatementOutcome } from './sql-engine.js';

export interface SnowflakeDoubleOptions {
  /** Account name the driver must send (compared case-insensitively). Default `FAKEACCT`. */
  account?: string;
  users: DoubleUser[];
  warehouses?: string[];
  /** Added to every login. */
  loginLatencyMs?: number;
  /** Added to every statement's execution (abortable, counts towards STATEMENT_TIMEOUT_IN_SECONDS). */
  queryLatencyMs?: number;
  /** Session token lifetime; after it, requests get 390112 and the driver renews. Default 1 h. */
  sessionTokenTtlMs?: number;
  masterTokenTtlMs?: number;
  /** How long a query request waits for its result before answering 333333 (in progress). Default 200 ms. */
  syncWaitMs?: number;
  /** How long GET /queries/<id>/result waits before answering 333333 again. Default 500 ms. */
  resultPollWaitMs?: number;
  /**
   * Rows a result carries inline (`rowset`) and in each downloadable chunk after it. Snowflake sends a large
   * result as a first part inline and the rest as `data.chunks` (URLs in cloud storage, fetched with the
   * `qrmk` key as SSE-C headers, body: rows separated by commas without the outer brackets). Default 1000.
   */
  resultChunkRows?: number;
  /** Object tags (TAG_REFERENCES, TAG_REFERENCES_ALL_COLUMNS). */
  tags?: DoubleTag[];
  /** Clustering keys by `DB.SCHEMA.TABLE` (SHOW TABLES `cluster_by`). */
  clusterBy?: Record<string, string>;
  /** Cortex Analyst models and Cortex Search services the account has (see cortex.ts). */
  cortex?: DoubleCortexOptions;
}

export interface SnowflakeDoubleCounters {
  logins: number;
  loginFailures: number;
  queries: number;
  aborts: number;
  heartbeats: number;
  renewals: number;
  logouts: number;
  /** USE … and ALTER SESSION … statements executed. */
  sessionStateStatements: number;
  requests: number;
  /** GETs of large results' chunks (cloud storage downloads). */
  chunkDownloads: number;
}

export interface QueryLogEntry {
  queryId: string;
  requestId: string;
  sessionId: string;
  user: string;
  sql: string;
  /** Effective QUERY_TAG: statement parameter, else session parameter, else ''. */
  queryTag: string;
  /** Session context when the statement started. */
  database: string | null;
  schema: string | null;
  role: string | null;
  /** The session's secondary roles when the statement started: `ALL` (Snowflake's default for a user) or `NONE`. */
  secondaryRoles: string;
  warehouse: string | null;
  /** Statement-level parameters sent with the query request. */
  parameters: Record<string, unknown>;
  status: 'RUNNING' | 'SUCCESS' | 'FAILED_WITH_ERROR' | 'ABORTED';
  errorCode?: string | undefined;
  startedAt: number;
  endedAt?: number | undefined;
}

export interface LoginLogEntry {
  user: string;
  authenticator: string;
  /** True when an MFA or SSO token cached by the client replaced the interactive step. */
  usedCachedToken: boolean;
  ok: boolean;
  errorCode?: string | undefined;
  sessionId?: string | undefined;
}

export interface AbortLogEntry {
  form: 'requestId' | 'queryId';
  requestId?: string | undefined;
  queryId?: string | undefined;
  /** Whether a running statement was found and aborted. */
  matched: boolean;
}

export interface SnowflakeDouble {
  /** `http://127.0.0.1:PORT` — pass as `accessUrl`. */
  url: string;
  account: string;
  counters: SnowflakeDoubleCounters;
  queries: QueryLogEntry[];
  abortLog: AbortLogEntry[];
  loginLog: LoginLogEntry[];
  /** Every Cortex REST request that reached a session (analyst messages, search queries). */
  cortexLog: CortexLogEntry[];
  /**
   * Emits 'login' (LoginLogEntry), 'queryStarted' (QueryLogEntry), 'queryFinished' (QueryLogEntry),
   * 'resultPoll' (queryId: the client knows the query id), 'abort' (AbortLogEntry), 'logout' (sessionId),
   * 'request' (endpoint, emitted before the request is handled).
   */
  events: EventEmitter;
  openSessions(): number;
  inject(fault: SnowflakeFault): void;
  /** Removes all faults and lets hung requests continue. */
  clearFaults(): void;
  /** Every current session token is expired: the next request gets 390112 and the driver renews. */
  expireSessionTokens(): void;
  /** Master tokens too: renewal fails with 390114, the driver's connection is gone. */
  expireMasterTokens(): void;
  setQueryLatency(ms: number): void;
  setLoginLatency(ms: number): void;
  /** Tokens issued for cached MFA/SSO logins (for tests of token caching). */
  issuedTokens: IssuedTokens;
  close(): Promise<void>;
}

interface DoubleSession {
  id: string;
  token: string;
  masterToken: string;
  tokenExpiresAt: number;
  masterExpiresAt: number;
  user: DoubleUser;
  engine: EngineSession;
  clientParams: Record<string, unknown>;
  closed: boolean;
}

interface QueryRecord {
  entry: QueryLogEntry;
  session: DoubleSession;
  abort: AbortController;
  done: Promise<void>;
  outcome?: StatementOutcome;
  error?: SfError;
}

class HttpReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    /** Sent as it is, with this content type, instead of the JSON of `body` (cloud storage's answers). */
    readonly raw?: { contentType: string; text: string },
  ) {}
}

const ok = (data: unknown, code: string | null = null): HttpReply => new HttpReply(200, { success: true, code, message: null, data });
const fail = (err: SfError, extra: Record<string, unknown> = {}): HttpReply =>
  new HttpReply(200, {
    success: false,
    code: err.code,
    message: err.message,
    data: { errorCode: err.code, sqlState: err.sqlState, internalError: false, ...extra },
  });

const MAX_KEPT_QUERIES = 1000;

export async function startSnowflakeDouble(options: SnowflakeDoubleOptions): Promise<SnowflakeDouble> {
  const account = (options.account ?? 'FAKEACCT').toUpperCase();
  const engine = await SnowflakeSqlEngine.create({ warehouses: options.warehouses ?? ['COMPUTE_WH', 'DEV_WH'], tags: options.tags, clusterBy: options.clusterBy });
  const users = new Map(options.users.map((u) => [u.name.toUpperCase(), u]));
  const sessionTtl = options.sessionTokenTtlMs ?? 3_600_000;
  const masterTtl = options.masterTokenTtlMs ?? 4 * 3_600_000;
  const syncWaitMs = options.syncWaitMs ?? 200;
  const resultPollWaitMs = options.resultPollWaitMs ?? 500;
  let baseUrl = '';
  const resultChunkRows = Math.max(1, options.resultChunkRows ?? 1000);
  /** Downloadable chunks of large results by `<queryId>/<n>`, with the key their request must present. */
  const resultChunks = new Map<string, { qrmk: string; body: string }>();
  let loginLatencyMs = options.loginLatencyMs ?? 0;
  let queryLatencyMs = options.queryLatencyMs ?? 0;

  const counters: SnowflakeDoubleCounters = {
    logins: 0,
    loginFailures: 0,
    queries: 0,
    aborts: 0,
    heartbeats: 0,
    renewals: 0,
    logouts: 0,
    sessionStateStatements: 0,
    requests: 0,
    chunkDownloads: 0,
  };
  const queries: QueryLogEntry[] = [];
  const abortLog: AbortLogEntry[] = [];
  const loginLog: LoginLogEntry[] = [];
  const cortexLog: CortexLogEntry[] = [];
  const events = new EventEmitter();
  const faults = new FaultTable();
  const issuedTokens: IssuedTokens = { mfaTokens: new Set(), idTokens: new Set() };
  const sessionsByToken = new Map<string, DoubleSession>();
  const sessionsByMaster = new Map<string, DoubleSession>();
  const retiredTokens = new Set<string>();
  const closedSessionTokens = new Set<string>();
  const records = new Map<string, QueryRecord>();
  const recordsByRequest = new Map<string, QueryRecord>();
  const pendingAborts = new Set<string>();
  const sockets = new Set<Socket>();
  let hung: (() => void)[] = [];
  let nextSessionId = 1_000_001;
  let closing = false;

  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handling = handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, new HttpReply(500, { success: false, code: '000000', message: String(err), data: null }));
    });
    inFlight.add(handling);
    void handling.finally(() => inFlight.delete(handling));
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket: Socket) => {
    if (closing || faults.refusesAll()) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function send(res: ServerResponse, reply: HttpReply): void {
    if (res.destroyed || res.writableEnded) return;
    const body = reply.raw?.text ?? JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'Content-Type': reply.raw?.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let buf = Buffer.concat(chunks);
    if (buf.length === 0) return {};
    if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch {
      return {};
    }
  }

  function endpointOf(method: string, path: string): Endpoint | undefined {
    if ((method === 'HEAD' || method === 'GET') && path === '/') return 'root';
    if (method === 'POST' && path === '/session/v1/login-request') return 'login';
    if (method === 'POST' && path === '/queries/v1/query-request') return 'query';
    if (method === 'GET' && /^\/queries\/[^/]+\/result$/.test(path)) return 'result';
    if (method === 'POST' && (path === '/queries/v1/abort-request' || /^\/queries\/[^/]+\/abort-request$/.test(path))) return 'abort';
    if (method === 'POST' && path === '/session/heartbeat') return 'heartbeat';
    if (method === 'POST' && path === '/session/token-request') return 'renew';
    if (method === 'POST' && path === '/session') return 'logout';
    if (method === 'GET' && /^\/monitoring\/queries\/[^/]+$/.test(path)) return 'status';
    if (method === 'POST' && path === '/telemetry/send') return 'telemetry';
    if (method === 'GET' && /^\/chunks\/[^/]+\/\d+$/.test(path)) return 'chunk';
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cortex = cortexEndpointOf(req.method ?? 'GET', url.pathname);
    const endpoint = cortex ? 'cortex' : endpointOf(req.method ?? 'GET', url.pathname);
    const body = await readBody(req);
    if (endpoint === undefined) {
      send(res, new HttpReply(404, { success: false, code: '404', message: `No such endpoint: ${req.method} ${url.pathname}`, data: null }));
      return;
    }
    events.emit('request', endpoint);
    for (const fault of faults.take(endpoint)) {
      if (fault.kind === 'refuse') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'hang') {
        // Released by clearFaults() or close(); then answered normally, so the client never retries it.
        await new Promise<void>((resolve) => hung.push(resolve));
        continue;
      }
      if (fault.kind === 'latency') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault.kind === 'httpStatus') {
        send(res, new HttpReply(fault.status, { success: false, code: String(fault.status), message: 'Injected HTTP error', data: null }));
        return;
      }
      if (fault.kind === 'error') {
        // `queryId`: Snowflake had taken the statement and failed while running it (its answer names the query).
        send(res, fail(new SfError(fault.code, fault.sqlState ?? '08001', fault.message ?? `Injected error ${fault.code}`), fault.queryId === true ? { queryId: randomUUID() } : {}));
        return;
      }
    }
    const reply = cortex ? await cortexRoute(cortex, req, body as Record<string, unknown>) : await route(endpoint, req, url, body as Record<string, unknown>, res);
    send(res, reply);
  }

  /** Cortex REST calls: a session token as for queries, errors as REST API v2 answers them (HTTP status, {code, message}). */
  async function cortexRoute(cortex: CortexEndpoint, req: IncomingMessage, body: Record<string, unknown>): Promise<HttpReply> {
    const session = sessionOf(req);
    if (session instanceof HttpReply) {
      const refused = session.body as { code: string; message: string };
      return new HttpReply(401, { code: refused.code, message: refused.message });
    }
    let target: string;
    let reply: CortexReply;
    if (cortex.kind === 'analyst') ({ target, reply } = answerAnalyst(options.cortex ?? {}, body));
    else {
      target = cortex.service;
      reply = await answerSearch(options.cortex ?? {}, cortex.service, body, (sql, params) => engine.readRows(sql, params));
    }
    cortexLog.push({ endpoint: cortex.kind, target, user: session.user.name, role: session.engine.state.role, body, status: reply.status });
    return new HttpReply(reply.status, reply.body);
  }

  function bearer(req: IncomingMessage): string | undefined {
    const m = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '');
    return m?.[1];
  }

  /** The session of a session-token request, or the Snowflake error the driver expects. */
  function sessionOf(req: IncomingMessage): DoubleSession | HttpReply {
    const token = bearer(req);
    if (token === undefined) return fail(new SfError('390101', '08001', 'Authorization header missing.'));
    const session = sessionsByToken.get(token);
    if (session === undefined) {
      if (retiredTokens.has(token)) return fail(new SfError('390112', '08001', 'Your session has expired. Please login again.'));
      if (closedSessionTokens.has(token)) return fail(new SfError('390111', '08001', 'Session no longer exists.  New login required to access the service.'));
      return fail(new SfError('390104', '08001', 'User must login again to access the service.'));
    }
    if (Date.now() >= session.tokenExpiresAt) return fail(new SfError('390112', '08001', 'Your session has expired. Please login again.'));
    return session;
  }

  async function route(endpoint: Endpoint, req: IncomingMessage, url: URL, body: Record<string, unknown>, res: ServerResponse): Promise<HttpReply> {
    switch (endpoint) {
      case 'login':
        return login(url, body);
      case 'renew':
        return renew(req, body);
      case 'telemetry':
        return ok(null);
      case 'chunk':
        return chunk(req, url.pathname);
      case 'root':
        // Snowflake's front page needs no session; what it says does not matter to a client, only that it answers.
        return new HttpReply(200, {});
      default:
        break;
    }
    const session = sessionOf(req);
    if (session instanceof HttpReply) return session;
    switch (endpoint) {
      case 'query':
        return query(session, url, body, res);
      case 'result':
        return result(session, decodeURIComponent(url.pathname.split('/')[2] ?? ''));
      case 'abort':
        return abort(url.pathname, body);
      case 'heartbeat':
        counters.heartbeats++;
        return ok({});
      case 'logout':
        return logout(session);
      case 'status':
        return status(session, decodeURIComponent(url.pathname.split('/')[3] ?? ''));
      default:
        return new HttpReply(404, { success: false, code: '404', message: 'unknown', data: null });
    }
  }

  function forgetTokens(session: Pick<DoubleSession, 'token' | 'masterToken'>): void {
    sessionsByToken.delete(session.token);
    sessionsByMaster.delete(session.masterToken);
  }

  async function login(url: URL, body: Record<string, unknown>): Promise<HttpReply> {
    if (loginLatencyMs > 0) await new Promise((r) => setTimeout(r, loginLatencyMs));
    const data = (body.data ?? {}) as LoginData;
    const authenticator = (data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
    const usedCachedToken =
      (authenticator === 'USERNAME_PASSWORD_MFA' && data.TOKEN !== undefined && issuedTokens.mfaTokens.has(data.TOKEN)) || authenticator === 'ID_TOKEN';
    const logEntry: LoginLogEntry = { user: String(data.LOGIN_NAME ?? '').toUpperCase(), authenticator, usedCachedToken, ok: false };
    loginLog.push(logEntry);
    let user: DoubleUser;
    try {
      user = authenticate(users, account, data, issuedTokens);
    } catch (err) {
      counters.loginFailures++;
      if (err instanceof SfError) {
        logEntry.errorCode = err.code;
        events.emit('login', logEntry);
        return fail(err);
      }
      throw err;
    }
    const allowedRoles = user.roles ?? ['PUBLIC'];
    const roleParam = url.searchParams.get('roleName');
    const role = roleParam ? unquoteParam(roleParam) : (allowedRoles[0] ?? 'PUBLIC');
    if (!allowedRoles.includes(role)) {
      counters.loginFailures++;
      logEntry.errorCode = '390189';
      events.emit('login', logEntry);
      return fail(
        new SfError(
          '390189',
          '08004',
          `Role '${role}' specified in the connect string does not exist or not authorized. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.`,
        ),
      );
    }
    const warehouseParam = url.searchParams.get('warehouse');
    const warehouseName = warehouseParam ? unquoteParam(warehouseParam) : (user.defaultWarehouse ?? null);
    const warehouse = warehouseName !== null && engine.warehouses.includes(warehouseName) ? warehouseName : null;
    const dbParam = url.searchParams.get('databaseName');
    const dbName = dbParam ? unquoteParam(dbParam) : (user.defaultDatabase ?? null);
    const database = dbName !== null && (await engine.databaseExists(dbName)) ? dbName : null;
    let schema: string | null = null;
    if (database !== null) {
      const schemas = (await engine.schemas(database)).map((s) => s.name);
      const schemaParam = url.searchParams.get('schemaName');
      const wanted = schemaParam ? unquoteParam(schemaParam) : (user.defaultSchema ?? 'PUBLIC');
      schema = schemas.includes(wanted) ? wanted : schemas.includes('PUBLIC') ? 'PUBLIC' : null;
    }
    const id = String(nextSessionId++);
    const clientParams = { ...(data.SESSION_PARAMETERS ?? {}) };
    const engineSession = await engine.openSession({
      user: user.name.toUpperCase(),
      role,
      warehouse,
      database,
      schema,
      params: new Map(Object.entries(user.parameters ?? {}).map(([k, v]) => [k.toUpperCase(), v])),
      sessionId: id,
      allowedRoles,
      secondaryRoles: 'ALL',
    });
    const now = Date.now();
    const session: DoubleSession = {
      id,
      token: `ST-${randomBytes(16).toString('hex')}`,
      masterToken: `MT-${randomBytes(16).toString('hex')}`,
      tokenExpiresAt: now + sessionTtl,
      masterExpiresAt: now + masterTtl,
      user,
      engine: engineSession,
      clientParams,
      closed: false,
    };
    sessionsByToken.set(session.token, session);
    sessionsByMaster.set(session.masterToken, session);
    counters.logins++;
    logEntry.ok = true;
    logEntry.sessionId = id;
    events.emit('login', logEntry);
    const reply: Record<string, unknown> = {
      token: session.token,
      masterToken: session.masterToken,
      validityInSeconds: Math.max(1, Math.round(sessionTtl / 1000)),
      masterValidityInSeconds: Math.max(1, Math.round(masterTtl / 1000)),
      sessionId: Number(id),
      parameters: parameterList(session),
      sessionInfo: { databaseName: database, schemaName: schema, warehouseName: warehouse, roleName: role },
      healthCheckInterval: 45,
    };
    if (authenticator === 'USERNAME_PASSWORD_MFA' && clientParams.CLIENT_REQUEST_MFA_TOKEN === true) {
      const mfaToken = `MFA-${randomBytes(12).toString('hex')}`;
      issuedTokens.mfaTokens.add(mfaToken);
      reply.mfaToken = mfaToken;
    }
    return ok(reply);
  }

  function renew(req: IncomingMessage, body: Record<string, unknown>): HttpReply {
    const master = bearer(req);
    const session = master === undefined ? undefined : sessionsByMaster.get(master);
    if (session === undefined || session.closed || Date.now() >= session.masterExpiresAt) {
      return fail(new SfError('390114', '08001', 'Authentication token has expired.  The user must authenticate again.'));
    }
    if (body.requestType !== 'RENEW') return fail(new SfError('390102', '08001', 'Unsupported token request.'));
    retiredTokens.add(session.token);
    forgetTokens(session);
    session.token = `ST-${randomBytes(16).toString('hex')}`;
    session.tokenExpiresAt = Date.now() + sessionTtl;
    sessionsByToken.set(session.token, session);
    sessionsByMaster.set(session.masterToken, session);
    counters.renewals++;
    return ok({
      sessionToken: session.token,
      validityInSecondsST: Math.max(1, Math.round(sessionTtl / 1000)),
      masterToken: session.masterToken,
      validityInSecondsMT: Math.max(1, Math.round((session.masterExpiresAt - Date.now()) / 1000)),
      sessionId: Number(session.id),
    });
  }

  function logout(session: DoubleSession): HttpReply {
    counters.logouts++;
    events.emit('logout', session.id);
    session.closed = true;
    closedSessionTokens.add(session.token);
    forgetTokens(session);
    for (const record of records.values()) if (record.session === session && record.entry.status === 'RUNNING') record.abort.abort('cancel');
    // Let running statements finish with the engine before its connection closes.
    void Promise.allSettled([...records.values()].filter((r) => r.session === session).map((r) => r.done)).then(() => session.engine.close());
    return ok(null);
  }

  function parameterList(session: DoubleSession): { name: string; value: unknown }[] {
    const params: { name: string; value: unknown }[] = [
      { name: 'TIMEZONE', value: session.engine.parameter('TIMEZONE') ?? 'UTC' },
      { name: 'TIMESTAMP_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM' },
      { name: 'TIMESTAMP_NTZ_OUTPUT_FORMAT', value: 'YYYY-MM-DD HH24:MI:SS.FF3' },
      { name: 'TIMESTAMP_LTZ_OUTPUT_FORMAT', value: '' },
      { name: 'TIMESTAMP_TZ_OUTPUT_FORMAT', value: '' },
      { name: 'DATE_OUTPUT_FORMAT', value: 'YYYY-MM-DD' },
      { name: 'TIME_OUTPUT_FORMAT', value: 'HH24:MI:SS' },
      { name: 'BINARY_OUTPUT_FORMAT', value: 'HEX' },
      { name: 'CLIENT_SESSION_KEEP_ALIVE', value: false },
      { name: 'CLIENT_RESULT_CHUNK_SIZE', value: 160 },
    ];
    if (session.clientParams.JS_TREAT_INTEGER_AS_BIGINT !== undefined) {
      params.push({ name: 'JS_TREAT_INTEGER_AS_BIGINT', value: session.clientParams.JS_TREAT_INTEGER_AS_BIGINT });
    }
    return params;
  }

  /**
   * A result as Snowflake sends it: its first resultChunkRows rows inline, the rest as chunks to download
   * (their URLs on this server standing for cloud storage, the key in `qrmk`).
   */
  function chunked(queryId: string, rowset: (string | null)[][]): { rowset: (string | null)[][]; chunks: { url: string; rowCount: number; uncompressedSize: number; compressedSize: number }[]; qrmk: string } {
    const qrmk = Buffer.from(`${queryId}-key`).toString('base64');
    const chunks: { url: string; rowCount: number; uncompressedSize: number; compressedSize: number }[] = [];
    for (let start = resultChunkRows, n = 0; start < rowset.length; start += resultChunkRows, n++) {
      const rows = rowset.slice(start, start + resultChunkRows);
      const body = rows.map((r) => JSON.stringify(r)).join(',');
      resultChunks.set(`${queryId}/${n}`, { qrmk, body });
      const size = Buffer.byteLength(body);
      chunks.push({ url: `${baseUrl}/chunks/${queryId}/${n}?X-Amz-Signature=double`, rowCount: rows.length, uncompressedSize: size, compressedSize: size });
    }
    return { rowset: rowset.slice(0, resultChunkRows), chunks, qrmk };
  }

  /** GET of a result chunk, as cloud storage answers it: the rows, or an XML error (403 for a wrong key). */
  function chunk(req: IncomingMessage, path: string): HttpReply {
    counters.chunkDownloads++;
    const [, , queryId, n] = path.split('/');
    const stored = resultChunks.get(`${decodeURIComponent(queryId ?? '')}/${n ?? ''}`);
    const xml = (status: number, code: string): HttpReply =>
      new HttpReply(status, null, { contentType: 'application/xml', text: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>` });
    if (stored === undefined) return xml(404, 'NoSuchKey');
    if (req.headers['x-amz-server-side-encryption-customer-key'] !== stored.qrmk) return xml(403, 'AccessDenied');
    return new HttpReply(200, null, { contentType: 'application/octet-stream', text: stored.body });
  }

  function finalReply(record: QueryRecord): HttpReply {
    const queryId = record.entry.queryId;
    if (record.error !== undefined) return fail(record.error, { queryId });
    const outcome = record.outcome!;
    const state = record.session.engine.state;
    const parts = chunked(queryId, outcome.result.rowset);
    return ok({
      parameters: parameterList(record.session),
      rowtype: outcome.result.rowtype,
      rowset: parts.rowset,
      ...(parts.chunks.length > 0 ? { chunks: parts.chunks, qrmk: parts.qrmk } : {}),
      total: outcome.result.rowset.length,
      returned: outcome.result.rowset.length,
      queryId,
      databaseProvider: null,
      finalDatabaseName: state.database,
      finalSchemaName: state.schema,
      finalWarehouseName: state.warehouse,
      finalRoleName: state.role,
      numberOfBinds: 0,
      arrayBindSupported: false,
      statementTypeId: outcome.statementTypeId,
      version: 1,
      sendResultTime: Date.now(),
      queryResultFormat: 'json',
    });
  }

  function inProgressReply(record: QueryRecord, code: '333333' | '333334'): HttpReply {
    const queryId = record.entry.queryId;
    return new HttpReply(200, {
      success: true,
      code,
      message: 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
      data: { queryId, getResultUrl: `/queries/${queryId}/result`, queryAbortsAfterSecs: 300, progressDesc: null },
    });
  }

  /** Waits for the statement up to `ms`; true when it finished. */
  async function waitDone(record: QueryRecord, ms: number, res: ServerResponse): Promise<boolean> {
    if (record.entry.status !== 'RUNNING') return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const gone = new Promise<false>((resolve) => res.once('close', () => resolve(false)));
    const finished = await Promise.race([record.done.then(() => true as const), timedOut, gone]);
    clearTimeout(timer);
    return finished;
  }

  async function query(session: DoubleSession, url: URL, body: Record<string, unknown>, res: ServerResponse): Promise<HttpReply> {
    const requestId = url.searchParams.get('requestId') ?? randomUUID();
    // A retried request (same requestId) must not run the statement twice.
    let record = recordsByRequest.get(requestId);
    if (record === undefined) {
      record = startQuery(session, requestId, body);
    }
    if (body.asyncExec === true) return inProgressReply(record, '333334');
    const done = await waitDone(record, syncWaitMs, res);
    return done ? finalReply(record) : inProgressReply(record, '333333');
  }

  function startQuery(session: DoubleSession, requestId: string, body: Record<string, unknown>): QueryRecord {
    counters.queries++;
    const sql = typeof body.sqlText === 'string' ? body.sqlText : '';
    const parameters = (body.parameters ?? {}) as Record<string, unknown>;
    const state = session.engine.state;
    const entry: QueryLogEntry = {
      queryId: randomUUID(),
      requestId,
      sessionId: session.id,
      user: state.user,
      sql,
      queryTag: session.engine.parameter('QUERY_TAG', parameters) ?? '',
      database: state.database,
      schema: state.schema,
      role: state.role,
      secondaryRoles: state.secondaryRoles,
      warehouse: state.warehouse,
      parameters,
      status: 'RUNNING',
      startedAt: Date.now(),
    };
    const abort = new AbortController();
    const record: QueryRecord = { entry, session, abort, done: Promise.resolve() };
    record.done = runQuery(record, sql, body, parameters);
    records.set(entry.queryId, record);
    recordsByRequest.set(requestId, record);
    queries.push(entry);
    trimRecords();
    if (pendingAborts.delete(requestId)) abort.abort('cancel');
    events.emit('queryStarted', entry);
    return record;
  }

  async function runQuery(record: QueryRecord, sql: string, body: Record<string, unknown>, parameters: Record<string, unknown>): Promise<void> {
    await Promise.resolve(); // let startQuery register the record first
    const { entry, session, abort } = record;
    const timeoutSeconds = Number(session.engine.parameter('STATEMENT_TIMEOUT_IN_SECONDS', parameters) ?? '0');
    const timer = timeoutSeconds > 0 ? setTimeout(() => abort.abort('timeout'), timeoutSeconds * 1000) : undefined;
    try {
      if (queryLatencyMs > 0) await abortableSleep(queryLatencyMs, abort.signal);
      record.outcome = await session.engine.execute(sql, {
        bindings: body.bindings as Record<string, { type: string; value: unknown }> | undefined,
        parameters,
        signal: abort.signal,
        onSessionStateStatement: () => counters.sessionStateStatements++,
        queryHistory: () =>
          [...records.values()]
            .filter((r) => r.session.user === session.user)
            .map((r) => ({
              queryId: r.entry.queryId,
              queryText: r.entry.sql,
              queryTag: r.entry.queryTag,
              userName: r.session.user.name.toUpperCase(),
              warehouse: r.entry.warehouse,
              status: r.entry.status === 'SUCCESS' ? 'SUCCESS' : r.entry.status === 'RUNNING' ? 'RUNNING' : 'FAIL',
              errorCode: r.entry.errorCode ?? null,
              startedAt: r.entry.startedAt,
              endedAt: r.entry.endedAt ?? null,
              rowsProduced: r.outcome ? r.outcome.result.rowset.length : null,
            })),
        queryById: (id) => {
          const r = records.get(id);
          return r && r.session.user === session.user ? { sql: r.entry.sql } : undefined;
        },
      });
      if (abort.signal.aborted) throw abort.signal.reason;
      entry.status = 'SUCCESS';
    } catch (err) {
      if (err instanceof SfError) {
        record.error = err;
        entry.status = 'FAILED_WITH_ERROR';
      } else if (abort.signal.aborted && abort.signal.reason === 'timeout') {
        record.error = new SfError('000630', '57014', `Statement reached its statement or warehouse timeout of ${timeoutSeconds} second(s) and was canceled.`);
        entry.status = 'FAILED_WITH_ERROR';
      } else if (abort.signal.aborted) {
        record.error = new SfError('000604', '57014', 'SQL execution canceled');
        entry.status = 'ABORTED';
      } else {
        record.error = new SfError('000603', 'XX000', `SQL execution internal error: ${String(err)}`);
        entry.status = 'FAILED_WITH_ERROR';
      }
      entry.errorCode = record.error.code;
    } finally {
      clearTimeout(timer);
      entry.endedAt = Date.now();
      events.emit('queryFinished', entry);
    }
  }

  function trimRecords(): void {
    while (records.size > MAX_KEPT_QUERIES) {
      const oldest = records.keys().next().value as string;
      const record = records.get(oldest)!;
      records.delete(oldest);
      recordsByRequest.delete(record.entry.requestId);
    }
    if (queries.length > MAX_KEPT_QUERIES * 10) queries.splice(0, queries.length - MAX_KEPT_QUERIES * 10);
  }

  async function result(session: DoubleSession, queryId: string): Promise<HttpReply> {
    const record = records.get(queryId);
    if (record === undefined || record.session.user !== session.user) {
      return fail(new SfError('000709', '02000', `Statement ${queryId} not found`), { queryId });
    }
    events.emit('resultPoll', queryId);
    const fakeRes = new EventEmitter() as unknown as ServerResponse;
    const done = await waitDone(record, resultPollWaitMs, fakeRes);
    return done ? finalReply(record) : inProgressReply(record, '333333');
  }

  function abort(path: string, body: Record<string, unknown>): HttpReply {
    counters.aborts++;
    let entry: AbortLogEntry;
    if (path === '/queries/v1/abort-request') {
      const requestId = String(body.requestId ?? '');
      const record = recordsByRequest.get(requestId);
      const matched = record !== undefined && record.entry.status === 'RUNNING';
      if (record === undefined) pendingAborts.add(requestId);
      else record.abort.abort('cancel');
      entry = { form: 'requestId', requestId, queryId: record?.entry.queryId, matched };
    } else {
      const queryId = decodeURIComponent(path.split('/')[2] ?? '');
      const record = records.get(queryId);
      const matched = record !== undefined && record.entry.status === 'RUNNING';
      record?.abort.abort('cancel');
      entry = { form: 'queryId', queryId, requestId: record?.entry.requestId, matched };
    }
    abortLog.push(entry);
    events.emit('abort', entry);
    return ok(null);
  }

  function status(session: DoubleSession, queryId: string): HttpReply {
    const record = records.get(queryId);
    if (record === undefined || record.session.user !== session.user) return ok({ queries: [] });
    const e = record.entry;
    return ok({
      queries: [
        {
          id: e.queryId,
          status: e.status,
          state: e.status,
          sqlText: e.sql,
          startTime: e.startedAt,
          endTime: e.endedAt ?? 0,
          totalDuration: (e.endedAt ?? Date.now()) - e.startedAt,
          errorCode: record.error?.code,
          errorMessage: record.error?.message,
        },
      ],
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  baseUrl = `http://127.0.0.1:${port}`;

  const double: SnowflakeDouble = {
    url: `http://127.0.0.1:${port}`,
    account,
    counters,
    queries,
    abortLog,
    loginLog,
    cortexLog,
    events,
    issuedTokens,
    openSessions: () => new Set(sessionsByToken.values()).size,
    inject: (fault) => faults.add(fault),
    clearFaults: () => {
      faults.clear();
      const waiting = hung;
      hung = [];
      for (const release of waiting) release();
    },
    expireSessionTokens: () => {
      for (const s of sessionsByToken.values()) s.tokenExpiresAt = 0;
    },
    expireMasterTokens: () => {
      for (const s of sessionsByToken.values()) {
        s.tokenExpiresAt = 0;
        s.masterExpiresAt = 0;
      }
    },
    setQueryLatency: (ms) => {
      queryLatencyMs = ms;
    },
    setLoginLatency: (ms) => {
      loginLatencyMs = ms;
    },
    close: async () => {
      closing = true;
      faults.clear();
      for (const release of hung) release();
      hung = [];
      for (const record of records.values()) record.abort.abort('cancel');
      await Promise.allSettled([...records.values()].map((r) => r.done));
      // Answer what is in flight: a request cut off mid-way is retried by the driver for minutes.
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 2_000).unref())]);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of new Set([...sessionsByToken.values()])) if (!s.closed) s.engine.close();
      engine.close();
    },
  };
  return double;
}

/** Login query parameters arrive as the driver got them; a quoted identifier keeps its case. */
function unquoteParam(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/""/g, '"');
  return value.toUpperCase();
}
