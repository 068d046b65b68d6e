/**
 * The SDK answers a prompt, resource or resource template it does not have (to read or to complete) with
 * a bare "Prompt X not found" / "Resource not found: X" / "Resource URI X is invalid", the client's text
 * whole (any length, control and bidi characters raw) in the message and in `data`. As for an unknown tool
 * (tools/refused-calls.ts), the client gets the same -32602 saying, safely, which name and where the ones
 * that exist are listed, and `data` holds the name cut short.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';
import { shownName } from '../../shown-text.js';
import { wrapSdkHandler } from '../tools/sdk-handler.js';

/** Longest part of the client's name kept in `data`. */
const MAX_DATA_CHARS = 200;

type Params = Record<string, unknown> & { ref?: { name?: unknown; uri?: unknown } };

interface Explained {
  /** The client's text the SDK's message quotes, and the `data` member holding it, if any. */
  asked: (params: Params) => unknown;
  dataKey?: string;
  /** `internal`: the SDK throws this one as a plain Error, which would reach the client as -32603. */
  says: { said: RegExp; hint: (shown: string, message: string) => string; internal?: boolean }[];
}

const PROMPT_HINT = (shown: string) => `Unknown prompt ${shown}: this server offers no prompt by that name. Call prompts/list for the prompts it offers (names are case-sensitive).`;
/**
 * The SDK's refusal of a prompt's arguments ("Invalid arguments for prompt explore_schema: database: Invalid
 * input: expected string, received undefined, …") said neither what to pass nor where to look: the
 * arguments it found missing or not strings, by name, and the way on. Prompt arguments are strings.
 */
function promptArgumentsHint(shown: string, message: string): string {
  const issues = [...message.matchAll(/(\w+): Invalid input: expected \w+, received (\w+)/g)].map(([, name, received]) => ({ name: name!, missing: received === 'undefined' }));
  const list = (names: string[]) => names.map((n) => `"${n}"`).join(' and ');
  const missing = issues.filter((i) => i.missing).map((i) => i.name);
  const wrong = issues.filter((i) => !i.missing).map((i) => i.name);
  const said = [missing.length > 0 ? `needs ${list(missing)}` : '', wrong.length > 0 ? `takes ${list(wrong)} as text (a string)` : ''].filter(Boolean).join(', and ');
  return `Prompt ${shown} ${said || 'was given arguments it does not take'}: call prompts/get again with its arguments in "arguments", each a string (prompts/list shows every prompt's arguments).`;
}

const RESOURCE_LISTS = 'Call resources/list and resources/templates/list for what this server serves.';

const NEXT_STEP: Record<'prompts/get' | 'resources/read' | 'completion/complete', Explained> = {
  'prompts/get': { asked: (p) => p.name, says: [{ said: /^Prompt .* not found$/s, hint: PROMPT_HINT }, { said: /^Invalid arguments for prompt /, hint: promptArgumentsHint }] },
  'resources/read': {
    asked: (p) => p.uri,
    dataKey: 'uri',
    says: [
      { said: /^Resource not found: /, hint: (shown) => `Unknown resource ${shown}: this server serves no resource at that URI. ${RESOURCE_LISTS}` },
      { said: /^Resource URI .* is invalid$/s, hint: (shown) => `Resource URI ${shown} is not a valid URI. ${RESOURCE_LISTS}` },
      // Matching a URI against a template: a URI past the SDK's length limit is the client's mistake.
      { said: /^URI exceeds maximum length of \d+ characters/, internal: true, hint: (shown) => `Resource URI ${shown} is longer than any this server serves. ${RESOURCE_LISTS}` },
    ],
  },
  'completion/complete': {
    asked: (p) => p.ref?.name ?? p.ref?.uri,
    says: [
      { said: /^Prompt .* not found$/s, hint: PROMPT_HINT },
      { said: /^Resource template .* not found$/s, hint: (shown) => `Unknown resource template ${shown}: this server has no template with that URI. ${RESOURCE_LISTS}` },
    ],
  },
};

/** Wraps the SDK's prompts/get, resources/read and completion/complete handlers of `server` (call after registering them). */
export function explainNotFound(server: McpServer): void {
  for (const [method, { asked: askedOf, dataKey, says }] of Object.entries(NEXT_STEP) as [string, Explained][]) {
    // A method with nothing of its kind registered has no SDK handler: the fallback handler answers it.
    wrapSdkHandler(server, method, (sdkHandler) => async (request, ctx) => {
      try {
        return await sdkHandler(request, ctx);
      } catch (err) {
        // Each known message comes either as the SDK's -32602 or (internal) as a plain Error.
        const kindOf = (e: Error) => (e instanceof ProtocolError ? (e.code === ProtocolErrorCode.InvalidParams ? 'params' : 'other') : 'plain');
        const known = err instanceof Error ? says.find((s) => kindOf(err) === (s.internal ? 'plain' : 'params') && s.said.test(err.message)) : undefined;
        if (!known) throw err;
        const asked = String(askedOf(request.params as Params));
        const data = typeof (err as ProtocolError).data === 'object' && (err as ProtocolError).data !== null ? { ...((err as ProtocolError).data as Record<string, unknown>) } : {};
        if (dataKey !== undefined && dataKey in data) data[dataKey] = asked.length > MAX_DATA_CHARS ? `${asked.slice(0, MAX_DATA_CHARS)}…` : asked;
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, known.hint(shownName(asked), err instanceof Error ? err.message : ''), Object.keys(data).length > 0 ? data : undefined);
      }
    });
  }
}
