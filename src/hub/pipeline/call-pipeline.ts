/**
 * The one path every tool call takes, whatever the transport (Unix socket, stdio, HTTP, WebSocket) and
 * whatever the tool (built-in, team-defined, resource reads, completions). The call stages run in order,
 * cheapest refusals first; the tool body then gets only a governed warehouse, whose every operation
 * passes the statement stages (statement-pipeline.ts). Nothing reaches a warehouse, or logs in, before
 * the rules that need none have passed. Adding a rule is one stage file and one entry in a list.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { SnowmuxError } from '../../errors.js';
import type { Session } from '../session/session.js';
import type { ResultForm } from '../config/config-schema.js';
import { meterRows, openingMs } from '../governance/call-meter.js';
import type { CallContext } from '../warehouse/types.js';
import { argumentsBesideSql, callRecord, recordedRequestId, refusedCallRecord } from './call-record.js';
import type { EffectiveRole } from '../policy/policy.js';
import { CallState, type CallRequest, type CallStage, type PipelineEnv, type ToolCall } from './call-state.js';
import { GovernedWarehouse } from './governed-warehouse.js';
import type { StatementScope } from './statement.js';
import { runStages } from './stage.js';
import { audit } from './stages/audit.js';
import { auditGate } from './stages/audit-gate.js';
import { quota } from './stages/quota.js';
import { refuseBeyondRoom } from './stages/quota-charge.js';
import { rateLimit } from './stages/rate-limit.js';
import { settingsNotice } from './stages/settings-notice.js';
import { target } from './stages/target.js';
import { toolPolicy } from './stages/tool-policy.js';
import { trace } from './stages/trace.js';
import { usage } from './stages/usage.js';
import { timerDelay } from '../../timer-delay.js';
import { withResultForm } from '../policy/role.js';
import { readsStructuredContent } from '../session/protocol-revision.js';
import { shownText } from '../../shown-text.js';

/**
 * In order. trace, audit and usage wrap the rest and act on the way back (the call's span around all of
 * it; every call one record; what it used counted); audit-gate refuses every call while the audit log
 * cannot record them (on_failure = "refuse"); the rules follow cheapest first: the role and tool
 * (no I/O), the rate limit, the quota, and the target (resolved from settings, no login); the settings
 * notice, on the way back, tells a session what of its own settings the target could not use.
 */
export const CALL_STAGES: readonly CallStage[] = [trace, audit, auditGate, usage, toolPolicy, rateLimit, quota, target, settingsNotice];

export type ToolBody = (call: ToolCall) => Promise<CallToolResult>;

export class CallPipeline {
  constructor(readonly env: PipelineEnv) {}

  async run(session: Session, tool: string, asked: CallRequest, args: Record<string, unknown>, body: ToolBody): Promise<CallToolResult> {
    const { limits } = this.env;
    // Everything downstream (record, log lines, span, QUERY_TAG, /events) sees the bounded id.
    const request: CallRequest = { ...asked, id: recordedRequestId(asked.id) };
    const controller = session.beginCall(tool);
    this.env.onCallStart?.({ at: new Date().toISOString(), sessionId: session.id, requestId: request.id, tool });
    const call = new CallState(this.env, session, tool, request, args, controller);
    const deadline = new CallDeadline(limits.callTimeoutMs, () => controller.abort(callTimeoutError(limits.callTimeoutMs, call.meter.queueWaitMs, openingMs(call.meter))));
    const onClientAbort = () => controller.abort(clientCancel(request.signal.reason));
    if (request.signal.aborted) onClientAbort();
    else request.signal.addEventListener('abort', onClientAbort, { once: true });

    try {
      return await runStages(CALL_STAGES, call, () => runBody(call, body, deadline));
    } finally {
      deadline.clear();
      request.signal.removeEventListener('abort', onClientAbort);
      session.endCall(controller, call.outcome === 'error');
    }
  }

  /** How this session's role takes its results (its tool listing depends on it: see tools/text-only-tools.ts). */
  resultFormOf(session: Session): ResultForm {
    return this.env.governance.roleFor(session).resultForm ?? 'both';
  }

  /**
   * The engine this session's calls would run on now (its role's profile, else its own settings), resolved
   * from settings alone (no login); undefined when they do not resolve (the call reports why).
   */
  engineOf(session: Session): 'duckdb' | 'snowflake' | undefined {
    try {
      return this.env.warehouses.targetFor(session, this.env.governance.roleFor(session)).kind;
    } catch {
      return undefined;
    }
  }

  /** Which tools this session's role grants now (its listing offers only those; a call is judged again by tool-policy). */
  toolGrantsOf(session: Session): (tool: string) => boolean {
    const role = this.env.governance.roleFor(session);
    return (tool) => role.toolAllowed(tool);
  }

  /** Whether this session's role may write now (`write = true`): its listing says so (tool annotations). */
  writesOf(session: Session): boolean {
    return this.env.governance.roleFor(session).write;
  }

  /** How long the hub shares a metadata answer (limits.metadata_cache_ttl): what a client may cache one for. */
  metadataCacheTtlMs(): number {
    return this.env.governance.metadataCacheTtlMs;
  }

  /**
   * Records a call refused before any stage could run (the SDK found no such tool, or bad arguments); a
   * promise when the answer should wait for the record (the audit log's back-pressure).
   */
  /** `toolUnverified`: `tool` is the client's text, not a tool the session offers (see CallRecord). */
  recordRefused(session: Session, tool: string, requestId: string, errorCode: string, args: Record<string, unknown>, toolUnverified = false): Promise<void> | void {
    return this.env.sink.record(refusedCallRecord(session, tool, recordedRequestId(requestId), errorCode, args, toolUnverified));
  }

}

/**
 * A client's cancel as its call reports it (the hub.log line of a cancelled call is where an operator learns why
 * it ended): the reason its notifications/cancelled gave (the shim says why it cancels: its editor went away, a
 * subscription moved, an HTTP client hung up), or its connection closing under it. The reason is the client's
 * text: escaped and cut short. Without one, every cancel read "The client cancelled the call." alike.
 */
function clientCancel(reason: unknown): SnowmuxError {
  if (typeof reason === 'string' && reason.trim() !== '') return new SnowmuxError('QUERY_CANCELLED', `The client cancelled the call (its reason: "${shownText(reason, 200)}").`);
  // The MCP SDK aborts a request whose transport closed with an SdkError of this code.
  if (reason instanceof Error && (reason as { code?: unknown }).code === 'CONNECTION_CLOSED') return new SnowmuxError('QUERY_CANCELLED', "The call was cancelled: its client's connection closed.");
  return new SnowmuxError('QUERY_CANCELLED', 'The client cancelled the call.');
}

/**
 * The hub's call timeout, said from where the time went. Most of it spent waiting in the hub's queue for a slot:
 * the hub was busy, and narrowing the query would not help (the queue gives no slot to a statement with less
 * than its floor left, stages/queue.ts, so such a call ran, briefly). Otherwise not "narrow the query" alone
 * either: a warehouse that hangs or fails slowly ends here too, with nothing run.
 */
function callTimeoutError(timeoutMs: number, queueWaitMs: number, openedMs = 0): SnowmuxError {
  const waited = Math.round(queueWaitMs);
  const opened = Math.round(openedMs);
  if (opened * 2 >= timeoutMs) {
    // Opening the warehouse (the embedded database's open, a Snowflake login) took most of it: not the query's doing.
    return new SnowmuxError(
      'QUERY_TIMEOUT',
      `The call did not finish within the hub's ${timeoutMs} ms call timeout and was cancelled: ${opened} ms of it went to opening the warehouse (the embedded database's open, or a Snowflake login), not to the query. ` +
        `Call again once it is open (\`snowmux status\` shows whether it is); if opening is always this slow, \`snowmux doctor --login\` shows why (the account, the network, a proxy), or an operator can raise hub.call_timeout_ms.`,
      { details: { openMs: opened } },
    );
  }
  if (waited * 2 >= timeoutMs) {
    return new SnowmuxError(
      'QUERY_TIMEOUT',
      `The call did not finish within the hub's ${timeoutMs} ms call timeout and was cancelled (in the warehouse too): ${waited} ms of it went to waiting in the hub's queue for a slot, leaving ${Math.max(0, timeoutMs - waited)} ms to run. The hub was busy; the query itself may be fine. ` +
        `Retry in a while; if calls often wait this long, an operator can raise limits.max_concurrent_queries (if the warehouse can run more at once) or hub.call_timeout_ms.`,
      { details: { queueWaitMs: waited } },
    );
  }
  const queued = waited > 0 ? ` (${waited} ms of it waiting in the hub's queue)` : '';
  return new SnowmuxError(
    'QUERY_TIMEOUT',
    `The call did not finish within the hub's ${timeoutMs} ms call timeout${queued} and was cancelled (in the warehouse too, if it had started). \`snowmux status\` shows whether the warehouse answers; if it does, narrow the query or raise hub.call_timeout_ms.`,
  );
}

/**
 * The tool body. When traced, what it does after its last statement came back (turning rows into the
 * result: text table, structured content, truncation) is the call's `shape` span.
 */
async function runBody(call: CallState, body: ToolBody, deadline: CallDeadline): Promise<CallToolResult> {
  const result = await body(toolCallOf(call, deadline));
  const shapedFrom = call.trace?.lastResultAt;
  if (shapedFrom !== undefined) call.trace!.span.child('shape', { 'snowmux.result_is_error': result.isError === true }, shapedFrom).end();
  return result;
}

/** The body's view of the call, once every call stage has passed. */
function toolCallOf(call: CallState, deadline: CallDeadline): ToolCall {
  const { role, target: where } = call;
  if (!role || !where) throw new SnowmuxError('INTERNAL_ERROR', 'A tool body ran before the call stages resolved its role and target.');
  const { limits } = call.env;
  // hub.max_rows is the default and, for roles without their own max_rows, the ceiling (security-model.md).
  const rowCapOf = (r: EffectiveRole, asked: number | undefined) => Math.min(asked ?? limits.defaultMaxRows, limits.maxRowsCeiling, r.maxRows ?? limits.defaultMaxRows);
  const ctx: CallContext = {
    signal: call.controller.signal,
    tag: { sessionId: call.session.id, requestId: call.request.id, client: call.session.clientLabel, tool: call.tool, traceId: call.traceId },
    ...statementTimeout(role, limits.callTimeoutMs),
    role: role.snowflakeRole,
    warehouse: role.warehouse,
    onProgress: call.request.onProgress,
  };
  // A client whose protocol revision has no structured tool results (before 2025-06-18) reads the text
  // alone, whatever its role's result form: its tables carry every cell whole, and its rows are in the
  // text (the form 'structured' would leave it none). The structured content is dropped on the way out
  // (mcp-server.ts). The rules (scope) see the role itself.
  const shaping = readsStructuredContent(call.session.protocolVersion) ? role : withResultForm(role, 'text');
  /** The role rules-current adopted after a reload, and the rules it was judged under: the call's later statements start under it. */
  let adopted: { role: EffectiveRole; generation: number } | undefined;
  const scope: StatementScope = {
    governance: call.env.governance,
    target: where,
    role,
    rules: {
      generation: call.rulesGeneration,
      current: () => call.env.governance.roleFor(call.session),
      tool: call.tool,
      // rules-current judged a statement again under the role as it is now: the rest of the call runs under it
      // (row cap, statement timeout, quota charged and settled, the audit record's role).
      adopt: (now: EffectiveRole, generation: number) => {
        call.role = now;
        adopted = { role: now, generation };
        return { maxRows: rowCapOf(now, limits.maxRowsCeiling), ...statementTimeout(now, limits.callTimeoutMs) };
      },
    },
    identity: call.identity,
    sessionKey: call.session.id,
    meter: call.meter,
    trace: call.trace,
    pauseDeadline: () => deadline.pause(),
    deadline,
  };
  const scopeNow = (): StatementScope => (adopted === undefined ? scope : { ...scope, role: adopted.role, rules: { ...scope.rules!, generation: adopted.generation } });
  // What the audit log keeps before a statement that may change data runs: who, which call, its SQL.
  const announceWrite = async (sql: string): Promise<void> => {
    const sentBefore = call.meter.writeSent;
    call.meter.writeSent = true;
    // Rejects when the write_started record could not be written: the statement is then never sent.
    await call.env.sink.recordStarted?.(
      callRecord(call.session, call.tool, call.request.id, {
        outcome: 'ok', // not read for a started record: it has none yet
        errorCode: null,
        ms: performance.now() - call.started,
        queueWaitMs: call.meter.queueWaitMs,
        runMs: 0,
        rows: null,
        bytes: 0,
        queryId: null,
        sql,
        request: argumentsBesideSql(call.args, call.sql),
        profile: where.name,
        role: (call.role ?? role).name,
        ...(call.traceId === undefined ? {} : { traceId: call.traceId }),
      }),
    )?.catch((err: unknown) => {
      call.meter.writeSent = sentBefore;
      throw err;
    });
  };
  return {
    warehouse: new GovernedWarehouse(() => ({ ...scopeNow(), announceWrite })),
    lookups: new GovernedWarehouse(() => ({ ...scopeNow(), metered: false })),
    countReturned: (rows) => {
      // Held to the rows and bytes left like every answer from the warehouse (quota-charge.ts).
      refuseBeyondRoom({ ...scope, role: call.role ?? role }, rows);
      meterRows(call.meter, rows);
    },
    role: shaping,
    ctx,
    get logger() {
      return call.logger;
    },
    rowCap: (asked) => rowCapOf(call.role ?? role, asked),
    noteSql: (s) => (call.sql = s),
  };
}

/** A role's statement timeout applies in the warehouse (both backends cancel the statement at it), within the call's. */
function statementTimeout(role: EffectiveRole, callTimeoutMs: number): { timeoutMs: number; timeoutSetting: string } {
  const byRole = role.statementTimeoutMs !== undefined && role.statementTimeoutMs < callTimeoutMs;
  return byRole ? { timeoutMs: role.statementTimeoutMs!, timeoutSetting: `roles.${role.name}.statement_timeout` } : { timeoutMs: callTimeoutMs, timeoutSetting: 'hub.call_timeout_ms' };
}

/**
 * A call's deadline (hub.call_timeout_ms): time the call spends on its own work. It can be paused while the
 * call waits for the hub's own (the breaker's half-open probe, which the first call after an outage runs):
 * with a slow warehouse that probe took the call's time and ended it in QUERY_TIMEOUT.
 */
class CallDeadline {
  #timer: NodeJS.Timeout | undefined;
  #endsAt: number;
  #left = 0;
  #pauses = 0;
  #over = false;

  constructor(
    readonly totalMs: number,
    private readonly expire: () => void,
  ) {
    this.#endsAt = performance.now() + totalMs;
    this.#arm(totalMs);
  }

  /** What is left of the deadline now (while paused, what was left when it paused). */
  leftMs(): number {
    if (this.#over) return 0;
    return this.#pauses > 0 ? this.#left : Math.max(0, this.#endsAt - performance.now());
  }

  /** Stops the clock; the returned function restarts it with what was left (once every pause has ended). */
  pause(): () => void {
    if (this.#over) return () => {};
    if (this.#pauses++ === 0) {
      this.#left = Math.max(0, this.#endsAt - performance.now());
      clearTimeout(this.#timer);
    }
    let resumed = false;
    return () => {
      if (resumed || this.#over) return;
      resumed = true;
      if (--this.#pauses > 0) return;
      this.#endsAt = performance.now() + this.#left;
      this.#arm(this.#left);
    };
  }

  clear(): void {
    this.#over = true;
    clearTimeout(this.#timer);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#over = true;
      this.expire();
    }, timerDelay(ms));
    this.#timer.unref();
  }
}
