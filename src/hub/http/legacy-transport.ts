/**
 * The SDK's 2025-era Streamable HTTP transport, holding what it leaves open. The SDK ends a POST's SSE
 * stream only when it sends the last answer of the requests that POST carried, and maps each request id
 * to one stream, so:
 * - a cancelled request (its client's `notifications/cancelled`, or its client hanging up) is owed no
 *   answer, and its stream stayed open for the session's life: one connection and the SDK's stream state
 *   per cancel, and a client waiting for the POST to end waited for ever;
 * - a second request under an id still in flight took the first one's stream over: the first was never
 *   answered (its answer found no stream). It is refused here, as the line transport refuses it.
 */
import { WebStandardStreamableHTTPServerTransport, type HandleRequestOptions, type JSONRPCMessage, type RequestId, type TransportSendOptions } from '@modelcontextprotocol/server';

/** One POST's requests: those still owed an answer, and whether any of them was cancelled. */
interface Post {
  readonly first: RequestId;
  readonly owed: Set<RequestId>;
  cancelled: boolean;
}

const INVALID_REQUEST = -32600;

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
  /** Requests handed to the SDK and neither answered nor cancelled, with the POST that carried each. */
  readonly #inFlight = new Map<RequestId, Post>();
  /**
   * Called each time the last request owed an answer is answered (after the answer was handed to its
   * stream) or cancelled: a draining hub closes the session then, not when its grace period is over.
   */
  onAllAnswered: (() => void) | undefined;

  /** Requests owed an answer: a tool call answered over SSE is owed one after its POST returned. */
  get owed(): number {
    return this.#inFlight.size;
  }

  override async handleRequest(request: Request, options?: HandleRequestOptions): Promise<Response> {
    const body = options?.parsedBody;
    const ids = request.method === 'POST' ? requestIds(body) : [];
    const duplicate = ids.find((id, i) => this.#inFlight.has(id) || ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      return Response.json({
        jsonrpc: '2.0',
        id: duplicate,
        error: { code: INVALID_REQUEST, message: `Invalid Request: id ${JSON.stringify(duplicate).slice(0, 80)} is already used by a request of this session that has not been answered yet. Give each request in flight its own id.` },
      });
    }
    const post: Post | undefined = ids.length > 0 ? { first: ids[0]!, owed: new Set(ids), cancelled: false } : undefined;
    for (const id of ids) this.#inFlight.set(id, post!);
    let response: Response;
    try {
      response = await super.handleRequest(request, options);
    } catch (err) {
      this.#forget(post);
      throw err;
    }
    // Only a stream means the SDK took the requests; any other answer (a refusal) ends them here.
    if (post && !(response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/event-stream'))) this.#forget(post);
    // The SDK has handed a posted cancel to the server (which stopped the request): its stream can end.
    for (const id of cancelledIds(body)) this.#settle(id, true);
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
    const post = this.#inFlight.get(id);
    if (!post) return;
    this.#inFlight.delete(id);
    post.owed.delete(id);
    post.cancelled ||= cancelled;
    // The SDK closes a stream whose requests were all answered; one with a cancelled request is ours to close.
    if (post.owed.size === 0 && post.cancelled) this.closeSSEStream(post.first);
    if (this.#inFlight.size === 0) this.onAllAnswered?.();
  }

  #forget(post: Post | undefined): void {
    if (!post) return;
    for (const id of post.owed) this.#inFlight.delete(id);
    post.owed.clear();
  }
}
