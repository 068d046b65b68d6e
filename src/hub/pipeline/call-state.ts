/**
 * One tool call as it passes the call stages: who called (the session), what they asked, the role and
 * target the stages resolve, what it used (the meter), and how it ended. Stages read and fill it; the
 * audit stage turns it into the call's one CallRecord.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { SnowmuxError, callerErrorMessage, errorMessage } from '../../errors.js';
import { hideLocalPaths } from '../../shown-text.js';
import { REFUSAL_CODES, RETRYABLE_CODES, USER_CODES } from '../../error-codes.js';
import { sqlCredentialHider } from '../guard/sql/sql-credentials.js';
import { AUDIT_MAX_TEXT_CHARS } from '../audit/audit-redact.js';
import { newCallMeter } from '../governance/call-meter.js';
import type { Governance } from '../governance/governance.js';
import type { KnownSecrets } from '../audit/known-secrets.js';
import type { CallRecord, CallSink } from '../observe/call-record.js';
import type { Logger } from '../observe/logger.js';
import type { CallTracer, TraceCarrier } from '../observe/tracing.js';
import type { EffectiveRole } from '../policy/policy.js';
import type { Session } from '../session/session.js';
import type { WarehouseProvider, WarehouseTarget } from '../warehouse/warehouse-registry.js';
import type { CallContext, QueryProgress, Warehouse } from '../warehouse/types.js';
import type { HubLimits } from './hub-limits.js';
import type { Stage } from './stage.js';
import type { StatementTrace } from './statement.js';

/** What the pipeline serves calls with: shared by every session of the hub. */
export interface PipelineEnv {
  warehouses: WarehouseProvider;
  governance: Governance;
  limits: HubLimits;
  logger: Logger;
  sink: CallSink;
  /** Told when a call starts, before any rule runs (the hub's /events `call_start`); must not throw. */
  onCallStart?: ((call: { at: string; sessionId: string; requestId: string; tool: string }) => void) | undefined;
  /** Present when call spans are exported (hub.otel_endpoint); the trace stage uses it. */
  tracer?: CallTracer | undefined;
  /**
   * The hub's known secrets: a failure's message is scrubbed of them before its caller sees it (an
   * unexpected error or a driver's text may quote a password, a passphrase, a token, a proxy's credentials).
   */
  secrets?: KnownSecrets | undefined;
}

/** What a caller's request brings, whatever the transport: its id, its cancellation, where progress goes. */
export interface CallRequest {
  id: string;
  /** Aborted when the client cancels the request or goes away. */
  signal: AbortSignal;
  onProgress?: ((progress: QueryProgress) => void) | undefined;
  /** W3C trace context the request carried (MCP: `params._meta.traceparent` and `tracestate`). */
  trace?: TraceCarrier | undefined;
}

/** What a tool body gets for one call. */
export interface ToolCall {
  /** The warehouse with this call's rules applied: every method passes the statement stages. */
  warehouse: Warehouse;
  /**
   * The same warehouse, every rule applied, for the tool's own look-ups: what it lists or describes to find its
   * answer (the schemas it walks), not the answer itself. Their rows and bytes are not counted as returned to the
   * caller (status, audit, metrics, the `rows`/`bytes` quota): the answer is, by `warehouse` or `countReturned`.
   */
  lookups: Warehouse;
  /** Counts rows the tool returns that it built from look-ups rather than got from `warehouse` as they are. */
  countReturned(rows: readonly unknown[]): void;
  role: EffectiveRole;
  ctx: CallContext;
  logger: Logger;
  /** The row cap for this call: the asked limit within the hub's and the role's caps. */
  rowCap(asked: number | undefined): number;
  /** Records the SQL this call runs (for status and audit). */
  noteSql(sql: string): void;
}

export class CallState {
  readonly started = performance.now();
  readonly meter = newCallMeter();
  /** Made on first use: a pino child (with its bindings redacted) per call costs ~10 µs most calls never need. */
  private childLogger: Logger | undefined;
  /** Set by tool-policy. */
  role: EffectiveRole | undefined;
  /** Set by tool-policy: the rules `role` was taken under (Governance.policyGeneration). */
  rulesGeneration = 0;
  /** Set by the target stage. */
  target: WarehouseTarget | undefined;
  sql: string | null = null;
  /** Set by the trace stage: the call's trace id (the incoming one, or its span's), for QUERY_TAG and audit. */
  traceId: string | undefined;
  /** Set by the trace stage when spans are exported: the call's span, parent of the stage spans. */
  trace: StatementTrace | undefined;
  outcome: CallRecord['outcome'] = 'ok';
  errorCode: string | null = null;
  /** Set by fail() on a refusal: the rule that refused the call (CallRecord.rule). */
  rule: string | undefined;
  /** Set by fail(): the failure says a write may have been applied (CallRecord.mayHaveRun). */
  mayHaveRun = false;

  constructor(
    readonly env: PipelineEnv,
    readonly session: Session,
    readonly tool: string,
    readonly request: CallRequest,
    readonly args: Record<string, unknown>,
    /** This call's own abort: the client's cancel, the session's end, or the hub's call timeout. */
    readonly controller: AbortController,
  ) {}

  get logger(): Logger {
    this.childLogger ??= this.env.logger.child({ session: this.session.id, request: this.request.id, tool: this.tool });
    return this.childLogger;
  }

  get identity(): string {
    return this.session.facts.identity.name;
  }

  /** Notes how a returned result ended (a tool body reports refusals and errors as isError results). */
  settleResult(result: CallToolResult): CallToolResult {
    if (result.isError) {
      this.errorCode = ((result._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code) ?? 'TOOL_ERROR';
      this.outcome = REFUSAL_CODES.has(this.errorCode) ? 'refused' : 'error';
    }
    return result;
  }

  /**
   * The failure of a call whose write may already have reached the warehouse: a cancel stops what has not
   * completed, and whether it came in time is not always known (a statement that finished first is answered
   * as run; one the warehouse never confirmed either way ends here). "Cancelled" alone had the editor run the
   * write again. Whatever ended the call counts: the client's cancel, a timeout, its session closing (a shim
   * that went away) or the hub stopping.
   */
  private afterWrite(reason: SnowmuxError, aborted: boolean): SnowmuxError {
    if (this.meter.writeSent !== true || reason.details?.['mayHaveRun'] === true) return reason;
    if (!aborted && reason.code !== 'QUERY_TIMEOUT' && reason.code !== 'QUERY_CANCELLED') return reason;
    const id = this.meter.queryId === undefined ? '' : ` (query id ${this.meter.queryId})`;
    return new SnowmuxError(
      reason.code,
      `${reason.message} The statement may change data: a change that completed before the cancel reached the warehouse stays. Check query_history${id} before running it again.`,
      { cause: reason, details: { ...(reason.details ?? {}), mayHaveRun: true } },
    );
  }

  /** What takes the credentials typed into this call's SQL out of a text, when it has any. */
  private credentialHider(): ((text: string) => string) | undefined {
    // Read as far as the audit keeps the statement (its bound): a failing 4 MiB statement is not lexed whole.
    return this.sql === null ? undefined : sqlCredentialHider(this.sql, AUDIT_MAX_TEXT_CHARS);
  }

  /** Turns a failure into the tool result the client sees, and notes how the call ended. */
  fail(err: unknown): CallToolResult {
    // When the call was aborted (cancel, disconnect, timeout), that reason explains the failure best.
    const aborted = this.controller.signal.aborted;
    const reason: unknown = aborted ? this.controller.signal.reason : undefined;
    // Except the backend's own account of a call that never ran because its slots are held by statements that
    // outlived their cancel (details.heldSlots): the call's timeout alone would say to narrow the query.
    const explains = err instanceof SnowmuxError && typeof err.details?.['heldSlots'] === 'number' && reason instanceof SnowmuxError && reason.code === err.code;
    const chosen = explains ? err : reason instanceof SnowmuxError ? reason : err;
    const effective = chosen instanceof SnowmuxError ? this.afterWrite(chosen, aborted) : chosen;
    this.errorCode = effective instanceof SnowmuxError ? effective.code : 'INTERNAL_ERROR';
    this.mayHaveRun = effective instanceof SnowmuxError && effective.details?.['mayHaveRun'] === true;
    this.outcome = this.errorCode === 'QUERY_CANCELLED' ? 'cancelled' : REFUSAL_CODES.has(this.errorCode) ? 'refused' : 'error';
    this.rule = this.outcome === 'refused' && effective instanceof SnowmuxError ? refusingRule(effective) : undefined;
    // `reason`, not `msg`: pino's own message key would be written twice, and readers keep the last one.
    // The warehouse or the hub failing (a refused login, an unreachable account) is the operator's to see at
    // warn; a caller's own mistake or refusal stays at info.
    // An engine's error may quote the statement (DuckDB's "LINE 1: …", a value it could not convert): the
    // credentials the audit hides from this call's SQL are hidden from its log line too.
    const hide = this.credentialHider();
    if (this.errorCode === 'INTERNAL_ERROR') this.logger.error({ err: hide === undefined || !(err instanceof Error) ? err : { type: err.name, message: hide(err.message), stack: hide(err.stack ?? '') } }, 'tool failed unexpectedly');
    else if (USER_CODES.has(this.errorCode) || this.outcome !== 'error') this.logger.info({ code: this.errorCode, reason: hide ? hide(errorMessage(effective)) : errorMessage(effective) }, 'tool call failed');
    else this.logger.warn({ code: this.errorCode, reason: hide ? hide(errorMessage(effective)) : errorMessage(effective) }, 'tool call failed');
    return toolError(effective, (text) => this.shownToCaller(text));
  }

  /** A text the hub wrote for this call's caller: the hub's secrets out, unless the caller's own SQL or arguments hold them. */
  private shownToCaller(text: string): string {
    const secrets = this.env.secrets;
    if (secrets === undefined) return text;
    let wrote = this.sql ?? '';
    try {
      wrote += JSON.stringify(this.args) ?? '';
    } catch {
      /* arguments that do not serialise (a cycle, a bigint): nothing of them is kept */
    }
    return secrets.forCallerText(this.session.id, text, wrote);
  }
}

export type CallStage = Stage<CallState, CallToolResult>;

/** The rule a refusal names in its details: `rule` (policy, SQL, scan, rate, quota), else the queue's `reason`. */
function refusingRule(err: SnowmuxError): string | undefined {
  const rule = err.details?.['rule'] ?? err.details?.['reason'];
  return typeof rule === 'string' && rule !== '' ? rule : undefined;
}

/** Failures a prompt retry may fix, as the registry marks them (transient infrastructure failures). */

/**
 * The tool result of a failure. Beside the code, `_meta["dev.snowmux/error"]` says, for a client to act on
 * without reading the message: `retryAfterMs` when the refusal gave a time (rate limit, full queue, quota,
 * open breaker), and `retryable` — whether the same call, sent again (after that time), may succeed: a transient
 * infrastructure failure or a refusal with a time, never a statement that may have changed data. Nothing else
 * of the error's details goes there: they may quote the caller's data or SQL.
 */
export function toolError(err: unknown, shown: (text: string) => string = (text) => text): CallToolResult {
  const code = err instanceof SnowmuxError ? err.code : 'INTERNAL_ERROR';
  // A failure of the hub's own files is told without them (callerMessage): the log above has the operator's copy.
  const message = shown(err instanceof SnowmuxError ? callerErrorMessage(err) : `Unexpected error: ${hideLocalPaths(errorMessage(err))}. This is a snowmux bug; the hub log has details.`);
  const details = err instanceof SnowmuxError ? err.details : undefined;
  const after = details?.['retryAfterMs'];
  const retryAfterMs = typeof after === 'number' && Number.isFinite(after) ? Math.max(0, Math.ceil(after)) : undefined;
  const retryable = details?.['mayHaveRun'] !== true && (retryAfterMs !== undefined || RETRYABLE_CODES.has(code));
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    _meta: { 'dev.snowmux/error': { code, retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) } },
  };
}
