/**
 * Serves an HttpFace with hyper-express (uWebSockets.js): the same web-standard face as the node:http
 * engine — each request becomes a `Request`, the `Response` is written back (SSE streamed with
 * backpressure), a client that goes away aborts its request's signal, and /shim upgrades to a WebSocket
 * bridged to a Duplex for the hub. Loaded only when hyper-express is installed (an optional dependency).
 */
import { createServer } from 'node:net';
import { Readable, Writable, type Duplex } from 'node:stream';
import type * as HyperExpress from 'hyper-express';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { Logger } from '../observe/logger.js';
import { SECURITY_HEADERS, type Admission, type HttpFace, type ShimGrant } from './http-face.js';
import { BodyBudget, DEFAULT_STALLED_OUTPUT_MS, DRAIN_BODY_BYTES, drained, MAX_BODY_BYTES, MAX_HELD_BODY_BYTES, malformedWhy, refusedBodyAnswer, type EngineLimits, type HttpEndpoint, type RefusedBody } from './node-engine.js';
import { parseListen } from '../listen/listen-address.js';
import { AnswerBudget, MAX_HELD_ANSWER_BYTES, answerNotRead } from './answer-budget.js';
import { bridgeShimLink, ENGINE_MAX_PAYLOAD_BYTES, MAX_SHIM_FRAME_BYTES } from './shim-link.js';

/**
 * Input of one /shim link waiting for the hub to read it (its session stops reading a client that does not
 * read its answers). node:http's ws then stops reading the socket; uWebSockets.js cannot pause a WebSocket
 * (pause/resume exist for HTTP bodies only; receive backpressure is uNetworking/uWebSockets#1020), and
 * queued every message: past this the link is cut, with the reason in the close frame.
 * A shim that reads its answers never has more than a request or two waiting.
 */
const MAX_SHIM_INPUT_BYTES = MAX_SHIM_FRAME_BYTES;
/**
 * The same, all /shim links of one identity together: it may hold 64 links (MAX_SHIM_LINKS_PER_IDENTITY),
 * which the bound per link alone let queue 1 GiB. The link whose message passes it is cut.
 */
const MAX_SHIM_IDENTITY_INPUT_BYTES = 2 * MAX_SHIM_INPUT_BYTES;
/** What uWS may hold unsent on a /shim link: past it, it drops what is sent (see the route's options). */
const MAX_SHIM_BACKPRESSURE_BYTES = 64 * 1024 * 1024;
/** uWebSockets.js's send results (its `SendStatus`): the message went out, or it was dropped (backpressure over the limit). */
const WS_SENT = 1;
const WS_DROPPED = 2;


/** @public Loaded with a dynamic import by serve-http.ts (knip does not follow it). */
export async function serveWithUws(face: HttpFace, address: string, logger: Logger, limits: EngineLimits): Promise<HttpEndpoint> {
  const { host, port } = parseListen(address);
  const { Server } = (await import('hyper-express')) as typeof HyperExpress;
  // auto_close off: hyper-express would close the listen socket itself on SIGTERM (the hub must keep
  // answering /healthz through its drain), and our own close of the same socket afterwards crashes uWS.
  // The engine's own body limit resets the connection without an answer: it is lifted, and handle() reads
  // bodies itself up to MAX_BODY_BYTES, answering a larger one with 413 and its reason (as node:http's engine does).
  const server = new Server({ max_body_length: Number.MAX_SAFE_INTEGER, fast_abort: true, auto_close: false });
  server.set_error_handler((_req, res, err) => {
    logger.error({ err: errorMessage(err) }, 'http engine error');
    if (!res.initiated) sendError(res, 500, '{"error":"internal error"}\n');
  });

  const budget = new BodyBudget(limits.heldBodyBytes ?? MAX_HELD_BODY_BYTES);
  const answers = limits.answers ?? new AnswerBudget(limits.heldAnswerBytes ?? MAX_HELD_ANSWER_BYTES);
  server.upgrade('/shim', async (req, res) => {
    let verdict: Response | ShimGrant;
    try {
      verdict = face.checkShimUpgrade(new Request(urlOf(req), { headers: headersOf(req) }), { remoteAddress: req.ip });
    } catch (err) {
      // new Request refuses a Host it cannot parse ("[", "a b"): the client's fault, answered as one.
      sendError(res, 400, `${JSON.stringify({ error: `Malformed WebSocket upgrade: ${malformedWhy(err)}.` })}\n`, true);
      return;
    }
    if (verdict instanceof Response) {
      res.status(verdict.status);
      for (const [k, v] of verdict.headers) res.header(k, v);
      res.send(await verdict.text());
      return;
    }
    res.upgrade({ grant: verdict });
  });
  /** Each identity's open /shim links, whose unread input is bounded together. */
  const linksOf = new Map<string, Set<Duplex>>();
  // uWS drops a message over its max_payload_length with no close frame (1006): it takes a little more, and
  // the link refuses one over MAX_SHIM_FRAME_BYTES with 1009 and why. max_backpressure: uWS drops any frame
  // sent while more than this waits, the close frame too (a shim cut for not reading saw 1006, no reason);
  // the link's writer adds a message only once the last has drained, so uWS holds one answer at most, and
  // the close frame after it fits under this.
  server.ws('/shim', { message_type: 'Buffer', max_payload_length: ENGINE_MAX_PAYLOAD_BYTES, max_backpressure: MAX_SHIM_BACKPRESSURE_BYTES, idle_timeout: 60 }, (ws) => {
    const { grant } = ws.context as unknown as { grant: ShimGrant };
    const shim = bridgeShimLink({
      send(chunk, done) {
        // uWS answers a send with 1 (sent), 0 (buffered: backpressure) or 2 (DROPPED: more than
        // max_backpressure was already buffered, so the message was thrown away). hyper-express passes the
        // number on; reading it as a boolean took a dropped answer for a sent one, and a shim reading slower
        // than the hub writes lost answers and pings (then the link) — node:http's ws never drops.
        const attempt = (): void => {
          if (shim.closed) return done(new Error('the link is closed'));
          const sent = ws.send(chunk, true) as unknown as number;
          if (sent === WS_SENT) return done();
          // Buffered: take more once it drains. Dropped: send it again once it drains. Not from inside the
          // drain event itself: a send made there can leave bytes buffered that uWS never writes out (seen:
          // the link stalled with 0.8 MB waiting and a reading shim), so the next send waits a turn.
          ws.once('drain', () => void setImmediate(sent === WS_DROPPED ? attempt : () => done()));
        };
        attempt();
      },
      // hyper-express's close is uWS's end(): the close frame, then the socket closes.
      close: (code, reason) => ws.close(code, reason),
    });
    const link = shim.link;
    const siblings = linksOf.get(grant.identity) ?? new Set<Duplex>();
    linksOf.set(grant.identity, siblings.add(link));
    const cut = (reason: string, queuedBytes: number): void => {
      logger.warn({ identity: grant.identity, queuedBytes }, 'remote shim sends more than the hub reads; link cut');
      shim.cut(reason);
    };
    ws.on('message', (message: Buffer) => {
      if (shim.closed) return;
      // The message's bytes are uWS's, valid only during this call: the link keeps a copy.
      shim.received(Buffer.from(message));
      if (shim.closed) return;
      if (link.readableLength > MAX_SHIM_INPUT_BYTES) {
        cut('The shim sent more than the hub has read (16 MiB waiting): it sends without reading its answers.', link.readableLength);
        return;
      }
      let identityQueued = 0;
      for (const sibling of siblings) identityQueued += sibling.readableLength;
      if (identityQueued > MAX_SHIM_IDENTITY_INPUT_BYTES) {
        cut("This identity's shim links sent more than the hub has read (32 MiB waiting): they send without reading answers.", identityQueued);
      }
    });
    // A vanished shim must close its session at once (as a closed Unix socket does).
    ws.once('close', () => {
      siblings.delete(link);
      if (siblings.size === 0) linksOf.delete(grant.identity);
      shim.socketClosed();
    });
    face.serveShim(link, grant);
  });

  let accepting = true;
  server.any('/*', (req, res) => {
    // The port was let go of for the next hub, but uWebSockets.js keeps kept-alive connections open: ask
    // each client to end its own, so it reaches the next hub.
    if (!accepting) res.header('connection', 'close');
    return handle(face, req, res, logger, limits, budget, answers);
  });

  let listenSocket: unknown;
  try {
    listenSocket = await server.listen(port, host);
  } catch (err) {
    // uWebSockets.js does not say why; ask the OS, so a busy port reads as one (a draining hub lets go of
    // it when the next hub comes up, and the next hub retries on EADDRINUSE).
    const why = (await portInUse(host, port)) ? 'listen EADDRINUSE: address already in use' : errorMessage(err);
    throw new SnowmuxError('HUB_LISTEN_FAILED', `Cannot serve HTTP on ${address}: ${why}. Change hub.http_listen (or --http) or free the port.`, { cause: err });
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const boundPort = server.port;
  const stopAccepting = () => {
    if (!accepting) return;
    accepting = false;
    server.close(listenSocket as never);
  };
  return {
    url: `http://${shownHost}:${boundPort}`,
    stopAccepting,
    close: async () => {
      stopAccepting();
      // Streams (SSE) were ended by the face; whatever still hangs is cut with the app.
      (server.uws_instance as unknown as { close?: () => void }).close?.();
    },
  };
}

function urlOf(req: HyperExpress.Request): string {
  const query = req.path_query ? `?${req.path_query}` : '';
  return `http://${req.headers['host'] ?? 'localhost'}${req.path}${query}`;
}

function headersOf(req: HyperExpress.Request): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  return headers;
}

async function handle(face: HttpFace, req: HyperExpress.Request, res: HyperExpress.Response, logger: Logger, limits: EngineLimits, budget: BodyBudget, answers: AnswerBudget): Promise<void> {
  const aborted = new AbortController();
  res.once('abort', () => aborted.abort(new Error('the client disconnected')));
  const method = req.method.toUpperCase();
  const info = { remoteAddress: req.ip };
  let verdict: Admission | Response;
  try {
    // Host, Origin, route and key are judged from the headers: a request refused there has no body read.
    verdict = face.admit(new Request(urlOf(req), { method, headers: headersOf(req) }), info);
  } catch (err) {
    // new Request refuses a URL or header it cannot parse: the client's fault, answered as one.
    if (!res.aborted) sendError(res, 400, `${JSON.stringify({ error: `Malformed request: ${malformedWhy(err)}.` })}\n`);
    return;
  }
  if (verdict instanceof Response) {
    const drained = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, res, limits.bodyTimeoutMs, null);
    if (drained === 'gone') return;
    if (drained !== undefined) req.received = true;
    if (method === 'HEAD') await writeHeadAnswer(verdict, req, res, drained !== undefined);
    else await writeResponse(verdict, res, aborted, logger, limits, drained !== undefined, answers);
    return;
  }
  const admission = verdict;
  let held = 0;
  let response: Response;
  try {
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, res, limits.bodyTimeoutMs, budget);
    if (body === 'gone') return;
    if (typeof body === 'string') {
      refuseBody(req, res, body, limits);
      return;
    }
    held = body?.length ?? 0;
    const request = new Request(urlOf(req), { method, headers: headersOf(req), body, signal: aborted.signal });
    response = await face.fetch(request, info, admission);
  } catch (err) {
    logger.error({ err: errorMessage(err) }, 'http face failed');
    if (!res.aborted && !res.initiated) sendError(res, 500, '{"error":"internal error"}\n');
    return;
  } finally {
    // The face has read the body by the time it answers.
    budget.release(held);
  }
  if (method === 'HEAD') await writeHeadAnswer(response, req, res, false);
  else await writeResponse(response, res, aborted, logger, limits, false, answers, admission.caller.identity);
}

/**
 * A HEAD request's answer: its status and headers, and no body. uWS's end() writes whatever body it is given
 * after the headers, where a kept-alive client (a load balancer's HEAD /healthz) reads it as the start of its
 * next answer. (node:http drops a HEAD answer's body itself.) uWS then says `Content-Length: 0`: its
 * endWithoutBody, which would give the GET's length, leaves the connection unusable for the next request.
 */
async function writeHeadAnswer(response: Response, req: HyperExpress.Request, res: HyperExpress.Response, close: boolean): Promise<void> {
  await response.body?.cancel().catch(() => {});
  if (res.aborted) return;
  res.status(response.status);
  response.headers.forEach((v, k) => void res.header(k, v));
  // A HEAD has no body to wait for: hyper-express would hold the answer until one was "received".
  req.received = true;
  res.send(undefined, close);
}

/**
 * Writes an answer, an SSE stream with backpressure. A stream its client does not read for stalledOutputMs
 * is cut: the connection closes and the request's signal aborts (its call is cancelled), as the socket face
 * cuts a client that does not read (an unread answer would hold its connection and bytes for good).
 */
async function writeResponse(response: Response, res: HyperExpress.Response, aborted: AbortController, logger: Logger, limits: EngineLimits, close: boolean, answers: AnswerBudget, identity?: string): Promise<void> {
  if (res.aborted) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.status(response.status);
  response.headers.forEach((v, k) => void res.header(k, v));
  const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const stalledMs = limits.stalledOutputMs ?? DEFAULT_STALLED_OUTPUT_MS;
  if (!response.body || !streaming) {
    const body = Buffer.from(await response.arrayBuffer());
    if (close || body.length === 0) {
      res.send(body, close);
      return;
    }
    // uWebSockets.js parses a connection's next pipelined request only once this answer has ended, and
    // send() ends it at once, whatever it had to buffer: a client pipelining requests and never reading
    // made the hub hold every answer (~6 MB/s, never cut). Streamed with its length, the answer ends when
    // its last byte is written, so a connection holds one unread answer, and is cut once none of it has
    // been taken for stalledOutputMs, as an unread stream is (a slow reader that makes progress is not).
    // Until it is written whole, the answer counts against every connection's bound of unread answers.
    const held = answers.take(body.length, (why) => cutUnread(res, aborted, logger, answers, why, identity), identity);
    try {
      // hyper-express's send of a response closed meanwhile (cut, or its client gone) stays pending for good,
      // holding the answer: the bytes are let go of at the close, not a stalledOutputMs later.
      const over = new Promise<void>((resolve) => res.once('abort', () => resolve()));
      if (!(await writtenWhileProgressing(res, Promise.race([res.stream(Readable.from([body]), body.length), over]), stalledMs))) {
        logger.warn({ identity, stalledMs }, 'http client does not read its answer; connection cut');
        answers.stalled(stalledMs, identity);
        aborted.abort(answerNotRead(`the client did not read its answer for ${stalledMs} ms`));
        res.close();
      }
    } finally {
      held.release();
    }
    return;
  }
  const reader = response.body.getReader();
  res.once('abort', () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.aborted) break;
      if (!res.write(Buffer.from(value))) {
        const held = answers.take(value.length, (why) => {
          void reader.cancel().catch(() => {});
          cutUnread(res, aborted, logger, answers, why, identity);
        }, identity);
        const taken = await drained(res, 'abort', stalledMs);
        held.release();
        if (res.aborted) break;
        if (!taken) {
          logger.warn({ identity, stalledMs }, 'http client does not read its answer; connection cut');
          answers.stalled(stalledMs, identity);
          aborted.abort(answerNotRead(`the client did not read its answer for ${stalledMs} ms`));
          void reader.cancel().catch(() => {});
          res.close();
          break;
        }
      }
    }
  } catch {
    // The answer's stream failed (the face cut it: its client did not read it): the connection closes
    // without the end of the answer, so the client sees it incomplete (see node-engine.ts).
    if (!res.aborted) res.close();
  } finally {
    if (!res.aborted) res.end();
  }
}


/** Cuts an answer its client has not read because the unread answers of all connections passed their bound. */
function cutUnread(res: HyperExpress.Response, aborted: AbortController, logger: Logger, answers: AnswerBudget, why: string, identity: string | undefined): void {
  logger.warn({ identity, heldAnswerBytes: answers.heldBytes, limit: answers.limit }, 'http clients do not read their answers; the longest-waiting answer is cut');
  aborted.abort(answerNotRead(`the client did not read its answer: ${why}`));
  if (res.aborted) return;
  res.close();
  // uWS tells of a close only when the client made it: the writer waiting on this answer learns of it so,
  // and lets go of its bytes now (it waited out stalledOutputMs, 60 s, holding them, uncounted).
  res.emit('abort');
}

/**
 * The request body, or why it was refused: over MAX_BODY_BYTES (a refused body is still read, and dropped,
 * up to DRAIN_BODY_BYTES, see node-engine.ts: a client still sending would otherwise see a reset, not the
 * 413), or not complete within the body timeout (uWebSockets.js itself drops a request not complete in
 * ~10 s, without an answer: the timeout answers first). A client gone mid-body resolves 'gone': nobody is
 * left to answer.
 */
function readBody(req: HyperExpress.Request, res: HyperExpress.Response, timeoutMs: number, budget: BodyBudget | null): Promise<Buffer | RefusedBody | 'gone'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_BODY_BYTES) return Promise.resolve('too-large');
  // The engine streams a body only for these two cases (its own test, to the letter); for anything else it
  // would never end the stream. A body announced another way (`Chunked`, which RFC 9112 allows) is one it
  // drops: refused, with how to send it, rather than read as empty ("not valid JSON").
  const encoding = req.headers['transfer-encoding'];
  if (!(declared > 0) && encoding !== undefined && encoding !== 'chunked') return Promise.resolve('unread-encoding');
  if (!(declared > 0) && encoding !== 'chunked') return Promise.resolve(Buffer.alloc(0));
  // pipe(), not on('data'): the engine starts its body stream only for pipe (tried: data events never came).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let held = 0;
    let settled = false;
    const settle = (outcome: Buffer | RefusedBody | 'gone'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!Buffer.isBuffer(outcome)) budget?.release(held);
      resolve(outcome);
    };
    const timer = setTimeout(() => settle('too-slow'), timeoutMs);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > DRAIN_BODY_BYTES) {
          settle('too-large');
          done(new Error('body over the drain limit'));
          return;
        }
        if (bytes <= MAX_BODY_BYTES && !settled && budget !== null) {
          if (!budget.take(chunk.length)) {
            settle('busy');
            done(new Error('over the engine\'s budget of held bodies'));
            return;
          }
          held += chunk.length;
          chunks.push(Buffer.from(chunk));
        }
        done();
      },
    });
    sink.once('finish', () => settle(bytes > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks, held)));
    sink.once('error', (err) => {
      if (settled) return;
      clearTimeout(timer);
      reject(err);
    });
    // A client gone mid-upload never finishes its body: settle, so the request's handler ends too.
    res.once('abort', () => settle('gone'));
    req.pipe(sink);
  });
}

/** A refused body: the same answer as node:http's engine; the connection then closes (the rest is never read). */
function refuseBody(req: HyperExpress.Request, res: HyperExpress.Response, why: RefusedBody, limits: EngineLimits): void {
  if (res.aborted) return;
  // hyper-express holds every answer until the whole body has arrived, which a trickling body never does
  // (the headers went out, the 408's body never did): marked received, the answer goes now, and the
  // connection closes after it.
  if (why === 'too-slow' || why === 'busy') req.received = true;
  const answer = refusedBodyAnswer(why, limits);
  for (const [k, v] of Object.entries(answer.headers)) res.header(k, v);
  sendError(res, answer.status, answer.body, true);
}

/** The engine's own error answers carry the face's security headers too. */
function sendError(res: HyperExpress.Response, status: number, body: string, closeConnection = false): void {
  res.status(status).header('content-type', 'application/json');
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.header(k, v);
  res.send(body, closeConnection);
}

/** Whether binding host:port fails with EADDRINUSE right now. */
function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

/**
 * Whether `sent` settled (a rejection counts: the client went away) before a whole `stalledMs` passed with
 * no byte of the answer taken by the client (the response's write offset standing still).
 */
async function writtenWhileProgressing(res: HyperExpress.Response, sent: Promise<unknown>, stalledMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<boolean>((resolve) => {
    let offset = writeOffsetOf(res);
    // A small answer can be written whole before this looks (hyper-express then leaves `completed` unset).
    if (offset === undefined) return resolve(true);
    timer = setInterval(() => {
      // A connection closed meanwhile (the client went away) leaves the send pending for good: nothing to cut.
      const now = writeOffsetOf(res);
      if (now === undefined) return resolve(true);
      if (now === offset) resolve(false);
      offset = now;
    }, stalledMs);
  });
  try {
    return await Promise.race([sent.then(() => true, () => true), stalled]);
  } finally {
    clearInterval(timer);
  }
}

/**
 * How much of the answer uWS has written, or undefined once the response is over: ended by its last byte
 * (uWS then refuses any access, and hyper-express leaves `completed` unset after a sized stream) or closed.
 */
function writeOffsetOf(res: HyperExpress.Response): number | undefined {
  if (res.completed) return undefined;
  try {
    return res.write_offset;
  } catch {
    return undefined;
  }
}
