/**
 * How an MCP tool handler enters the call pipeline: the request's id, cancellation and progress token
 * become a CallRequest, and the call runs through hub/pipeline like every other. A tool body gets only
 * the pipeline's ToolCall (a governed warehouse); nothing here reaches a warehouse by another way.
 */
import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import type { CallPipeline, ToolBody } from '../pipeline/call-pipeline.js';
import type { CallRequest } from '../pipeline/call-state.js';
import type { QueryHistory } from '../observe/query-history.js';
import type { HubLimits } from '../pipeline/hub-limits.js';
import type { Session } from '../session/session.js';
import type { QueryProgress } from '../warehouse/types.js';
import { traceCarrierOf } from '../observe/tracing.js';
import type { TeamToolParam } from '../config/config-schema.js';

export type { ToolCall } from '../pipeline/call-state.js';
export { toolError } from '../pipeline/call-state.js';

/** A tool defined in config.toml (`[tools.NAME]`), checked and compiled at start (team-tools.ts). */
export interface TeamTool {
  name: string;
  description: string;
  sql: string;
  params: TeamToolParam[];
}

export interface ToolEnv {
  session: Session;
  pipeline: CallPipeline;
  /** The hub's limits (the same object the pipeline holds): tool schemas and result shapes embed them. */
  limits: HubLimits;
  /** Tools defined in config.toml ([tools.<name>]), already checked. */
  teamTools?: readonly TeamTool[];
  /** Each identity's recent SQL calls, for query_history. */
  history: QueryHistory;
  /** Runs `fn` after every applied reload while the session lasts (new roles may change what it is offered). */
  afterReload?: (fn: () => void) => void;
}

/** Requests that reached a tool body through runTool (the rest were refused by the SDK before it). */
const reachedRunTool = new WeakSet<object>();

/** Whether this request's call went through runTool (and so has its CallRecord already). */
export function wentThroughRunTool(mcp: ServerContext): boolean {
  return reachedRunTool.has(mcp.mcpReq);
}

export async function runTool(env: ToolEnv, tool: string, mcp: ServerContext, args: Record<string, unknown>, body: ToolBody): Promise<CallToolResult> {
  reachedRunTool.add(mcp.mcpReq);
  const answered = { done: false };
  try {
    return await env.pipeline.run(env.session, tool, requestOf(mcp, answered), args, body);
  } finally {
    answered.done = true;
  }
}

function requestOf(mcp: ServerContext, answered: { done: boolean }): CallRequest {
  return { id: String(mcp.mcpReq.id), signal: mcp.mcpReq.signal, onProgress: progressReporter(mcp, answered), trace: traceCarrierOf(mcp.mcpReq._meta) };
}

/**
 * Progress notifications only when the request carried a progressToken; progress strictly increases. None once
 * the call is answered or its client cancelled it: a warehouse's progress timer may outlive the statement (one
 * winding down after its cancel, or one the engine cannot interrupt), and the client was sent progress for a
 * token it had let go of, for as long as that lasted.
 */
function progressReporter(mcp: ServerContext, answered: { done: boolean }): ((p: QueryProgress) => void) | undefined {
  const token = mcp.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  let last = 0;
  return (p) => {
    if (answered.done || mcp.mcpReq.signal.aborted) return;
    const progress = Math.max(last + 1, Math.round(p.elapsedMs));
    last = progress;
    void mcp.mcpReq
      .notify({ method: 'notifications/progress', params: { progressToken: token, progress, message: p.message } })
      .catch(() => {});
  };
}
