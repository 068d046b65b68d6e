/**
 * The SDK answers a prompt or resource it does not have with a bare "Prompt X not found" / "Resource not
 * found: X" / "Resource URI X is invalid", with the client's text whole (any length, control and bidi
 * characters raw) in the message and in `data`. As for an unknown tool (tools/refused-calls.ts), the client
 * gets the same -32602 saying, safely, which name and where to find the ones that exist, and `data` holds
 * the name cut short.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { shownName } from '../tools/refused-calls.js';

type Handler = (request: { method: string; params: Record<string, unknown> }, ctx: ServerContext) => Promise<Record<string, unknown>>;

/** Longest part of the client's name kept in `data`. */
const MAX_DATA_CHARS = 200;

const NEXT_STEP: Record<'prompts/get' | 'resources/read', { param: 'name' | 'uri'; says: { said: RegExp; hint: (shown: string) => string }[] }> = {
  'prompts/get': {
    param: 'name',
    says: [{ said: /^Prompt .* not found$/s, hint: (shown) => `Unknown prompt ${shown}: this server offers no prompt by that name. Call prompts/list for the prompts it offers (names are case-sensitive).` }],
  },
  'resources/read': {
    param: 'uri',
    says: [
      { said: /^Resource not found: /, hint: (shown) => `Unknown resource ${shown}: this server serves no resource at that URI. Call resources/list and resources/templates/list for what it serves.` },
      { said: /^Resource URI .* is invalid$/s, hint: (shown) => `Resource URI ${shown} is not a valid URI. Call resources/list and resources/templates/list for what this server serves.` },
    ],
  },
};

/** Wraps the SDK's prompts/get and resources/read handlers of `server` (call after registering them). */
export function explainNotFound(server: McpServer): void {
  const inner = server.server as unknown as {
    _getRequestHandler(method: string): Handler | undefined;
    removeRequestHandler(method: string): void;
  };
  for (const [method, { param, says }] of Object.entries(NEXT_STEP)) {
    const sdkHandler = inner._getRequestHandler(method);
    if (!sdkHandler) continue; // nothing of that kind registered: the fallback handler answers
    inner.removeRequestHandler(method);
    server.server.setRequestHandler(method as 'prompts/get', async (request, ctx) => {
      try {
        return (await sdkHandler(request as never, ctx)) as never;
      } catch (err) {
        const known = err instanceof ProtocolError && err.code === ProtocolErrorCode.InvalidParams ? says.find((s) => s.said.test(err.message)) : undefined;
        if (!known) throw err;
        const asked = String((request.params as Record<string, unknown>)[param]);
        const data = typeof (err as ProtocolError).data === 'object' && (err as ProtocolError).data !== null ? { ...((err as ProtocolError).data as Record<string, unknown>) } : {};
        if (param in data) data[param] = asked.length > MAX_DATA_CHARS ? `${asked.slice(0, MAX_DATA_CHARS)}…` : asked;
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, known.hint(shownName(asked)), Object.keys(data).length > 0 ? data : undefined);
      }
    });
  }
}
