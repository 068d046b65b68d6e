/**
 * What every tool call goes through: per-call abort signal (client cancel, disconnect, timeout),
 * progress notifications when the client asked for them, counters, logs, the recent-calls record,
 * and one place that turns failures into `isError` tool results that say what to do next.
 */
import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import { SnowmuxError, errorMessage } from '../../errors.js';
import type { Logger } from '../observe/logger.js';
import type { Session } from '../session/session.js';
import type { CallContext, QueryProgress, Warehouse } from '../warehouse/types.js';

export interface HubLimits {
  /** Default row cap when a call gives no limit. */
  defaultMaxRows: number;
  /** No call may ask for more rows than this. */
  maxRowsCeiling: number;
  maxResultBytes: number;
  callTimeoutMs: number;
}

export const DEFAULT_LIMITS: HubLimits = {
  defaultMaxRows: 200,
  maxRowsCeiling: 10_000,
  maxResultBytes: 1024 * 1024,
  callTimeoutMs: 5 * 60_000,
};

export interface CallRecord {
  at: string;
  sessionId: string;
  client: string;
  tool: string;
  requestId: string;
  outcome: 'ok' | 'error' | 'refused' | 'cancelled';
  errorCode: string | null;
  ms: number;
  rows: number | null;
  queryId: string | null;
  sql: string | null;
}

/** Receives every finished call: status's recent list, and (later) audit and metrics. */
export interface CallSink {
  record(call: CallRecord): void;
}

export interface WarehouseProvider {
  forSession(session: Session): Promise<Warehouse>;
}

export interface ToolEnv {
  session: Session;
  warehouses: WarehouseProvider;
  limits: HubLimits;
  logger: Logger;
  sink: CallSink;
}

/** What a tool body gets for one call. */
export interface ToolCall {
  warehouse: Warehouse;
  ctx: CallContext;
  logger: Logger;
  /** Set by the body so the call record carries them. */
  note(facts: { sql?: string; rows?: number; queryId?: string }): void;
}

/** Codes that mean "the request was refused by policy", not "it failed". */
const REFUSAL_CODES = new Set(['SQL_REFUSED', 'SQL_MULTI_STATEMENT', 'SQL_EMPTY', 'SQL_UNPARSEABLE', 'POLICY_DENIED', 'RATE_LIMITED', 'QUOTA_EXCEEDED', 'HUB_BUSY']);

export function toolError(err: unknown): CallToolResult {
  const code = err instanceof SnowmuxError ? err.code : 'INTERNAL_ERROR';
  const message = err instanceof SnowmuxError ? err.message : `Unexpected error: ${errorMessage(err)}. This is a snowmux bug; the hub log has details.`;
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    _meta: { 'dev.snowmux/error': { code } },
  };
}

export async function runTool(
  env: ToolEnv,
  tool: string,
  mcp: ServerContext,
  body: (call: ToolCall) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const { session, limits } = env;
  const requestId = String(mcp.mcpReq.id);
  const controller = session.beginCall(requestId, tool);
  const timer = setTimeout(() => {
    controller.abort(new SnowmuxError('QUERY_TIMEOUT', `The call exceeded the hub's ${limits.callTimeoutMs} ms call timeout and was cancelled (in the warehouse too). Narrow the query or raise hub.call_timeout_ms.`));
  }, limits.callTimeoutMs);
  timer.unref();
  const onClientAbort = () => controller.abort(new SnowmuxError('QUERY_CANCELLED', 'The client cancelled the call.'));
  if (mcp.mcpReq.signal.aborted) onClientAbort();
  else mcp.mcpReq.signal.addEventListener('abort', onClientAbort, { once: true });

  const logger = env.logger.child({ request: requestId, tool });
  const started = performance.now();
  const facts: { sql?: string; rows?: number; queryId?: string } = {};
  let outcome: CallRecord['outcome'] = 'ok';
  let errorCode: string | null = null;
  try {
    const warehouse = await env.warehouses.forSession(session);
    const ctx: CallContext = {
      signal: controller.signal,
      tag: { sessionId: session.id, requestId, client: session.clientLabel, tool },
      timeoutMs: limits.callTimeoutMs,
      onProgress: progressReporter(mcp),
    };
    const result = await body({ warehouse, ctx, logger, note: (f) => Object.assign(facts, f) });
    if (result.isError) {
      outcome = 'error';
      errorCode = ((result._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code) ?? 'TOOL_ERROR';
      if (REFUSAL_CODES.has(errorCode)) outcome = 'refused';
    }
    return result;
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : undefined;
    const effective = reason instanceof SnowmuxError && !(err instanceof SnowmuxError && err.code !== 'QUERY_CANCELLED') ? reason : err;
    errorCode = effective instanceof SnowmuxError ? effective.code : 'INTERNAL_ERROR';
    outcome = errorCode === 'QUERY_CANCELLED' ? 'cancelled' : REFUSAL_CODES.has(errorCode) ? 'refused' : 'error';
    if (errorCode === 'INTERNAL_ERROR') logger.error({ err }, 'tool failed unexpectedly');
    else logger.info({ code: errorCode, msg: errorMessage(effective) }, 'tool call failed');
    return toolError(effective);
  } finally {
    clearTimeout(timer);
    mcp.mcpReq.signal.removeEventListener('abort', onClientAbort);
    session.endCall(requestId, outcome === 'error');
    const ms = performance.now() - started;
    logger.debug({ outcome, ms: Math.round(ms * 1000) / 1000 }, 'tool call done');
    env.sink.record({
      at: new Date().toISOString(),
      sessionId: session.id,
      client: session.clientLabel,
      tool,
      requestId,
      outcome,
      errorCode,
      ms,
      rows: facts.rows ?? null,
      queryId: facts.queryId ?? null,
      sql: facts.sql ?? null,
    });
  }
}

/** Progress notifications only when the request carried a progressToken; progress strictly increases. */
function progressReporter(mcp: ServerContext): ((p: QueryProgress) => void) | undefined {
  const token = mcp.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  let last = 0;
  return (p) => {
    const progress = Math.max(last + 1, Math.round(p.elapsedMs));
    last = progress;
    void mcp.mcpReq
      .notify({ method: 'notifications/progress', params: { progressToken: token, progress, message: p.message } })
      .catch(() => {});
  };
}
