/**
 * An MCP Transport over one line-framed connection (a shim's Unix socket, or stdin/stdout).
 * It owns input hygiene so the SDK only ever sees well-formed JSON-RPC: invalid UTF-8, non-JSON lines,
 * non-JSON-RPC values and oversized lines are answered here with the proper JSON-RPC error and the
 * session goes on. Link-control frames (ping) are answered here too, others go to `onLinkFrame`.
 * It also counts the requests the client sent that have not been answered yet, so a draining hub knows
 * when a session owes nothing more.
 *
 * Memory per client is bounded (the ceiling: session-memory.ts): once more than `pauseAtBytes` of answers
 * wait for the client to read them, the transport stops reading its input (the client's own writes then
 * block, in its kernel buffers, not in the hub) and resumes when the output drains. A client that still
 * lets `maxBufferedBytes` pile up — answers to what was already read — is cut off (`onOverflow`): it was
 * not reading at all. Requests owed an answer are bounded in number and in bytes, and no line longer than
 * a shim reads (MAX_HUB_LINE_BYTES) is ever written: such an answer becomes an error for its request.
 */
import type { Readable } from 'node:stream';
import type { BucketLimit } from '../guard/rate-limit.js';
import { isJSONRPCErrorResponse, isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResultResponse, type JSONRPCMessage, type Transport, type TransportSendOptions } from '@modelcontextprotocol/server';
import { LineDecoder, MAX_HUB_LINE_BYTES, type LineEvent } from '../../wire/framing.js';
import { idAsSent, isRequestId } from '../../wire/request-id.js';
import { brokenLineId } from '../../wire/cut-line.js';
import { SESSION_BOUNDS } from './session-memory.js';
import { messageLine } from './serialized-once.js';
import { ConnectionEra } from './connection-era.js';
import { refusalCode, withRefusalCode } from './refusal-code.js';
import { INVALID_PARAMS, messageTextProblem, requestParamsProblem } from './request-params.js';
import { type LinkFrame, isLinkFrame, parseLinkFrame } from '../../wire/hello.js';
import type { ErrorCode } from '../../error-codes.js';

/** Answers longer than this (UTF-16 units or bytes) are written in pieces of it, so a slow reader shows progress. */
const WRITE_PIECE = 256 * 1024;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface LineTransportOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  maxLineBytes: number;
  /** Called for each message before the SDK sees it (session bookkeeping: client info, tool names). */
  observe?: (message: JSONRPCMessage) => void;
  /** Called when input hygiene rejected something (for logs/metrics). */
  onRejected?: (reason: string, detail: string) => void;
  /** Called on any inbound traffic, for liveness tracking. */
  onActivity?: () => void;
  /** Bytes already read past a handshake line. */
  initial?: Buffer;
  /** Called once when the connection ends (the SDK owns `onclose`, so owners listen here). */
  onEnded?: () => void;
  /** Link-control frames other than ping (e.g. `drained`). */
  onLinkFrame?: (frame: LinkFrame) => void;
  /** Called each time the last unanswered client request has been answered. */
  onIdle?: () => void;
  /**
   * Input that ends (stdin's EOF) while requests are still owed an answer ends the connection only once
   * they are answered: output is a separate stream that can still be read (`printf … | snowmux stdio`).
   * Off for sockets, whose peer closing means nobody reads.
   */
  answerAfterInputEnds?: boolean;
  /** Stop reading input while this much output waits to be read by the client. Default 1 MiB. */
  pauseAtBytes?: number;
  /** Output waiting beyond this is a client that does not read: `onOverflow` is called. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** Output that has not drained for this long (input paused all along) means a client that stopped reading. Default 60 s. */
  stalledOutputMs?: number;
  /**
   * Input paused (true) or resumed (false) because the client is behind on reading: the link's own
   * dead-peer watch must not take the silence of a socket the hub stopped reading for a dead peer.
   */
  onInputPaused?: (paused: boolean) => void;
  /** The client let `maxBufferedBytes` of output pile up, or stopped reading for `stalledOutputMs`; the owner should end the connection. */
  onOverflow?: (bufferedBytes: number, why: 'buffered' | 'stalled') => void;
  /** Requests owed an answer at once, any method; beyond it a request is refused at once. Default 256. */
  maxOutstanding?: number;
  /**
   * Bytes of request lines owed an answer at once (their parsed arguments live until answered); a request
   * that would pass it is refused at once, unless nothing else is owed (one request of any accepted size
   * always runs). Default 32 MiB.
   */
  maxOutstandingBytes?: number;
  /**
   * Requests other than tools/call (tools/list, ping, resources/…) per session: a token bucket. tools/call
   * is governed by the identity's rate limit in the call pipeline. Default bursts of 2000, 1000 per second.
   */
  otherRequestRate?: BucketLimit;
  /** Protocol errors (bad JSON, invalid messages, oversize lines) tolerated; beyond them the session ends. Default bursts of 100, 20 per second. */
  protocolErrorRate?: BucketLimit;
  /** The client kept sending malformed input past `protocolErrorRate`: the owner should end the connection. */
  onMisbehaving?: (why: string) => void;
  /**
   * A tools/call refused here, before the MCP server saw it (the session's bounds: `SESSION_BUSY`; a
   * malformed request, an id in use, the wrong era: `INVALID_REQUEST`): the owner records it as every refused
   * call is (audit, status, metrics). A promise returned holds input until it settles (the audit log's
   * back-pressure), so refusals cannot outrun the log.
   */
  onToolCallRefused?: (id: string | number, params: unknown, code: 'SESSION_BUSY' | 'INVALID_REQUEST') => Promise<void> | void;
}

/** Requests other than tools/call a session (or, over /mcp, an identity) may send. */
export const DEFAULT_OTHER_REQUEST_RATE: BucketLimit = { capacity: 2000, refillPerSecond: 1000 };
/** Protocol errors a session (or, over /mcp, an identity) may cause, in refusalCost units. */
export const DEFAULT_PROTOCOL_ERROR_RATE: BucketLimit = { capacity: 100, refillPerSecond: 20 };
/** Bytes of a refused message that cost one more token of the protocol-error bucket (see refusalCost). */
const REFUSED_BYTES_PER_TOKEN = 256 * 1024;

/**
 * What refusing a message of `bytes` costs its sender's protocol-error bucket: one token, and one more per
 * 256 KiB. Reading a large message costs the hub before it can be refused (a 6 MB line, refused one at a time,
 * cost a few ms each after its bounds stopped parsing it, but each was one token of 100, refilled at 20 a
 * second: a client could go on for ever), so large refusals empty the bucket sooner.
 */
export function refusalCost(bytes: number, limit: BucketLimit = DEFAULT_PROTOCOL_ERROR_RATE): number {
  return Math.min(limit.capacity, 1 + Math.floor(bytes / REFUSED_BYTES_PER_TOKEN));
}
/** JSON-RPC internal error: the request ran, but its answer cannot be sent. */
const INTERNAL_ERROR = -32603;
/** JSON-RPC server error: the request was refused by a bound, not failed. */
const SERVER_BUSY = -32000;


// The line decoder already dropped a leading byte-order mark (as the shim's does): a second one is not
// dropped here, so the hub and the shim read every line alike.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Id = string | number | null;

function isId(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function idKey(id: string | number): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RESPONSE_MEMBERS = new Set(['jsonrpc', 'id', 'result', 'error']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * JSON-RPC 2.0 as the MCP SDK reads it; returns what is wrong, or null. The SDK silently drops any message
 * it cannot classify (its schemas are strict), so whatever it would drop is described and answered here:
 * a request it dropped would never be answered and its client would wait forever.
 */
export function jsonRpcProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object') return 'a JSON-RPC message must be a JSON object';
  // MCP 2025-03-26 and 2024-11-05 have batches: refused whatever version the connection negotiated, so the
  // message blames this transport, not the protocol. (Answering them would gather a batch's answers into one
  // array line, against the shim's per-line forwarding and the SDK's per-message stdio server.)
  if (Array.isArray(value)) return 'this hub does not accept JSON-RPC batches over stdio or its shim, whatever the protocol version (MCP 2025-06-18 and later have none; its HTTP endpoint takes them in a 2024-11-05 or 2025-03-26 session); send one message per line';
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'missing "jsonrpc": "2.0"';
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) return '"method" must be a non-empty string';
    if ('id' in m && !isRequestId(m.id)) return '"id" must be a string or an integer (at most 2^53 - 1 in size)';
    const extra = Object.keys(m).find((k) => !REQUEST_MEMBERS.has(k));
    if (extra !== undefined) return `unknown member "${extra.slice(0, 64)}" (a request or notification has only jsonrpc, id, method and params)`;
    if ('params' in m) {
      if (!isPlainObject(m.params)) return '"params" must be an object';
      const meta = m.params._meta;
      if (meta !== undefined) {
        if (!isPlainObject(meta)) return '"params._meta" must be an object';
        if (meta.progressToken !== undefined && !isRequestId(meta.progressToken)) return '"params._meta.progressToken" must be a string or an integer';
      }
    }
  } else if ('id' in m && ('result' in m || 'error' in m)) {
    const extra = Object.keys(m).find((k) => !RESPONSE_MEMBERS.has(k));
    if (extra !== undefined) return `unknown member "${extra.slice(0, 64)}" in a response`;
  } else {
    return 'neither a request, a notification nor a response';
  }
  // Whatever else the SDK's own schemas refuse (they may grow stricter than the checks above).
  const sdkReads = isJSONRPCRequest(m) || isJSONRPCNotification(m) || isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m);
  return sdkReads ? null : 'the message does not have the shape of a JSON-RPC request, notification or response (see the MCP schema)';
}

export class LineTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;
  sessionId?: string | undefined;

  private readonly decoder: LineDecoder;
  private closed = false;
  private started = false;
  /** Input ended with answers still owed (answerAfterInputEnds): close once they are written. */
  private inputEnded = false;
  /** Keys (in `unanswered`) of the client's open subscriptions: owed no answer until the session ends. */
  private readonly openListens = new Set<string>();
  /** Client requests handed to the SDK and not answered yet: their line's size, by id. */
  private readonly unanswered = new Map<string, number>();
  private unansweredBytes = 0;
  /** This session's buckets: requests other than tools/call, and protocol errors. */
  private readonly requestBucket: SessionBucket;
  private readonly errorBucket: SessionBucket;
  /** Input is paused until the client reads what waits for it. */
  private inputPaused = false;
  /** Records of refused tool calls not yet taken by the sink: input waits for them (onToolCallRefused). */
  private refusalsRecording = 0;
  /** The MCP era this connection is pinned to, so the other era's requests are told what to do. */
  private readonly era = new ConnectionEra();
  private overflowed = false;
  private peakBuffered = 0;
  /** Writes the client has taken (their callbacks ran): progress that keeps a slow reader from being cut. */
  private flushedWrites = 0;
  private readonly onFlushed = (): void => {
    this.flushedWrites++;
  };

  constructor(private readonly opts: LineTransportOptions) {
    this.requestBucket = new SessionBucket(opts.otherRequestRate ?? DEFAULT_OTHER_REQUEST_RATE);
    this.errorBucket = new SessionBucket(opts.protocolErrorRate ?? DEFAULT_PROTOCOL_ERROR_RATE);
    this.decoder = new LineDecoder(opts.maxLineBytes);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('LineTransport already started');
    this.started = true;
    const { input } = this.opts;
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('close', this.onEnd);
    input.on('error', this.onInputError);
    if (this.opts.initial && this.opts.initial.length > 0) this.onData(this.opts.initial);
    // Input that ended before the transport started (a client that hung up while its session was held during
    // the hub's start-up) emits no 'end' again: without this the session, and its socket, stayed open for good.
    const readable = input as Partial<Readable>;
    if (readable.readableEnded === true || readable.destroyed === true) this.onEnd();
  }

  private readonly onData = (chunk: Buffer | string) => {
    this.opts.onActivity?.();
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.decoder.push(buf, (ev) => this.onDecoded(ev));
  };

  private onDecoded(ev: LineEvent): void {
    if (ev.kind === 'oversize') {
      this.reject(ev.id, INVALID_REQUEST, `Message of ${ev.bytes} bytes exceeds the hub's ${this.opts.maxLineBytes}-byte line limit and was dropped. Send a smaller message (raise hub.max_line_bytes if this is legitimate).`, 'oversize');
    } else {
      this.onLine(ev.line);
    }
  }

  private onLine(line: Buffer): void {
    // A line that only looks like a link frame (an unknown tag, not JSON) is a client's message: answered
    // as one, not dropped without a word.
    const frame = isLinkFrame(line) ? parseLinkFrame(line) : null;
    if (frame) {
      if (frame.snowmux === 'ping') this.writeRaw(JSON.stringify({ snowmux: 'pong', n: frame.n }) + '\n');
      else this.opts.onLinkFrame?.(frame);
      return;
    }
    // Counted on the bytes, before parsing: a message of more values than any method takes is refused at
    // the cost of the bound (parsing it, then counting, took seconds of the hub's only thread).
    const shape = messageTextProblem(line);
    if (shape) {
      const id = shape.response ? null : brokenLineId(line);
      this.reject(id, shape.code, `${shape.message}.`, 'invalid-params', undefined, line.length);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(line);
    } catch {
      this.reject(brokenLineId(line), PARSE_ERROR, 'Parse error: the message is not valid UTF-8. MCP messages are UTF-8 JSON, one per line.', 'utf8', undefined, line.length);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.reject(brokenLineId(line), PARSE_ERROR, `Parse error: ${(err as Error).message}. Send one JSON-RPC message per line.`, 'json', undefined, line.length);
      return;
    }
    const problem = jsonRpcProblem(value);
    if (problem) {
      const id = value && typeof value === 'object' && !Array.isArray(value) ? (value as { id?: unknown }).id : undefined;
      const isRequestLike = value && typeof value === 'object' && 'method' in (value as object);
      // A broken notification gets no response (JSON-RPC); anything else with a usable id gets one.
      if (isRequestLike && id === undefined) {
        this.opts.onRejected?.('invalid', problem);
        return;
      }
      this.reject(isId(id) && idAsSent(line, id) ? id : null, INVALID_REQUEST, `Invalid Request: ${problem}.`, 'invalid', undefined, line.length);
      return;
    }
    const message = value as JSONRPCMessage;
    const request = value as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof request.method === 'string' && isId(request.id)) {
      if (this.refusedByBounds(request.id, request.method, line.length)) {
        this.toolCallRefused(request.method, request.id, request.params, this.unanswered.has(idKey(request.id)) ? 'INVALID_REQUEST' : 'SESSION_BUSY');
        return;
      }
      const badParams = requestParamsProblem(request.method, request.params);
      if (badParams) {
        this.toolCallRefused(request.method, request.id, request.params, 'INVALID_REQUEST');
        this.reject(request.id, INVALID_PARAMS, `${badParams}. See the MCP schema for ${request.method}.`, 'invalid-params', undefined, line.length);
        return;
      }
      const eraRefusal = this.era.refusal(request.method, request.params);
      if (eraRefusal) {
        this.toolCallRefused(request.method, request.id, request.params, 'INVALID_REQUEST');
        this.reject(request.id, eraRefusal.code, eraRefusal.message, 'era', eraRefusal.data);
        return;
      }
      this.era.asked(request.id, request.method, request.params);
    }
    try {
      this.opts.observe?.(message);
    } catch {
      /* bookkeeping must never break the session */
    }
    this.track(value as { id?: unknown; method?: unknown; params?: { requestId?: unknown } }, line.length);
    this.onmessage?.(message);
  }

  /** The most output that ever waited for this client to read it. */
  get peakOutputBytes(): number {
    return this.peakBuffered;
  }

  /**
   * Requests the client is owed an answer for; a cancelled request is owed none (the SDK sends none), and
   * an open subscription (2026-07-28 `subscriptions/listen`) is none either: it stays open for the session's
   * life, so a drain or stdin's end waiting for it would wait for ever.
   */
  get outstanding(): number {
    return this.unanswered.size - this.openListens.size;
  }

  private track(m: { id?: unknown; method?: unknown; params?: { requestId?: unknown } }, bytes: number): void {
    if (typeof m.method !== 'string') return;
    if (isId(m.id)) {
      // An id already owed an answer was refused before this (refusedByBounds).
      this.unansweredBytes += bytes;
      this.unanswered.set(idKey(m.id), bytes);
      if (m.method === LISTEN) this.openListens.add(idKey(m.id));
    } else if (m.method === 'notifications/cancelled' && isId(m.params?.requestId)) this.answered(m.params.requestId);
  }

  private answered(id: string | number): void {
    this.era.forget(id);
    const key = idKey(id);
    const bytes = this.unanswered.get(key);
    if (bytes === undefined) return;
    this.unanswered.delete(key);
    this.openListens.delete(key);
    this.unansweredBytes -= bytes;
    if (this.outstanding === 0) {
      this.opts.onIdle?.();
      // After the answer is written (send's caller awaits it): the last answer must reach the client.
      if (this.inputEnded) queueMicrotask(() => void this.close());
    }
  }

  /** A tools/call refused before the SDK saw it goes to onToolCallRefused; input waits for its record. */
  private toolCallRefused(method: string, id: string | number, params: unknown, code: 'SESSION_BUSY' | 'INVALID_REQUEST'): void {
    if (method !== 'tools/call' || !this.opts.onToolCallRefused) return;
    let pending: Promise<void> | void;
    try {
      pending = this.opts.onToolCallRefused(id, params, code);
    } catch {
      return; // bookkeeping must never break the session
    }
    if (!pending) return;
    if (this.refusalsRecording++ === 0 && !this.inputPaused) this.opts.input.pause();
    const settled = () => {
      if (--this.refusalsRecording === 0 && !this.inputPaused && !this.closed) this.opts.input.resume();
    };
    pending.then(settled, settled);
  }

  /** Answers a refused message; `bytes`, its size, is what refusing it cost (see refusalCost). */
  private reject(id: Id, code: number, message: string, reason: string, data?: unknown, bytes = 0): void {
    this.opts.onRejected?.(reason, message);
    // The stable code beside the JSON-RPC one (session/refusal-code.ts), as /mcp's refusals carry it.
    const error = withRefusalCode({ code, message, ...(data === undefined ? {} : { data }) }, reason === 'oversize' ? 'MESSAGE_TOO_LARGE' : refusalCode(code));
    this.writeRaw(JSON.stringify({ jsonrpc: '2.0', id, error }) + '\n');
    // A client that keeps sending garbage is cut off instead of costing the hub a reply each time.
    if (!this.closed && this.errorBucket.take(refusalCost(bytes, this.opts.protocolErrorRate)) > 0) {
      this.opts.onRejected?.('protocol-errors', 'too many malformed messages');
      if (this.opts.onMisbehaving) this.opts.onMisbehaving('too many malformed messages');
      else void this.close();
    }
  }

  /** Bounds every request must pass before the SDK sees it: unanswered requests (count, bytes), and the rate of non-tool requests. */
  private refusedByBounds(id: string | number, method: string, bytes: number): boolean {
    // Ids tell a client's answers apart and name what a cancellation stops: a second request under an id
    // still owed an answer could be neither answered distinctly nor cancelled.
    if (this.unanswered.has(idKey(id))) {
      this.reject(id, INVALID_REQUEST, `Invalid Request: id ${JSON.stringify(id).slice(0, 80)} is already used by a request of this session that has not been answered yet. Give each request in flight its own id.`, 'duplicate-id');
      return true;
    }
    if (method === LISTEN && this.openListens.size >= SESSION_BOUNDS.maxOpenListens) {
      this.refuse(
        id,
        `Too many open subscriptions: this session holds ${this.openListens.size} subscriptions/listen requests (the hub allows ${SESSION_BOUNDS.maxOpenListens}). ` +
          'One subscription carries every notification kind it asks for: cancel the ones you no longer read (notifications/cancelled with their request id) before opening another.',
        'open-listens',
      );
      return true;
    }
    const max = this.opts.maxOutstanding ?? SESSION_BOUNDS.maxOutstanding;
    if (this.unanswered.size >= max) {
      const listens = this.openListens.size > 0 ? ` (${this.openListens.size} of them open subscriptions, which stay unanswered until cancelled)` : '';
      this.refuse(id, `Too many requests in flight: ${this.unanswered.size} are unanswered${listens} (the hub allows ${max} per session). Wait for answers before sending more.`, 'outstanding');
      return true;
    }
    const maxBytes = this.opts.maxOutstandingBytes ?? SESSION_BOUNDS.maxOutstandingBytes;
    if (this.unanswered.size > 0 && this.unansweredBytes + bytes > maxBytes) {
      this.refuse(id, `Too much in flight: the ${this.unanswered.size} unanswered requests of this session hold ${this.unansweredBytes} bytes, and this one (${bytes} bytes) would pass the hub's ${maxBytes}-byte limit. Wait for answers before sending more.`, 'outstanding-bytes');
      return true;
    }
    if (method !== 'tools/call') {
      const retryAfterMs = this.requestBucket.take();
      if (retryAfterMs > 0) {
        this.refuse(id, `Too many ${method} requests: this session sends them faster than the hub serves non-tool requests. Retry after ~${retryAfterMs} ms.`, 'request-rate');
        return true;
      }
    }
    return false;
  }

  private refuse(id: string | number, message: string, reason: string): void {
    this.opts.onRejected?.(reason, message);
    this.writeRaw(JSON.stringify({ jsonrpc: '2.0', id, error: withRefusalCode({ code: SERVER_BUSY, message }, reason === 'request-rate' ? 'RATE_LIMITED' : 'SESSION_BUSY') }) + '\n');
  }

  private readonly onEnd = () => {
    // An editor's stdin (answerAfterInputEnds): its end also ends a last message sent without a newline.
    // On a socket, bytes cut off by the close are a broken message, not one to answer.
    if (this.opts.answerAfterInputEnds && !this.inputEnded && !this.closed) this.decoder.end((ev) => this.onDecoded(ev));
    if (this.opts.answerAfterInputEnds && this.outstanding > 0 && !this.closed) {
      this.inputEnded = true;
      return;
    }
    void this.close();
  };

  private readonly onInputError = (err: Error) => {
    this.onerror?.(err);
    void this.close();
  };

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    message = this.era.answer(message);
    const m = message as { id?: unknown; method?: unknown };
    let line = messageLine(message);
    // No line longer than a shim reads (MAX_HUB_LINE_BYTES): an answer that big becomes an error for its
    // request; anything else that big (a notification) is dropped and logged. UTF-8 is at most 3 bytes a
    // UTF-16 unit, so only long texts are measured.
    if ((typeof line !== 'string' || line.length * 3 > MAX_HUB_LINE_BYTES) && Buffer.byteLength(line) - 1 > MAX_HUB_LINE_BYTES) {
      const bytes = Buffer.byteLength(line) - 1; // without the newline
      const detail = `The answer is ${bytes} bytes, more than the ${MAX_HUB_LINE_BYTES}-byte limit of one message from the hub, and was not sent. Ask for less (a LIMIT, fewer columns, a narrower query), or lower hub.max_result_bytes.`;
      this.opts.onRejected?.('answer-too-large', detail);
      if (m.method !== undefined || !isId(m.id)) return;
      line = `${JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: INTERNAL_ERROR, message: detail, data: { code: 'ANSWER_TOO_LARGE' satisfies ErrorCode, retryable: false } } })}\n`;
    }
    await this.writeAsync(line);
    if (m.method === undefined && isId(m.id)) this.answered(m.id);
  }

  private writeRaw(text: string): void {
    if (this.closed) return;
    try {
      this.writePieces(text);
    } catch {
      /* a dead peer; close follows */
    }
    this.checkBackpressure();
  }

  /** Pauses input while the client is behind on reading; reports a client that does not read at all. */
  private checkBackpressure(): void {
    const out = this.opts.output as NodeJS.WritableStream & { writableLength?: number };
    const buffered = out.writableLength ?? 0;
    if (buffered > this.peakBuffered) this.peakBuffered = buffered;
    if (buffered > (this.opts.maxBufferedBytes ?? SESSION_BOUNDS.minMaxBufferedBytes)) {
      this.overflow(buffered, 'buffered');
      return;
    }
    if (this.inputPaused || buffered <= (this.opts.pauseAtBytes ?? SESSION_BOUNDS.pauseAtBytes)) return;
    this.inputPaused = true;
    const input = this.opts.input;
    input.pause();
    this.opts.onInputPaused?.(true);
    // What the client sent before the pause still runs and holds results for it: a client that never
    // reads again must not keep them (nor its calls' share of the warehouse) forever. One that reads, however
    // slowly, is not cut: each period in which it took a write starts the wait again.
    const stalledMs = this.opts.stalledOutputMs ?? 60_000;
    let flushedAt = this.flushedWrites;
    const look = (): void => {
      if (this.flushedWrites === flushedAt) {
        this.overflow(out.writableLength ?? 0, 'stalled');
        return;
      }
      flushedAt = this.flushedWrites;
      stalled = setTimeout(look, stalledMs);
      stalled.unref();
    };
    let stalled = setTimeout(look, stalledMs);
    stalled.unref();
    const resume = () => {
      out.off('drain', resume);
      clearTimeout(stalled);
      this.inputPaused = false;
      if (!this.closed && this.refusalsRecording === 0) input.resume();
      this.opts.onInputPaused?.(false);
    };
    out.on('drain', resume);
  }

  private overflow(buffered: number, why: 'buffered' | 'stalled'): void {
    if (this.overflowed || this.closed) return;
    this.overflowed = true;
    this.opts.onOverflow?.(buffered, why);
  }

  /**
   * Writes `text`, a large one in pieces: each piece's callback is progress a slow reader makes (see
   * checkBackpressure), which one 30 MB write would show only once all of it was read. Returns write()'s answer
   * for the last piece.
   */
  private writePieces(text: string | Buffer): boolean {
    const out = this.opts.output;
    if (text.length <= WRITE_PIECE) return out.write(text, this.onFlushed);
    let ok = true;
    for (let at = 0; at < text.length; ) {
      let end = Math.min(text.length, at + WRITE_PIECE);
      // Never half a surrogate pair in a piece: each piece is encoded to UTF-8 alone.
      if (typeof text === 'string' && end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
      ok = out.write(typeof text === 'string' ? text.slice(at, end) : text.subarray(at, end), this.onFlushed);
      at = end;
    }
    return ok;
  }

  private writeAsync(text: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      let ok: boolean;
      try {
        ok = this.writePieces(text);
      } catch {
        resolve();
        return;
      }
      this.checkBackpressure();
      // Honour backpressure: a slow client slows its own session only.
      if (ok) {
        resolve();
        return;
      }
      const out = this.opts.output;
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { input } = this.opts;
    input.off('data', this.onData);
    input.off('end', this.onEnd);
    input.off('close', this.onEnd);
    input.off('error', this.onInputError);
    this.opts.onEnded?.();
    this.onclose?.();
  }
}

/** A 2026-07-28 subscription: a request that stays open for the session's life. */
const LISTEN = 'subscriptions/listen';

/**
 * One session's token bucket, on the message path of every request: two numbers and a clock read (the
 * hub-wide RateLimiter keeps a map of identities, more than one session needs).
 */
export class SessionBucket {
  private tokens: number;
  private at = performance.now();

  constructor(private readonly limit: BucketLimit) {
    this.tokens = limit.capacity;
  }

  /** Takes `cost` tokens: 0 when taken, else the ms until they are available (none is taken then). */
  take(cost = 1): number {
    this.refill();
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    return this.msUntil(cost);
  }

  /** Takes `cost` tokens even when fewer are left (a debt, down to one bucket's worth): what was spent is spent. */
  charge(cost: number): void {
    this.refill();
    this.tokens = Math.max(-this.limit.capacity, this.tokens - cost);
  }

  /** The ms until a token is available; 0 when one is. */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : this.msUntil(1);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.limit.capacity, this.tokens + ((now - this.at) * this.limit.refillPerSecond) / 1000);
    this.at = now;
  }

  private msUntil(tokens: number): number {
    return Math.max(1, Math.ceil(((tokens - this.tokens) / this.limit.refillPerSecond) * 1000));
  }
}
