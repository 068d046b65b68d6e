/**
 * The stdio shim an editor launches. It moves newline-delimited JSON-RPC between the editor's stdio and
 * the hub, and keeps the editor's session alive when the hub goes away:
 * - a hub that drains (stop, `hub --replace`) keeps answering the calls it has on the old link while new
 *   calls go to the next hub (make before break), so a graceful restart fails no call;
 * - when a link drops, calls in flight on it get a JSON-RPC error (or are re-sent when that is safe);
 * - calls arriving while no hub answers wait in a bounded buffer, each for at most the reconnect deadline;
 * - every buffer is bounded in both directions (docs/operations.md, "Shim memory"): a line from the editor
 *   (8 MiB) or from the hub (MAX_HUB_LINE_BYTES), the messages waiting for a hub (count and bytes), what
 *   the shim keeps to re-send, and what waits for the editor to read (beyond 1 MiB the editor is not read
 *   until it catches up; a hub link is not read while the editor's stdout is full);
 * - the session is re-created on the new hub (a 2025-era `initialize` is replayed under a private id and
 *   its reply swallowed; 2026-era clients need nothing);
 * - a link that stops answering pings is declared dead after two intervals (sleep, frozen hub, cut socket).
 *
 * stdout carries protocol messages only; diagnostics go to stderr. Imports node builtins and src/wire only.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { SnowmuxError, errorMessage, isSnowmuxError, type ErrorCode } from '../errors.js';
import { shellWord } from '../shell-word.js';
import { snowmuxCommand } from '../snowmux-command.js';
import { DEFAULT_MAX_LINE_BYTES, LineDecoder, MAX_HUB_LINE_BYTES, encodeLine, type LineEvent } from '../wire/framing.js';
import { type Hello, LINK_CAPS, type ParentInfo, isLinkFrame, makeHello, parseLinkFrame } from '../wire/hello.js';
import { Liveness } from '../wire/liveness.js';
import { brokenLineId } from '../wire/cut-line.js';
import { compareVersions } from '../version-order.js';
import { VERSION } from '../version.js';
import { idAsSent, isRequestId } from '../wire/request-id.js';
import { connectOrStartHub, HANDSHAKE_TIMEOUT_MS, hubText, ownReplaceCommand, workingDirectory, type OpenLink } from './hub-link.js';
import { openRemoteLink, type RemoteHub } from './remote-link.js';
import { forwardedEnvironment } from '../wire/forwarded-env.js';
import { withAbsolutePaths } from '../wire/env-paths.js';
import { fastResponseId } from '../wire/response-id.js';
import { PendingQueue } from './pending-queue.js';

export interface ShimOptions {
  home: string;
  socketPath: string;
  profile?: string | undefined;
  /** The config file this shim was given (--config / SNOWMUX_CONFIG), absolute; told to the hub in the hello. */
  config?: string | undefined;
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
  /** Longest line read from the editor; a longer one is dropped and answered with an error. */
  maxLineBytes?: number;
  /** Messages held while reconnecting; beyond this, new requests are answered with an error. */
  maxPending?: number;
  /** Bytes of messages held while reconnecting; beyond this (one message always fits), new requests are answered with an error. */
  maxPendingBytes?: number;
  /** Longest line read from the hub; a longer one is dropped, and its request (when known) answered with an error. */
  maxHubLineBytes?: number;
  /** A hub on another machine (its /shim WebSocket and an API key) instead of the home's socket. */
  remote?: RemoteHub | undefined;
  /**
   * Why no hub can be reached from here at all (the home is unusable, the command line is wrong): the shim
   * starts no hub and answers every request with it, so the editor shows the reason instead of "server
   * disconnected", then exits with `exitCode` when the editor closes stdin.
   */
  unusable?: { code: string; message: string; exitCode: number } | undefined;
}

/**
 * Editor requests that can be sent again after a reconnect without side effects (documented in
 * docs/operations: everything else that was in flight is answered with HUB_RESTARTED).
 */
const RESENDABLE = new Set(['initialize', 'server/discover', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'subscriptions/listen']);
/**
 * A 2026-07-28 subscription (the way that era hears tools/list_changed over stdio): a request that stays
 * open for the session's life, not a call that ends. It moves with the session to the next hub (the old
 * hub is told to drop it, so its stop does not wait for it), its repeated acknowledgement is not shown to
 * the editor, and it does not keep the shim alive once the editor closed stdin.
 */
const LISTEN = 'subscriptions/listen';
/**
 * The tools whose call may change data: execute_query runs what a role with `write` allows. Every other tool
 * of the hub only reads (team tools are checked read-only when the config loads), so a lost call to one is
 * safe to run again.
 */
const WRITING_TOOLS = new Set(['execute_query']);
const LISTEN_ACK = 'notifications/subscriptions/acknowledged';
const LISTEN_ACK_BYTES = Buffer.from(`"${LISTEN_ACK}"`);
/** Longer than any subscription acknowledgement (its notifications and subscription id, ~200 bytes). */
const MAX_ACK_BYTES = 4096;
const SUBSCRIPTION_ID_META = 'io.modelcontextprotocol/subscriptionId';
const REPLAY_ID_PREFIX = 'snowmux-shim-replay-';
/** JSON-RPC: the message is not a valid request. */
const INVALID_REQUEST = -32600;
const PARSE_ERROR = -32700;
/** JSON-RPC server-error range; `data.retryable` tells clients that understand it. */
export const HUB_RESTARTED = -32001;
export const HUB_UNAVAILABLE = -32002;
/** The hub's answer was longer than the shim reads (`maxHubLineBytes`); not retryable as is. */
export const ANSWER_TOO_LARGE = -32003;
/**
 * A request that is safe to re-send is kept until answered, unless it is longer than this: such requests
 * are small (initialize, tools/list…), and one that is not is answered with HUB_RESTARTED like any other
 * call if its hub goes away, instead of being held.
 */
const MAX_KEPT_FOR_RESEND_BYTES = 64 * 1024;
/** Stop reading the editor while more than this waits for it to read (as the hub does with its clients). */
const STDOUT_HIGH_WATER_BYTES = 1024 * 1024;
/** Refusals that no retry can fix until someone upgrades or replaces something. */
const FATAL_CODES = new Set(['HTTP_UNAUTHORIZED', 'PROFILE_NOT_ALLOWED', 'SHIM_TOO_OLD', 'HUB_TOO_OLD', 'BAD_HELLO', 'HUB_BAD_HANDSHAKE', 'HUB_TLS_FAILED', 'HOME_UNUSABLE', 'HOME_NOT_OWNED', 'HOME_TOO_OPEN', 'RUNTIME_DIR_UNSAFE', 'SOCKET_NOT_OWNED', 'HUB_START_FAILED']);

type Id = string | number;
type Peeked = { id?: unknown; method?: unknown; params?: { requestId?: unknown; name?: unknown } };

/** Reads just enough of a line to track requests; null for anything that is not a JSON object. */
function peek(line: Buffer): Peeked | null {
  try {
    const parsed: unknown = JSON.parse(line.toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Peeked) : null;
  } catch {
    return null;
  }
}

/** The id of a line that parses as a JSON-RPC response; undefined for anything else. */
function parsedResponseId(line: Buffer): Id | undefined {
  const msg = peek(line);
  if (!msg || msg.method !== undefined) return undefined;
  return typeof msg.id === 'string' || typeof msg.id === 'number' ? msg.id : undefined;
}

/**
 * Why an editor's line must not go to the hub, or null. Invalid UTF-8: the hub reads the line strictly (a
 * parse error, its id unknown) where this shim would read it leniently. A line that starts as a link frame
 * (`{"snowmux":"…"`): the hub takes it for one of the shim's own. An id the shim uses for its own requests.
 */
function unforwardable(line: Buffer, msg: Peeked | null): { code: number; why: ErrorCode; message: string; id?: Id | null } | null {
  // Its id as the hub reads a broken line's (brokenLineId): an id holding the invalid bytes is null, never the
  // lenient parse's rewrite of it ("a\uFFFDb"), an id the client never sent that may be one it has in flight.
  if (!isUtf8(line)) return { code: PARSE_ERROR, why: 'PARSE_ERROR', message: 'Parse error: the message is not valid UTF-8. MCP messages are UTF-8 JSON, one per line.', id: brokenLineId(line) };
  if (msg && typeof msg.method === 'string' && msg.id !== undefined && !isRequestId(msg.id)) {
    // Answered here as the hub would (its answer comes under null when the id cannot be read back as sent).
    const id = msg.id;
    const answerable = typeof id === 'number' && Number.isFinite(id) && idAsSent(line, id);
    return { code: INVALID_REQUEST, why: 'INVALID_REQUEST', message: 'Invalid Request: "id" must be a string or an integer (at most 2^53 - 1 in size).', id: answerable ? id : null };
  }
  if (isLinkFrame(line) && parseLinkFrame(line) !== null) {
    return { code: INVALID_REQUEST, why: 'INVALID_REQUEST', message: 'Invalid Request: a message may not open with the member "snowmux", which the shim and the hub use for their own frames. Put "jsonrpc" first.' };
  }
  const id = requestId(msg);
  if (typeof id === 'string' && id.startsWith(REPLAY_ID_PREFIX)) {
    return { code: INVALID_REQUEST, why: 'INVALID_REQUEST', message: `Invalid Request: ids starting with "${REPLAY_ID_PREFIX}" are the shim's own. Use another id.` };
  }
  return null;
}

function requestId(msg: Peeked | null): Id | undefined {
  if (!msg || typeof msg.method !== 'string') return undefined;
  return isRequestId(msg.id) ? msg.id : undefined;
}

/** The longest wait between two tries to start a hub that failed to start. */
export const START_RETRY_MAX_MS = 60_000;

/** The wait after the `failures`-th failed hub start in a row: 4 s, 8 s, 16 s… up to START_RETRY_MAX_MS. */
export function startRetryDelayMs(failures: number): number {
  return Math.min(2_000 * 2 ** Math.min(failures, 10), START_RETRY_MAX_MS);
}

/** Link generation of a request that is still buffered in the shim (never written to any hub). */
const BUFFERED = -1;

interface Inflight {
  id: Id;
  method: string;
  /** The request as sent, while it may be sent (again): buffered, or resendable and small. Else null. */
  line: Buffer | null;
  /** Generation of the link the request was written on, or BUFFERED. */
  gen: number;
  /** A subscription (LISTEN) the editor has already seen acknowledged: a new hub's acknowledgement is not shown again. */
  acked?: boolean;
  /** An initialize's params: replayed on a new hub once this one's answer is a result, never if it is refused. */
  initializeParams?: unknown;
  /** A tools/call's tool, when it is one that may change data (what a lost call's answer must warn of). */
  mayWrite?: true;
}

interface Pending {
  line: Buffer;
  msg: Peeked | null;
  /** When the editor sent it, on the monotonic clock (for the per-message reconnect deadline). */
  at: number;
}

/** What holds the editor's input: a hub link whose writes back up, or the editor's own unread output. */
type StdinHold = HubLink | 'stdout';

/** One connection to a hub. The current link takes new requests; a draining one only finishes its calls. */
interface HubLink {
  socket: OpenLink['socket'];
  gen: number;
  hubPid: number;
  draining: boolean;
  liveness: Liveness | null;
  /** Reading this link is paused until the editor reads what waits on stdout. */
  waitingForEditor: boolean;
  /**
   * When the editor last caught up after this link waited for it. The hub cuts a session whose answers go
   * unread too long, and its `cut` frame is dropped with the unread output, so a link that closes soon
   * after (or during) such a wait most likely ended for that, not because the hub restarted.
   */
  /** (Monotonic, performance.now().) */
  editorCaughtUpAt?: number;
  /** Set when the shim dropped the link itself because the hub stopped answering (frozen, asleep, cut). */
  silentMs?: number;
  /** Why the hub ended this link's session (its `cut` frame), when it did. */
  cutReason?: string;
  /** Ids of the latest requests this link answered (at most ANSWERED_KEPT): a second answer is dropped. */
  answered: Set<string>;
  /** Answers from this link that were not the editor's (see fromHub). */
  strayAnswers?: number;
  /**
   * Linked while the editor's initialize was still running on a draining hub: no session to replay yet.
   * Once that hub's answer creates the session, it is re-created here too (see fromHub).
   */
  sessionOwed?: true;
}

/** How many answered ids a link remembers to recognise an answer sent twice. */
const ANSWERED_KEPT = 1024;

/** Whether a (small) response line is a result, not an error. */
function isResult(line: Buffer): boolean {
  try {
    return 'result' in (JSON.parse(line.toString('utf8')) as object);
  } catch {
    return false;
  }
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
  // A relative key file means the editor's directory; with none (deleted), the hub refuses it.
  const picked = withAbsolutePaths(forwardedEnvironment(env), workingDirectory);
  return Object.keys(picked).length > 0 ? picked : undefined;
}

export class Shim {
  private readonly opts: Required<Pick<ShimOptions, 'reconnectDeadlineMs' | 'pingIntervalMs' | 'handshakeTimeoutMs' | 'maxLineBytes' | 'maxPending' | 'maxPendingBytes' | 'maxHubLineBytes'>> & ShimOptions;
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
  /** Aborted when the shim ends: a connect-or-start still waiting for a hub stops at once. */
  private readonly closing = new AbortController();
  /** The hub pid whose other snowmux version was said (sayVersionSkew). */
  private skewSaidFor: number | null = null;
  private readonly inflight = new Map<string, Inflight>();
  private readonly pending: PendingQueue<Pending>;
  private pendingTimer: NodeJS.Timeout | null = null;
  private cachedInitialize: unknown = undefined;
  private replayCounter = 0;
  /** Id of the replayed initialize on the current link; requests wait until it is answered. */
  private awaitingReplay: string | null = null;
  /** The replay in progress is for an initialize the editor just had answered: its own notifications/initialized follows. */
  private replayEditorSaysInitialized = false;
  /** Set while the hub refuses this shim for a reason no retry fixes (version skew…): calls fail fast. */
  private fatal: { code: string; message: string } | null = null;
  /** Why the latest attempt to reach a hub failed, when it was not fatal; cleared by a link. */
  private lastReachError: string | null = null;
  private pingN = 0;
  /** Why reading from the editor is paused; it resumes when none is left. */
  private readonly stdinHolds = new Set<StdinHold>();
  private readonly editorDecoder: LineDecoder;
  /** The editor: the process that started the shim. Once the shim is re-parented, the editor is gone. */
  private readonly editorPid = process.ppid;
  /** After stdin ended with calls still running: watches for the editor's end (see onStdinEnd). */
  private editorWatch: NodeJS.Timeout | null = null;
  private resolveExit!: (code: number) => void;
  readonly exited: Promise<number>;

  constructor(options: ShimOptions) {
    const pingIntervalMs = options.pingIntervalMs ?? 5_000;
    this.opts = {
      reconnectDeadlineMs: 30_000,
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      maxPending: 1_000,
      maxPendingBytes: 4 * DEFAULT_MAX_LINE_BYTES,
      maxHubLineBytes: MAX_HUB_LINE_BYTES,
      ...options,
      pingIntervalMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? (pingIntervalMs > 0 ? Math.min(HANDSHAKE_TIMEOUT_MS, Math.max(1_000, 2 * pingIntervalMs)) : HANDSHAKE_TIMEOUT_MS),
    };
    this.stdin = options.stdin ?? process.stdin;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.editorDecoder = new LineDecoder(this.opts.maxLineBytes);
    this.pending = new PendingQueue(this.opts.maxPending, this.opts.maxPendingBytes);
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  start(): void {
    const fromDecoder = (ev: LineEvent): void => {
      if (ev.kind === 'line') this.fromEditor(ev.line);
      else this.respondOversize(ev.bytes, ev.id);
    };
    this.stdin.on('data', (chunk: Buffer) => this.editorDecoder.push(chunk, fromDecoder));
    // The editor's last message may lack its newline: stdin's end ends it.
    this.stdin.once('end', () => this.editorDecoder.end(fromDecoder));
    this.stdin.on('end', () => this.onStdinEnd());
    this.stdin.on('close', () => this.onStdinEnd());
    this.stdin.on('error', () => this.onStdinEnd());
    this.stdout.on('error', (err: NodeJS.ErrnoException) => this.editorStoppedReading(err));
    if (this.opts.unusable) {
      this.fatal = this.opts.unusable;
      // Said even when quiet: it is why this shim serves nothing (the CLI printed it before the shim answered).
      this.stderr.write(`snowmux shim: ${this.fatal.message}\n`);
      return;
    }
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
      // Credentials never leave the machine: a remote hub uses its own profiles (and its own config).
      env: this.opts.remote ? undefined : linkEnv(this.opts.env ?? process.env),
      config: this.opts.remote ? undefined : this.opts.config,
      resumeOf: this.sessionId,
      caps: [...LINK_CAPS],
    });
  }

  // ---- editor → hub -------------------------------------------------------------------------

  private fromEditor(line: Buffer): void {
    // Malformed input is forwarded as is: the hub answers it with the proper JSON-RPC error. Except what
    // the hub would read differently from here: it must never track an id the hub cannot answer (the
    // request would stay "in flight" for ever, and be sent again to every next hub).
    const msg = peek(line);
    const refusal = unforwardable(line, msg);
    if (refusal) {
      this.answerError(refusal.id !== undefined ? refusal.id : requestId(msg) ?? null, refusal.code, refusal.why, refusal.message, false);
      return;
    }
    if (msg && typeof msg.method === 'string') {
      const id = requestId(msg);
      if (id !== undefined) {
        // One request per id in flight: a second would take the first's place here, and the first would go
        // unanswered if its hub went away (the hub refuses it too).
        if (this.inflight.has(idKey(id))) {
          this.answerError(id, INVALID_REQUEST, 'INVALID_REQUEST', `Invalid Request: id ${JSON.stringify(id).slice(0, 80)} is already used by a request that has not been answered yet. Give each request in flight its own id.`, false);
          return;
        }
        // Kept for a replay only once the hub accepts it (fromHub): a refused re-initialize, replayed on the
        // next hub, changed the session's client, protocol version and era behind the editor's back.
        this.inflight.set(idKey(id), {
          id,
          method: msg.method,
          line,
          gen: BUFFERED,
          ...(msg.method === 'initialize' ? { initializeParams: msg.params } : {}),
          ...(msg.method === 'tools/call' && WRITING_TOOLS.has(String(msg.params?.name)) ? { mayWrite: true as const } : {}),
        });
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
      if (entry.line) this.pending.removeLine(entry.line);
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
      this.answerError(id, HUB_UNAVAILABLE, this.fatal.code, `snowmux: ${this.fatal.message}`, false);
      return;
    }
    const full = this.pending.refusal(line);
    if (full) {
      if (id !== undefined) {
        this.inflight.delete(idKey(id));
        this.answerError(id, HUB_UNAVAILABLE, 'HUB_UNREACHABLE', full === 'count'
          ? `snowmux: too many calls are waiting for the hub to come back (${this.pending.length}); retry shortly.`
          : `snowmux: the calls waiting for the hub to come back already hold ${this.pending.bytes} bytes, and this one (${line.length} bytes) would pass the shim's ${this.opts.maxPendingBytes}-byte limit; retry shortly.`);
      }
      return;
    }
    this.pending.push({ line, msg, at: performance.now() });
    this.armPendingDeadline();
  }

  private sendOn(link: HubLink, line: Buffer, id: Id | undefined): void {
    if (id !== undefined) {
      const entry = this.inflight.get(idKey(id));
      if (entry) {
        entry.gen = link.gen;
        // Only what may be re-sent after a lost link is kept, and only while it is small.
        if (!RESENDABLE.has(entry.method) || line.length > MAX_KEPT_FOR_RESEND_BYTES) entry.line = null;
      }
    }
    this.write(link, line);
  }

  private write(link: HubLink, line: Buffer): void {
    const ok = link.socket.write(Buffer.concat([line, NL]));
    if (!ok && !this.stdinHolds.has(link)) {
      // The hub reads slower than the editor writes: stop reading the editor until it catches up. A link
      // that dies instead never drains, so its close lets the editor go too (see onLinkClosed).
      this.holdStdin(link);
      link.socket.once('drain', () => this.releaseStdin(link));
    }
  }

  private holdStdin(by: StdinHold): void {
    this.stdinHolds.add(by);
    if (this.stdinHolds.size === 1) this.stdin.pause();
  }

  private releaseStdin(by: StdinHold): void {
    if (!this.stdinHolds.delete(by) || this.stdinHolds.size > 0) return;
    this.stdin.resume();
  }

  private respondOversize(bytes: number, id: Id | null): void {
    // The message was never tracked (a request in flight under the same id stays so); its id, when the
    // decoder could read it, gets the answer, else id null (as JSON-RPC answers unparseable input).
    this.writeStdout({
      jsonrpc: '2.0',
      id,
      error: { code: -32600, message: `snowmux: message of ${bytes} bytes exceeds the ${this.opts.maxLineBytes}-byte line limit and was dropped. Send smaller messages.`, data: { code: 'MESSAGE_TOO_LARGE' satisfies ErrorCode, retryable: false } },
    });
  }

  // ---- hub → editor -------------------------------------------------------------------------

  /** `framed`: the line with its newline as it arrived, when the decoder has it (no copy to add one back). */
  private fromHub(link: HubLink, line: Buffer, framed?: Buffer): void {
    link.liveness?.heard();
    if (isLinkFrame(line)) {
      const frame = parseLinkFrame(line);
      if (frame?.snowmux === 'ping') link.socket.write(encodeLine({ snowmux: 'pong', n: frame.n }));
      else if (frame?.snowmux === 'draining') this.onDraining(link, hubText(frame.reason, 300));
      else if (frame?.snowmux === 'cut') link.cutReason = hubText(frame.reason, 300) || 'no reason given';
      return;
    }
    // An acknowledgement is a short notification: a result of any size is never searched for one.
    if (line.length <= MAX_ACK_BYTES && line.includes(LISTEN_ACK_BYTES) && this.repeatedListenAck(line)) return;
    // Responses end an in-flight request. A result's id is read from the line's end (results can be large);
    // anything else that can be a response is parsed.
    const fastId = fastResponseId(line);
    const id = fastId ?? (line.includes(ID_KEY) ? parsedResponseId(line) : undefined);
    if (id !== undefined) {
      if (typeof id === 'string' && id.startsWith(REPLAY_ID_PREFIX)) {
        // Our own replayed initialize: the editor never sent it and must not see its answer.
        if (link === this.link && id === this.awaitingReplay) this.finishReplay(link, line);
        return;
      }
      const key = idKey(id);
      const entry = this.inflight.get(key);
      // An answer is the editor's only for a request this very link has: not one still buffered here or sent to
      // another hub (a draining hub ending a subscription that moved on, a broken or hostile hub), which got
      // the editor an answer to a call that then ran anyway, and left that call untracked; and not a second
      // answer. An id the shim never tracked (a malformed request) still gets the hub's answer.
      if (entry ? entry.gen !== link.gen : link.answered.has(key)) {
        this.strayAnswer(link, id, entry ? (entry.gen === BUFFERED ? 'not sent to it yet' : 'sent to another hub') : 'already answered');
        return;
      }
      if (entry) {
        if (entry.method === 'initialize' && (fastId !== undefined || isResult(line))) {
          this.cachedInitialize = entry.initializeParams;
          // Answered by a draining hub after the next one was linked: the session exists there, not here yet.
          const next = this.link;
          if (next !== link && next?.sessionOwed && !this.awaitingReplay) this.replayInitialize(next, true);
        }
        this.inflight.delete(key);
        link.answered.add(key);
        if (link.answered.size > ANSWERED_KEPT) link.answered.delete(link.answered.values().next().value!);
      }
    }
    if (!this.toEditor(framed ?? Buffer.concat([line, NL])) && !link.waitingForEditor) {
      // The editor reads slower than the hub answers: stop reading this link until it catches up.
      link.waitingForEditor = true;
      link.socket.pause();
      // The hub's answers (pongs too) now wait unread: its silence is ours, not a dead hub's.
      link.liveness?.pauseListening();
      this.stdout.once('drain', () => {
        link.editorCaughtUpAt = performance.now();
        link.waitingForEditor = false;
        link.liveness?.resumeListening();
        link.socket.resume();
      });
    }
    if (this.stdinEnded) this.finishIfDone();
  }

  /** A hub's answer that is not the editor's (see fromHub): dropped, said once per link. */
  private strayAnswer(link: HubLink, id: Id, why: string): void {
    link.strayAnswers = (link.strayAnswers ?? 0) + 1;
    if (link.strayAnswers > 1) return;
    this.log(`hub pid ${link.hubPid} answered request id ${JSON.stringify(id).slice(0, 80)}, ${why}; the answer was dropped (and any more such from this hub, without a word)`);
  }

  /** A subscription's acknowledgement from the hub it moved to: the editor saw the first one already. */
  private repeatedListenAck(line: Buffer): boolean {
    const msg = peek(line) as { method?: unknown; params?: { _meta?: Record<string, unknown> } } | null;
    if (msg?.method !== LISTEN_ACK) return false;
    const id = msg.params?._meta?.[SUBSCRIPTION_ID_META];
    const entry = typeof id === 'string' || typeof id === 'number' ? this.inflight.get(idKey(id)) : undefined;
    if (entry?.method !== LISTEN) return false;
    if (entry.acked) return true;
    entry.acked = true;
    return false;
  }

  /**
   * A hub line longer than the shim reads was dropped (a broken hub, or an answer past the hub's own
   * limit). Its request, when the line's ends show which, is answered with an error; nothing else is lost.
   */
  private fromHubOversize(link: HubLink, bytes: number, id: Id | null): void {
    link.liveness?.heard();
    const limit = this.opts.maxHubLineBytes;
    const entry = id === null ? undefined : this.inflight.get(idKey(id));
    if (id === null || !entry || entry.gen !== link.gen) {
      this.log(`the hub (pid ${link.hubPid}) sent a message of ${bytes} bytes, more than the ${limit} bytes the shim reads; it was dropped. Check the hub's log (snowmux logs).`);
      return;
    }
    this.inflight.delete(idKey(id));
    this.log(`the hub's answer to "${entry.method}" (id ${JSON.stringify(id)}) was ${bytes} bytes, more than the ${limit} bytes the shim reads; it was dropped and the request answered with an error.`);
    this.answerError(id, ANSWER_TOO_LARGE, 'ANSWER_TOO_LARGE', `snowmux: the answer was ${bytes} bytes, more than the ${limit}-byte limit of one message from the hub, and was dropped. Ask for less (a LIMIT, fewer columns, a narrower query).`, false);
  }

  /** Everything the editor reads goes through here; while more than the high-water mark waits, the editor is not read. */
  private toEditor(data: Buffer | string): boolean {
    // stdout is ended once the shim exits (flushStdout): a write after it would be an error, not an answer.
    if (this.exiting) return true;
    const ok = this.stdout.write(data);
    const waiting = (this.stdout as { writableLength?: number }).writableLength ?? 0;
    if (waiting > STDOUT_HIGH_WATER_BYTES && !this.stdinHolds.has('stdout')) {
      this.holdStdin('stdout');
      this.stdout.once('drain', () => this.releaseStdin('stdout'));
    }
    return ok;
  }

  private writeStdout(message: unknown): void {
    this.toEditor(encodeLine(message));
  }

  /** `why`: the stable code (data.code) a client can act on, as the hub's own errors carry it; a hub's refusal code is passed on as it came. */
  private answerError(id: Id | null, code: number, why: ErrorCode | string, message: string, retryable = true): void {
    this.writeStdout({ jsonrpc: '2.0', id, error: { code, message, data: { code: why, retryable } } });
    if (this.stdinEnded) queueMicrotask(() => this.finishIfDone());
  }

  // ---- link lifecycle -----------------------------------------------------------------------

  private reconnect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = this.connectLoop().finally(() => {
      this.connecting = null;
      // The hub linked last started draining (or went away) before this loop ended: a `draining` frame in the
      // welcome's own chunk is read while the link is attached, when its reconnect() found this loop still
      // running and joined it. No next hub was looked for until that hub closed the link, calls waiting meanwhile.
      if (!this.link && !this.exiting && !this.finishing && this.needsNextHub()) void this.reconnect();
    });
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    let delay = 50;
    let startFailures = 0;
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
          signal: this.closing.signal,
        });
        if (this.exiting || this.finishing) {
          link.socket.destroy();
          return;
        }
        this.attach(link);
        return;
      } catch (err) {
        if (this.exiting) return;
        const code = isSnowmuxError(err) ? err.code : undefined;
        if (code !== undefined && FATAL_CODES.has(code)) {
          // Version skew and friends: say it once, answer every waiting call with it, and keep checking
          // (slowly) in case someone replaces the hub.
          const message = errorMessage(err);
          // A hub that cannot start (a broken config.toml…) costs a process start per try: tries grow
          // apart instead of spawning one every 2 s for as long as the editor stays open.
          const pause = code === 'HUB_START_FAILED' ? startRetryDelayMs(++startFailures) : 2_000;
          if (this.fatal?.code !== code) {
            this.log(code === 'HUB_START_FAILED' ? `${message} Fix that, then the shim starts the hub on its next try (every ${START_RETRY_MAX_MS / 1000} s at most), or restart the editor's MCP server.` : message);
          }
          this.fatal = { code, message };
          this.failPending(HUB_UNAVAILABLE, code, `snowmux: ${message}`, false);
          await this.retryPause(pause);
          delay = 2_000;
          continue;
        }
        this.lastReachError = errorMessage(err);
        this.log(`cannot reach the hub: ${this.lastReachError}`);
        await this.retryPause(delay);
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  /**
   * The wait between attempts to reach the hub. It keeps the process alive (an unref'd timer did not: with
   * stdin ended and the hub unreachable, the shim ended at once, the requests it had taken unanswered); the
   * shim's end cuts it short.
   */
  private retryPause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.closing.signal.addEventListener('abort', done, { once: true });
    });
  }

  private attach({ socket, welcome, rest }: OpenLink): void {
    this.lastReachError = null;
    this.gen += 1;
    const link: HubLink = { socket, gen: this.gen, hubPid: welcome.hubPid, draining: false, liveness: null, waitingForEditor: false, answered: new Set() };
    const resumed = this.sessionId !== undefined;
    this.sessionId = welcome.sessionId;
    this.fatal = null;
    this.link = link;
    this.links.set(link.gen, link);
    socket.setNoDelay?.(true);
    const decoder = new LineDecoder(this.opts.maxHubLineBytes);
    const onChunk = (chunk: Buffer) => decoder.push(chunk, (ev) => {
      if (this.links.get(link.gen) !== link) return;
      if (ev.kind === 'line') this.fromHub(link, ev.line, ev.framed);
      else this.fromHubOversize(link, ev.bytes, ev.id);
    });
    socket.on('data', onChunk);
    socket.on('error', () => {});
    socket.on('close', () => this.onLinkClosed(link));
    this.startPinging(link);
    if (resumed && this.editorInitializeOnAnotherHub()) link.sessionOwed = true;
    else if (resumed && this.cachedInitialize !== undefined && !this.editorInitializeOutstanding()) this.replayInitialize(link, false);
    if (rest.length > 0) onChunk(rest);
    if (!this.awaitingReplay) this.flushPending();
    if (resumed) this.log(`connected to hub pid ${welcome.hubPid} (session ${welcome.sessionId})`);
    this.sayVersionSkew(welcome.hubPid, welcome.version);
  }

  /**
   * A hub of another snowmux that speaks this shim's link version serves it without a word: said once per hub
   * (the editor's MCP log), with what to do, as `snowmux status` and doctor say it on the hub's side.
   */
  private sayVersionSkew(hubPid: number, hubVersion: unknown): void {
    if (typeof hubVersion !== 'string' || hubVersion === VERSION || this.skewSaidFor === hubPid) return;
    this.skewSaidFor = hubPid;
    // The hub's own text: no control character reaches the editor's log.
    const shown = hubVersion.slice(0, 40).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
    const where = this.opts.remote ? 'the remote hub' : `hub pid ${hubPid}`;
    this.log(
      compareVersions(shown, VERSION) < 0
        ? `${where} runs snowmux ${shown}, older than this shim (${VERSION}): calls get ${shown}'s behaviour. ${this.opts.remote ? `Run \`snowmux hub --replace\` with snowmux ${VERSION} on that machine` : `Run \`${ownReplaceCommand(this.opts.hubCommand) ?? snowmuxCommand('hub --replace', this.opts.home)}\` (the snowmux this editor launches)`} to move the hub to it; editors stay connected.`
        : `${where} runs snowmux ${shown}, newer than this shim (${VERSION}): this editor launches an old snowmux install. Point its MCP config at the newer snowmux (\`snowmux setup <client>\` prints the entry), then restart its MCP server.`,
    );
  }

  /**
   * 2025-era session: re-created on `link` before anything else is sent to it. `editorSaysInitialized`: the
   * editor has just had its initialize answered and sends notifications/initialized itself.
   */
  private replayInitialize(link: HubLink, editorSaysInitialized: boolean): void {
    link.sessionOwed = undefined;
    const replayId = `${REPLAY_ID_PREFIX}${++this.replayCounter}`;
    let replay: string | undefined;
    try {
      replay = encodeLine({ jsonrpc: '2.0', id: replayId, method: 'initialize', params: this.cachedInitialize });
    } catch (err) {
      // Params the shim cannot write again (nested past the stack): the session cannot be re-created, and a
      // throw here left a half-made link behind on every attempt.
      this.cachedInitialize = undefined;
      this.log(`cannot replay the editor's initialize on the new hub (${err instanceof Error ? err.message : String(err)}); the editor must initialize again`);
    }
    if (replay === undefined) return;
    this.awaitingReplay = replayId;
    this.replayEditorSaysInitialized = editorSaysInitialized;
    link.socket.write(replay);
  }

  /** The editor's initialize was sent to a hub other than the current link's (a draining one) and is unanswered. */
  private editorInitializeOnAnotherHub(): boolean {
    for (const entry of this.inflight.values()) if (entry.method === 'initialize' && entry.gen !== BUFFERED && entry.gen !== this.gen) return true;
    return false;
  }

  /** The editor's own initialize is unanswered: it will be (re)sent, so replaying ours would double it. */
  private editorInitializeOutstanding(): boolean {
    for (const entry of this.inflight.values()) if (entry.method === 'initialize') return true;
    return false;
  }

  private finishReplay(link: HubLink, answer: Buffer): void {
    this.awaitingReplay = null;
    if (fastResponseId(answer) === undefined && !isResult(answer)) {
      this.log(`the new hub refused the session's replayed initialize: ${answer.toString('utf8').slice(0, 300)}`);
    }
    if (!this.replayEditorSaysInitialized) link.socket.write(encodeLine({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    this.flushPending();
  }

  private flushPending(): void {
    this.clearPendingDeadline();
    const link = this.link;
    if (!link) return;
    for (const p of this.pending.takeAll()) this.sendOn(link, p.line, requestId(p.msg));
  }

  /**
   * The hub is going away gracefully. It still answers what it has; we stop sending it anything, tell it
   * so (`drained`, after every request we wrote), and open a link to the next hub for new calls.
   */
  private onDraining(link: HubLink, reason: string): void {
    if (link.draining) return;
    link.draining = true;
    // Subscriptions move to the next hub: this one is told to drop them (a cancelled request is owed no
    // answer), else it would wait for them until its grace period ran out and then end them with an error.
    let moved = false;
    for (const entry of this.inflight.values()) {
      if (entry.method !== LISTEN || entry.gen !== link.gen || !entry.line) continue;
      link.socket.write(encodeLine({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: entry.id, reason: 'snowmux: the subscription moves to the next hub' } }));
      entry.gen = BUFFERED;
      this.pending.unshift({ line: entry.line, msg: peek(entry.line), at: performance.now() });
      moved = true;
    }
    link.socket.write(encodeLine({ snowmux: 'drained' }));
    if (link !== this.link) {
      if (moved && this.link && !this.awaitingReplay) this.flushPending();
      else if (moved) this.armPendingDeadline();
      return;
    }
    this.link = null;
    this.awaitingReplay = null;
    if (!this.needsNextHub()) {
      this.log(`hub pid ${link.hubPid} is draining (${reason}); the editor closed stdin, so no next hub is needed`);
      return;
    }
    this.log(`hub pid ${link.hubPid} is draining (${reason}); moving to the next hub`);
    if (moved) this.armPendingDeadline();
    void this.reconnect();
  }

  /**
   * Whether a hub must be (re)linked, or started. Not once the editor closed stdin with nothing left to send:
   * the calls it waits for finish on the links that have them, and a hub started for nobody (after a
   * `snowmux stop`, say) outlived this shim.
   */
  private needsNextHub(): boolean {
    if (!this.stdinEnded) return true;
    for (const entry of this.inflight.values()) if (entry.gen === BUFFERED && entry.method !== LISTEN) return true;
    return false;
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
      if (entry.line) {
        entry.gen = BUFFERED;
        this.pending.unshift({ line: entry.line, msg: peek(entry.line), at: performance.now() });
        resend = true;
      } else {
        this.inflight.delete(key);
        // A link this shim stopped reading (the editor was behind) may carry the hub's reason unread.
        const what = link.cutReason !== undefined
          ? `the hub ended this session (${link.cutReason})`
          : link.waitingForEditor || (link.editorCaughtUpAt !== undefined && performance.now() - link.editorCaughtUpAt < 10_000)
            ? 'the hub ended this session, most likely because the editor did not read its answers for a while (the hub cuts a session whose answers go unread for 60 s), or it went away'
            : link.silentMs === undefined
            // The link just closed: the hub crashed, was killed or stopped, or restarted; the shim cannot tell
            // which (it starts the next hub itself), and "restarted" read as if it had come back on its own.
            ? 'the hub went away (it crashed, was killed, or restarted)'
            : `the hub stopped answering for ${Math.round(link.silentMs / 1000)} s (frozen, the machine asleep, or the connection cut)`;
        // Telling an agent to retry a write that committed before the hub went makes it write twice.
        if (entry.mayWrite) {
          this.answerError(entry.id, HUB_RESTARTED, 'HUB_LOST', `snowmux: ${what} while "${entry.method}" was running; the call may or may not have completed. A query that only reads can be run again; one that changes data may have been applied: check query_history (or the table) before running it again.`, false);
        } else {
          this.answerError(entry.id, HUB_RESTARTED, 'HUB_LOST', `snowmux: ${what} while "${entry.method}" was running; the call may or may not have completed. Retry it.`);
        }
      }
    }
    if (this.exiting) return;
    if (this.finishing || (this.stdinEnded && !this.owesAnswers())) {
      if (this.links.size === 0) this.exit(0);
      return;
    }
    if (resend) {
      if (this.link && !this.awaitingReplay) this.flushPending();
      else this.armPendingDeadline();
    }
    if (!this.link && this.needsNextHub()) {
      if (wasCurrent) this.log(link.cutReason !== undefined ? `hub pid ${link.hubPid} ended this session (${link.cutReason}); reconnecting` : `lost hub pid ${link.hubPid}; reconnecting`);
      void this.reconnect();
    }
  }

  private armPendingDeadline(): void {
    if (this.pendingTimer || this.pending.length === 0) return;
    const oldest = this.pending.oldestAt() ?? performance.now();
    const wait = Math.max(0, oldest + this.opts.reconnectDeadlineMs - performance.now());
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

  /** What shows the hub this shim links to: its home's (--home when not the default), or the remote hub's HTTP face. */
  private statusCommand(): string {
    if (!this.opts.remote) return snowmuxCommand('status', this.opts.home);
    // ws(s)://host/shim → http(s)://host, the address `status --url` takes.
    return `snowmux status --url ${shellWord(this.opts.remote.url.replace(/^ws/, 'http').replace(/\/shim\/?$/, ''))}`;
  }

  /** Each buffered call waits at most the reconnect deadline, counted from when the editor sent it. */
  private expirePending(): void {
    const expired = this.pending.takeArrivedBy(performance.now() - this.opts.reconnectDeadlineMs);
    if (expired.length === 0) return;
    // The last reason an attempt failed (a frozen hub, a foreign listener…) reaches the editor, which
    // shows what a call answers; the shim's stderr, where it was said, editors keep out of sight.
    const last = this.lastReachError === null ? '' : ` (last attempt: ${this.lastReachError.replace(/[.\s]+$/, '').slice(0, 600)})`;
    const why = this.fatal?.message ?? `no hub answered within ${this.opts.reconnectDeadlineMs} ms${last}; the call was not run. Check \`${this.statusCommand()}\` and retry`;
    for (const p of expired) this.answerPending(p, HUB_UNAVAILABLE, this.fatal?.code ?? 'HUB_UNREACHABLE', `snowmux: ${why}.`, true);
  }

  private failPending(code: number, why: ErrorCode | string, message: string, retryable = true): void {
    const items = this.pending.takeAll();
    this.clearPendingDeadline();
    for (const p of items) this.answerPending(p, code, why, message, retryable);
  }

  private answerPending(p: Pending, code: number, why: ErrorCode | string, message: string, retryable: boolean): void {
    // Requests get an answer; notifications and junk are dropped.
    const id = requestId(p.msg);
    if (id === undefined) return;
    this.inflight.delete(idKey(id));
    this.answerError(id, code, why, message, retryable);
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
        this.log(`hub pid ${link.hubPid} has not answered for ${Math.round(silent)} ms; dropping the link`);
        link.silentMs = silent;
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
    if (!this.finishing && !this.exiting) this.watchEditor();
  }

  /**
   * An editor that crashed or was killed closes stdin without the SIGTERM that follows a shutdown: nobody
   * will read the answers still owed, yet their calls would run on (in the warehouse too) until the hub's
   * call timeout, and the shim with them. Once the editor's process is gone, the shim leaves at once, and
   * its hub cancels what still runs.
   */
  private watchEditor(): void {
    const check = () => {
      if (process.ppid === this.editorPid) return;
      this.log(`the editor (pid ${this.editorPid}) is gone: dropping the ${this.inflight.size} call(s) it still waited for`);
      this.exit(0, false);
    };
    check();
    if (this.exiting) return;
    this.editorWatch = setInterval(check, EDITOR_CHECK_MS);
    this.editorWatch.unref();
  }

  /**
   * stdout failed (EPIPE: the editor closed its end, crashed or was killed): nobody reads what the shim
   * writes. Every request still running on a hub is cancelled there, with the reason, before the links are
   * dropped (the hub records them cancelled, and its log says why); the shim says so on stderr, even when
   * quiet, and exits 1: ended abnormally, not because its editor was done with it (it exited 0 before).
   */
  private editorStoppedReading(err: NodeJS.ErrnoException): void {
    if (this.exiting) return;
    const reason = `snowmux: the editor stopped reading the shim's answers (stdout: ${err.code ?? err.message}); it is gone`;
    let cancelled = 0;
    for (const entry of this.inflight.values()) {
      const link = entry.gen === BUFFERED ? undefined : this.links.get(entry.gen);
      if (!link || link.socket.destroyed) continue;
      link.socket.write(encodeLine({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: entry.id, reason } }));
      if (entry.method !== LISTEN) cancelled += 1;
    }
    try {
      this.stderr.write(`snowmux shim: ${reason.replace(/^snowmux: /, '')}: ${cancelled > 0 ? `the hub cancels the ${cancelled} call(s) still running for it` : 'no call was running for it'}; exiting (code 1).\n`);
    } catch {
      /* stderr gone too: the exit code says it */
    }
    this.exit(1, false);
  }

  /** Requests the editor still waits an answer for; an open subscription is not one (it never ends by itself). */
  private owesAnswers(): boolean {
    for (const entry of this.inflight.values()) if (entry.method !== LISTEN) return true;
    return false;
  }

  private finishIfDone(): void {
    if (!this.stdinEnded || this.finishing || this.exiting || this.owesAnswers()) return;
    this.finishing = true;
    if (this.links.size === 0) {
      // A shim that could not serve (a refusal no retry fixes: version skew, a foreign socket, a hub that
      // cannot start) exits 1, so a wrapper or a CI job can tell it from one that served.
      this.exit(this.opts.unusable?.exitCode ?? (this.fatal ? 1 : 0));
      return;
    }
    // Ending our side tells each hub the editor is gone; exit once they close.
    for (const link of this.links.values()) link.socket.end();
    const timer = setTimeout(() => this.exit(0), 2_000);
    timer.unref();
  }

  /**
   * Ends the shim now (a signal, a test): links are dropped (their hubs cancel what still runs), nothing
   * more is answered; what was already written to stdout still reaches the editor before `exited` resolves.
   */
  close(code = 0): void {
    this.exit(code);
  }

  /**
   * `flush`: `exited` waits until the editor has read everything written to stdout (see flushStdout).
   * Only an editor known to be gone is not waited for: whoever still holds its pipe would never read.
   */
  private exit(code: number, flush = true): void {
    if (this.exiting) return;
    this.exiting = true;
    this.closing.abort(new SnowmuxError('HUB_UNREACHABLE', 'The shim closed while it was still reaching the hub.'));
    this.clearPendingDeadline();
    if (this.editorWatch) clearInterval(this.editorWatch);
    for (const link of this.links.values()) {
      this.stopPinging(link);
      link.socket.destroy();
    }
    if (!flush) {
      this.resolveExit(code);
      return;
    }
    void this.flushStdout().then(() => this.resolveExit(code));
  }

  /**
   * Resolves once everything written to stdout has left the process. An answer is "written" as soon as
   * Node queues it, and a pipe the editor has not read yet holds only 64 KiB: process.exit dropped the
   * rest, and the editor read a last answer cut in the middle. No time bound: an editor busy for a while
   * still reads it all; one that went away ends the wait (EPIPE, or the pipe closed).
   */
  private flushStdout(): Promise<void> {
    const out = this.stdout as NodeJS.WritableStream & { destroyed?: boolean; errored?: unknown; writableFinished?: boolean };
    if (out.destroyed === true || out.writableFinished === true || (out.errored ?? null) !== null) return Promise.resolve();
    return new Promise((resolve) => {
      out.once('finish', () => resolve());
      out.once('error', () => resolve());
      out.once('close', () => resolve());
      out.end();
    });
  }
}

const NL = Buffer.from('\n');
/** How often a shim whose stdin ended, with calls still running, checks that its editor is still there. */
const EDITOR_CHECK_MS = 500;
const ID_KEY = Buffer.from('"id"');
