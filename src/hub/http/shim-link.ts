/**
 * A /shim WebSocket as the Duplex the hub reads and writes, the same for both HTTP engines (node:http's ws
 * and uWebSockets.js), so a link closes the same way whichever serves it: the hub ending a link with an
 * error (no hello in time, no pong, a client that does not read its answers) closes it with 1008 and that
 * error's text, a message over MAX_SHIM_FRAME_BYTES with 1009 and why, an engine's own bound with 1008 and
 * why. (node:http's link was ws's own stream, which terminated the socket: 1006, no close frame.)
 */
import { Duplex } from 'node:stream';

export const MAX_SHIM_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * What an engine takes in one message before it drops the connection itself (no close frame): a little more
 * than MAX_SHIM_FRAME_BYTES, so a message just over the bound is refused by the link, saying why.
 */
export const ENGINE_MAX_PAYLOAD_BYTES = MAX_SHIM_FRAME_BYTES + 1024 * 1024;

/** The close codes a link uses (RFC 6455 §7.4.1): a policy the hub enforces, a message too big. */
const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;

export const OVERSIZED_REASON = `A WebSocket message over ${MAX_SHIM_FRAME_BYTES} bytes: the hub takes at most that much at once.`;

/** An engine's WebSocket, as the link needs it. */
export interface ShimSocket {
  /** Sends one binary message; `done` once the engine took it (an error if the socket is closed). */
  send(chunk: Buffer, done: (err?: Error | null) => void): void;
  /** Starts the close handshake: a close frame with the code and reason (none: a bare close frame). */
  close(code?: number, reason?: string): void;
  /** Stops reading the peer while the hub is behind; absent where the engine cannot (uWebSockets.js). */
  pause?(): void;
  resume?(): void;
}

export interface ShimLink {
  /** What the hub reads and writes. */
  readonly link: Duplex;
  /** Whether the link is closed (by either side). */
  readonly closed: boolean;
  /** A message from the shim: refused (1009 and why) over MAX_SHIM_FRAME_BYTES, else handed to the hub. */
  received(message: Buffer): void;
  /** The engine's own bound: closes with 1008 and `reason`, and ends the hub's side at once. */
  cut(reason: string): void;
  /** The WebSocket closed (the shim went, or the handshake ended): the hub's session ends at once. */
  socketClosed(): void;
}

export function bridgeShimLink(socket: ShimSocket): ShimLink {
  let closed = false;
  const closeWith = (code?: number, reason?: string): void => {
    if (closed) return;
    closed = true;
    socket.close(code, reason === undefined ? undefined : closeReason(reason));
  };
  const link = new Duplex({
    read() {
      socket.resume?.();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (closed) return callback(new Error('the link is closed'));
      socket.send(chunk, callback);
    },
    final(callback) {
      closeWith();
      callback();
    },
    destroy(err, callback) {
      // The hub ends a link with an error saying why: the shim is told in the close frame.
      if (err) closeWith(CLOSE_POLICY, err.message);
      else closeWith();
      callback(err);
    },
  });
  link.on('error', () => {});
  return {
    link,
    get closed() {
      return closed;
    },
    received(message) {
      if (closed) return;
      if (message.length > MAX_SHIM_FRAME_BYTES) {
        closeWith(CLOSE_TOO_BIG, OVERSIZED_REASON);
        link.destroy();
        return;
      }
      if (!link.push(message)) socket.pause?.();
    },
    cut(reason) {
      closeWith(CLOSE_POLICY, reason);
      link.destroy();
    },
    socketClosed() {
      closed = true;
      link.push(null);
      link.destroy();
    },
  };
}

/** A WebSocket close frame's reason holds at most 123 bytes. */
function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123 ? text : `${bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '')}…`;
}
