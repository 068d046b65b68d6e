/**
 * The stdio shim an editor launches. It moves newline-delimited JSON-RPC between the editor's stdio and
 * the hub, and keeps the editor's session alive when the hub goes away: in-flight calls get an error
 * (or are re-sent when that is safe), new calls wait in a bounded buffer, and the session is re-created
 * on the new hub (a 2025-era `initialize` is replayed under a private id and its reply swallowed).
 *
 * stdout carries protocol messages only; diagnostics go to stderr. Imports node builtins and src/wire only.
 */
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { errorMessage, isSnowmuxError } from '../errors.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, encodeLine } from '../wire/framing.js';
import { type Hello, type ParentInfo, isLinkFrame, makeHello, parseLinkFrame } from '../wire/hello.js';
import { connectOrStartHub, type OpenLink } from './hub-link.js';

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
  maxLineBytes?: number;
  /** Messages held while reconnecting; beyond this, new requests are answered with an error. */
  maxPending?: number;
}

/** Editor requests that can be sent again after a reconnect without side effects. */
const RESENDABLE = new Set(['initialize', 'server/discover', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']);
const REPLAY_ID_PREFIX = 'snowmux-shim-replay-';
/** JSON-RPC server-error range; `data.retryable` tells clients that understand it. */
const HUB_RESTARTED = -32001;
const HUB_UNAVAILABLE = -32002;

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

interface Inflight {
  id: Id;
  method: string;
  line: Buffer;
  /** Link generation the request was written on. */
  gen: number;
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
  const picked: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k.startsWith('SNOWFLAKE_') || k === 'SNOWMUX_PROFILE' || k === 'PRIVATE_KEY_FILE_PWD')) {
      picked[k] = v;
      any = true;
    }
  }
  return any ? picked : undefined;
}

export class Shim {
  private readonly opts: Required<Pick<ShimOptions, 'reconnectDeadlineMs' | 'pingIntervalMs' | 'maxLineBytes' | 'maxPending'>> & ShimOptions;
  private readonly stdin: NodeJS.ReadableStream;
  private readonly stdout: NodeJS.WritableStream;
  private readonly stderr: NodeJS.WritableStream;
  private link: Socket | null = null;
  private gen = 0;
  private sessionId: string | undefined;
  private ready = false;
  private connecting: Promise<void> | null = null;
  private stdinEnded = false;
  private exiting = false;
  private readonly inflight = new Map<string, Inflight>();
  private pending: Buffer[] = [];
  private pendingTimer: NodeJS.Timeout | null = null;
  private cachedInitialize: unknown = undefined;
  private replayCounter = 0;
  private awaitingReplay: string | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private pingN = 0;
  private readonly editorDecoder: LineDecoder;
  private resolveExit!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor(options: ShimOptions) {
    this.opts = {
      reconnectDeadlineMs: 30_000,
      pingIntervalMs: 5_000,
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      maxPending: 1_000,
      ...options,
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
      env: linkEnv(this.opts.env ?? process.env),
      resumeOf: this.sessionId,
    });
  }

  // ---- editor → hub -------------------------------------------------------------------------

  private fromEditor(line: Buffer): void {
    // Malformed input is forwarded as is: the hub answers it with the proper JSON-RPC error.
    const msg = peek(line);
    if (msg && typeof msg.method === 'string') {
      const id = msg.id;
      if (typeof id === 'string' || typeof id === 'number') {
        if (msg.method === 'initialize') this.cachedInitialize = msg.params;
        this.inflight.set(idKey(id), { id, method: msg.method, line, gen: -1 });
      } else if (msg.method === 'notifications/cancelled') {
        // Forward a cancel only to the hub that has the request: a finished request, or one the current
        // hub never saw, needs none. A request still buffered is simply dropped (no response, per the spec).
        const target = msg.params?.requestId;
        const entry = typeof target === 'string' || typeof target === 'number' ? this.inflight.get(idKey(target)) : undefined;
        if (!entry) return;
        if (entry.gen === -1) {
          this.inflight.delete(idKey(entry.id));
          this.pending = this.pending.filter((b) => b !== entry.line);
          return;
        }
      }
    }
    this.toHub(line, msg);
  }

  private toHub(line: Buffer, msg: Peeked | null): void {
    if (this.ready && this.link && !this.awaitingReplay) {
      this.writeLink(line, msg);
      return;
    }
    if (this.pending.length >= this.opts.maxPending) {
      if (msg && typeof msg.method === 'string' && (typeof msg.id === 'string' || typeof msg.id === 'number')) {
        this.inflight.delete(idKey(msg.id));
        this.answerError(msg.id, HUB_UNAVAILABLE, 'snowmux: too many calls are waiting for the hub to come back; retry shortly.');
      }
      return;
    }
    this.pending.push(line);
    this.armPendingDeadline();
  }

  private writeLink(line: Buffer, msg: Peeked | null): void {
    if (!this.link) return;
    if (msg && typeof msg.method === 'string' && (typeof msg.id === 'string' || typeof msg.id === 'number')) {
      const entry = this.inflight.get(idKey(msg.id));
      if (entry) entry.gen = this.gen;
    }
    const ok = this.link.write(Buffer.concat([line, NL]));
    if (!ok) {
      this.stdin.pause();
      this.link.once('drain', () => this.stdin.resume());
    }
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

  private fromHub(line: Buffer): void {
    this.lastHeard = Date.now();
    if (isLinkFrame(line)) {
      const frame = parseLinkFrame(line);
      if (frame?.snowmux === 'ping') this.link?.write(encodeLine({ snowmux: 'pong', n: frame.n }));
      else if (frame?.snowmux === 'draining') this.log(`hub is draining (${frame.reason}); will reconnect`);
      return;
    }
    // Responses end an in-flight request. Only parse what can be a response to keep large results cheap.
    if (line.includes(ID_KEY)) {
      const msg = peek(line);
      if (msg && msg.method === undefined && (typeof msg.id === 'string' || typeof msg.id === 'number')) {
        if (this.awaitingReplay !== null && msg.id === this.awaitingReplay) {
          this.finishReplay();
          return;
        }
        this.inflight.delete(idKey(msg.id));
      }
    }
    const ok = this.stdout.write(Buffer.concat([line, NL]));
    if (!ok && this.link) {
      const link = this.link;
      link.pause();
      this.stdout.once('drain', () => link.resume());
    }
  }

  private writeStdout(message: unknown): void {
    this.stdout.write(encodeLine(message));
  }

  private answerError(id: Id, code: number, message: string): void {
    this.writeStdout({ jsonrpc: '2.0', id, error: { code, message, data: { retryable: true } } });
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
    while (!this.exiting) {
      try {
        const link = await connectOrStartHub({
          home: this.opts.home,
          socketPath: this.opts.socketPath,
          hello: this.hello(),
          hubCommand: this.opts.hubCommand,
          deadlineMs: Math.min(this.opts.reconnectDeadlineMs, 15_000),
          env: this.opts.env,
        });
        if (this.exiting) {
          link.socket.destroy();
          return;
        }
        this.attach(link);
        return;
      } catch (err) {
        const fatal = isSnowmuxError(err) && (err.code === 'SHIM_TOO_OLD' || err.code === 'HUB_TOO_OLD' || err.code === 'HUB_BAD_HANDSHAKE' || err.code === 'HOME_UNUSABLE');
        this.log(`cannot reach the hub: ${errorMessage(err)}`);
        if (fatal) this.failPending(HUB_UNAVAILABLE, `snowmux: ${errorMessage(err)}`);
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  private attach({ socket, welcome, rest }: OpenLink): void {
    this.gen += 1;
    const gen = this.gen;
    const resumed = this.sessionId !== undefined;
    this.sessionId = welcome.sessionId;
    this.link = socket;
    this.lastHeard = Date.now();
    socket.setNoDelay?.(true);
    const decoder = new LineDecoder(Number.MAX_SAFE_INTEGER);
    const onChunk = (chunk: Buffer) => decoder.push(chunk, (ev) => {
      if (ev.kind === 'line' && gen === this.gen) this.fromHub(ev.line);
    });
    socket.on('data', onChunk);
    socket.on('error', () => {});
    socket.on('close', () => this.onLinkClosed(gen));
    this.startPinging(gen);
    if (resumed && this.cachedInitialize !== undefined) {
      // 2025-era session: re-create it on the new hub before anything else is sent.
      this.awaitingReplay = `${REPLAY_ID_PREFIX}${++this.replayCounter}`;
      socket.write(encodeLine({ jsonrpc: '2.0', id: this.awaitingReplay, method: 'initialize', params: this.cachedInitialize }));
    }
    this.ready = true;
    if (rest.length > 0) onChunk(rest);
    if (!this.awaitingReplay) this.flushPending();
    if (resumed) this.log(`reconnected to hub pid ${welcome.hubPid} (session ${welcome.sessionId})`);
  }

  private finishReplay(): void {
    this.awaitingReplay = null;
    this.link?.write(encodeLine({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    this.flushPending();
  }

  private flushPending(): void {
    this.clearPendingDeadline();
    const lines = this.pending;
    this.pending = [];
    for (const line of lines) this.writeLink(line, peek(line));
    if (this.stdinEnded) this.link?.end();
  }

  private onLinkClosed(gen: number): void {
    if (gen !== this.gen) return;
    this.ready = false;
    this.link = null;
    this.awaitingReplay = null;
    this.stopPinging();
    if (this.stdinEnded || this.exiting) {
      this.exit(0);
      return;
    }
    // Calls the old hub had: safe ones are sent again, the rest are answered now — never left hanging.
    for (const [key, entry] of this.inflight) {
      if (entry.gen === -1) continue; // still buffered, never sent
      if (RESENDABLE.has(entry.method)) {
        entry.gen = -1;
        this.pending.unshift(entry.line);
      } else {
        this.inflight.delete(key);
        this.answerError(entry.id, HUB_RESTARTED, `snowmux: the hub restarted while "${entry.method}" was running; the call may or may not have completed. Retry it.`);
      }
    }
    this.log('lost the hub; reconnecting');
    void this.reconnect();
  }

  private armPendingDeadline(): void {
    if (this.pendingTimer) return;
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = null;
      this.failPending(HUB_UNAVAILABLE, `snowmux: no hub answered within ${this.opts.reconnectDeadlineMs} ms; the call was not run. Check \`snowmux status\` and retry.`);
    }, this.opts.reconnectDeadlineMs);
    this.pendingTimer.unref();
  }

  private clearPendingDeadline(): void {
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.pendingTimer = null;
  }

  private failPending(code: number, message: string): void {
    const lines = this.pending;
    this.pending = [];
    for (const line of lines) {
      const msg = peek(line);
      // Requests get an answer; notifications and junk are dropped.
      if (msg && typeof msg.method === 'string' && (typeof msg.id === 'string' || typeof msg.id === 'number')) {
        this.inflight.delete(idKey(msg.id));
        this.answerError(msg.id, code, message);
      }
    }
  }

  private startPinging(gen: number): void {
    const every = this.opts.pingIntervalMs;
    if (every <= 0) return;
    this.stopPinging();
    this.pingTimer = setInterval(() => {
      if (gen !== this.gen || !this.link) return;
      if (Date.now() - this.lastHeard > every * 2) {
        this.log(`the hub has not answered for ${Date.now() - this.lastHeard} ms; reconnecting`);
        this.link.destroy();
        return;
      }
      this.link.write(encodeLine({ snowmux: 'ping', n: ++this.pingN }));
    }, every);
    this.pingTimer.unref();
  }

  private stopPinging(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private onStdinEnd(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    if (this.link && this.ready && !this.awaitingReplay) {
      // Let the hub finish writing what it owes, then it closes its side.
      this.link.end();
      const timer = setTimeout(() => this.exit(0), 2_000);
      timer.unref();
    } else {
      this.exit(0);
    }
  }

  private exit(code: number): void {
    if (this.exiting) return;
    this.exiting = true;
    this.stopPinging();
    this.clearPendingDeadline();
    this.link?.destroy();
    this.resolveExit(code);
  }
}

const NL = Buffer.from('\n');
const ID_KEY = Buffer.from('"id"');
