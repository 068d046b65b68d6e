/**
 * The one place the hub reaches into the SDK's request handlers: to put its own handler in front of the
 * SDK's for one method (a cached listing, a refusal recorded, a clearer error), calling the SDK's inside,
 * and to read back a tool's input schema for that clearer error. The SDK has no public way to wrap a
 * handler it registered itself, nor to read a registered tool.
 */
import type { McpServer, ServerContext } from '@modelcontextprotocol/server';

/** The SDK's own handler for a method, as the wrapper calls it. */
export type SdkHandler<Result = Record<string, unknown>> = (request: { method: string; params: Record<string, unknown> }, ctx: ServerContext) => Promise<Result>;

/**
 * Replaces the handler of `method` with the one `wrap` makes from the SDK's. False when the SDK has none
 * (nothing of that kind was registered): nothing is replaced.
 */
export function wrapSdkHandler<Result = Record<string, unknown>>(server: McpServer, method: string, wrap: (sdk: SdkHandler<Result>) => SdkHandler): boolean {
  const inner = server.server as unknown as {
    _getRequestHandler(method: string): SdkHandler<Result> | undefined;
    removeRequestHandler(method: string): void;
  };
  const sdk = inner._getRequestHandler(method);
  if (!sdk) return false;
  inner.removeRequestHandler(method);
  const wrapped = wrap(sdk);
  server.server.setRequestHandler(method as 'tools/call', (request, ctx) => wrapped(request as never, ctx) as never);
  return true;
}

/** The input schema `server` registered for tool `name` (the zod object its arguments are checked against). */
export function registeredInputSchema(server: McpServer, name: string): unknown {
  const tools = (server as unknown as { _registeredTools?: Record<string, { inputSchema?: unknown } | undefined> })._registeredTools;
  return tools !== undefined && Object.hasOwn(tools, name) ? tools[name]?.inputSchema : undefined;
}
