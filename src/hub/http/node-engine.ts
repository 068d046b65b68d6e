/**
 * Serves an HttpFace with `node:http`: each request becomes a web `Request` (the SDK's own converter,
 * with the body bounded), the face answers, and the `Response` is written back honouring backpressure
 * (SSE streams included). A client that goes away aborts its request's signal.
 */
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { AddressInfo } from 'node:net';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { Logger } from '../observe/logger.js';
import { releaseHttpServer } from '../listen/release-http-server.js';
import { parseListen } from '../listen/listen-address.js';
import { SECURITY_HEADERS, type HttpFace } from './http-face.js';

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
}

/**
 * Why a body was not read: over MAX_BODY_BYTES, not complete within the body timeout, or (uWebSockets.js
 * only) sent with a Transfer-Encoding spelled other than `chunked`, which that engine never hands over.
 */
export type RefusedBody = 'too-large' | 'too-slow' | 'unread-encoding';

/** The engines' answer to a refused body, with its reason and what to do. */
export function refusedBodyAnswer(why: RefusedBody, limits: EngineLimits): { status: number; body: string } {
  const answers: Record<RefusedBody, [number, string]> = {
    'too-large': [413, `The request body is over ${MAX_BODY_BYTES} bytes. Send smaller requests.`],
    'too-slow': [408, `The request body did not arrive within ${limits.bodyTimeoutMs} ms (hub.http_body_timeout_ms). Send the whole body with the request; a client or proxy that trickles it is cut.`],
    'unread-encoding': [400, 'This hub\'s HTTP engine (uWebSockets.js) reads a body sent with "Transfer-Encoding: chunked" in lower case, or with a Content-Length, and no other: send one of those (or run the hub with hub.http_engine = "node").'],
  };
  const [status, error] = answers[why];
  return { status, body: `${JSON.stringify({ error })}\n` };
}

export async function serveWithNodeHttp(face: HttpFace, address: string, logger: Logger, limits: EngineLimits): Promise<HttpEndpoint> {
  const { host, port } = parseListen(address);
  // Node checks the headers and request timeouts on this interval (default 30 s): trickled headers held a
  // socket for up to 40 s against the 10 s set below.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => void handle(face, req, res, logger, limits));
  // Remote shims: a WebSocket on /shim, checked like every route before the upgrade is accepted.
  const shims = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { headers });
    const verdict = face.checkShimUpgrade(request, { remoteAddress: req.socket.remoteAddress ?? '' });
    if (verdict instanceof Response) {
      void verdict.text().then((body) => {
        const headers = [...verdict.headers].map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.end(`HTTP/1.1 ${verdict.status} ${STATUS_CODES[verdict.status] ?? ''}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      });
      return;
    }
    shims.handleUpgrade(req, socket, head, (ws) => {
      const link = createWebSocketStream(ws);
      link.on('error', () => {});
      // A vanished shim must close its session at once (as a closed Unix socket does), not at the next write.
      ws.once('close', () => link.destroy());
      face.serveShim(link, verdict);
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
 * up to DRAIN_BODY_BYTES), or not complete within the body timeout (node's own requestTimeout would answer
 * a bare 408 only after 30 to 60 s). A client gone mid-body resolves 'gone': nobody is left to answer.
 */
function readBody(req: IncomingMessage, timeoutMs: number): Promise<Buffer | RefusedBody | 'gone'> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') return Promise.resolve(Buffer.alloc(0));
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_BODY_BYTES) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const settle = (outcome: Buffer | RefusedBody | 'gone'): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      // Stop reading what is left: the answer closes the connection.
      if (!Buffer.isBuffer(outcome)) req.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > DRAIN_BODY_BYTES) settle('too-large');
      else if (bytes <= MAX_BODY_BYTES) chunks.push(chunk);
    };
    const onEnd = (): void => settle(bytes > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks, bytes));
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

async function handle(face: HttpFace, req: IncomingMessage, res: ServerResponse, logger: Logger, limits: EngineLimits): Promise<void> {
  const aborted = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborted.abort(new Error('the client disconnected'));
  });
  let request: Request;
  try {
    const body = await readBody(req, limits.bodyTimeoutMs);
    if (body === 'gone') return;
    if (!Buffer.isBuffer(body)) {
      // Closed after: the rest of this body must not be read as the connection's next request.
      const answer = refusedBodyAnswer(body, limits);
      res.writeHead(answer.status, { ...ERROR_HEADERS, connection: 'close', 'content-length': Buffer.byteLength(answer.body) }).end(answer.body);
      return;
    }
    request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers: headersOf(req), signal: aborted.signal, ...(body.length > 0 ? { body } : {}) });
  } catch {
    res.writeHead(400, ERROR_HEADERS).end(`${JSON.stringify({ error: 'Malformed request.' })}\n`);
    return;
  }
  let response: Response;
  try {
    response = await face.fetch(request, { remoteAddress: req.socket.remoteAddress ?? '' });
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'http face failed');
    if (!res.headersSent) res.writeHead(500, ERROR_HEADERS).end('{"error":"internal error"}\n');
    return;
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (res.destroyed) break;
    }
  } catch {
    // The stream was cancelled (client gone, hub stopping).
  } finally {
    res.end();
  }
}
