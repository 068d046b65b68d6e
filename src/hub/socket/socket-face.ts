/**
 * The hub on its Unix socket (and on remote shims' links, which the HTTP face hands over): the link
 * handshake (a shim's hello, or a plain MCP client's first line), control requests, one MCP session per
 * shim connection served through the core, link liveness and draining. Everything about sockets lives
 * here; the core sees sessions with hooks.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { serveStdio, type StdioServerHandle } from '@modelcontextprotocol/server/stdio';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { hubPlace } from '../../snowmux-command.js';
import { VERSION } from '../../version.js';
import { DEFAULT_MAX_LINE_BYTES, encodeLine } from '../../wire/framing.js';
import { forwardedEnvironment } from '../../wire/forwarded-env.js';
import { type Hello, checkHello, parseLinkFrame } from '../../wire/hello.js';
import { waitUntil, type HubCore, type HubListener } from '../core/hub-core.js';
import { createMcpServer } from '../core/mcp-server.js';
import { watchLink } from '../listen/link-watchdog.js';
import { listenExclusive, listenTakingOver, sameSocket, socketAnswers, socketIdentity, withBindLock, type SocketIdentity } from '../listen/unix-listener.js';
import { claimHome } from '../../wire/hub-claim.js';
import { LineTransport } from '../session/line-transport.js';
import { recordTransportRefusal } from '../tools/refused-calls.js';
import { returnMemorySoon } from '../session/memory-return.js';
import { SESSION_BOUNDS, maxBufferedBytes } from '../session/session-memory.js';
import { observeClientMessage, type SessionFacts } from '../session/session.js';
import { handleControl, type ControlHandlers } from './control.js';

/** How long a cut session's last writes (its answers, the cut frame) may take to reach a client before it is dropped. */
const CUT_FLUSH_MS = 5_000;

export interface SocketFaceOptions {
  home: string;
  /** The config file the hub reads: advice to replace this hub names it when it is not the home's own. */
  configFile?: string | undefined;
  socketPath: string;
  maxLineBytes?: number;
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
}

export interface SocketStartOptions {
  /**
   * Take the socket path over from a running (or frozen) hub instead of refusing to start: the path is
   * replaced atomically and the old hub, once told (or when it next looks), drains and exits.
   */
  takeOver?: boolean;
  /**
   * Hold sessions (not control links) until `ready()` or `failedToStart()`: a hub process binds the path
   * before it has finished starting (audit log, listeners), and a session it served then would leave a
   * half-started hub answering editors — or, if it stops, have shims start the next one in a loop.
   */
  holdUntilReady?: boolean;
}

interface RemoteShim {
  identity: string;
  /** hub.http_shim_profiles: a hello naming another profile is refused. */
  profiles: readonly string[];
}

interface Connection {
  socket: Duplex;
  /** A shim on another machine (WebSocket /shim): who its key says it is, and the profiles it may choose. */
  remote?: RemoteShim | undefined;
  handle: StdioServerHandle | null;
}

/** Beyond a replacing hub's own start-up bound: it gives the socket back itself within it, unless frozen. */
const SUCCESSOR_READY_MARGIN_MS = 5_000;

/** The longest first line read as a possible hello; a longer one is a plain MCP client's request. */
const HELLO_MAX_BYTES = 64 * 1024;

export class SocketFace implements HubListener {
  private server: Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly maxLineBytes: number;
  /** The socket file this hub bound; another one at the path means another hub took over. */
  private boundSocket: SocketIdentity | null = null;
  private socketCheck: NodeJS.Timeout | null = null;
  /** Sessions waiting for the hub to finish starting (holdUntilReady), or null once it has. */
  private heldSessions: (() => void)[] | null = null;
  /** Why the hub could not finish starting: every session is refused with it. */
  private startFailure: string | null = null;
  /** The previous hub took the path back after this one failed to start: sessions are sent back to it. */
  private handedBack = false;
  /**
   * A hub replacing this one that announced itself (`prepare-replace`) and has not yet said it is ready
   * (`replace`) nor given up: it may take the path meanwhile, and this hub goes on serving until it says one
   * or the other — or its control link closes (it crashed), when this hub takes the path back.
   */
  private pendingSuccessor: { pid: number | null; link: Duplex } | null = null;
  /** Listeners this hub bound before taking its path back: never closed (libuv would unlink the path). */
  private readonly formerServers: Server[] = [];

  constructor(private readonly core: HubCore, private readonly opts: SocketFaceOptions) {
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    core.addListener(this);
  }

  async start(options: SocketStartOptions = {}): Promise<void> {
    if (options.holdUntilReady) this.heldSessions = [];
    const onConnection = (socket: Socket) => this.accept(socket);
    const place = hubPlace(this.opts.home, this.opts.configFile);
    this.server = options.takeOver
      ? await listenTakingOver(this.opts.socketPath, place, onConnection)
      : await listenExclusive(this.opts.socketPath, place, onConnection);
    this.boundSocket = socketIdentity(this.opts.socketPath);
    // A hub that was frozen while another took its place (or whose socket file was deleted) is
    // unreachable: it notices here, drains what it still has and exits instead of lingering.
    this.socketCheck = setInterval(() => {
      // A successor that has not said it is ready holds the path while it starts: this hub serves on.
      if (!this.ownsSocketPath() && this.pendingSuccessor === null) void this.core.stop('another hub took over the socket (or it was removed)');
    }, this.opts.socketCheckMs ?? 1_000);
    this.socketCheck.unref();
    this.core.logger.info({ version: VERSION, socket: this.opts.socketPath, home: this.opts.home, startedBy: process.env.SNOWMUX_STARTED_BY ?? 'user', takeOver: options.takeOver === true }, 'hub started');
  }

  /** Start-up is complete: held sessions are served, new ones at once. */
  ready(): void {
    const held = this.heldSessions ?? [];
    this.heldSessions = null;
    for (const go of held) go();
  }

  /**
   * Start-up failed: held and later sessions are refused with why (HUB_START_FAILED), then closed — or,
   * when `handedBack` (the hub this one was replacing took the path back and serves), refused as a
   * draining hub's are, so that their shims reconnect at once, to that hub.
   */
  failedToStart(message: string, handedBack = false): void {
    this.startFailure = message;
    this.handedBack = handedBack;
    this.ready();
  }

  /** Whether the socket path still names the socket this hub bound. */
  ownsSocket(): boolean {
    return this.ownsSocketPath();
  }

  describe(): Record<string, unknown> {
    return { socket: this.opts.socketPath, ...(this.refusedShims.count > 0 ? { refusedShims: this.refusedShims } : {}) };
  }

  /**
   * Shims whose hello this hub refused (a link version it does not speak, a malformed hello): their editors'
   * calls fail with the refusal, and status's health says so to the operator (hub-health.ts). No path of the
   * hub's (the refusal's advice names its home): a key holder's /status shows this too.
   */
  private readonly refusedShims: { count: number; last?: { at: string; code: string; shimVersion: string | null } } = { count: 0 };

  /**
   * A remote shim's link (the HTTP face's /shim WebSocket, already authenticated): the same hello,
   * framing, liveness and drain as a local shim, as the key's identity. It may open MCP sessions only (no
   * control requests), and its hello's SNOWFLAKE_* settings are ignored: credentials never come from the
   * network; its sessions use the hub's profiles, and it may choose among them only those the operator
   * listed (hub.http_shim_profiles): a key holder must not pick, say, an ACCOUNTADMIN connection of the
   * hub's own connections.toml by naming it.
   */
  acceptRemoteLink(stream: Duplex, identity: string, profiles: readonly string[]): void {
    this.accept(stream, { identity, profiles });
  }

  private ownsSocketPath(): boolean {
    return sameSocket(this.boundSocket, socketIdentity(this.opts.socketPath));
  }

  private get logger() {
    return this.core.logger;
  }

  private accept(socket: Duplex, remote?: RemoteShim): void {
    const conn: Connection = { socket, handle: null, remote };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('error', (err) => this.logger.debug({ err: errorMessage(err) }, 'connection error'));
    // The first line decides what the link is. A hello fits in HELLO_MAX_BYTES; a longer first line is a
    // plain MCP client's request, handed whole to its session, which answers it under max_line_bytes
    // (dropping it here left the client waiting for an answer that never came).
    const head: Buffer[] = [];
    let headBytes = 0;
    /** The first line (or a too-long one) arrived: the link is a session or control link from here on. */
    let decided = false;
    const timer = setTimeout(() => {
      this.logger.info('connection sent no hello in time; closing');
      // The error's text is what a /shim link's close frame tells the shim.
      const timeoutMs = this.opts.handshakeTimeoutMs ?? 5_000;
      socket.destroy(new Error(`No hello within ${timeoutMs} ms: a shim sends its hello first. Upgrade snowmux shim to match the hub.`));
    }, this.opts.handshakeTimeoutMs ?? 5_000);
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1 && headBytes + chunk.length <= HELLO_MAX_BYTES) {
        head.push(Buffer.from(chunk));
        headBytes += chunk.length;
        return;
      }
      socket.off('data', onData);
      clearTimeout(timer);
      decided = true;
      if (nl === -1 || headBytes + nl > HELLO_MAX_BYTES) {
        this.dispatch(conn, null, Buffer.concat([...head, chunk]));
        return;
      }
      const line = Buffer.concat([...head, chunk.subarray(0, nl)]);
      const first = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
      this.dispatch(conn, first.length > 0 ? first : null, chunk.subarray(nl + 1));
    };
    socket.on('data', onData);
    // A peer that hangs up before its first line is complete (a liveness probe, `hub` checking for a running
    // hub, a shim killed while connecting) owes nothing and is owed nothing: let the connection go. The
    // server is half-open, so without this the hub's side stayed open for good, one descriptor per such
    // connect, until the hub could accept no editor at all (EMFILE).
    socket.once('end', () => {
      clearTimeout(timer);
      if (decided) return;
      socket.off('data', onData);
      socket.destroy();
    });
  }

  private dispatch(conn: Connection, first: Buffer | null, rest: Buffer): void {
    const { socket } = conn;
    const frame = first ? parseLinkFrame(first) : null;
    const control = frame?.snowmux === 'hello' && frame.role === 'control';
    if (!control && this.heldSessions) {
      // Nothing reads the link while its session waits: paused, what the client sends meanwhile stays in the
      // socket (and the kernel) until the session's transport listens. Left flowing with no listener, every
      // line after the first was dropped, and a plain client that connected during start-up waited for ever.
      socket.pause();
      this.heldSessions.push(() => {
        // resume() lets data flow only on the next tick: the session's transport is listening by then.
        socket.resume();
        this.dispatch(conn, first, rest);
      });
      return;
    }
    if (!control && this.startFailure !== null && this.handedBack) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'HUB_DRAINING', message: `This hub could not start (${this.startFailure}) and gave the socket back to the hub it was replacing; retry: that hub serves.` }));
      return;
    }
    if (!control && this.startFailure !== null) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'HUB_START_FAILED', message: `The snowmux hub could not start: ${this.startFailure}` }));
      return;
    }
    if (this.core.isDraining && !control) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'HUB_DRAINING', message: 'The hub is shutting down; retry in a moment.' }));
      return;
    }
    if (conn.remote && !(frame?.snowmux === 'hello' && frame.role === 'shim')) {
      socket.end(encodeLine({ snowmux: 'refused', code: 'BAD_HELLO', message: 'Over /shim only a snowmux shim hello is accepted; use /mcp for MCP clients and /status for status.' }));
      return;
    }
    if (frame?.snowmux === 'hello') {
      const refusal = checkHello(frame, hubPlace(this.opts.home, this.opts.configFile));
      if (refusal) {
        this.logger.warn({ code: refusal.code, shimVersion: frame.version }, 'refused a link');
        if (frame.role !== 'control') {
          this.refusedShims.count += 1;
          this.refusedShims.last = { at: new Date().toISOString(), code: refusal.code, shimVersion: typeof frame.version === 'string' ? frame.version.slice(0, 40) : null };
        }
        socket.end(encodeLine(refusal));
        return;
      }
      const profile = frame.profile;
      if (conn.remote && profile !== undefined && !conn.remote.profiles.includes(profile)) {
        this.logger.warn({ identity: conn.remote.identity, profile }, 'refused a remote shim that named a profile it may not choose');
        // Neither the hub's files nor its other profiles are named: a key holder learns nothing from a guess.
        const allowed = conn.remote.profiles.length === 0 ? 'This hub lets remote shims choose no profile' : `Remote shims may choose ${conn.remote.profiles.map((p) => `"${p}"`).join(', ')}`;
        socket.end(encodeLine({ snowmux: 'refused', code: 'PROFILE_NOT_ALLOWED', message: `The hub does not let a remote shim choose profile "${profile}". ${allowed} (hub.http_shim_profiles): drop --profile to use your role's profile or the hub's default, or ask the hub's operator.` }));
        return;
      }
      if (frame.role === 'control') {
        socket.write(encodeLine({ snowmux: 'welcome', wire: frame.wire, version: VERSION, hubPid: process.pid, sessionId: '' }));
        handleControl(socket, rest, this.controlHandlers(frame.pid, socket), this.logger);
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
      config: conn.remote ? undefined : hello?.config,
      // Only the documented settings are taken from a hello, whatever a client puts there.
      env: hello?.env && !conn.remote ? forwardedEnvironment(hello.env) : undefined,
      resumeOf: hello?.resumeOf,
    };
    // A shim that acknowledges draining says when it has sent its last request on this link.
    const drainAck = hello?.caps?.includes('drain-ack') === true;
    let draining = false;
    let inputDone = false;
    let closed = false;
    let transport: LineTransport | null = null;
    const closeIfDone = () => {
      if (draining && (transport?.outstanding ?? 0) === 0 && (inputDone || !drainAck)) close('hub stopping');
    };
    const close = (why: string) => {
      if (closed) return;
      closed = true;
      attached.detach(why);
      void conn.handle?.close().catch(() => {});
      // The SDK's handle does not end the socket: do it, after pending writes flush.
      socket.end();
    };
    const attached = this.core.attachSession(facts, {
      drain: (reason) => {
        if (draining) return;
        draining = true;
        if (hello) socket.write(encodeLine({ snowmux: 'draining', reason }));
        closeIfDone();
      },
      outstanding: () => transport?.outstanding ?? 0,
      close,
      cut: () => socket.destroy(),
    });
    const { session, logger } = attached;
    /** Ends the session for what its client did; a shim is told why first, for the calls it had running. */
    const cutSession = (reason: string) => {
      if (hello && socket.writable) socket.write(encodeLine({ snowmux: 'cut', reason }));
      // close() ends the socket once what is queued is written: the answers before the cut and the cut
      // frame itself. destroy() here dropped them whenever the kernel had not taken them yet (under load),
      // and the shim told its editor "the hub restarted". A client that reads nothing is let go after a bound,
      // with the reason (a /shim link's close frame says it: the cut frame is stuck behind unread answers).
      close(`cut: ${reason}`);
      socket.pause();
      const letGo = setTimeout(() => socket.destroy(new Error(`The hub cut this session: ${reason}`)), CUT_FLUSH_MS);
      letGo.unref();
      socket.once('close', () => clearTimeout(letGo));
    };
    if (hello) socket.write(encodeLine({ snowmux: 'welcome', wire: hello.wire, version: VERSION, hubPid: process.pid, sessionId: session.id }));
    (socket as Partial<Socket>).setNoDelay?.(true);
    // Silence this long means a dead peer (frozen or killed shim, sleep, cut socket): free the session.
    const watchdog = hello
      ? watchLink(socket, this.opts.linkIdleTimeoutMs ?? 20_000, (silentMs) => {
        logger.info({ silentMs }, 'shim link silent too long; closing the session');
        close(`cut: the shim's link was silent for ${silentMs} ms (a frozen or killed shim, a sleeping machine, a cut socket)`);
        socket.destroy(new Error(`No pong for ${silentMs} ms: the hub closed this link as dead. The shim reconnects by itself.`));
      })
      : null;
    transport = new LineTransport({
      input: socket,
      output: socket,
      maxLineBytes: this.maxLineBytes,
      initial,
      observe: (m) => observeClientMessage(session, m),
      onRejected: (reason, detail) => logger.warn({ reason, detail: detail.slice(0, 300) }, 'rejected client input'),
      onToolCallRefused: (id, params, code) => recordTransportRefusal(attached.env, id, params, code),
      onActivity: () => watchdog?.heard(),
      // A client that does not read is judged by stalledOutputMs (and told why), not taken for a dead shim
      // after 20 s: the hub stopped reading the shim's pings itself.
      onInputPaused: (paused) => (paused ? watchdog?.pauseListening() : watchdog?.resumeListening()),
      onLinkFrame: (frame) => {
        if (frame.snowmux !== 'drained') return;
        inputDone = true;
        closeIfDone();
      },
      onIdle: () => closeIfDone(),
      onEnded: () => close('client disconnected'),
      // Room for several full-size answers; beyond that the client is not reading at all.
      maxBufferedBytes: maxBufferedBytes(this.core.limits.maxResultBytes),
      stalledOutputMs: this.opts.stalledOutputMs,
      onOverflow: (bytes, why) => {
        logger.warn({ bufferedBytes: bytes, why }, 'client does not read its answers; closing the session');
        // The reason reaches session_close (status --watch, /events), not only this log line.
        cutSession(`the client did not read its answers (${bytes} bytes waiting, ${why === 'buffered' ? 'past the session\'s output ceiling' : 'none read for too long'})`);
      },
      onMisbehaving: (why) => {
        logger.warn({ why }, 'client keeps sending malformed input; closing the session');
        cutSession(`the client kept sending malformed input (${why})`);
      },
    });
    socket.once('close', () => {
      close('connection closed');
      // A session that left answers unread held up to its ceiling: give that memory back now.
      if ((transport?.peakOutputBytes ?? 0) > SESSION_BOUNDS.pauseAtBytes) returnMemorySoon();
    });
    conn.handle = serveStdio(() => createMcpServer(attached.env, { announceListChanges: true }), {
      transport,
      onerror: (err) => logger.debug({ err: errorMessage(err) }, 'session protocol error'),
    });
  }

  /**
   * `peerPid`: the pid the control link's hello gave (a replacing hub's own, named in its predecessor's stop);
   * `link`: the control link itself (a replacing hub's, watched while it starts).
   */
  private controlHandlers(peerPid: unknown, link: Duplex): ControlHandlers {
    return {
      status: () => this.core.status(),
      stop: () => {
        // Local shims start a new hub as soon as this one lets go of the socket: `snowmux stop` says so. Only a
        // session that opened with a shim hello is one (an editor's `snowmux shim`); a plain MCP client on the
        // socket (a script, a test harness) has nothing that restarts it, and is counted apart.
        const local = this.core.status().sessions.filter((s) => s.transport === 'unix-socket');
        const shimSessions = local.filter((s) => s.shimPid !== null).length;
        setImmediate(() => void this.core.stop('snowmux stop'));
        return { stopping: true, shimSessions, plainSessions: local.length - shimSessions };
      },
      // `hub --replace`, first step: the new hub is about to take the path and start. This hub goes on serving
      // until it says it is ready (`replace`), gives up (`hand-back`), or its link closes (it died): a
      // replace that fails late must not leave no hub at all.
      'prepare-replace': (req) => {
        if (this.core.isDraining) throw new SnowmuxError('HUB_DRAINING', 'This hub is already stopping; start the new one without --replace once it has.');
        const pending = { pid: typeof peerPid === 'number' && peerPid > 0 ? peerPid : null, link };
        this.pendingSuccessor = pending;
        // The new hub gives up by itself past its bound (`readyWithinMs`, sent by a snowmux that has one); one
        // frozen or stuck where its own timer cannot run is given a margin more, then this hub takes its place back.
        const bound = typeof req.readyWithinMs === 'number' && req.readyWithinMs > 0 ? req.readyWithinMs : null;
        const late = bound === null ? undefined : setTimeout(() => {
          if (this.pendingSuccessor !== pending) return;
          this.pendingSuccessor = null;
          void this.takePathBack(pending.pid, `it did not say it was ready within ${Math.round((bound + SUCCESSOR_READY_MARGIN_MS) / 1000)} s`, false).then(() => link.destroy());
        }, bound + SUCCESSOR_READY_MARGIN_MS);
        late?.unref();
        link.once('close', () => {
          clearTimeout(late);
          if (this.pendingSuccessor !== pending) return;
          this.pendingSuccessor = null;
          void this.takePathBack(pending.pid, 'its control link closed before it said it was ready (it exited or crashed while starting)', true);
        });
        return { waiting: true, pid: process.pid };
      },
      'hand-back': () => {
        const pending = this.pendingSuccessor;
        this.pendingSuccessor = null;
        void this.takePathBack(pending?.pid ?? null, 'it could not finish starting', false);
        return { takingBack: true, pid: process.pid };
      },
      // `hub --replace`: the new hub holds the path and serves new calls; ours run to their own deadline.
      replace: () => {
        this.pendingSuccessor = null;
        const by = typeof peerPid === 'number' && peerPid > 0 ? `, pid ${peerPid}` : '';
        setImmediate(() => void this.core.stop(`replaced by another hub (snowmux hub --replace${by})`, { replaced: true }));
        return { releasing: true, pid: process.pid };
      },
      disconnect: (req) => this.core.disconnect(typeof req.session === 'string' ? req.session : ''),
      reload: () => this.core.reload(),
      'keys-changed': () => this.core.keysChanged(),
    };
  }

  /**
   * The hub that was replacing this one failed before it was ready: bind the path again (a temporary name
   * renamed over it, as a take-over does, so it answers at every instant the successor's socket still does)
   * and serve on. After a crash (`onlyIfSilent`) the path is taken back only when nothing answers there: a
   * hub a shim started meanwhile keeps it, and this one drains as it would have. Under the bind lock, as
   * the start of a hub replacing a crashed one's socket is.
   */
  private async takePathBack(successorPid: number | null, why: string, onlyIfSilent: boolean): Promise<void> {
    if (this.core.isDraining || !this.server) return;
    const who = successorPid === null ? 'the hub that was replacing this one' : `the hub that was replacing this one (pid ${successorPid})`;
    if (this.ownsSocketPath()) {
      this.logger.warn({ successorPid }, `${who} gave up (${why}) before taking the socket; this hub goes on serving`);
      return;
    }
    const path = this.opts.socketPath;
    try {
      const place = hubPlace(this.opts.home, this.opts.configFile);
      const taken = await withBindLock(this.opts.home, async () => {
        if (onlyIfSilent && socketIdentity(path) !== null && (await socketAnswers(path))) return false;
        const server = await listenTakingOver(path, place, (socket) => this.accept(socket));
        this.formerServers.push(this.server!);
        this.server!.unref();
        this.server = server;
        this.boundSocket = socketIdentity(path);
        return true;
      });
      if (!taken) {
        this.logger.warn({ successorPid }, `${who} failed (${why}), but another hub serves the socket now; this hub drains`);
        void this.core.stop('another hub took over the socket');
        return;
      }
    } catch (err) {
      this.logger.error({ successorPid, err: errorMessage(err) }, `${who} failed (${why}) and this hub could not take its socket back; it drains, and the next shim to connect starts a hub`);
      void this.core.stop(`the hub replacing this one failed and the socket could not be taken back: ${errorMessage(err)}`);
      return;
    }
    try {
      // The failed hub took the home's claim (hub.pid) with the socket.
      claimHome(this.opts.home, true, () => '');
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'could not write the home claim back after taking the socket back');
    }
    this.logger.warn({ successorPid }, `${who} failed before it was ready (${why}): this hub took its socket back and goes on serving (snowmux hub --replace did nothing)`);
  }

  stopAccepting(): void {
    if (this.socketCheck) clearInterval(this.socketCheck);
    this.releaseSocketPath();
  }

  /** Control links (a replacing hub waits on its own to learn that this one is done) and the rest. */
  async closeAll(): Promise<void> {
    for (const conn of this.connections) conn.socket.end();
    await waitUntil(() => this.connections.size === 0, 1_000);
    for (const conn of this.connections) conn.socket.destroy();
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

/** The OS account the hub runs as: a Unix socket in a 0700 home only admits that user. */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? (typeof process.getuid === 'function' ? `uid:${process.getuid()}` : 'local');
  }
}
