/**
 * The SDK's 2025-era Streamable HTTP transport, holding what it leaves open. The SDK ends a POST's SSE
 * stream, and forgets the POST's requests, only when it sends the last answer of the requests that POST
 * carried, and maps each request id to one stream, so:
 * - a cancelled request (its client's `notifications/cancelled`, or its client hanging up) is owed no
 *   answer, and its stream stayed open for the session's life: one connection and the SDK's stream state
 *   per cancel, and a client waiting for the POST to end waited for ever; and, its stream closed, the SDK
 *   still kept the request's entry (and the answers of the rest of its batch) for the session's life
 *   (10,000 cancels: 10,000 entries, ~5 MB);
 * - a second request under an id the SDK still maps took the first one's stream over: the first was never
 *   answered (its answer found no stream), or the second lost its own stream when the first's POST ended.
 *   It is refused here, as the line transport refuses an id in flight.
 */
import { WebStandardStreamableHTTPServerTransport, type HandleRequestOptions, type JSONRPCMessage, type RequestId, type TransportSendOptions } from '@modelcontextprotocol/server';

/** One POST's requests: all of them, those still owed an answer, and those cancelled. */
interface Post {
  readonly ids: readonly RequestId[];
  readonly owed: Set<RequestId>;
  readonly cancelled: RequestId[];
}

const INVALID_REQUEST = -32600;
/** Never sent: the code of the answers that let the SDK forget a cancelled request (see #release). */
const REQUEST_CANCELLED = -32800;

function requestIds(body: unknown): RequestId[] {
  const ids: RequestId[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const message = m as { id?: unknown; method?: unknown } | null;
    if (message === null || typeof message !== 'object' || typeof message.method !== 'string') continue;
    if (typeof message.id === 'string' || typeof message.id === 'number') ids.push(message.id);
  }
  return ids;
}

function cancelledIds(body: unknown): RequestId[] {
  const ids: RequestId[] = [];
  for (const m of Array.isArray(body) ? body : [body]) {
    const message = m as { id?: unknown; method?: unknown; params?: { requestId?: unknown } } | null;
    if (message === null || typeof message !== 'object' || message.method !== 'notifications/cancelled' || message.id !== undefined) continue;
    const requestId = message.params?.requestId;
    if (typeof requestId === 'string' || typeof requestId === 'number') ids.push(requestId);
  }
  return ids;
}

export class LegacyTransport extends WebStandardStreamableHTTPServerTransport {
  /**
   * Every request of a POST the SDK still holds (its stream open, or some request of it owed an answer),
   * with that POST: their ids are taken until it ends, answered or cancelled ones too, since the SDK still
   * maps them to that POST's stream.
   */
  readonly #posts = new Map<RequestId, Post>();
  /** Requests handed to the SDK and neither answered nor cancelled. */
  readonly #owed = new Set<RequestId>();
  /**
   * Called each time the last request owed an answer is answered (after the answer was handed to its
   * stream) or cancelled: a draining hub closes the session then, not when its grace period is over.
   */
  onAllAnswered: (() => void) | undefined;

  /** Requests owed an answer: a tool call answered over SSE is owed one after its POST returned. */
  get owed(): number {
    return this.#owed.size;
  }

  override async handleRequest(request: Request, options?: HandleRequestOptions): Promise<Response> {
    const body = options?.parsedBody;
    const ids = request.method === 'POST' ? requestIds(body) : [];
    const duplicate = ids.find((id, i) => this.#posts.has(id) || ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      return Response.json({
        jsonrpc: '2.0',
        id: duplicate,
        error: {
          code: INVALID_REQUEST,
          message: `Invalid Request: id ${JSON.stringify(duplicate).slice(0, 80)} is already used by a request of this session that has not been answered yet (or by one of a batch whose other requests are still being answered). Give each request in flight its own id.`,
        },
      });
    }
    const post: Post | undefined = ids.length > 0 ? { ids, owed: new Set(ids), cancelled: [] } : undefined;
    for (const id of ids) {
      this.#posts.set(id, post!);
      this.#owed.add(id);
    }
    let response: Response;
    try {
      response = await super.handleRequest(request, options);
    } catch (err) {
      this.#forget(post);
      throw err;
    }
    // Only a stream means the SDK took the requests; any other answer (a refusal) ends them here.
    if (post && !(response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/event-stream'))) this.#forget(post);
    // The SDK has handed a posted cancel to the server (which stopped the request): its stream can end. A
    // POST the SDK refused (a wrong session, say) delivered no cancel: that request is still owed its answer.
    if (response.ok) for (const id of cancelledIds(body)) this.#settle(id, true);
    return response;
  }

  /**
   * Cancels a request whose client is gone, as its `notifications/cancelled` would (the server stops it
   * and sends no answer), and ends its POST's stream once nothing else on it is owed an answer.
   */
  cancel(requestId: RequestId, reason: string): void {
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason } });
    this.#settle(requestId, true);
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const answer = message as { id?: unknown; method?: unknown };
    try {
      await super.send(message, options);
    } finally {
      if (answer.method === undefined && (typeof answer.id === 'string' || typeof answer.id === 'number')) this.#settle(answer.id, false);
    }
  }

  #settle(id: RequestId, cancelled: boolean): void {
    const post = this.#posts.get(id);
    if (!post?.owed.delete(id)) return;
    this.#owed.delete(id);
    if (cancelled) post.cancelled.push(id);
    if (post.owed.size === 0) {
      // The SDK closes a stream whose requests were all answered, and forgets them; one with a cancelled
      // request is ours to close, and to have forgotten.
      if (post.cancelled.length > 0) {
        this.closeSSEStream(post.ids[0]!);
        this.#release(post.cancelled);
      }
      this.#forget(post);
    }
    if (this.#owed.size === 0) this.onAllAnswered?.();
  }

  /**
   * The SDK keeps each request's stream id, and the answers of the other requests of its POST, until every
   * request of that POST is answered: a cancelled one never is, so each cancel left its entries for the
   * session's life (10,000 cancels: 10,000 entries, plus the answers of any batch they were part of). Once
   * the POST's stream is closed, an answer handed to the SDK for each cancelled request has no stream to be
   * written to, and the SDK drops the POST's entries: its own path, through its public send(); the client
   * is sent nothing.
   */
  #release(cancelled: readonly RequestId[]): void {
    const onerror = this.onerror;
    // The SDK reports such an answer as undeliverable, at once: here that is the point, not an error.
    this.onerror = undefined;
    try {
      for (const id of cancelled) void super.send({ jsonrpc: '2.0', id, error: { code: REQUEST_CANCELLED, message: 'Request cancelled' } }).catch(() => {});
    } finally {
      this.onerror = onerror;
    }
  }

  #forget(post: Post | undefined): void {
    if (!post) return;
    for (const id of post.ids) if (this.#posts.get(id) === post) this.#posts.delete(id);
    for (const id of post.owed) this.#owed.delete(id);
    post.owed.clear();
  }
}
