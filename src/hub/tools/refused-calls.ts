/**
 * Calls the SDK refuses before any tool body runs — an unknown tool, arguments that fail the tool's
 * schema — still end in a CallRecord (status, audit, metrics), as every other call does: a client probing
 * for tools or feeding malformed arguments is exactly what an audit log is for.
 */
import { ProtocolError, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { wentThroughRunTool, type ToolEnv } from './tool-runtime.js';

type Handler = (request: unknown, ctx: ServerContext) => Promise<Record<string, unknown>>;

/** Longest tool name kept in a record: the name is the client's, and may be anything. */
const MAX_TOOL_NAME = 128;

/** Wraps the SDK's `tools/call` handler of `server` (call after registering every tool). */
export function recordRefusedCalls(server: McpServer, env: ToolEnv): void {
  const inner = server.server as unknown as {
    _getRequestHandler(method: string): Handler | undefined;
    removeRequestHandler(method: string): void;
  };
  const sdkHandler = inner._getRequestHandler('tools/call');
  if (!sdkHandler) throw new Error('recordRefusedCalls: the server has no tools/call handler (register tools first)');
  inner.removeRequestHandler('tools/call');
  server.server.setRequestHandler('tools/call', async (request, ctx) => {
    const name = String(request.params.name).slice(0, MAX_TOOL_NAME);
    const args = (request.params.arguments ?? {}) as Record<string, unknown>;
    const record = (code: string) => env.pipeline.recordRefused(env.session, name, String(ctx.mcpReq.id), code, args);
    let result: Record<string, unknown>;
    try {
      result = await sdkHandler({ method: 'tools/call', params: request.params }, ctx);
    } catch (err) {
      if (!wentThroughRunTool(ctx)) record(err instanceof ProtocolError && /not found|disabled/.test(err.message) ? 'UNKNOWN_TOOL' : 'INVALID_ARGUMENTS');
      throw err;
    }
    if (result.isError === true && !wentThroughRunTool(ctx)) {
      record('INVALID_ARGUMENTS');
      return { ...result, _meta: { ...(result._meta as object | undefined), 'dev.snowmux/error': { code: 'INVALID_ARGUMENTS' } } } as never;
    }
    return result as never;
  });
}
