/**
 * The hub: accepts shim and control connections on the home's Unix socket, runs one MCP session per
 * shim connection, and owns everything shared (warehouses, limits, the call record). Sessions are
 * isolated: each has its own transport, server instance and abort controllers.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { userInfo } from 'node:os';
import { rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { serveStdio, type StdioServerHandle } from '@modelcontextprotocol/server/stdio';
import { errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, encodeLine } from '../wire/framing.js';
import { type Hello, checkHello, parseLinkFrame } from '../wire/hello.js';
import { forwardedEnvironment } from '../wire/forwarded-env.js';
import { handleControl, type ControlHandlers, type ControlRequest } from './control.js';
import { watchLink } from './listen/link-watchdog.js';
import { listenExclusive, listenTakingOver, sameSocket, socketIdentity, type SocketIdentity } from './listen/unix-listener.js';
import { createMcpServer } from './mcp-server.js';
import { flushLogger, type Logger } from './observe/logger.js';
import { CallSinks, RecentCalls } from './observe/recent-calls.js';
import { LineTransport } from './session/line-transport.js';
import { Session, observeClientMessage, type SessionFacts, type SessionSnapshot } from './session/session.js';
import type { CallRecord, CallSink } from './observe/call-record.js';
import { CallPipeline } from './pipeline/call-pipeline.js';
import { DEFAULT_LIMITS, type HubLimits } from './pipeline/hub-limits.js';
import type { ToolEnv } from './tools/tool-runtime.js';
import type { WarehouseProvider } from './warehouse/warehouse-registry.js';
import type { WarehouseInfo } from './warehouse/types.js';
import type { TeamTool } from './tools/team-tools.js';
import type { Governance } from './governance/governance.js';

export interface HubOptions {
  home: string;
  socketPath: string;
  logger: Logger;
  warehouses: WarehouseProvider & { describe(): WarehouseInfo[]; close(): Promise<void> };
  /** Roles, limits, fair queue, breakers: every call is admitted and governed by it. */
  governance: Governance;
  limits?: Partial<HubLimits>;
  maxLineBytes?: number;
  /** How long a stop waits for running calls before cancelling them. */
  shutdownGraceMs?: number;
  /** A connection that sends no hello within this time is dropped. */
  handshakeTimeoutMs?: number;
  /**
   * A shim link silent for this long is dead (shims ping every few seconds; the hub pings a quiet one
   * halfway through): its session closes and its running calls are cancelled.
   */
  linkIdleTimeoutMs?: number;
  /** A client whose answers have not drained for this long is cut off (default 60 s). */
  stalledOutputMs?: number;
  /** How often the hub checks that its socket path still names its own socket. */
  socketCheckMs?: number;
  /** Extra sinks for every finished call (audit, metrics). */
  sinks?: CallSink[];
  /** Applied to every finished call before any sink (recent list in status included) sees it. */
  scrubCall?: (call: CallRecord) => CallRecord;
  /** Extra sections for status output (pool, breaker, limits…). */
  statusSections?: () => Record<string, unknown>;
  /**
   * Called once when the hub starts draining: let go of what the next hub will need at once (a fixed
   * metrics port…). The next hub may already be running.
   */
  onStopping?: (reason: string) => void;
  /** Tools defined in config.toml, checked at start. */
  teamTools?: readonly TeamTool[];
  /** Re-reads the configuration (see HubRuntime.reload). */
  reload?: () => unknown;
}

export interface HubStatus {
  version: string;
  pid: number;
  startedAt: string;
  uptimeMs: number;
  home: string;
  socket: string;
  state: 'running' | 'draining';
  warehouses: WarehouseInfo[];
  sessions: SessionSnapshot[];
  totals: { sessionsOpened: number; calls: number; errors: number; refused: number; cancelled: number };
  recent: CallRecord[];
  [section: string]: unknown;
}

interface Connection {
  socket: Duplex;
  /** A shim on another machine (WebSocket /shim): who its key says it is. */
  remote?: { identity: string } | undefined;
  session: Session | null;
  handle: StdioServerHandle | null;
  /** Sessions only: tell the peer the hub is going away and close once it is owed nothing. */
  drain?: (reason: string) => void;
  /** Sessions only: requests received and not answered yet. */
  outstanding?: () => number;
  /** Sessions only: end it now (running calls are cancelled). */
  close?: (why: string) => void;
}

/** What the hub tells listeners (the HTTP face's /events): sessions coming and going, calls, draining. */
export interface HubEvents {
  session_open: [{ id: string; transport: string; identity: string; client: string | null }];
  session_close: [{ id: string; why: string; calls: number; errors: number }];
  call: [Pick<CallRecord, 'at' | 'sessionId' | 'tool' | 'outcome' | 'errorCode' | 'ms' | 'rows' | 'queryId'>];
  draining: [{ reason: string }];
  reload: [Record<string, unknown>];
}

/** How a transport outside the hub (HTTP, WebSocket) lets the hub drain and close one of its sessions. */
export interface AttachedSessionHooks {
  /** Stop taking new requests for this session; close once it is owed nothing. */
  drain(reason: string): void;
  /** Requests received and not answered yet. */
  outstanding(): number;
  /** End it now (running calls are cancelled). */
  close(why: string): void;
}

export interface AttachedSession {
  session: Session;
  /** What createMcpServer needs to serve this session's calls. */
  env: ToolEnv;
  logger: Logger;
  /** The transport ended the session: it leaves status, and shutdown stops waiting for it. */
  detach(why: string): void;
}

export interface HubStartOptions {
  /**
   * Take the socket path over from a running (or frozen) hub instead of refusing to start: the path is
   * replaced atomically and the old hub, once told (or when it next looks), drains and exits.
   */
  takeOver?: boolean;
}

export class Hub {
  readonly startedAt = new Date();
  /** See HubEvents. Listeners must not throw. */
  readonly events = new EventEmitter<HubEvents>();
  private readonly attached = new Map<string, AttachedSessionHooks>();
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  private readonly recent = new RecentCalls(50);
  private readonly sink: CallSink;
  private readonly limits: HubLimits;
  /** The one path every call of every session takes. */
  private readonly pipeline: CallPipeline;
  private readonly maxLineBytes: number;
  private sessionsOpened = 0;
  private draining = false;
  private stopping: Promise<void> | null = null;
  /** The socket file this hub bound; another one at the path means another hub took over. */
  private boundSocket: SocketIdentity | null = null;
  private socketCheck: NodeJS.Timeout | null = null;
  private resolveStopped!: () => void;
  /** Resolves when the hub has fully stopped (by `stop`, a signal, or a replacing hub). */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly opts: HubOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const announce: CallSink = {
      record: (c) => {
        if (this.events.listenerCount('call') === 0) return;
        this.events.emit('call', { at: c.at, sessionId: c.sessionId, tool: c.tool, outcome: c.outcome, errorCode: c.errorCode, ms: c.ms, rows: c.rows, queryId: c.queryId });
      },
    };
    this.sink = new CallSinks([this.recent, ...(opts.sinks ?? []), announce], opts.scrubCall);
    this.pipeline = new CallPipeline({ warehouses: opts.warehouses, governance: opts.governance, limits: this.limits, logger: opts.logger, sink: this.sink });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * A session served by a transport outside the hub (HTTP, WebSocket): it is listed in status, governed and
   * recorded like a socket session, and drained and closed with the hub. Refused while the hub drains.
   */
  attachSession(facts: Omit<SessionFacts, 'id'> & { id?: string }, hooks: AttachedSessionHooks): AttachedSession {
    if (this.draining) throw new Error('the hub is draining');
    const session = new Session({ ...facts, id: facts.id ?? randomUUID() });
    this.sessions.set(session.id, session);
    this.attached.set(session.id, hooks);
    this.sessionsOpened += 1;
    const logger = this.logger.child({ session: session.id });
    logger.info({ transport: facts.transport, identity: facts.identity.name }, 'session opened');
    this.events.emit('session_open', { id: session.id, transport: facts.transport, identity: facts.identity.name, client: session.client?.name ?? null });
    const env: ToolEnv = { session, pipeline: this.pipeline, limits: this.limits, teamTools: this.opts.teamTools ?? [] };
    let detached = false;
    return {
      session,
      env,
      logger,
      detach: (why) => {
        if (detached) return;
        detached = true;
        session.close(why);
        this.sessions.delete(session.id);
        this.attached.delete(session.id);
        logger.info({ why, calls: session.calls, errors: session.errors }, 'session closed');
        this.events.emit('session_close', { id: session.id, why, calls: session.calls, errors: session.errors });
      },
    };
  }

  get logger(): Logger {
    return this.opts.logger;
  }

  async start(options: HubStartOptions = {}): Promise<void> {
    const onConnection = (socket: Socket) => this.accept(socket);
    this.server = options.takeOver
      ? await listenTakingOver(this.opts.socketPath, onConnection)
      : await listenExclusive(this.opts.socketPath, this.opts.home, onConnection);
    this.boundSocket = socketIdentity(this.opts.socketPath);
    // A hub that was frozen while another took its place (or whose socket file was deleted) is
    // unreachable: it notices here, drains what it still has and exits instead of lingering.
    this.socketCheck = setInterval(() => {
      if (!this.ownsSocketPath()) void this.stop('another hub took over the socket (or it was removed)');
    }, this.opts.socketCheckMs ?? 1_000);
    this.socketCheck.unref();
    this.logger.info({ version: VERSION, socket: this.opts.socketPath, home: this.opts.home, startedBy: process.env.SNOWMUX_STARTED_BY ?? 'user', takeOver: options.takeOver === true }, 'hub started');
  }

  private ownsSocketPath(): boolean {
    return sameSocket(this.boundSocket, socketIdentity(this.opts.socketPath));
  }

  // ---- connections ----------------------------------------------------------------------------

  /**
   * A remote shim's link (the HTTP face's /shim WebSocket, already authenticated): the same hello,
   * framing, liveness and drain as a local shim, as the key's identity. It may open MCP sessions only (no
   * control requests), and its hello's SNOWFLAKE_* settings are ignored: credentials never come from the
   * network; its sessions use the hub's profiles.
   */
  acceptRemoteLink(stream: Duplex, identity: string): void {
    this.accept(stream, { identity });
  }

  private accept(socket: Duplex, remote?: { identity: string }): void {
    const conn: Connection = { socket, session: null, handle: null, remote };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('error', (err) => this.logger.debug({ err: errorMessage(err) }, 'connection error'));
    const decoder = new LineDecoder(64 * 1024);
    const timer = setTimeout(() => {
      this.logger.info('connection sent no hello in time; closing');
      socket.destroy();
    }, this.opts.handshakeTimeoutMs ?? 5_000);
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) {
        decoder.push(chunk, (ev) => {
          if (ev.kind === 'oversize') socket.destroy();
        });
        return;
      }
      socket.off('data', onData);
      clearTimeout(timer);
      let first: Buffer | null = null;
      decoder.push(chunk.subarray(0, nl + 1), (ev) => {
        if (ev.kind === 'line') first = ev.line;
      });
      const rest = chunk.subarray(nl + 1);
      this.dispatch(conn, first, rest);
    };
    socket.on('data', onData);
    socket.once('end', () => clearTimeout(timer));
  }

  private dispatch(conn: Connection, first: Buffer | null, rest: Buffer): void {
    const { socket } = conn;
    const frame = first ? parseLinkFrame(first) : null;
    if (this.draining && !(frame?.snowmux === 'hello' && frame.role === 'control')) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'HUB_DRAINING', message: 'The hub is shutting down; retry in a moment.' }));
      return;
    }
    if (conn.remote && !(frame?.snowmux === 'hello' && frame.role === 'shim')) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'BAD_HELLO', message: 'Over /shim only a snowmux shim hello is accepted; use /mcp for MCP clients and /status for status.' }));
      return;
    }
    if (frame?.snowmux === 'hello') {
      const refusal = checkHello(frame);
      if (refusal) {
        this.logger.warn({ code: refusal.code, shimVersion: frame.version }, 'refused a link');
        socket.end(encodeLine(refusal));
        return;
      }
      if (frame.role === 'control') {
        socket.write(encodeLine({ snowmux: 'welcome', wire: frame.wire, version: VERSION, hubPid: process.pid, sessionId: '' }));
        handleControl(socket, rest, this.controlHandlers(), this.logger);
        return;
      }
      this.openSession(conn, frame, rest);
      return;
    }
    // No hello: a plain MCP client speaking newline-delimited JSON-RPC straight to the socket.
    const initial = first ? Buffer.concat([first, Buffer.from('\n'), rest]) : rest;
    this.openSession(conn, null, initial);
  }

  private openSession(conn: Connection, hello: Hello | null, initial: Buffer): void {
    const { socket } = conn;
    const facts: SessionFacts = {
      id: randomUUID(),
      identity: conn.remote ? { kind: 'api-key', name: conn.remote.identity } : { kind: 'local-user', name: localUserName() },
      transport: conn.remote ? 'websocket' : 'unix-socket',
      shimPid: hello?.pid,
      parent: hello?.parent,
      shimVersion: hello?.version,
      profile: hello?.profile,
      // Only the documented settings are taken from a hello, whatever a client puts there.
      env: hello?.env && !conn.remote ? forwardedEnvironment(hello.env) : undefined,
      resumeOf: hello?.resumeOf,
    };
    const session = new Session(facts);
    conn.session = session;
    this.sessions.set(session.id, session);
    this.sessionsOpened += 1;
    const logger = this.logger.child({ session: session.id });
    logger.info({ shimPid: facts.shimPid, parent: facts.parent, shimVersion: facts.shimVersion, resumeOf: facts.resumeOf }, 'session opened');
    this.events.emit('session_open', { id: session.id, transport: facts.transport, identity: facts.identity.name, client: null });
    if (hello) socket.write(encodeLine({ snowmux: 'welcome', wire: hello.wire, version: VERSION, hubPid: process.pid, sessionId: session.id }));
    (socket as Partial<Socket>).setNoDelay?.(true);
    // Silence this long means a dead peer (frozen or killed shim, sleep, cut socket): free the session.
    const watchdog = hello
      ? watchLink(socket, this.opts.linkIdleTimeoutMs ?? 20_000, (silentMs) => {
        logger.info({ silentMs }, 'shim link silent too long; closing the session');
        socket.destroy();
      })
      : null;
    // A shim that acknowledges draining says when it has sent its last request on this link.
    const drainAck = hello?.caps?.includes('drain-ack') === true;
    let draining = false;
    let inputDone = false;
    const closeIfDone = () => {
      if (draining && transport.outstanding === 0 && (inputDone || !drainAck)) close('hub stopping');
    };

    const transport = new LineTransport({
      input: socket,
      output: socket,
      maxLineBytes: this.maxLineBytes,
      initial,
      observe: (m) => observeClientMessage(session, m),
      onRejected: (reason, detail) => logger.warn({ reason, detail: detail.slice(0, 300) }, 'rejected client input'),
      onActivity: () => watchdog?.heard(),
      onLinkFrame: (frame) => {
        if (frame.snowmux !== 'drained') return;
        inputDone = true;
        closeIfDone();
      },
      onIdle: () => closeIfDone(),
      onEnded: () => close('client disconnected'),
      // Room for several full-size answers; beyond that the client is not reading at all.
      maxBufferedBytes: Math.max(64 * 1024 * 1024, this.limits.maxResultBytes * 8),
      stalledOutputMs: this.opts.stalledOutputMs,
      onOverflow: (bytes, why) => {
        logger.warn({ bufferedBytes: bytes, why }, 'client does not read its answers; closing the session');
        socket.destroy();
      },
    });
    const env: ToolEnv = { session, pipeline: this.pipeline, limits: this.limits, teamTools: this.opts.teamTools ?? [] };
    let closed = false;
    const close = (why: string) => {
      if (closed) return;
      closed = true;
      session.close(why);
      this.sessions.delete(session.id);
      void conn.handle?.close().catch(() => {});
      // The SDK's handle does not end the socket: do it, after pending writes flush.
      socket.end();
      logger.info({ why, calls: session.calls, errors: session.errors }, 'session closed');
      this.events.emit('session_close', { id: session.id, why, calls: session.calls, errors: session.errors });
    };
    socket.once('close', () => close('connection closed'));
    conn.close = close;
    conn.outstanding = () => transport.outstanding;
    conn.drain = (reason) => {
      if (draining) return;
      draining = true;
      if (hello) socket.write(encodeLine({ snowmux: 'draining', reason }));
      closeIfDone();
    };
    conn.handle = serveStdio(() => createMcpServer(env), {
      transport,
      onerror: (err) => logger.debug({ err: errorMessage(err) }, 'session protocol error'),
    });
  }

  // ---- control ----------------------------------------------------------------------------

  private controlHandlers(): ControlHandlers {
    return {
      status: () => this.status(),
      stop: () => {
        setImmediate(() => void this.stop('snowmux stop'));
        return { stopping: true };
      },
      replace: () => {
        setImmediate(() => void this.handOver());
        return { releasing: true, pid: process.pid };
      },
      disconnect: (req) => this.disconnect(req),
      reload: () => this.reload(),
    };
  }

  /** `snowmux reload` and SIGHUP: new rules for every session, none dropped. Throws when the new config is invalid. */
  reload(): unknown {
    if (!this.opts.reload) throw new Error('This hub cannot reload its configuration.');
    const result = this.opts.reload();
    this.events.emit('reload', result as Record<string, unknown>);
    return result;
  }

  /** Drops one session's link, as a cut socket would: its calls are cancelled, its shim reconnects. */
  private disconnect(req: Partial<ControlRequest>): { disconnected: string[] } {
    const wanted = typeof req.session === 'string' ? req.session : '';
    if (wanted.length < 4) throw new Error('Name the session to disconnect: "session" must be its id or a prefix of at least 4 characters (see `snowmux status`).');
    const matches = [...this.connections].filter((c) => c.session?.id.startsWith(wanted));
    if (matches.length > 1) throw new Error(`"${wanted}" matches ${matches.length} sessions; give more of the id.`);
    for (const conn of matches) {
      this.logger.info({ session: conn.session?.id }, 'session disconnected by control request');
      conn.socket.destroy();
    }
    return { disconnected: matches.map((c) => c.session!.id) };
  }

  status(): HubStatus {
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      home: this.opts.home,
      socket: this.opts.socketPath,
      state: this.draining ? 'draining' : 'running',
      warehouses: this.opts.warehouses.describe(),
      sessions: [...this.sessions.values()].map((s) => s.snapshot()),
      totals: { sessionsOpened: this.sessionsOpened, ...this.recent.totals },
      recent: this.recent.list(20),
      ...(this.opts.statusSections?.() ?? {}),
    };
  }

  // ---- shutdown ---------------------------------------------------------------------------

  /** Graceful stop: stop accepting, let running calls finish up to the grace period, close sessions. */
  stop(reason: string): Promise<void> {
    if (!this.stopping) this.stopping = this.shutdown(reason);
    return this.stopping;
  }

  /** For `hub --replace`: the new hub already holds the path; drain like a stop. */
  private handOver(): Promise<void> {
    if (!this.stopping) this.stopping = this.shutdown('replaced by a newer hub');
    return this.stopping;
  }

  /**
   * Stop accepting, tell every shim to move on (new calls go to the next hub while this one finishes
   * what it has), close each session once it is owed nothing, cancel what is left after the grace
   * period, then close everything.
   */
  private async shutdown(reason: string): Promise<void> {
    this.draining = true;
    if (this.socketCheck) clearInterval(this.socketCheck);
    this.logger.info({ reason, sessions: this.sessions.size }, 'hub stopping');
    this.releaseSocketPath();
    try {
      this.opts.onStopping?.(reason);
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'onStopping failed');
    }
    this.events.emit('draining', { reason });
    for (const conn of this.connections) conn.drain?.(reason);
    for (const hooks of [...this.attached.values()]) hooks.drain(reason);
    const graceMs = this.opts.shutdownGraceMs ?? 10_000;
    await waitUntil(() => this.sessions.size === 0, graceMs);
    const sessionConns = () => [...this.connections].filter((c) => c.close && c.session && !c.session.closed);
    if (this.sessions.size > 0) {
      this.logger.warn({ sessions: this.sessions.size }, 'grace period over; cancelling running calls');
      // Cancelling makes each call answer (a cancelled tool result); give those answers a moment to go out.
      for (const conn of sessionConns()) conn.session?.close(`hub stopping: ${reason}`);
      for (const id of this.attached.keys()) this.sessions.get(id)?.close(`hub stopping: ${reason}`);
      await waitUntil(() => sessionConns().every((c) => (c.outstanding?.() ?? 0) === 0) && [...this.attached.values()].every((h) => h.outstanding() === 0), 1_000);
      for (const conn of sessionConns()) conn.close?.('hub stopping: grace period over');
      for (const hooks of [...this.attached.values()]) hooks.close('hub stopping: grace period over');
    }
    // Control links (a replacing hub waits on its own to learn that this one is done) and the rest.
    for (const conn of this.connections) conn.socket.end();
    await waitUntil(() => this.connections.size === 0, 1_000);
    for (const conn of this.connections) conn.socket.destroy();
    await this.opts.warehouses.close().catch((err) => this.logger.warn({ err: errorMessage(err) }, 'closing warehouses failed'));
    this.logger.info('hub stopped');
    flushLogger(this.logger);
    this.resolveStopped();
  }

  /**
   * Frees the path at once so shims reach the next hub (or start one) while this one drains. When the path
   * already names another hub's socket, the listener stays open: closing it would make libuv unlink the
   * path it bound — the new hub's socket. Nothing can connect to it any more; it goes with the process.
   */
  private releaseSocketPath(): void {
    if (!this.server) return;
    if (this.ownsSocketPath()) {
      this.server.close();
      rmSync(this.opts.socketPath, { force: true });
    } else {
      this.server.unref();
    }
  }
}

/** Polls a condition until it holds or the time is up (shutdown only; nothing here is latency-critical). */
async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** The OS account the hub runs as: a Unix socket in a 0700 home only admits that user. */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? (typeof process.getuid === 'function' ? `uid:${process.getuid()}` : 'local');
  }
}

