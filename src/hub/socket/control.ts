/**
 * The control protocol on the hub socket (after a `control` hello): one JSON request per line,
 * `{ "id": 1, "op": "status" }` → `{ "id": 1, "ok": true, "result": … }`. Used by `snowmux status`,
 * `snowmux stop` and `snowmux hub --replace`; `{ "op": "disconnect", "session": "<id or prefix>" }` drops a
 * session's link (its running calls are cancelled; the editor's shim reconnects with a fresh session).
 */
import type { Duplex } from 'node:stream';
import { isSnowmuxError } from '../../errors.js';
import { LineDecoder, encodeLine } from '../../wire/framing.js';
import type { Logger } from '../observe/logger.js';

export interface ControlRequest {
  id: number | string;
  op: keyof ControlHandlers;
  /** For `disconnect`: a session id, or an unambiguous prefix of one (as `snowmux status` shows). */
  session?: unknown;
  /** For `prepare-replace`: how long the new hub has to say it is ready before it gives up (ms). */
  readyWithinMs?: unknown;
}

export interface ControlHandlers {
  status(): unknown;
  stop(): unknown;
  replace(): unknown;
  /** A hub about to replace this one: serve on until it says `replace` (ready) or `hand-back` (failed), or its link closes. */
  'prepare-replace'(req: Partial<ControlRequest>): unknown;
  /** The hub that was replacing this one failed to start: take the socket path back and serve on. */
  'hand-back'(): unknown;
  disconnect(req: Partial<ControlRequest>): unknown;
  reload(): unknown;
  /** `snowmux keys revoke|rotate` changed keys.json: what a key holds open is checked again now, not within 5 s. */
  'keys-changed'(): unknown;
}

/** The longest control request read; a longer one is answered BAD_REQUEST. */
const MAX_CONTROL_LINE_BYTES = 64 * 1024;

/** Answers a control link may leave unread before it is read no further (see handleControl). */
export const MAX_UNREAD_OUTPUT_BYTES = 1024 * 1024;

export function handleControl(socket: Duplex, initial: Buffer, handlers: ControlHandlers, logger: Logger): void {
  const decoder = new LineDecoder(MAX_CONTROL_LINE_BYTES);
  const onLine = (line: Buffer) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    // `null`, an array or a number parse too: without this they threw here, and the requests after them in
    // the same read went unanswered.
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      socket.write(encodeLine({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'Control requests are JSON objects, one per line.' } }));
      return;
    }
    const req = parsed as Partial<ControlRequest>;
    const id = typeof req.id === 'string' || typeof req.id === 'number' ? req.id : null;
    const op = req.op;
    if (typeof op !== 'string' || !Object.hasOwn(handlers, op)) {
      const shown = JSON.stringify(typeof op === 'string' ? op.slice(0, 80) : (op ?? null)).slice(0, 100);
      socket.write(encodeLine({ id, ok: false, error: { code: 'UNKNOWN_OP', message: `Unknown control operation ${shown}. Known: ${Object.keys(handlers).join(', ')}.` } }));
      return;
    }
    try {
      const result = handlers[op as keyof ControlHandlers](req);
      logger.info({ op }, 'control request');
      socket.write(encodeLine({ id, ok: true, result }));
    } catch (err) {
      socket.write(encodeLine({ id, ok: false, error: { code: isSnowmuxError(err) ? err.code : 'CONTROL_FAILED', message: (err as Error).message } }));
    }
  };
  // Answers wait for the client to read them: past MAX_UNREAD_OUTPUT_BYTES the link stops reading (the
  // client's own writes then wait in its kernel buffers) and the requests already read wait here, at most one
  // read's worth, until the output drains. Without this a client that sent status requests and never read
  // the answers grew the hub by gigabytes.
  const queue: (Buffer | { tooLong: number; id: string | number | null })[] = [];
  let waitingForDrain = false;
  const work = () => {
    while (queue.length > 0) {
      if (socket.writableLength >= MAX_UNREAD_OUTPUT_BYTES) {
        if (!waitingForDrain) {
          waitingForDrain = true;
          socket.pause();
          socket.once('drain', () => {
            waitingForDrain = false;
            work();
          });
        }
        return;
      }
      const next = queue.shift()!;
      if (Buffer.isBuffer(next)) onLine(next);
      else socket.write(encodeLine({ id: next.id, ok: false, error: { code: 'BAD_REQUEST', message: `Control request of ${next.tooLong} bytes is longer than the ${MAX_CONTROL_LINE_BYTES}-byte limit and was dropped; control requests are short JSON objects, one per line.` } }));
    }
    socket.resume();
  };
  const onData = (chunk: Buffer) => {
    decoder.push(chunk, (ev) => {
      // A request too long to read is answered too (under its id when it had one): dropped without a word,
      // its client waited for ever.
      queue.push(ev.kind === 'line' ? ev.line : { tooLong: ev.bytes, id: ev.id });
    });
    work();
  };
  socket.on('data', onData);
  socket.on('end', () => socket.end());
  if (initial.length > 0) onData(initial);
}
