/**
 * The params of a client request, checked against the MCP schema of its method before the SDK sees it.
 *
 * The SDK answers a spec method with badly typed params (`resources/read` with a numeric `uri`,
 * `completion/complete` with an unknown ref type) with −32603 Internal error and a raw zod dump, as if the
 * hub had failed; JSON-RPC's answer is −32602 Invalid params, and the client needs to know which field.
 * Methods the schema does not know are left to the SDK (it answers −32601). A tool's own arguments are
 * the tool's to check (they are a record here), so that answer stays a tool result.
 */
import { specTypeSchemas } from '@modelcontextprotocol/server';
import { ByteSkipper, closingQuote } from '../../wire/byte-search.js';

export const INVALID_PARAMS = -32602;
const INVALID_REQUEST = -32600;

interface Issue {
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[] | undefined;
}
interface Validator {
  '~standard': { validate(value: unknown): { issues?: readonly Issue[] | undefined } | Promise<unknown> };
}

/** Request schemas by method, read from the SDK's own spec schemas (each has one literal method). */
const byMethod: Map<string, Validator> = (() => {
  const map = new Map<string, Validator>();
  for (const [name, schema] of Object.entries(specTypeSchemas as Record<string, unknown>)) {
    if (!name.endsWith('Request')) continue;
    const method = (schema as { shape?: { method?: { def?: { values?: unknown[] } } } }).shape?.method?.def?.values;
    if (method?.length === 1 && typeof method[0] === 'string') map.set(method[0], schema as Validator);
  }
  return map;
})();

/**
 * The list methods, which this server answers whole: it never gives a `nextCursor`, so any cursor a client
 * sends is one it did not give. The spec's answer is −32602; served anyway, the client would get the first
 * page again as if it were the next (a client paging on would see every item twice).
 */
const WHOLE_LISTS = new Map([
  ['tools/list', 'tools'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resource templates'],
  ['prompts/list', 'prompts'],
]);

/**
 * Values (objects, arrays, strings, numbers…) one request's params may hold, and how deep they may nest. No
 * MCP method or snowmux tool takes more (a tool's arguments are a handful of values; a Cortex Search filter
 * of a few thousand terms fits); a message under the line limit holding 580,000 members kept the hub's only
 * thread busy for 5 s in the schema checks that follow (every other editor waited), before any rate limit
 * applied. Everything a request's params then go through (the SDK's schema, the tool's, the audit record's
 * redaction) costs ~7 µs a value: at 50,000, one client sending such calls one after another held the
 * thread ~350 ms each; at 10,000, ~70 ms. Counted with an early stop, without recursion (deep nesting is
 * the other attack).
 */
export const MAX_PARAM_VALUES = 10_000;
export const MAX_PARAM_DEPTH = 64;
/** The members of a request around its params (jsonrpc, id, method) and the message itself. */
const ENVELOPE_VALUES = 4;

/**
 * Whether `value` (a request's params, a response's result) holds more than MAX_PARAM_VALUES values or nests
 * deeper than MAX_PARAM_DEPTH. Each value is counted as it is reached, so a refusal costs MAX_PARAM_VALUES
 * steps whatever the input holds: copying an object's values before counting them (Object.values) spent
 * a second on 500,000 members, all of them past the bound.
 */
export function oversizedValue(root: unknown): 'values' | 'depth' | null {
  if (root === null || typeof root !== 'object') return null;
  let values = 1;
  const stack: [object, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > MAX_PARAM_DEPTH) return 'depth';
    if (Array.isArray(value)) {
      for (const child of value as unknown[]) {
        if (++values > MAX_PARAM_VALUES) return 'values';
        if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
      }
      continue;
    }
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (++values > MAX_PARAM_VALUES) return 'values';
      const child = (value as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return null;
}

/** Which bound JSON text passed (see jsonShapeOver), and in which member of the top-level object. */
export interface TextOverBound {
  bound: 'values' | 'depth';
  /** The top-level member the bound was passed in (`params`, `result`, `error`), when the text is one object. */
  member: string | undefined;
}

/**
 * Whether JSON text holds more than `maxValues` values (objects, arrays, strings, numbers, literals; member
 * names are not values) or nests deeper than `maxDepth`, read from its bytes before it is parsed: JSON.parse
 * of a message of 500,000 members took 0.8 s of the hub's only thread, and the counts after it another
 * second. The scan stops where a bound is passed, so a refusal costs the bound, not the message. Text that
 * is not JSON is left to the parser (which says what is wrong with it): the count is only exact for valid JSON.
 */
export function jsonShapeOver(text: Uint8Array, maxValues: number, maxDepth: number): TextOverBound | null {
  // A Buffer's indexOf is a native search (a plain Uint8Array's is not): the same bytes, not a copy.
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let values = 0;
  /** Whether the next string is a member name (after `{` or a `,` in an object), not a value. */
  let nameNext = false;
  /** For each open container: whether it is an object. */
  const inObject: boolean[] = [];
  let member: string | undefined;
  /** Where a literal ends, in valid JSON: the next of these (blanks before it change nothing). */
  let literalEnds: ByteSkipper | undefined;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x3a /* : */) continue;
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      nameNext = false;
      inObject.pop();
      continue;
    }
    if (c === 0x2c /* , */) {
      nameNext = inObject[inObject.length - 1] === true;
      continue;
    }
    if (c === 0x22 /* " */) {
      // Skipped natively to its closing quote (a long string is most of a large message's bytes).
      const close = closingQuote(bytes, i + 1);
      const end = close < 0 ? n : close;
      if (nameNext) {
        nameNext = false;
        // The top-level member names are short (params, result, error): a longer one is none of them.
        if (inObject.length === 1 && inObject[0] === true) member = end - i <= 17 ? bytes.toString('latin1', i + 1, end) : undefined;
        i = end;
        continue;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      inObject.push(c === 0x7b);
      nameNext = c === 0x7b;
      if (inObject.length > maxDepth) return { bound: 'depth', member };
    } else {
      // A number or a literal: on to what ends it.
      literalEnds ??= new ByteSkipper(bytes, LITERAL_ENDS);
      i = literalEnds.find(i + 1) - 1;
    }
    if (++values > maxValues) return { bound: 'values', member };
  }
  return null;
}

/** What ends a number or literal in valid JSON, blanks aside. */
const LITERAL_ENDS = [0x2c, 0x7d, 0x5d];

/** The refusal of a message refused unparsed by messageTextProblem: a JSON-RPC error code and its text. */
export interface TextProblem {
  code: number;
  message: string;
  /** The message is a response (a result or error for the hub): it is answered under no id. */
  response: boolean;
}

/**
 * What is wrong with a client message's text that no method or answer takes (see jsonShapeOver), or null:
 * the same bounds as oversizedValue, with room for each message's envelope (jsonrpc, id, method and the
 * message itself), `messages` of them in a batch.
 */
export function messageTextProblem(text: Uint8Array, messages = 1): TextProblem | null {
  const over = jsonShapeOver(text, MAX_PARAM_VALUES + ENVELOPE_VALUES * messages + (messages > 1 ? 1 : 0), MAX_PARAM_DEPTH + (messages > 1 ? 2 : 1));
  if (over === null) return null;
  if (over.member === 'result' || over.member === 'error') {
    const what = over.bound === 'depth' ? `nests deeper than ${MAX_PARAM_DEPTH} levels; no answer to the hub needs that. Flatten the response` : `holds more than ${MAX_PARAM_VALUES.toLocaleString('en-US')} values; no answer to the hub needs that many. Send a smaller response`;
    return { code: INVALID_REQUEST, message: `Invalid Request: the response's ${over.member} ${what}`, response: true };
  }
  const what = over.bound === 'depth' ? `params nest deeper than ${MAX_PARAM_DEPTH} levels; no method takes that. Flatten the request` : `the message holds more than ${MAX_PARAM_VALUES.toLocaleString('en-US')} values, and no method takes that many; it was not read. Send less per request`;
  return { code: INVALID_PARAMS, message: `Invalid params: ${what}`, response: false };
}

/** What is wrong with a request's params, in one line naming the field; null when its method's schema accepts them. */
export function requestParamsProblem(method: string, params: unknown): string | null {
  const oversized = oversizedValue(params);
  if (oversized === 'values') return `Invalid params for ${method.slice(0, 100)}: params hold more than ${MAX_PARAM_VALUES.toLocaleString('en-US')} values; no method takes that many. Send less per request`;
  if (oversized === 'depth') return `Invalid params for ${method.slice(0, 100)}: params nest deeper than ${MAX_PARAM_DEPTH} levels; no method takes that. Flatten the request`;
  const schema = byMethod.get(method);
  if (!schema) return null;
  const outcome = schema['~standard'].validate(params === undefined ? { method } : { method, params });
  if (outcome instanceof Promise) return null;
  if (!outcome.issues || outcome.issues.length === 0) return unknownCursor(method, params);
  const issue = deepest(outcome.issues[0]!, []);
  const path = issue.path.map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.');
  return `Invalid params for ${method}: ${path ? `${path}: ` : ''}${issue.message}`.slice(0, 500);
}

function unknownCursor(method: string, params: unknown): string | null {
  const what = WHOLE_LISTS.get(method);
  const cursor = (params as { cursor?: unknown } | undefined)?.cursor;
  if (what === undefined || cursor === undefined) return null;
  const shown = JSON.stringify(cursor);
  return `Invalid params for ${method}: params.cursor: ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown} is not a cursor this server gave (it returns all ${what} in one answer, without nextCursor); send the request without a cursor`;
}

type Key = PropertyKey | { key: PropertyKey };
type UnionIssue = Issue & { errors?: (Issue & { values?: unknown[] })[][] };

/**
 * A union's issue holds one list of issues per branch, with paths below the union's. When every branch
 * stopped at the same literal field, their values are merged ("expected one of …"); else the branch whose
 * literals matched says what is wrong.
 */
function deepest(issue: UnionIssue, above: readonly Key[]): { path: readonly Key[]; message: string } {
  const path = [...above, ...(issue.path ?? [])];
  const branches = issue.errors?.filter((b) => b.length > 0);
  if (!branches || branches.length === 0) return { path, message: issue.message };
  const firsts = branches.map((b) => b[0]!);
  const samePath = (i: Issue) => JSON.stringify(i.path ?? []) === JSON.stringify(firsts[0]!.path ?? []);
  if (firsts.every((i) => Array.isArray(i.values) && samePath(i))) {
    const values = firsts.flatMap((i) => i.values!).map((v) => JSON.stringify(v));
    return { path: [...path, ...(firsts[0]!.path ?? [])], message: `Invalid input: expected one of ${values.join('|')}` };
  }
  // A branch whose literal (its `type`, its `method`) matched is the one the client meant.
  const matched = branches.filter((b) => !b.some((i) => Array.isArray(i.values)));
  const best = [...(matched.length > 0 ? matched : branches)].sort((a, b) => b.length - a.length)[0]![0]!;
  return deepest(best, path);
}
