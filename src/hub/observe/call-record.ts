/**
 * What every finished call leaves behind, and who receives it (status's recent list, audit, metrics).
 * A plain record so the sinks need nothing from the tool layer that produces it.
 */
import type { SnowmuxError } from '../../errors.js';
import type { ClientInfo } from '../session/session.js';

export interface CallRecord {
  at: string;
  sessionId: string;
  identity: string;
  /** The role the call ran under, once tool-policy resolved it (query_history shows a narrow role only its own). */
  role?: string | undefined;
  client: string;
  clientInfo: ClientInfo;
  tool: string;
  requestId: string;
  /**
   * `tool` is the name as the client sent it, of a call refused before the session looked it up (an unknown
   * tool, a request refused by the session's bounds or for its shape): any text, kept in the audit but never a
   * metric label.
   */
  toolUnverified?: true | undefined;
  outcome: 'ok' | 'error' | 'refused' | 'cancelled';
  errorCode: string | null;
  /**
   * A refused call: the rule that refused it, as its error names it ("rule: …": `read-only`, `tools`,
   * `deny "*.*.SUPPLIER"`, `rate`, `queue_full`…), so the audit says why as well as what.
   */
  rule?: string | undefined;
  /**
   * Set on a failed call whose statement may change data and may have been applied: it was cancelled, timed
   * out or lost with its session after reaching the warehouse, and the warehouse never said it did not run.
   * Whoever reads the record checks the query id before running the change again.
   */
  mayHaveRun?: true | undefined;
  ms: number;
  queueWaitMs: number;
  /**
   * The call asked the fair queue for a slot. Unset for a call refused before it (unknown tool, invalid
   * arguments, SQL rules, rate limits) or answered without the warehouse (a metadata cache hit): their 0 ms
   * is no wait, and counted as one it hid the waits of the calls that queued.
   */
  queued?: true | undefined;
  runMs: number;
  rows: number | null;
  bytes: number;
  queryId: string | null;
  sql: string | null;
  /** Set when `sql` was cut to the audit's bound (docs/audit.md, "Size bounds"): the whole text's UTF-8 length and sha256. */
  sqlTruncated?: { bytes: number; sha256: string } | undefined;
  /** The call's arguments: a metadata call's all, a query call's beside its SQL (bind values, database, schema, limit). */
  request: Record<string, unknown> | undefined;
  /** Set when `request` was too large and became `{ truncatedJson }`: its canonical JSON's length and sha256. */
  requestTruncated?: { bytes: number; sha256: string } | undefined;
  profile: string | null;
  /**
   * The call's SQL and request as its own caller may see them (query_history, status in its own scope), when
   * that differs from `sql`/`request`: scrubbed of private keys and of the calling session's own secrets only.
   * `sql`/`request` are also scrubbed of the hub's secrets, and showing a caller that copy of its own text
   * told it which of its strings are someone else's password. Never shown to anyone but the call's identity.
   */
  callerView?: { sql: string | null; sqlTruncated?: CallRecord['sqlTruncated']; request: Record<string, unknown> | undefined; requestTruncated?: CallRecord['requestTruncated'] } | undefined;
  /** The engine's estimate of what the statement would read, when the call asked for one (scan limits, explain_query). */
  scanEstimate?: { bytes?: number | undefined; partitions?: number | undefined; partitionsTotal?: number | undefined; rows?: number | undefined } | undefined;
  /** The call's W3C trace id, when it has one (an incoming traceparent, or the hub's span). */
  traceId?: string | undefined;
  /**
   * When the record was held back (a take-over: the old hub still writes the audit log): the moment the call
   * finished, since the log stamps a record when it writes it.
   */
  heldFrom?: string | undefined;
}

/** A sink that cannot keep its trace of calls now: the error a new call gets, and whether it must be refused. */
export interface SinkTrouble {
  refuse: boolean;
  error: SnowmuxError;
  /** Since when (ISO time), and the failure's code: what an unauthenticated /healthz may tell. */
  since: string;
  code: string;
}

/** Receives every finished call: status's recent list, audit, metrics. */
export interface CallSink {
  /**
   * A promise when the call's answer must wait for this sink (the audit log's back-pressure); a rejection
   * (its error) is answered instead of the call's result (the audit log could not write the call's record).
   */
  record(call: CallRecord): Promise<void> | void;
  /**
   * A sink that must keep a trace of every call (the audit log) says here while it cannot, and whether new
   * calls must be refused meanwhile (`[audit] on_failure = "refuse"`). Read once per call: must be cheap.
   */
  unavailable?(): SinkTrouble | undefined;
  /**
   * A statement that may change data is about to run (`call` says who and what; its outcome is not known
   * yet). Only a sink that must keep a trace of it should implement this: the audit log, so a write that
   * commits before the hub dies is not left without a record. Resolves once the trace is kept; rejects when
   * it could not be, and the statement is then not sent.
   */
  recordStarted?(call: CallRecord): Promise<void>;
}
