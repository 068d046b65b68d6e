/**
 * Calls the SDK refuses before any tool body runs — an unknown tool, arguments that fail the tool's
 * schema — still end in a CallRecord (status, audit, metrics), as every other call does: a client probing
 * for tools or feeding malformed arguments is exactly what an audit log is for.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';
import { shownName } from '../../shown-text.js';
import { wrapSdkHandler } from './sdk-handler.js';
import { wentThroughRunTool, type ToolEnv } from './tool-runtime.js';


/** Longest tool name kept in a record: the name is the client's, and may be anything. */
const MAX_TOOL_NAME = 128;
/**
 * The SDK's answer to a tool it does not have ("Tool X not found", the name as sent, of any length) says
 * neither what to do nor, safely, which name: the same -32602 with both.
 */
function unknownToolError(name: string): ProtocolError {
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Unknown tool ${shownName(name)}: this session is offered no tool by that name. Call tools/list for the tools it offers (names are case-sensitive).`,
    // The stable code every other snowmux error carries (in a tool result's _meta; a protocol error's data).
    { code: 'UNKNOWN_TOOL', retryable: false },
  );
}

/** Wraps the SDK's `tools/call` handler of `server` (call after registering every tool). */
export function recordRefusedCalls(server: McpServer, env: ToolEnv): void {
  const wrapped = wrapSdkHandler(server, 'tools/call', (sdkHandler) => async (request, ctx) => {
    const name = String(request.params.name).slice(0, MAX_TOOL_NAME);
    const args = (request.params.arguments ?? {}) as Record<string, unknown>;
    const record = (code: string) => env.pipeline.recordRefused(env.session, name, String(ctx.mcpReq.id), code, args);
    let result: Record<string, unknown>;
    try {
      result = await sdkHandler({ method: 'tools/call', params: request.params }, ctx);
    } catch (err) {
      if (wentThroughRunTool(ctx)) throw err;
      const unknown = err instanceof ProtocolError && /not found|disabled/.test(err.message);
      await record(unknown ? 'UNKNOWN_TOOL' : 'INVALID_ARGUMENTS');
      throw unknown ? unknownToolError(String(request.params.name)) : err;
    }
    if (result.isError === true && !wentThroughRunTool(ctx)) {
      await record('INVALID_ARGUMENTS');
      return { ...result, _meta: { ...(result._meta as object | undefined), 'dev.snowmux/error': { code: 'INVALID_ARGUMENTS', retryable: false } } };
    }
    return result;
  });
  if (!wrapped) throw new Error('recordRefusedCalls: the server has no tools/call handler (register tools first)');
}
