/**
 * What every tool call goes through: admission (role, tool policy, rate limit, quota), the session's
 * governed warehouse, a per-call abort signal (client cancel, disconnect, timeout), progress
 * notifications when the client asked for them, and one place that turns failures into `isError` tool
 * results that say what to do next. Every call ends in exactly one CallRecord (status, audit, metrics).
 */
import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import { SnowmuxError, errorMessage } from '../../errors.js';
import { DEFAULT_HUB_SETTINGS } from '../config/config-schema.js';
import { newCallMeter, type CallMeter } from '../governance/call-meter.js';
import { REFUSAL_CODES, type Governance } from '../governance/governance.js';
import type { Logger } from '../observe/logger.js';
import type { EffectiveRole } from '../policy/policy.js';
import type { CallRecord, CallSink } from '../observe/call-record.js';
import type { TeamTool } from './team-tools.js';
import type { Session } from '../session/session.js';

export type { CallRecord, CallSink };
import type { WarehouseProvider } from '../warehouse/warehouse-registry.js';
import type { CallContext, QueryProgress, Warehouse } from '../warehouse/types.js';

export type { WarehouseProvider } from '../warehouse/warehouse-registry.js';

export interface HubLimits {
  /** Default row cap when a call gives no limit. */
  defaultMaxRows: number;
  /** No call may ask for more rows than this. */
  maxRowsCeiling: number;
  maxResultBytes: number;
  callTimeoutMs: number;
}

/** The hub settings' defaults (declared once, in the config schema), plus the row ceiling. */
export const DEFAULT_LIMITS: HubLimits = {
  defaultMaxRows: DEFAULT_HUB_SETTINGS.maxRows,
  maxRowsCeiling: 10_000,
  maxResultBytes: DEFAULT_HUB_SETTINGS.maxResultBytes,
  callTimeoutMs: DEFAULT_HUB_SETTINGS.callTimeoutMs,
};

export interface ToolEnv {
  session: Session;
  /** Tools defined in config.toml ([tools.<name>]), already checked. */
  teamTools?: readonly TeamTool[];
  warehouses: WarehouseProvider;
  governance: Governance;
  limits: HubLimits;
  logger: Logger;
  sink: CallSink;
}

/** What a tool body gets for one call. */
export interface ToolCall {
  /** The warehouse with this call's rules applied (object policy, queue, breaker, retries, accounting). */
  warehouse: Warehouse;
  role: EffectiveRole;
  ctx: CallContext;
  logger: Logger;
  /** The row cap for this call: the asked limit within the hub's and the role's caps. */
  rowCap(asked: number | undefined): number;
  /** Records the SQL this call runs (for status and audit). */
  noteSql(sql: string): void;
}

export function toolError(err: unknown): CallToolResult {
  const code = err instanceof SnowmuxError ? err.code : 'INTERNAL_ERROR';
  const message = err instanceof SnowmuxError ? err.message : `Unexpected error: ${errorMessage(err)}. This is a snowmux bug; the hub log has details.`;
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    _meta: { 'dev.snowmux/error': { code } },
  };
}

/** Requests that reached a tool body through runTool (the rest were refused by the SDK before it). */
const reachedRunTool = new WeakSet<object>();

/** Whether this request's call went through runTool (and so has its CallRecord already). */
export function wentThroughRunTool(mcp: ServerContext): boolean {
  return reachedRunTool.has(mcp.mcpReq);
}

/** The one way a CallRecord is made: who called (from the session), plus what happened. */
function callRecord(session: Session, tool: string, requestId: string, happened: Omit<CallRecord, 'at' | 'sessionId' | 'identity' | 'client' | 'clientInfo' | 'tool' | 'requestId'>): CallRecord {
  return {
    at: new Date().toISOString(),
    sessionId: session.id,
    identity: session.facts.identity.name,
    client: session.clientLabel,
    clientInfo: session.client ?? { name: 'unknown', version: '' },
    tool,
    requestId,
    ...happened,
  };
}

/** The CallRecord of a call refused before any tool body ran (unknown tool, invalid arguments). */
export function refusedCallRecord(session: Session, tool: string, requestId: string, errorCode: string, args: Record<string, unknown>): CallRecord {
  return callRecord(session, tool, requestId, {
    outcome: 'refused',
    errorCode,
    ms: 0,
    queueWaitMs: 0,
    runMs: 0,
    rows: null,
    bytes: 0,
    queryId: null,
    sql: null,
    request: args,
    profile: null,
  });
}

export async function runTool(
  env: ToolEnv,
  tool: string,
  mcp: ServerContext,
  args: Record<string, unknown>,
  body: (call: ToolCall) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const { session, limits } = env;
  reachedRunTool.add(mcp.mcpReq);
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
  const meter: CallMeter = newCallMeter();
  let sql: string | null = null;
  let outcome: CallRecord['outcome'] = 'ok';
  let errorCode: string | null = null;
  try {
    const role = await env.governance.admit(session, tool);
    const shared = await env.warehouses.forSession(session, role.profile);
    const warehouse = env.governance.govern(shared, session, role, meter);
    const ctx: CallContext = {
      signal: controller.signal,
      tag: { sessionId: session.id, requestId, client: session.clientLabel, tool },
      timeoutMs: limits.callTimeoutMs,
      role: role.snowflakeRole,
      warehouse: role.warehouse,
      onProgress: progressReporter(mcp),
    };
    // hub.max_rows is the default and, for roles without their own max_rows, the ceiling (security-model.md).
    const rowCap = (asked: number | undefined) => Math.min(asked ?? limits.defaultMaxRows, limits.maxRowsCeiling, role.maxRows ?? limits.defaultMaxRows);
    const result = await body({ warehouse, role, ctx, logger, rowCap, noteSql: (s) => (sql = s) });
    if (result.isError) {
      errorCode = ((result._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code) ?? 'TOOL_ERROR';
      outcome = REFUSAL_CODES.has(errorCode) ? 'refused' : 'error';
    }
    return result;
  } catch (err) {
    // When the call was aborted (cancel, disconnect, timeout), that reason explains the failure best.
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    const effective = reason instanceof SnowmuxError ? reason : err;
    errorCode = effective instanceof SnowmuxError ? effective.code : 'INTERNAL_ERROR';
    outcome = errorCode === 'QUERY_CANCELLED' ? 'cancelled' : REFUSAL_CODES.has(errorCode) ? 'refused' : 'error';
    if (errorCode === 'INTERNAL_ERROR') logger.error({ err }, 'tool failed unexpectedly');
    else logger.info({ code: errorCode, msg: errorMessage(effective) }, 'tool call failed');
    return toolError(effective);
  } finally {
    clearTimeout(timer);
    mcp.mcpReq.signal.removeEventListener('abort', onClientAbort);
    session.endCall(requestId, outcome === 'error');
    await env.governance.settle(session, meter, sql !== null && outcome === 'ok');
    const ms = performance.now() - started;
    logger.debug({ outcome, ms: Math.round(ms * 1000) / 1000 }, 'tool call done');
    env.sink.record(callRecord(session, tool, requestId, {
      outcome,
      errorCode,
      ms,
      queueWaitMs: meter.queueWaitMs,
      runMs: meter.runMs,
      rows: meter.rows,
      bytes: meter.bytes,
      queryId: meter.queryId ?? null,
      sql,
      request: sql === null ? args : undefined,
      profile: meter.profile ?? null,
    }));
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
