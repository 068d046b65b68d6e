/**
 * The JSON-RPC id of a message whose line was too long to keep, read from the first and last bytes the
 * line decoder kept of it (`LineEvent` 'oversize'), so the one request it belonged to can be answered with
 * an error instead of being left hanging. Only an id that is certainly the message's own is returned: a
 * top-level `"id"` among the first keys (`{"jsonrpc":"2.0","id":7,…`, as clients write requests) or as the
 * last key (`…,"id":7}`, as the SDKs write responses). Anything else — nested, cut off, escaped — is
 * undefined, and the owner falls back to id null or a log line.
 */

type Id = string | number;

const VALUE = String.raw`(-?\d+|"(?:[^"\\\n]|\\.){0,200}")`;
/** `{` then only "jsonrpc"/"method" string members, then "id". */
const AT_START = new RegExp(String.raw`^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"(?:[^"\\]|\\.)*"\s*,)*\s*"id"\s*:\s*${VALUE}\s*[,}]`);
/** `"id"` as the last member of the top-level object: its value is followed only by the closing brace. */
const AT_END = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${VALUE}\s*\}\s*$`);

function parseId(text: string | undefined): Id | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v)) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function cutLineId(head: Buffer, tail: Buffer): Id | undefined {
  return parseId(AT_START.exec(head.toString('utf8'))?.[1]) ?? parseId(AT_END.exec(tail.toString('utf8'))?.[1]);
}
