/**
 * Serves an HttpFace with `node:http`: each request becomes a web `Request` (the SDK's own converter,
 * with the body bounded), the face answers, and the `Response` is written back honouring backpressure
 * (SSE streams included). A client that goes away aborts its request's signal.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AddressInfo, Socket } from 'node:net';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { Logger } from '../observe/logger.js';
import { releaseHttpServer } from '../listen/release-http-server.js';
import { parseListen } from '../listen/listen-address.js';
import { SECURITY_HEADERS, type Admission, type HttpFace, type ShimGrant } from './http-face.js';
import { bridgeShimLink, ENGINE_MAX_PAYLOAD_BYTES, OVERSIZED_REASON } from './shim-link.js';
import { AnswerBudget, MAX_HELD_ANSWER_BYTES, answerNotRead } from './answer-budget.js';

/** The engine's own error answers carry the face's security headers too. */
const ERROR_HEADERS = { 'content-type': 'application/json', ...SECURITY_HEADERS };

/** A face served by an engine (node:http or uWebSockets.js). */
export interface HttpEndpoint {
  url: string;
  /** Stop accepting connections (the next hub may take the port); requests in flight go on. */
  stopAccepting(): void;
  /** Stops accepting, ends open streams, and resolves when every connection is closed. */
  close(): Promise<void>;
}

/** An upgrade request not answered (refused or switched to a WebSocket) within this long is cut. */
const UPGRADE_TIMEOUT_MS = 10_000;
/**
 * A /shim link the hub closed whose shim has not answered the close frame within this long (it reads
 * nothing) is dropped: ws would hold its socket 30 s.
 */
const CLOSE_HANDSHAKE_MS = 5_000;

/** Why a request could not be turned into a web `Request`: the Host header, most often. */
export function malformedWhy(err: unknown): string {
  return /URL/i.test(errorMessage(err)) ? 'the Host header or the path is not a valid URL part' : 'its headers cannot be read';
}

/** Answers an upgrade request on its raw socket, then closes that socket. */
function refuseUpgrade(socket: Duplex, status: number, body: string, headers: Record<string, string>): void {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  // end() waits for the peer's FIN (allowHalfOpen); a peer that never sends one must not keep the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/**
 * A refused body is still read, and dropped, up to this many bytes: a client that is still sending when
 * the refusal is written and the connection closed sees a reset (EPIPE) instead of the 413 and its reason.
 * Past it, the connection is closed mid-upload.
 */
export const DRAIN_BODY_BYTES = 16 * 1024 * 1024;

/** What both engines bound on a request, from the hub's settings. */
export interface EngineLimits {
  /** How long a request's body may take to arrive (hub.http_body_timeout_ms). */
  bodyTimeoutMs: number;
  /**
   * An answer its client has not read for this long is cut and its call cancelled (default 60 s, as the
   * socket's and /shim's stalled-output cut): each unread answer holds a connection and its bytes.
   */
  stalledOutputMs?: number;
  /** Request-body bytes held at once, all connections together (default MAX_HELD_BODY_BYTES). */
  heldBodyBytes?: number;
  /** Answer bytes waiting for their clients to read them, all connections together (default MAX_HELD_ANSWER_BYTES). */
  heldAnswerBytes?: number;
  /**
   * The budget of unread answers, shared with the face (which charges what the MCP SDK's streams produced
   * and have not been handed on yet); one of heldAnswerBytes bytes, the engine's own, when absent.
   */
  answers?: AnswerBudget;
}

/**
 * Request bodies held at once, every connection together: only key holders get a body read at all (see
 * HttpFace.admit), and even they cannot make the hub hold more than this; past it a body is refused (503,
 * retry) until others are served.
 */
export const MAX_HELD_BODY_BYTES = 64 * 1024 * 1024;

/** The bytes of request bodies an engine holds now, against its bound. */
export class BodyBudget {
  private held = 0;
  constructor(private readonly limit: number) {}
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }
  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}

export const DEFAULT_STALLED_OUTPUT_MS = 60_000;

/**
 * Why a body was not read: over MAX_BODY_BYTES, not complete within the body timeout, or (uWebSockets.js
 * only) sent with a Transfer-Encoding spelled other than `chunked`, which that engine never hands over.
 */
export type RefusedBody = 'too-large' | 'too-slow' | 'unread-encoding' | 'busy';

/** The engines' answer to a refused body, with its reason and what to do. */
export function refusedBodyAnswer(why: RefusedBody, limits: EngineLimits): { status: number; body: string; headers: Record<string, string> } {
  const answers: Record<RefusedBody, [number, string]> = {
    busy: [503, `The hub is holding as many request bodies as it takes at once (${limits.heldBodyBytes ?? MAX_HELD_BODY_BYTES} bytes, all clients together). Retry in a moment.`],
    'too-large': [413, `The request body is over ${MAX_BODY_BYTES} bytes. Send smaller requests.`],
    'too-slow': [408, `The request body did not arrive within ${limits.bodyTimeoutMs} ms (hub.http_body_timeout_ms). Send the whole body with the request; a client or proxy that trickles it is cut.`],
    'unread-encoding': [400, 'This hub\'s HTTP engine (uWebSockets.js) reads a body sent with "Transfer-Encoding: chunked" in lower case, or with a Content-Length, and no other: send one of those (or run the hub with hub.http_engine = "node").'],
  };
  const [status, error] = answers[why];
  return { status, body: `${JSON.stringify({ error })}\n`, headers: why === 'busy' ? { 'retry-after': '1' } : {} };
}

export async function serveWithNodeHttp(face: HttpFace, address: string, logger: Logger, limits: EngineLimits): Promise<HttpEndpoint> {
  const { host, port } = parseListen(address);
  // Node checks the headers and request timeouts on this interval (default 30 s): trickled headers held a
  // socket for up to 40 s against the 10 s set below.
  const budget = new BodyBudget(limits.heldBodyBytes ?? MAX_HELD_BODY_BYTES);
  const answers = limits.answers ?? new AnswerBudget(limits.heldAnswerBytes ?? MAX_HELD_ANSWER_BYTES);
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => void handle(face, req, res, logger, limits, budget, answers));
  // Remote shims: a WebSocket on /shim, checked like every route before the upgrade is accepted.
  // The link refuses a message over MAX_SHIM_FRAME_BYTES with 1009 and why; ws itself, past maxPayload, says
  // 1009 with no reason, so it is set a little higher.
  const shims = new WebSocketServer({ noServer: true, maxPayload: ENGINE_MAX_PAYLOAD_BYTES });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    // An upgrade the face never answers (a throw below, a client that stalls) must not hold its socket:
    // nothing else closes an upgrade socket, so each one would keep a file descriptor for good.
    (socket as Partial<Socket>).setTimeout?.(UPGRADE_TIMEOUT_MS, () => socket.destroy());
    let verdict: Response | ShimGrant;
    try {
      const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { headers: headersOf(req) });
      verdict = face.checkShimUpgrade(request, { remoteAddress: req.socket.remoteAddress ?? '' });
    } catch (err) {
      // new Request refuses a Host it cannot parse ("[", "a b"): the client's fault, answered as one.
      refuseUpgrade(socket, 400, `${JSON.stringify({ error: `Malformed WebSocket upgrade: ${malformedWhy(err)}.` })}\n`, ERROR_HEADERS);
      return;
    }
    if (verdict instanceof Response) {
      const status = verdict.status;
      const headers = Object.fromEntries(verdict.headers);
      void verdict.text().then((body) => refuseUpgrade(socket, status, body, headers), () => socket.destroy());
      return;
    }
    const grant = verdict;
    (socket as Partial<Socket>).setTimeout?.(0);
    shims.handleUpgrade(req, socket, head, (ws) => {
      let handshake: NodeJS.Timeout | undefined;
      // Not ws's own createWebSocketStream: its destroy() terminates the socket (1006, no close frame), so
      // a link the hub ends for a reason would not say it (shim-link.ts closes both engines' links alike).
      const shim = bridgeShimLink({
        send: (chunk, done) => ws.send(chunk, { binary: true }, done),
        close: (code, reason) => {
          ws.close(code, reason);
          handshake = setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS);
          handshake.unref();
        },
        // The hub reads no more while its client is behind on answers: ws stops reading the socket.
        pause: () => ws.pause(),
        resume: () => ws.resume(),
      });
      // Past maxPayload ws closes the socket itself with a bare 1009 (its receiver calls this close, with the
      // code alone): the peer is told why, as the link tells one just over MAX_SHIM_FRAME_BYTES.
      const close = ws.close.bind(ws);
      ws.close = (code?: number, reason?: string | Buffer) => close(code, code === 1009 && reason === undefined ? OVERSIZED_REASON : reason);
      ws.on('message', (message: Buffer) => shim.received(message));
      ws.on('error', () => {});
      // A vanished shim must close its session at once (as a closed Unix socket does), not at the next write.
      ws.once('close', () => {
        clearTimeout(handshake);
        shim.socketClosed();
      });
      face.serveShim(shim.link, grant);
    });
  });
  // A slow client must not hold a socket forever before its request is complete.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SnowmuxError('HUB_LISTEN_FAILED', `Cannot serve HTTP on ${address}: ${err.message}. Change hub.http_listen (or --http) or free the port.`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shownHost}:${bound.port}`,
    stopAccepting: () => releaseHttpServer(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Streams (SSE) never go idle by themselves: the face has ended them; whatever still hangs is cut.
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }),
  };
}

/**
 * The body (empty for GET and HEAD), or why it was refused: over MAX_BODY_BYTES (a refused one is drained
 * up to DRAIN_BODY_BYTES), not complete within the body timeout (node's own requestTimeout would answer
 * a bare 408 only after 30 to 60 s), or over the engine's budget of held bodies. A client gone mid-body
 * resolves 'gone': nobody is left to answer. Without a budget the body is drained and dropped (a request
 * refused from its headers): the client still sending it reads its answer rather than a reset.
 */
function readBody(req: IncomingMessage, timeoutMs: number, budget: BodyBudget | null): Promise<Buffer | RefusedBody | 'gone'> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return Promise.resolve(Buffer.alloc(0));
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_BODY_BYTES) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let held = 0;
    const settle = (outcome: Buffer | RefusedBody | 'gone'): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      if (!Buffer.isBuffer(outcome)) {
        budget?.release(held);
        // Stop reading what is left: the answer closes the connection.
        req.pause();
      }
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > DRAIN_BODY_BYTES) return settle('too-large');
      if (bytes > MAX_BODY_BYTES || budget === null) return;
      if (!budget.take(chunk.length)) return settle('busy');
      held += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(bytes > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks, held));
    const onGone = (): void => settle('gone');
    const timer = setTimeout(() => settle('too-slow'), timeoutMs);
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
  });
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}

/** Whether a body may follow the headers: a refusal sent before reading it must close the connection. */
function mayHaveBody(req: IncomingMessage): boolean {
  const method = (req.method ?? 'GET').toUpperCase();
  return method !== 'GET' && method !== 'HEAD' && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined);
}

async function handle(face: HttpFace, req: IncomingMessage, res: ServerResponse, logger: Logger, limits: EngineLimits, budget: BodyBudget, answers: AnswerBudget): Promise<void> {
  const aborted = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborted.abort(new Error('the client disconnected'));
  });
  const info = { remoteAddress: req.socket.remoteAddress ?? '' };
  let url: string;
  let admission: Admission;
  try {
    url = `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
    // Host, Origin, route and key are judged from the headers: a request refused there has no body read.
    const verdict = face.admit(new Request(url, { method: req.method ?? 'GET', headers: headersOf(req) }), info);
    if (verdict instanceof Response) {
      const body = mayHaveBody(req) ? await readBody(req, limits.bodyTimeoutMs, null) : null;
      if (body === 'gone') return;
      await writeResponse(verdict, res, aborted, logger, limits, body !== null, answers);
      return;
    }
    admission = verdict;
  } catch (err) {
    refuse(res, 400, `${JSON.stringify({ error: `Malformed request: ${malformedWhy(err)}.` })}\n`);
    return;
  }
  const body = await readBody(req, limits.bodyTimeoutMs, budget);
  if (body === 'gone') return;
  if (!Buffer.isBuffer(body)) {
    // Closed after: the rest of this body must not be read as the connection's next request.
    const answer = refusedBodyAnswer(body, limits);
    refuse(res, answer.status, answer.body, answer.headers);
    return;
  }
  let response: Response;
  try {
    const request = new Request(url, { method: req.method ?? 'GET', headers: headersOf(req), signal: aborted.signal, ...(body.length > 0 ? { body } : {}) });
    response = await face.fetch(request, info, admission);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'http face failed');
    if (!res.headersSent) res.writeHead(500, ERROR_HEADERS).end('{"error":"internal error"}\n');
    return;
  } finally {
    // The face has read the body by the time it answers.
    budget.release(body.length);
  }
  await writeResponse(response, res, aborted, logger, limits, false, answers, admission.caller.identity);
}

/** An engine error answer, on a connection that closes after it. */
function refuse(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...ERROR_HEADERS, ...headers, connection: 'close', 'content-length': Buffer.byteLength(body) }).end(body);
}

/**
 * Writes an answer honouring backpressure. An answer its client does not read for stalledOutputMs is cut:
 * the connection closes and the request's signal aborts (its call is cancelled), as the socket face cuts
 * a client that does not read (an unread answer would hold its connection and bytes for good).
 */
async function writeResponse(response: Response, res: ServerResponse, aborted: AbortController, logger: Logger, limits: EngineLimits, close: boolean, answers: AnswerBudget, identity?: string): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  if (close) headers.connection = 'close';
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => {}));
  const stalledMs = limits.stalledOutputMs ?? DEFAULT_STALLED_OUTPUT_MS;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        // What the client has not taken yet counts against every connection's bound until it drains.
        const held = answers.take(res.writableLength, (why) => {
          logger.warn({ identity, unreadBytes: res.writableLength, heldAnswerBytes: answers.heldBytes, limit: answers.limit }, 'http clients do not read their answers; the longest-waiting answer is cut');
          aborted.abort(answerNotRead(`the client did not read its answer: ${why}`));
          res.destroy();
        }, identity);
        const taken = await drained(res, 'close', stalledMs);
        held.release();
        if (!taken) {
          logger.warn({ identity, stalledMs, unreadBytes: res.writableLength }, 'http client does not read its answer; connection cut');
          answers.stalled(stalledMs, identity);
          aborted.abort(answerNotRead(`the client did not read its answer for ${stalledMs} ms`));
          res.destroy();
          break;
        }
      }
      if (res.destroyed) break;
    }
  } catch {
    // The answer's stream failed (the face cut it: its client did not read it): the connection closes
    // without the end of the answer, so the client sees it incomplete, not a stream that ended as it should.
    // (A client gone, or a stream the hub closes while stopping, ends the read, not with an error.)
    res.destroy();
  } finally {
    if (!res.destroyed) res.end();
  }
}

/**
 * Resolves true once a response drains (or `goneEvent` says the client is gone), false if it has not within
 * ms: both engines' streamed answers wait on this before cutting a client that stopped reading.
 */
export function drained(res: { once(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown }, goneEvent: 'close' | 'abort', ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off(goneEvent, onDrain);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    res.once('drain', onDrain);
    res.once(goneEvent, onDrain);
  });
}
