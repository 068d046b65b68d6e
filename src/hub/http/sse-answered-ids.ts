/**
 * Which requests an SSE chunk of the SDK's Streamable HTTP transport answers, so that a stream cut for its
 * unread answers tells its client only of the requests whose answers it did not get (http-face.ts).
 */
import { fastResponseId } from '../../wire/response-id.js';

const DATA_FIELD = Buffer.from('data:');

/**
 * The ids of the JSON-RPC responses an SSE chunk of the SDK's carries (each `data:` line one message). A
 * result's id is read from its line's end (fastResponseId): parsing a result of megabytes again to learn
 * its id cost as much as the SDK's own serialising; errors and other shapes, small, are parsed.
 */
export function answeredIds(chunk: Uint8Array): (string | number)[] {
  const ids: (string | number)[] = [];
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let at = 0; at < bytes.length; ) {
    const newline = bytes.indexOf(0x0a, at);
    const end = newline === -1 ? bytes.length : newline;
    if (bytes.compare(DATA_FIELD, 0, DATA_FIELD.length, at, Math.min(end, at + DATA_FIELD.length)) === 0) {
      const from = at + DATA_FIELD.length + (bytes[at + DATA_FIELD.length] === 0x20 ? 1 : 0);
      const line = bytes.subarray(from, end);
      const fast = fastResponseId(line);
      if (fast !== undefined) ids.push(fast);
      else ids.push(...parsedResponseIds(line));
    }
    at = end + 1;
  }
  return ids;
}

function parsedResponseIds(line: Buffer): (string | number)[] {
  let message: unknown;
  try {
    message = JSON.parse(line.toString('utf8'));
  } catch {
    return [];
  }
  const ids: (string | number)[] = [];
  for (const m of Array.isArray(message) ? message : [message]) {
    const response = m as { id?: unknown; method?: unknown } | null;
    if (response === null || typeof response !== 'object' || response.method !== undefined) continue;
    if (typeof response.id === 'string' || typeof response.id === 'number') ids.push(response.id);
  }
  return ids;
}
