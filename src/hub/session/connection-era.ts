/**
 * One line connection speaks one MCP era. The SDK's serveStdio pins the connection to the era of its
 * opening exchange (`initialize`, or any request without a 2026-07-28 `_meta` envelope: 2025; a request
 * with one, once answered: 2026-07-28; a `server/discover` alone is only a probe, after which `initialize`
 * still opens a 2025 connection), and answers the other era's requests as its pinned server would — a bare
 * "Method not found" for `server/discover` after `initialize`, "Unsupported protocol version: 2025-11-25"
 * for `initialize` after a 2026-07-28 request (a version this hub does serve, on a new connection), and a
 * second `initialize` is answered as if the connection started again (renaming the session). The client
 * learns neither what happened nor what to do.
 *
 * Here, reading the era from the SDK's own answers (never guessing ahead of it): an `initialize` after
 * one was answered, or after a 2026-07-28 request was, is refused before the SDK sees it (the SDK's HTTP
 * transport refuses a second `initialize` the same way), and the SDK's refusals of the other era's
 * methods keep their code and data but say why and what to do.
 */
import { classifyInboundRequest, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage } from '@modelcontextprotocol/server';

const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;
const METHOD_NOT_FOUND = -32601;
const UNSUPPORTED_PROTOCOL_VERSION = -32022;
const VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
/** Methods of the 2026-07-28 era only. */
const MODERN_ONLY = new Set(['server/discover', 'subscriptions/listen']);
/**
 * Methods MCP 2026-07-28 removed, which its SDK refuses with a bare "Method not found": what each is
 * told instead, on every face (this connection's answers; a 2026-07-28 HTTP request's in http-face).
 * `speaks` says how the request came to be read as 2026-07-28.
 */
const REMOVED_IN_2026: Record<string, (speaks: string) => string> = {
  // Sent with the envelope (a client mixing the eras): the SDK's bare "Method not found" said neither why nor what to send.
  initialize: (speaks) =>
    `Method not found: initialize is not part of MCP 2026-07-28, which ${speaks}: a 2026-07-28 client sends no initialize. Send server/discover (with the envelope) to learn what the hub serves, then each request with the envelope. For a 2025 version, send initialize without the envelope (over stdio or a shim: as the first request of a new connection).`,
  ping: (speaks) => `Method not found: ping is not part of MCP 2026-07-28, which ${speaks}; any request shows that the hub is alive.`,
  'logging/setLevel': (speaks) =>
    `Method not found: logging/setLevel is not part of MCP 2026-07-28, which ${speaks} (a request's log level goes in its own _meta, io.modelcontextprotocol/logLevel); this hub sends no log messages to clients in any version, so there is no level to set.`,
};

/**
 * The refusal of a request whose 2026-07-28 `_meta` envelope names a revision the hub does not speak: the SDK
 * says only "Unsupported protocol version: X" (its data lists 2026-07-28 alone), and the client learns neither
 * that the hub speaks the 2025 versions too, nor how to reach them. Said the same on every face.
 */
export function unsupportedRevision(requested: string): string {
  const shown = JSON.stringify(requested.slice(0, 40));
  return `Unsupported protocol version ${shown} in the request's _meta envelope (${VERSION_KEY}). This hub speaks MCP 2026-07-28 with the envelope on every request, and the 2025 versions (${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}) through initialize, without the envelope. Send "2026-07-28" in the envelope, or open a session with initialize for a 2025 version; server/discover (with a 2026-07-28 envelope) lists what the hub speaks.`;
}

/** The explained refusal of a method MCP 2026-07-28 removed, or null for any other method. */
export function removedIn2026(method: string, speaks: string): string | null {
  return Object.hasOwn(REMOVED_IN_2026, method) ? REMOVED_IN_2026[method]!(speaks) : null;
}

/** Methods whose refusal says the connection is in the other era. */
const TELLING = new Set(['initialize', ...Object.keys(REMOVED_IN_2026), ...MODERN_ONLY]);
/** Methods handed to the SDK before the connection is opened (the spec allows ping; the others tell the era). */
const BEFORE_OPENING = new Set(['initialize', 'ping', ...MODERN_ONLY]);

type Id = string | number;

export interface EraRefusal {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export class ConnectionEra {
  /** Requests waiting for an answer that may tell the era: their method, and the revision their envelope claims (`claims`: a request that may open the connection; `revision`: any). */
  readonly #asked = new Map<Id, { method: string; claims: string | undefined; enveloped: boolean; revision: string | undefined }>();
  /** The protocol version the first answered `initialize` agreed on: a 2025 connection. */
  #initialized: string | null = null;
  /** The revision of the first answered 2026-07-28 request other than server/discover: a 2026 connection. */
  #modern: string | null = null;

  /** The refusal of a request this connection's era rules out, or null (then call `asked`). */
  refusal(method: string, params: unknown): EraRefusal | null {
    const claims = claimedRevision(params);
    if (this.#modern !== null) {
      // A request without the envelope was served in the 2025 era, switching the connection's answers to
      // 2025 form without a word: refused as HTTP refuses it (initialize and ping get their own answers below).
      if (claims === undefined && method !== 'initialize' && method !== 'ping') {
        const missing = (params as { _meta?: unknown } | undefined)?._meta === undefined ? '_meta' : VERSION_KEY;
        return {
          code: INVALID_PARAMS,
          message: `Invalid params: this connection speaks MCP ${this.#modern} (its first request said so), and this request is missing the required per-request envelope key(s): ${missing}. Every ${this.#modern} request carries the _meta envelope; one connection speaks one protocol version (for a 2025 version, open a new connection and send initialize first).`,
          data: { envelope: { missing: [missing] } },
        };
      }
      // The SDK reads the envelope's version on a connection's first request only: a later one claiming
      // another revision was served as the first one's, and its client never learnt it was not understood.
      if (claims !== undefined && claims !== this.#modern) {
        return {
          code: UNSUPPORTED_PROTOCOL_VERSION,
          message: `Unsupported protocol version on this connection: it speaks MCP ${this.#modern} (its first request said so), and this request's _meta envelope says ${claims}. One connection speaks one protocol version: send ${this.#modern} here, or open a new connection for ${claims}.`,
          data: { supported: [this.#modern], requested: claims },
        };
      }
      // The SDK checks a later request's envelope as well, but its refusal gives only the schema's words ("Invalid
      // input: expected object, received undefined"), not which key: the opening request's refusal and HTTP's
      // name it (data.envelope), and so does this one, with the SDK's own reading of the envelope.
      if (claims !== undefined) {
        const envelope = envelopeRefusal(method, params);
        if (envelope !== null) return envelope;
      }
    }
    if (method !== 'initialize') {
      // A connection is opened by initialize (2025) or by a request with the 2026-07-28 envelope; before,
      // the spec allows ping only. A bare request first was served, and pinned the connection to 2025 for good.
      if (this.#initialized !== null || this.#modern !== null || claims !== undefined || BEFORE_OPENING.has(method) || this.#opening()) return null;
      return {
        code: INVALID_REQUEST,
        message: `Invalid Request: ${method.slice(0, 80)} came before the connection was opened. Send initialize first (MCP 2025 versions), or send requests with the 2026-07-28 _meta envelope (server/discover to learn what the hub speaks); only ping may come before.`,
      };
    }
    if (this.#initialized !== null) {
      return {
        code: INVALID_REQUEST,
        message: `Invalid Request: this connection is already initialized (MCP ${this.#initialized}); initialize is sent once, as a connection's first request. To start over, open a new connection (in an editor: restart its MCP server).`,
      };
    }
    // Sent back to back, both would be answered as the connection's first (the era is read from answers).
    for (const waiting of this.#asked.values()) {
      if (waiting.method !== 'initialize') continue;
      return {
        code: INVALID_REQUEST,
        message: 'Invalid Request: this connection already sent initialize and is waiting for its answer; initialize is sent once, as a connection\'s first request. Wait for its answer.',
      };
    }
    if (this.#modern !== null && claimedRevision(params) === undefined) {
      const requested = (params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
      return {
        code: UNSUPPORTED_PROTOCOL_VERSION,
        message: modernInitialize(this.#modern),
        data: { supported: [this.#modern], ...(typeof requested === 'string' ? { requested: requested.slice(0, 40) } : {}) },
      };
    }
    return null;
  }

  /** An initialize, or a request with the 2026-07-28 envelope, is waiting for the answer that opens the connection. */
  #opening(): boolean {
    for (const waiting of this.#asked.values()) if (waiting.method === 'initialize' || waiting.claims !== undefined) return true;
    return false;
  }

  /** Notes a request handed to the SDK. */
  asked(id: Id, method: string, params: unknown): void {
    const envelope = claimedRevision(params);
    const claims = this.#modern === null && this.#initialized === null && method !== 'server/discover' ? envelope : undefined;
    if (claims !== undefined || TELLING.has(method)) this.#asked.set(id, { method, claims, enveloped: envelope !== undefined, revision: envelope });
  }

  /** A request that will get no answer (cancelled by its client). */
  forget(id: Id): void {
    this.#asked.delete(id);
  }

  /** The answer to write for `message`: the same message, or the SDK's era refusal saying what to do. */
  answer(message: JSONRPCMessage): JSONRPCMessage {
    const m = message as { id?: Id; result?: { protocolVersion?: unknown }; error?: { code: number; message: string; data?: unknown } };
    // Requests of the hub's own (they carry a method) share the id space with nothing of the client's.
    if (m.id === undefined || this.#asked.size === 0 || 'method' in message) return message;
    const asked = this.#asked.get(m.id);
    if (asked === undefined) return message;
    this.#asked.delete(m.id);
    if (m.result !== undefined) {
      if (asked.method === 'initialize' && this.#initialized === null && this.#modern === null) this.#initialized = String(m.result.protocolVersion ?? 'a 2025 version').slice(0, 40);
      else if (asked.claims !== undefined && this.#modern === null && this.#initialized === null) this.#modern = asked.claims;
      return message;
    }
    // The SDK pins a 2026-07-28 connection when it hands such a request to its server, so a failed one (an
    // unknown tool, a bad cursor) pins it as an answered one does; only its own opening refusals (a malformed
    // envelope, an unsupported revision) come before that and pin nothing.
    if (asked.claims !== undefined && this.#modern === null && this.#initialized === null && m.error !== undefined && !isOpeningRefusal(m.error)) this.#modern = asked.claims;
    const told = m.error ? this.#explain(asked.method, m.error.code, asked.enveloped, asked.revision) : null;
    return told === null ? message : ({ ...m, error: { ...m.error, message: told } } as JSONRPCMessage);
  }

  #explain(method: string, code: number, enveloped: boolean, revision: string | undefined): string | null {
    // A request's envelope naming a revision the hub does not speak (whatever the method, initialize included).
    if (code === UNSUPPORTED_PROTOCOL_VERSION && revision !== undefined && revision !== '2026-07-28') return unsupportedRevision(revision);
    if (code === METHOD_NOT_FOUND && MODERN_ONLY.has(method) && !enveloped && this.#initialized === null) {
      // Sent without the envelope, it was read as 2025 (as every request without one is): "send server/discover
      // first" would tell a client that did just that to do it again.
      return `Method not found: ${method} is MCP 2026-07-28, and this request has no 2026-07-28 _meta envelope, so it was read as a 2025 request (where ${method} does not exist). Every 2026-07-28 request, ${method} included, carries the envelope: _meta with ${VERSION_KEY} = "2026-07-28" and io.modelcontextprotocol/clientCapabilities. Send it again with one.`;
    }
    if (code === METHOD_NOT_FOUND && MODERN_ONLY.has(method)) {
      const began = this.#initialized === null ? 'began in a 2025 version of MCP (its first request had no 2026-07-28 _meta envelope)' : `was initialized with MCP ${this.#initialized}`;
      return `Method not found: ${method} is MCP 2026-07-28, and this connection ${began}. One connection speaks one protocol version: to use 2026-07-28, open a new connection and send server/discover or a request with the 2026-07-28 _meta envelope first.`;
    }
    if (code === METHOD_NOT_FOUND && method === 'initialize' && enveloped) {
      // The envelope made it a 2026-07-28 request (and the connection one of that revision, as the SDK pins it).
      return removedIn2026(method, 'this request speaks (it carries the 2026-07-28 _meta envelope), and so does this connection from now on');
    }
    if (code === METHOD_NOT_FOUND && this.#initialized === null) {
      const told = removedIn2026(method, 'this connection speaks (a request with the 2026-07-28 _meta envelope came first)');
      if (told !== null) return told;
    }
    if (code === UNSUPPORTED_PROTOCOL_VERSION && method === 'initialize' && this.#initialized === null) return modernInitialize(this.#modern ?? '2026-07-28');
    return null;
  }
}

function modernInitialize(revision: string): string {
  return `Unsupported protocol version on this connection: it already speaks MCP ${revision} (a request with its _meta envelope came first), and initialize belongs to the 2025 versions. One connection speaks one protocol version: to use a 2025 version, open a new connection and send initialize first.`;
}

/** The SDK's refusal of a request it reads no era from: a malformed envelope, or a revision it does not serve. */
function isOpeningRefusal(error: { code: number; data?: unknown }): boolean {
  if (error.code === UNSUPPORTED_PROTOCOL_VERSION) return true;
  return error.code === INVALID_PARAMS && typeof error.data === 'object' && error.data !== null && 'envelope' in error.data;
}

/** What is wrong with a 2026-07-28 request's `_meta` envelope (a required key missing, a key of the wrong type), as HTTP says it; null when nothing is. */
function envelopeRefusal(method: string, params: unknown): EraRefusal | null {
  const read = classifyInboundRequest({ httpMethod: 'POST', body: { jsonrpc: '2.0', id: 0, method, params } });
  if (read.kind !== 'reject' || read.rung !== 'envelope') return null;
  return { code: read.code, message: read.message, ...(read.data === undefined ? {} : { data: read.data as Record<string, unknown> }) };
}

/** The revision a request's 2026-07-28 `_meta` envelope claims, if it has one. */
function claimedRevision(params: unknown): string | undefined {
  const meta = (params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const version = meta?.[VERSION_KEY];
  return typeof version === 'string' ? version.slice(0, 40) : undefined;
}
