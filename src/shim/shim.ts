/**
 * The stdio shim an editor launches. It moves newline-delimited JSON-RPC between the editor's stdio and
 * the hub, and keeps the editor's session alive when the hub goes away:
 * - a hub that drains (stop, `hub --replace`) keeps answering the calls it has on the old link while new
 *   calls go to the next hub (make before break), so a graceful restart fails no call;
 * - when a link drops, calls in flight on it get a JSON-RPC error (or are re-sent when that is safe);
 * - calls arriving while no hub answers wait in a bounded buffer, each for at most the reconnect deadline;
 * - the session is re-created on the new hub (a 2025-era `initialize` is replayed under a private id and
 *   its reply swallowed; 2026-era clients need nothing);
 * - a link that stops answering pings is declared dead after two intervals (sleep, frozen hub, cut socket).
 *
 * stdout carries protocol messages only; diagnostics go to stderr. Imports node builtins and src/wire only.
 */
import { readFileSync } from 'node:fs';
import { errorMessage, isSnowmuxError } from '../errors.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, encodeLine } from '../wire/framing.js';
import { type Hello, LINK_CAPS, type ParentInfo, isLinkFrame, makeHello, parseLinkFrame } from '../wire/hello.js';
import { Liveness } from '../wire/liveness.js';
import { connectOrStartHub, HANDSHAKE_TIMEOUT_MS, type OpenLink } from './hub-link.js';
import { openRemoteLink, type RemoteHub } from './remote-link.js';
import { forwardedEnvironment } from '../wire/forwarded-env.js';

export interface ShimOptions {
  home: string;
  socketPath: string;
  profile?: string | undefined;
  /** argv for starting a hub with process.execPath. */
  hubCommand: string[];
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /** How long a call may wait for the hub to come back before it is answered with an error. */
  reconnectDeadlineMs?: number;
  /** Link liveness: ping interval; the link is declared dead after 2 missed intervals. 0 disables. */
  pingIntervalMs?: number;
  /**
   * How long a hub that accepted the connection may take to answer the hello. Default: the liveness
   * budget (two ping intervals), between 1 and 5 seconds.
   */
  handshakeTimeoutMs?: number;
  maxLineBytes?: number;
  /** Messages held while reconnecting; beyond this, new requests are answered with an error. */
  maxPending?: number;
  /** A hub on another machine (its /shim WebSocket and an API key) instead of the home's socket. */
  remote?: RemoteHub | undefined;
}

/**
 * Editor requests that can be sent again after a reconnect without side effects (documented in
 * docs/operations: everything else that was in flight is answered with HUB_RESTARTED).
 */
const RESENDABLE = new Set(['initialize', 'server/discover', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']);
const REPLAY_ID_PREFIX = 'snowmux-shim-replay-';
/** JSON-RPC server-error range; `data.retryable` tells clients that understand it. */
export const HUB_RESTARTED = -32001;
export const HUB_UNAVAILABLE = -32002;
/** Refusals that no retry can fix until someone upgrades or replaces something. */
const FATAL_CODES = new Set(['HTTP_UNAUTHORIZED', 'SHIM_TOO_OLD', 'HUB_TOO_OLD', 'BAD_HELLO', 'HUB_BAD_HANDSHAKE', 'HOME_UNUSABLE', 'HOME_NOT_OWNED', 'HOME_TOO_OPEN', 'RUNTIME_DIR_UNSAFE', 'SOCKET_NOT_OWNED', 'HUB_START_FAILED']);

type Id = string | number;
type Peeked = { id?: unknown; method?: unknown; params?: { requestId?: unknown } };

/** Reads just enough of a line to track requests; null for anything that is not a JSON object. */
function peek(line: Buffer): Peeked | null {
  try {
    const parsed: unknown = JSON.parse(line.toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Peeked) : null;
  } catch {
    return null;
  }
}

function requestId(msg: Peeked | null): Id | undefined {
  if (!msg || typeof msg.method !== 'string') return undefined;
  return typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : undefined;
}

/** Link generation of a request that is still buffered in the shim (never written to any hub). */
const BUFFERED = -1;

interface Inflight {
  id: Id;
  method: string;
  line: Buffer;
  /** Generation of the link the request was written on, or BUFFERED. */
  gen: number;
}

interface Pending {
  line: Buffer;
  msg: Peeked | null;
  /** When the editor sent it (for the per-message reconnect deadline). */
  at: number;
}

/** One connection to a hub. The current link takes new requests; a draining one only finishes its calls. */
interface HubLink {
  socket: OpenLink['socket'];
  gen: number;
  hubPid: number;
  draining: boolean;
  liveness: Liveness | null;
}

function idKey(id: Id): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

function readParent(): ParentInfo {
  const pid = process.ppid;
  let command: string | undefined;
  try {
    command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    /* not Linux, or gone: the pid alone still helps */
  }
  return { pid, command };
}

function linkEnv(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const picked = forwardedEnvironment(env);
  return Object.keys(picked).length > 0 ? picked : undefined;
}

export class Shim {
  private readonly opts: Required<Pick<ShimOptions, 'reconnectDeadlineMs' | 'pingIntervalMs' | 'handshakeTimeoutMs' | 'maxLineBytes' | 'maxPending'>> & ShimOptions;
  private readonly stdin: NodeJS.ReadableStream;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;
  /** The link new requests go to; null while (re)connecting or after its hub started draining. */
  private link: HubLink | null = null;
  /** Every open link by generation: the current one and draining ones still owing answers. */
  private readonly links = new Map<number, HubLink>();
  private gen = 0;
  private sessionId: string | undefined;
  private connecting: Promise<void> | null = null;
  private stdinEnded = false;
  /** stdin ended and nothing is owed any more: links are being closed. */
  private finishing = false;
  private exiting = false;
  private readonly inflight = new Map<string, Inflight>();
  private pending: Pending[] = [];
  private pendingTimer: NodeJS.Timeout | null = null;
  private cachedInitialize: unknown = undefined;
  private replayCounter = 0;
  /** Id of the replayed initialize on the current link; requests wait until it is answered. */
  private awaitingReplay: string | null = null;
  /** Set while the hub refuses this shim for a reason no retry fixes (version skew…): calls fail fast. */
  private fatal: { code: string; message: string } | null = null;
  private pingN = 0;
  /** The link whose full write buffer paused reading from the editor. */
  private stdinHeldBy: HubLink | null = null;
  private readonly editorDecoder: LineDecoder;
  private resolveExit!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor(options: ShimOptions) {
    const pingIntervalMs = options.pingIntervalMs ?? 5_000;
    this.opts = {
      reconnectDeadlineMs: 30_000,
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      maxPending: 1_000,
      ...options,
      pingIntervalMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? (pingIntervalMs > 0 ? Math.min(HANDSHAKE_TIMEOUT_MS, Math.max(1_000, 2 * pingIntervalMs)) : HANDSHAKE_TIMEOUT_MS),
    };
    this.stdin = options.stdin ?? process.stdin;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.editorDecoder = new LineDecoder(this.opts.maxLineBytes);
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  start(): void {
    this.stdin.on('data', (chunk: Buffer) => this.editorDecoder.push(chunk, (ev) => {
      if (ev.kind === 'line') this.fromEditor(ev.line);
      else this.respondOversize(ev.bytes);
    }));
    this.stdin.on('end', () => this.onStdinEnd());
    this.stdin.on('close', () => this.onStdinEnd());
    this.stdin.on('error', () => this.onStdinEnd());
    this.stdout.on('error', () => this.exit(0)); // the editor went away
    void this.reconnect();
  }

  private log(message: string): void {
    if (this.opts.env?.SNOWMUX_SHIM_QUIET === '1') return;
    this.stderr.write(`snowmux shim: ${message}\n`);
  }

  private hello(): Hello {
    return makeHello({
      role: 'shim',
      pid: process.pid,
      parent: readParent(),
      profile: this.opts.profile,
      // Credentials never leave the machine: a remote hub uses its own profiles.
      env: this.opts.remote ? undefined : linkEnv(this.opts.env ?? process.env),
      resumeOf: this.sessionId,
      caps: [...LINK_CAPS],
    });
  }

  // ---- editor → hub -------------------------------------------------------------------------

  private fromEditor(line: Buffer): void {
    // Malformed input is forwarded as is: the hub answers it with the proper JSON-RPC error.
    const msg = peek(line);
    if (msg && typeof msg.method === 'string') {
      const id = requestId(msg);
      if (id !== undefined) {
        if (msg.method === 'initialize') this.cachedInitialize = msg.params;
        this.inflight.set(idKey(id), { id, method: msg.method, line, gen: BUFFERED });
      } else if (msg.method === 'notifications/cancelled') {
        this.forwardCancel(line, msg);
        return;
      }
    }
    this.toHub(line, msg);
  }

  /**
   * A cancel goes only to the hub that has the request. A request still buffered here is dropped (and,
   * per the spec, gets no response); one that was answered, or whose hub is gone, needs nothing — above
   * all, the new hub never hears of requests it never saw.
   */
  private forwardCancel(line: Buffer, msg: Peeked): void {
    const target = msg.params?.requestId;
    const entry = typeof target === 'string' || typeof target === 'number' ? this.inflight.get(idKey(target)) : undefined;
    if (!entry) return;
    this.inflight.delete(idKey(entry.id));
    if (entry.gen === BUFFERED) {
      this.pending = this.pending.filter((p) => p.line !== entry.line);
      return;
    }
    const link = this.links.get(entry.gen);
    if (link) this.write(link, line);
  }

  private toHub(line: Buffer, msg: Peeked | null): void {
    const id = requestId(msg);
    if (this.link && !this.awaitingReplay) {
      this.sendOn(this.link, line, id);
      return;
    }
    if (this.fatal && id !== undefined) {
      this.inflight.delete(idKey(id));
      this.answerError(id, HUB_UNAVAILABLE, `snowmux: ${this.fatal.message}`, false);
      return;
    }
    if (this.pending.length >= this.opts.maxPending) {
      if (id !== undefined) {
        this.inflight.delete(idKey(id));
        this.answerError(id, HUB_UNAVAILABLE, 'snowmux: too many calls are waiting for the hub to come back; retry shortly.');
      }
      return;
    }
    this.pending.push({ line, msg, at: Date.now() });
    this.armPendingDeadline();
  }

  private sendOn(link: HubLink, line: Buffer, id: Id | undefined): void {
    if (id !== undefined) {
      const entry = this.inflight.get(idKey(id));
      if (entry) entry.gen = link.gen;
    }
    this.write(link, line);
  }

  private write(link: HubLink, line: Buffer): void {
    const ok = link.socket.write(Buffer.concat([line, NL]));
    if (!ok && this.stdinHeldBy === null) {
      // The hub reads slower than the editor writes: stop reading the editor until it catches up. A link
      // that dies instead never drains, so its close lets the editor go too (see onLinkClosed).
      this.stdinHeldBy = link;
      this.stdin.pause();
      link.socket.once('drain', () => this.releaseStdin(link));
    }
  }

  private releaseStdin(link: HubLink): void {
    if (this.stdinHeldBy !== link) return;
    this.stdinHeldBy = null;
    this.stdin.resume();
  }

  private respondOversize(bytes: number): void {
    // We cannot know the id of a message we refused to buffer: answer with id null, as JSON-RPC does for unparseable input.
    this.writeStdout({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: `snowmux: message of ${bytes} bytes exceeds the ${this.opts.maxLineBytes}-byte line limit and was dropped. Send smaller messages.` },
    });
  }

  // ---- hub → editor -------------------------------------------------------------------------

  private fromHub(link: HubLink, line: Buffer): void {
    link.liveness?.heard();
    if (isLinkFrame(line)) {
      const frame = parseLinkFrame(line);
      if (frame?.snowmux === 'ping') link.socket.write(encodeLine({ snowmux: 'pong', n: frame.n }));
      else if (frame?.snowmux === 'draining') this.onDraining(link, frame.reason);
      return;
    }
    // Responses end an in-flight request. Only parse what can be a response to keep large results cheap.
    if (line.includes(ID_KEY)) {
      const msg = peek(line);
      if (msg && msg.method === undefined && (typeof msg.id === 'string' || typeof msg.id === 'number')) {
        if (typeof msg.id === 'string' && msg.id.startsWith(REPLAY_ID_PREFIX)) {
          // Our own replayed initialize: the editor never sent it and must not see its answer.
          if (link === this.link && msg.id === this.awaitingReplay) this.finishReplay(link);
          return;
        }
        this.inflight.delete(idKey(msg.id));
      }
    }
    const ok = this.stdout.write(Buffer.concat([line, NL]));
    if (!ok) {
      link.socket.pause();
      this.stdout.once('drain', () => link.socket.resume());
    }
    if (this.stdinEnded) this.finishIfDone();
  }

  private writeStdout(message: unknown): void {
    this.stdout.write(encodeLine(message));
  }

  private answerError(id: Id, code: number, message: string, retryable = true): void {
    this.writeStdout({ jsonrpc: '2.0', id, error: { code, message, data: { retryable } } });
    if (this.stdinEnded) queueMicrotask(() => this.finishIfDone());
  }

  // ---- link lifecycle -----------------------------------------------------------------------

  private reconnect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = this.connectLoop().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    let delay = 50;
    while (!this.exiting && !this.finishing) {
      try {
        const link = this.opts.remote
          ? await openRemoteLink(this.opts.remote, this.hello(), this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS)
          : await connectOrStartHub({
          home: this.opts.home,
          socketPath: this.opts.socketPath,
          hello: this.hello(),
          hubCommand: this.opts.hubCommand,
          deadlineMs: Math.min(this.opts.reconnectDeadlineMs, 15_000),
          handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
          env: this.opts.env,
        });
        if (this.exiting || this.finishing) {
          link.socket.destroy();
          return;
        }
        this.attach(link);
        return;
      } catch (err) {
        const code = isSnowmuxError(err) ? err.code : undefined;
        if (code !== undefined && FATAL_CODES.has(code)) {
          // Version skew and friends: say it once, answer every waiting call with it, and keep checking
          // (slowly) in case someone replaces the hub.
          const message = errorMessage(err);
          if (this.fatal?.message !== message) this.log(message);
          this.fatal = { code, message };
          this.failPending(HUB_UNAVAILABLE, `snowmux: ${message}`, false);
          delay = 2_000;
        } else {
          this.log(`cannot reach the hub: ${errorMessage(err)}`);
        }
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  private attach({ socket, welcome, rest }: OpenLink): void {
    this.gen += 1;
    const link: HubLink = { socket, gen: this.gen, hubPid: welcome.hubPid, draining: false, liveness: null };
    const resumed = this.sessionId !== undefined;
    this.sessionId = welcome.sessionId;
    this.fatal = null;
    this.link = link;
    this.links.set(link.gen, link);
    socket.setNoDelay?.(true);
    const decoder = new LineDecoder(Number.MAX_SAFE_INTEGER);
    const onChunk = (chunk: Buffer) => decoder.push(chunk, (ev) => {
      if (ev.kind === 'line' && this.links.get(link.gen) === link) this.fromHub(link, ev.line);
    });
    socket.on('data', onChunk);
    socket.on('error', () => {});
    socket.on('close', () => this.onLinkClosed(link));
    this.startPinging(link);
    if (resumed && this.cachedInitialize !== undefined && !this.editorInitializeOutstanding()) {
      // 2025-era session: re-create it on the new hub before anything else is sent.
      this.awaitingReplay = `${REPLAY_ID_PREFIX}${++this.replayCounter}`;
      socket.write(encodeLine({ jsonrpc: '2.0', id: this.awaitingReplay, method: 'initialize', params: this.cachedInitialize }));
    }
    if (rest.length > 0) onChunk(rest);
    if (!this.awaitingReplay) this.flushPending();
    if (resumed) this.log(`connected to hub pid ${welcome.hubPid} (session ${welcome.sessionId})`);
  }

  /** The editor's own initialize is unanswered: it will be (re)sent, so replaying ours would double it. */
  private editorInitializeOutstanding(): boolean {
    for (const entry of this.inflight.values()) if (entry.method === 'initialize') return true;
    return false;
  }

  private finishReplay(link: HubLink): void {
    this.awaitingReplay = null;
    link.socket.write(encodeLine({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    this.flushPending();
  }

  private flushPending(): void {
    this.clearPendingDeadline();
    const link = this.link;
    if (!link) return;
    const items = this.pending;
    this.pending = [];
    for (const p of items) this.sendOn(link, p.line, requestId(p.msg));
  }

  /**
   * The hub is going away gracefully. It still answers what it has; we stop sending it anything, tell it
   * so (`drained`, after every request we wrote), and open a link to the next hub for new calls.
   */
  private onDraining(link: HubLink, reason: string): void {
    if (link.draining) return;
    link.draining = true;
    link.socket.write(encodeLine({ snowmux: 'drained' }));
    if (link !== this.link) return;
    this.link = null;
    this.awaitingReplay = null;
    this.log(`hub pid ${link.hubPid} is draining (${reason}); moving to the next hub`);
    void this.reconnect();
  }

  private onLinkClosed(link: HubLink): void {
    if (this.links.get(link.gen) !== link) return;
    this.links.delete(link.gen);
    this.stopPinging(link);
    this.releaseStdin(link);
    const wasCurrent = link === this.link;
    if (wasCurrent) {
      this.link = null;
      this.awaitingReplay = null;
    }
    // Calls that hub had: safe ones are sent again, the rest are answered now — never left hanging.
    let resend = false;
    for (const [key, entry] of this.inflight) {
      if (entry.gen !== link.gen) continue;
      if (RESENDABLE.has(entry.method)) {
        entry.gen = BUFFERED;
        this.pending.unshift({ line: entry.line, msg: peek(entry.line), at: Date.now() });
        resend = true;
      } else {
        this.inflight.delete(key);
        this.answerError(entry.id, HUB_RESTARTED, `snowmux: the hub restarted while "${entry.method}" was running; the call may or may not have completed. Retry it.`);
      }
    }
    if (this.exiting) return;
    if (this.finishing || (this.stdinEnded && this.inflight.size === 0)) {
      if (this.links.size === 0) this.exit(0);
      return;
    }
    if (resend) {
      if (this.link && !this.awaitingReplay) this.flushPending();
      else this.armPendingDeadline();
    }
    if (!this.link) {
      if (wasCurrent) this.log(`lost hub pid ${link.hubPid}; reconnecting`);
      void this.reconnect();
    }
  }

  private armPendingDeadline(): void {
    if (this.pendingTimer || this.pending.length === 0) return;
    const oldest = Math.min(...this.pending.map((p) => p.at));
    const wait = Math.max(0, oldest + this.opts.reconnectDeadlineMs - Date.now());
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = null;
      this.expirePending();
      this.armPendingDeadline();
    }, wait);
    this.pendingTimer.unref();
  }

  private clearPendingDeadline(): void {
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
  }

  /** Each buffered call waits at most the reconnect deadline, counted from when the editor sent it. */
  private expirePending(): void {
    const cutoff = Date.now() - this.opts.reconnectDeadlineMs;
    const expired = this.pending.filter((p) => p.at <= cutoff);
    if (expired.length === 0) return;
    this.pending = this.pending.filter((p) => p.at > cutoff);
    const why = this.fatal?.message ?? `no hub answered within ${this.opts.reconnectDeadlineMs} ms; the call was not run. Check \`snowmux status\` and retry`;
    for (const p of expired) this.answerPending(p, HUB_UNAVAILABLE, `snowmux: ${why}.`, true);
  }

  private failPending(code: number, message: string, retryable = true): void {
    const items = this.pending;
    this.pending = [];
    this.clearPendingDeadline();
    for (const p of items) this.answerPending(p, code, message, retryable);
  }

  private answerPending(p: Pending, code: number, message: string, retryable: boolean): void {
    // Requests get an answer; notifications and junk are dropped.
    const id = requestId(p.msg);
    if (id === undefined) return;
    this.inflight.delete(idKey(id));
    this.answerError(id, code, message, retryable);
  }

  private startPinging(link: HubLink): void {
    const every = this.opts.pingIntervalMs;
    if (every <= 0) return;
    link.liveness = new Liveness({
      checkEveryMs: every,
      pingAfterMs: 0,
      deadAfterMs: 2 * every,
      ping: () => link.socket.write(encodeLine({ snowmux: 'ping', n: ++this.pingN })),
      dead: (silent) => {
        this.log(`hub pid ${link.hubPid} has not answered for ${silent} ms; dropping the link`);
        link.socket.destroy();
      },
    });
  }

  private stopPinging(link: HubLink): void {
    link.liveness?.stop();
    link.liveness = null;
  }

  /**
   * The editor closed stdin. What it already asked is still answered (a script piping requests in gets its
   * responses; a buffered call still waits at most the reconnect deadline); then the shim leaves. An editor
   * shutting down follows EOF with SIGTERM within seconds, which ends the shim and cancels what still runs.
   */
  private onStdinEnd(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    this.finishIfDone();
  }

  private finishIfDone(): void {
    if (!this.stdinEnded || this.finishing || this.exiting || this.inflight.size > 0) return;
    this.finishing = true;
    if (this.links.size === 0) {
      this.exit(0);
      return;
    }
    // Ending our side tells each hub the editor is gone; exit once they close.
    for (const link of this.links.values()) link.socket.end();
    const timer = setTimeout(() => this.exit(0), 2_000);
    timer.unref();
  }

  /** Ends the shim now: links are dropped (their hubs cancel what still runs), nothing more is answered. */
  close(): void {
    this.exit(0);
  }

  private exit(code: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.clearPendingDeadline();
    for (const link of this.links.values()) {
      this.stopPinging(link);
      link.socket.destroy();
    }
    this.resolveExit(code);
  }
}

const NL = Buffer.from('\n');
const ID_KEY = Buffer.from('"id"');
