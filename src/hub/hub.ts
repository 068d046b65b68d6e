/**
 * The hub: accepts shim and control connections on the home's Unix socket, runs one MCP session per
 * shim connection, and owns everything shared (warehouses, limits, the call record). Sessions are
 * isolated: each has its own transport, server instance and abort controllers.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { serveStdio, type StdioServerHandle } from '@modelcontextprotocol/server/stdio';
import { errorMessage } from '../errors.js';
import { VERSION } from '../version.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, encodeLine } from '../wire/framing.js';
import { type Hello, checkHello, parseLinkFrame } from '../wire/hello.js';
import { handleControl, type ControlHandlers } from './control.js';
import { listenExclusive } from './listen/unix-listener.js';
import { createMcpServer } from './mcp-server.js';
import { flushLogger, type Logger } from './observe/logger.js';
import { CallSinks, RecentCalls } from './observe/recent-calls.js';
import { LineTransport } from './session/line-transport.js';
import { Session, observeClientMessage, type SessionFacts, type SessionSnapshot } from './session/session.js';
import { DEFAULT_LIMITS, type CallRecord, type CallSink, type HubLimits, type WarehouseProvider } from './tools/tool-runtime.js';
import type { WarehouseInfo } from './warehouse/types.js';
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
  /** A shim link silent for this long is dead (shims ping every few seconds). */
  linkIdleTimeoutMs?: number;
  /** Extra sinks for every finished call (audit, metrics). */
  sinks?: CallSink[];
  /** Extra sections for status output (pool, breaker, limits…). */
  statusSections?: () => Record<string, unknown>;
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
  socket: Socket;
  session: Session | null;
  handle: StdioServerHandle | null;
}

export class Hub {
  readonly startedAt = new Date();
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Session>();
  private readonly recent = new RecentCalls(50);
  private readonly sink: CallSink;
  private readonly limits: HubLimits;
  private readonly maxLineBytes: number;
  private sessionsOpened = 0;
  private draining = false;
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  /** Resolves when the hub has fully stopped (by `stop`, a signal, or a replacing hub). */
  readonly stopped = new Promise<void>((r) => (this.resolveStopped = r));

  constructor(private readonly opts: HubOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.sink = new CallSinks([this.recent, ...(opts.sinks ?? [])]);
  }

  get logger(): Logger {
    return this.opts.logger;
  }

  async start(): Promise<void> {
    this.server = await listenExclusive(this.opts.socketPath, this.opts.home, (socket) => this.accept(socket));
    this.logger.info({ version: VERSION, socket: this.opts.socketPath, home: this.opts.home, startedBy: process.env.SNOWMUX_STARTED_BY ?? 'user' }, 'hub started');
  }

  // ---- connections ----------------------------------------------------------------------------

  private accept(socket: Socket): void {
    const conn: Connection = { socket, session: null, handle: null };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('error', (err) => this.logger.debug({ err: errorMessage(err) }, 'connection error'));
    if (this.draining) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'HUB_DRAINING', message: 'The hub is shutting down; retry in a moment.' }));
      return;
    }
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
      identity: { kind: 'local-user', name: localUserName() },
      transport: 'unix-socket',
      shimPid: hello?.pid,
      parent: hello?.parent,
      shimVersion: hello?.version,
      profile: hello?.profile,
      env: hello?.env,
      resumeOf: hello?.resumeOf,
    };
    const session = new Session(facts);
    conn.session = session;
    this.sessions.set(session.id, session);
    this.sessionsOpened += 1;
    const logger = this.logger.child({ session: session.id });
    logger.info({ shimPid: facts.shimPid, parent: facts.parent, shimVersion: facts.shimVersion, resumeOf: facts.resumeOf }, 'session opened');
    if (hello) socket.write(encodeLine({ snowmux: 'welcome', wire: hello.wire, version: VERSION, hubPid: process.pid, sessionId: session.id }));
    socket.setNoDelay(true);
    // Shims ping every few seconds; silence this long means a dead peer (sleep, freeze, cut socket).
    if (hello) socket.setTimeout(this.opts.linkIdleTimeoutMs ?? 20_000, () => {
      logger.info('shim link silent too long; closing the session');
      socket.destroy();
    });

    const transport = new LineTransport({
      input: socket,
      output: socket,
      maxLineBytes: this.maxLineBytes,
      initial,
      observe: (m) => observeClientMessage(session, m),
      onRejected: (reason, detail) => logger.warn({ reason, detail: detail.slice(0, 300) }, 'rejected client input'),
      onEnded: () => close('client disconnected'),
    });
    const env = { session, warehouses: this.opts.warehouses, governance: this.opts.governance, limits: this.limits, logger, sink: this.sink };
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
    };
    socket.once('close', () => close('connection closed'));
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
    };
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

  /** For `hub --replace`: free the socket at once so the new hub can bind, then drain like a stop. */
  private handOver(): Promise<void> {
    if (!this.stopping) this.stopping = this.shutdown('replaced by a newer hub');
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.draining = true;
    this.logger.info({ reason }, 'hub stopping');
    const closing = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    // Free the path at once: a replacing hub binds it, and shims can start a new hub while this one drains.
    rmSync(this.opts.socketPath, { force: true });
    for (const conn of this.connections) {
      if (conn.session) conn.socket.write(encodeLine({ snowmux: 'draining', reason }));
    }
    await this.waitForRunningCalls(this.opts.shutdownGraceMs ?? 10_000);
    for (const conn of this.connections) {
      conn.session?.close(`hub stopping: ${reason}`);
      void conn.handle?.close().catch(() => {});
      conn.socket.end();
    }
    // Give sockets a moment to flush, then cut what is left.
    await Promise.race([closing, new Promise((r) => setTimeout(r, 1_000).unref())]);
    for (const conn of this.connections) conn.socket.destroy();
    await this.opts.warehouses.close().catch((err) => this.logger.warn({ err: errorMessage(err) }, 'closing warehouses failed'));
    this.logger.info('hub stopped');
    flushLogger(this.logger);
    this.resolveStopped();
  }

  private async waitForRunningCalls(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    const running = () => [...this.sessions.values()].reduce((n, s) => n + s.running.size, 0);
    while (running() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = running();
    if (left > 0) this.logger.warn({ left }, 'grace period over; cancelling running calls');
  }
}

function localUserName(): string {
  return process.env.USER ?? process.env.LOGNAME ?? (typeof process.getuid === 'function' ? `uid:${process.getuid()}` : 'local');
}

