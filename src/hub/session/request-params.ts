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

export const INVALID_PARAMS = -32602;

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
 * MCP method or snowmux tool takes more; a message under the line limit holding 580,000 members kept the
 * hub's only thread busy for 5 s in the schema checks that follow (every other editor waited), before any
 * rate limit applied. Counted with an early stop, without recursion (deep nesting is the other attack).
 */
export const MAX_PARAM_VALUES = 50_000;
export const MAX_PARAM_DEPTH = 64;

/** Whether `value` (a request's params, a response's result) holds more than MAX_PARAM_VALUES values or nests deeper than MAX_PARAM_DEPTH. */
export function oversizedValue(root: unknown): 'values' | 'depth' | null {
  if (root === null || typeof root !== 'object') return null;
  let values = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++values > MAX_PARAM_VALUES) return 'values';
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_PARAM_DEPTH) return 'depth';
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return null;
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
