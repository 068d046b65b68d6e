/**
 * Calls the SDK refuses before any tool body runs — an unknown tool, arguments that fail the tool's
 * schema — still end in a CallRecord (status, audit, metrics), as every other call does: a client probing
 * for tools or feeding malformed arguments is exactly what an audit log is for.
 */
import { ProtocolError, ProtocolErrorCode, type McpServer } from '@modelcontextprotocol/server';
import { shownName } from '../../shown-text.js';
import { registeredInputSchema, wrapSdkHandler } from './sdk-handler.js';
import { argumentProblem, parametersOf } from './tool-arguments.js';
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

/**
 * `_meta` is MCP's reserved key, and some clients put theirs (a trace, a progress token) inside the
 * arguments rather than beside them. No tool takes one, and the strict input schemas would refuse the call
 * for it: it is left out, as it was before the schemas were strict.
 */
function withoutReservedArguments(params: Record<string, unknown>): Record<string, unknown> {
  const args = params.arguments;
  if (typeof args !== 'object' || args === null || Array.isArray(args) || !Object.hasOwn(args, '_meta')) return params;
  const { _meta: _reserved, ...rest } = args as Record<string, unknown>;
  return { ...params, arguments: rest };
}

/** What the arguments add to or leave out of the tool's parameters (tool-arguments.ts), when that is what failed. */
function argumentsProblem(server: McpServer, tool: string, args: unknown): string | undefined {
  const schema = registeredInputSchema(server, tool);
  const parameters = parametersOf(schema);
  if (parameters === undefined || typeof args !== 'object' || args === null || Array.isArray(args)) return undefined;
  return argumentProblem(tool, args as Record<string, unknown>, parameters, schema);
}

/** Wraps the SDK's `tools/call` handler of `server` (call after registering every tool). */
export function recordRefusedCalls(server: McpServer, env: ToolEnv): void {
  const wrapped = wrapSdkHandler(server, 'tools/call', (sdkHandler) => async (request, ctx) => {
    const name = String(request.params.name).slice(0, MAX_TOOL_NAME);
    const params = withoutReservedArguments(request.params);
    const args = (params.arguments ?? {}) as Record<string, unknown>;
    const record = (code: string) => env.pipeline.recordRefused(env.session, name, String(ctx.mcpReq.id), code, args, code === 'UNKNOWN_TOOL');
    let result: Record<string, unknown>;
    try {
      result = await sdkHandler({ method: 'tools/call', params }, ctx);
    } catch (err) {
      if (wentThroughRunTool(ctx)) throw err;
      const unknown = err instanceof ProtocolError && /not found|disabled/.test(err.message);
      await record(unknown ? 'UNKNOWN_TOOL' : 'INVALID_ARGUMENTS');
      throw unknown ? unknownToolError(String(request.params.name)) : err;
    }
    if (result.isError === true && !wentThroughRunTool(ctx)) {
      await record('INVALID_ARGUMENTS');
      const problem = argumentsProblem(server, name, args);
      if (problem !== undefined) result = { ...result, content: [{ type: 'text', text: problem }] };
      return { ...result, _meta: { ...(result._meta as object | undefined), 'dev.snowmux/error': { code: 'INVALID_ARGUMENTS', retryable: false } } };
    }
    return result;
  });
  if (!wrapped) throw new Error('recordRefusedCalls: the server has no tools/call handler (register tools first)');
}

/**
 * A tools/call the session's transport refused before the MCP server saw it (LineTransport's
 * onToolCallRefused: the session's bounds, a malformed request): recorded as every other refused call is
 * (audit, status, metrics), with what the request named. Such a call left no trace at all: a client
 * flooding a session past its bounds, or probing with malformed calls, was answered but never audited.
 * The promise is the audit log's back-pressure (the transport reads on once it settles).
 */
export function recordTransportRefusal(env: ToolEnv, id: string | number, params: unknown, code: 'SESSION_BUSY' | 'INVALID_REQUEST' | 'ANSWER_NOT_READ'): Promise<void> | void {
  const p = typeof params === 'object' && params !== null && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  const name = typeof p.name === 'string' ? p.name.slice(0, MAX_TOOL_NAME) : '';
  const given = p.arguments;
  const args = typeof given === 'object' && given !== null && !Array.isArray(given) ? (given as Record<string, unknown>) : given === undefined ? {} : { arguments: given };
  return env.pipeline.recordRefused(env.session, name, String(id), code, args, true);
}
