/**
 * The id of a hub line that is a successful JSON-RPC response, read from the line's ends without parsing it.
 *
 * The shim must see every response's id (to keep in-flight requests for a reconnect), and the HTTP face the
 * ids its streams have answered (to tell a cut stream's client which requests lost theirs), but not the
 * result, which can be megabytes: parsing a `tools/list` answer (~25 KB) cost the shim ~100 µs per call, as much as
 * the hub spent producing it. The hub's SDK writes a result as `{"result":…,"jsonrpc":"2.0","id":ID}`. In
 * valid JSON, a line that opens with the member `"result"` and ends with `,"id":ID}` is an object whose
 * last member is `id`: the closing brace can only close the outer object, and the `"` after the comma,
 * unescaped, can only open a key. A later duplicate key is the one JSON.parse keeps too.
 *
 * Returns undefined when the line is not in that shape (errors, requests, notifications, other key orders,
 * ids that are not plain integers or escape-free strings): the caller parses those, which are small or rare.
 */

const RESULT_OPEN = Buffer.from('{"result":');
const ID_MEMBER = Buffer.from(',"id":');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;
/** The longest id text read here: longer ones are parsed (a fast path needs no more). */
const MAX_ID_TEXT = 256;

export function fastResponseId(line: Buffer): string | number | undefined {
  if (line.length < RESULT_OPEN.length + ID_MEMBER.length + 2 || line[line.length - 1] !== CLOSE_BRACE) return undefined;
  if (line.compare(RESULT_OPEN, 0, RESULT_OPEN.length, 0, RESULT_OPEN.length) !== 0) return undefined;
  const from = Math.max(RESULT_OPEN.length, line.length - 1 - MAX_ID_TEXT - ID_MEMBER.length);
  const at = line.lastIndexOf(ID_MEMBER);
  if (at < from) return undefined;
  const start = at + ID_MEMBER.length;
  const end = line.length - 1;
  if (line[start] === QUOTE) {
    if (end - start < 2 || line[end - 1] !== QUOTE) return undefined;
    for (let i = start + 1; i < end - 1; i++) {
      const c = line[i]!;
      if (c === QUOTE || c === BACKSLASH || c < 0x20) return undefined;
    }
    return line.toString('utf8', start + 1, end - 1);
  }
  const text = line.toString('latin1', start, end);
  // Plain integers only: 1.0, 1e3 or -0 are left to JSON.parse, so the key matches what the request's parse gave.
  if (!/^(?:0|-?[1-9][0-9]{0,14})$/.test(text)) return undefined;
  return Number(text);
}
