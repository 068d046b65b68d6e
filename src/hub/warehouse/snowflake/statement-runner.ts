/**
 * Runs one statement on one connection and reads (part of) its result, with:
 * - cancellation: when the call's signal aborts or the local timeout fires, `statement.cancel()` sends
 *   the abort request to Snowflake; the call settles once Snowflake confirmed and the statement ended
 *   (then the connection is healthy), or after a grace period (then it must be discarded). A statement
 *   that Snowflake completed — before the cancel, or because the abort came too late to match it — ran:
 *   it settles as a success with its query id, never as cancelled (a write reported as cancelled is run
 *   again by whoever reads that);
 * - progress: a report every interval until the result arrives (phase from Snowflake's query status);
 * - row and byte caps while streaming rows, with the reason for truncation.
 */
import { SnowmuxError } from '../../../errors.js';
import { jsonSize } from '../json-values.js';
import type { ColumnInfo, JsonValue, QueryProgress, TruncatedBy } from '../types.js';
import { cellConverter, columnInfo, exposeTimeValues } from './result-values.js';
import type { SfConnection, SfStatement } from './sdk-types.js';
import { resultDownloadError, toSnowmuxError, type ErrorContext } from './snowflake-errors.js';
import type { ContextField } from './session-context.js';

export interface RowWindow {
  /** First row index to read (0-based). */
  start: number;
  /** Read at most this many rows. */
  maxRows: number;
  /** Stop before the serialized rows would exceed this many bytes. */
  maxBytes?: number | undefined;
}

export interface StatementRequest {
  connection: SfConnection;
  sqlText: string;
  binds?: JsonValue[] | undefined;
  /** Statement-level parameters: QUERY_TAG, MULTI_STATEMENT_COUNT, STATEMENT_TIMEOUT_IN_SECONDS. */
  parameters: Record<string, string | number>;
  signal: AbortSignal;
  /** The error for a signal abort (the abort reason when it is a SnowmuxError). */
  cancelled: () => SnowmuxError;
  /** Local deadline; 0 or undefined = none. */
  timeoutMs?: number | undefined;
  timeoutError?: ((queryId: string | undefined) => SnowmuxError) | undefined;
  onProgress?: ((progress: QueryProgress) => void) | undefined;
  progressIntervalMs: number;
  /** Ask Snowflake for the query's status on each progress tick (queued vs running). */
  pollStatus: boolean;
  cancelGraceMs: number;
  rows?: RowWindow | undefined;
  errors: Omit<ErrorContext, 'queryId'>;
}

export interface StatementSuccess {
  ok: true;
  columns: ColumnInfo[];
  rows: JsonValue[][];
  totalRows: number;
  truncated: boolean;
  truncatedBy?: TruncatedBy | undefined;
  queryId: string | undefined;
  /** Snowflake's report of the session after the statement (absent fields: not reported). */
  sessionState: Partial<Record<ContextField, string | null>>;
}

export interface StatementFailure {
  ok: false;
  error: SnowmuxError;
  /** The driver's error, for retry decisions (never shown: it may carry HTTP details). */
  raw: unknown;
  /** False when the statement may still be running on the connection: discard it. */
  healthy: boolean;
  queryId: string | undefined;
  /** When unhealthy: resolves once the driver is done with the statement (log the session out only then). */
  finished?: Promise<void> | undefined;
}

export type StatementOutcome = StatementSuccess | StatementFailure;

const QUEUED_STATUSES = new Set(['QUEUED', 'RESUMING_WAREHOUSE', 'QUEUED_REPARING_WAREHOUSE', 'BLOCKED']);

export function runStatement(req: StatementRequest): Promise<StatementOutcome> {
  return new Promise<StatementOutcome>((resolve) => {
    const started = performance.now();
    let settled = false;
    let completed = false;
    /** Completed without error: the statement ran in Snowflake, whatever a cancel asked for. */
    let ran = false;
    let cancelAcked = false;
    let cancelling: SnowmuxError | undefined;
    /** The statement timeout's error, when it came before Snowflake had named the query. */
    let timedOut: SnowmuxError | undefined;
    let stopReading: (() => void) | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let statement: SfStatement | undefined;
    let phase: QueryProgress['phase'] = 'running';
    let polling = false;
    let markFinished!: () => void;
    const finished = new Promise<void>((r) => (markFinished = r));

    const queryId = (): string | undefined => {
      try {
        return statement?.getQueryId() || undefined;
      } catch {
        return undefined;
      }
    };
    const settle = (outcome: StatementOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearInterval(progress);
      clearTimeout(graceTimer);
      req.signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const fail = (error: SnowmuxError, raw: unknown, healthy: boolean): void => {
      const id = queryId();
      // Timed out before Snowflake named the query (it holds a running statement's request open for up to ~45 s),
      // then named it in answer to the cancel: the error says what is known now — it ran, with that id — rather
      // than "either it was still running, or Snowflake did not answer".
      const said = error === timedOut && id !== undefined && req.timeoutError !== undefined ? req.timeoutError(id) : error;
      settle({ ok: false, error: said, raw, healthy, queryId: id, ...(healthy ? {} : { finished }) });
    };

    // Reading the result of a statement that ran goes on after a cancel, for the grace period at most; then
    // it stops with the rows read so far, marked truncated (the rest stays readable by its query id).
    const limitReading = (): void => {
      clearTimeout(graceTimer);
      graceTimer = setTimeout(() => stopReading?.(), req.cancelGraceMs);
    };
    const cancel = (reason: SnowmuxError): void => {
      if (settled || cancelling !== undefined) return;
      cancelling = reason;
      if (ran) {
        limitReading();
        return;
      }
      // No confirmation in time: a statement that has ended leaves a usable connection; one still in
      // flight (a hung server) costs its connection. An unreachable Snowflake cannot confirm anything.
      graceTimer = setTimeout(() => fail(reason, undefined, completed), reason.details?.['unreachable'] === true ? 0 : req.cancelGraceMs);
      try {
        statement?.cancel(() => {
          // Snowflake answers an abort alike whether it stopped the statement or found it already done:
          // only the statement's own completion tells which.
          cancelAcked = true;
          if (completed && !ran) fail(reason, undefined, true);
        });
      } catch {
        fail(reason, undefined, false);
      }
    };
    const onAbort = (): void => cancel(req.cancelled());

    const onComplete = (err: unknown, stmt: SfStatement): void => {
      completed = true;
      markFinished();
      if (settled) return;
      if (err) {
        if (cancelling === undefined) fail(toSnowmuxError(err, { ...req.errors, queryId: queryId() }), err, true);
        else if (cancelAcked) fail(cancelling, undefined, true);
        return;
      }
      ran = true;
      if (cancelling !== undefined) limitReading();
      readRows(stmt);
    };

    const readRows = (stmt: SfStatement): void => {
      void readWindow(stmt, req.rows, queryId(), req.errors, readSessionState(stmt), (stop) => (stopReading = stop)).then(settle);
    };

    const tick = (): void => {
      const id = queryId();
      const elapsedMs = Math.round(performance.now() - started);
      req.onProgress?.({
        phase,
        elapsedMs,
        message: `Snowflake query ${id ?? '(starting)'} ${phase === 'queued' ? 'queued' : 'running'} for ${Math.round(elapsedMs / 1000)} s`,
      });
      if (req.pollStatus && id !== undefined && !polling) {
        polling = true;
        req.connection
          .getQueryStatus(id)
          .then((status) => {
            phase = QUEUED_STATUSES.has(status) ? 'queued' : 'running';
          })
          .catch(() => {})
          .finally(() => {
            polling = false;
          });
      }
    };

    const deadline =
      req.timeoutMs !== undefined && req.timeoutMs > 0
        ? setTimeout(() => {
            const id = queryId();
            // Only an error built without the query id is rebuilt once Snowflake names it (fail).
            const error = req.timeoutError?.(id) ?? new SnowmuxError('QUERY_TIMEOUT', `The statement exceeded ${req.timeoutMs} ms and was cancelled.`);
            if (id === undefined) timedOut = error;
            cancel(error);
          }, req.timeoutMs)
        : undefined;
    const progress = req.onProgress !== undefined ? setInterval(tick, req.progressIntervalMs) : undefined;

    if (req.signal.aborted) {
      fail(req.cancelled(), undefined, true);
      return;
    }
    req.signal.addEventListener('abort', onAbort, { once: true });
    try {
      statement = req.connection.execute({
        sqlText: req.sqlText,
        binds: req.binds?.map(toBind) as never,
        parameters: req.parameters,
        rowMode: 'array',
        streamResult: true,
        fetchAsString: ['Number'],
        complete: (err, stmt) => onComplete(err, stmt as SfStatement),
      }) as SfStatement;
    } catch (err) {
      fail(toSnowmuxError(err, { ...req.errors }), err, true);
    }
  });
}

/**
 * Reads the result of an earlier statement by its query id (no re-execution): Snowflake's
 * getResultsFromQueryId, then the requested window of rows.
 */
export async function fetchStatementResult(
  connection: SfConnection,
  queryId: string,
  window: RowWindow,
  signal: AbortSignal,
  cancelled: () => SnowmuxError,
  errors: Omit<ErrorContext, 'queryId'>,
): Promise<StatementOutcome> {
  if (signal.aborted) return { ok: false, error: cancelled(), raw: undefined, healthy: true, queryId };
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<StatementOutcome>((resolve) => {
    onAbort = () => resolve({ ok: false, error: cancelled(), raw: undefined, healthy: true, queryId });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const fetching = (async (): Promise<StatementOutcome> => {
    let completion!: (value: { err: unknown; stmt: SfStatement }) => void;
    const completed = new Promise<{ err: unknown; stmt: SfStatement }>((r) => (completion = r));
    try {
      await connection.getResultsFromQueryId({
        queryId,
        rowMode: 'array',
        streamResult: true,
        fetchAsString: ['Number'],
        complete: (err, stmt) => completion({ err, stmt: stmt as SfStatement }),
      });
    } catch (err) {
      return { ok: false, error: toSnowmuxError(err, { ...errors, queryId }), raw: err, healthy: true, queryId };
    }
    const { err, stmt } = await completed;
    if (err) return { ok: false, error: toSnowmuxError(err, { ...errors, queryId }), raw: err, healthy: true, queryId };
    return readWindow(stmt, window, queryId, errors, {});
  })();
  try {
    return await Promise.race([fetching, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/** Streams the requested window of a finished statement's rows, applying the row and byte caps. */
function readWindow(
  stmt: SfStatement,
  window: RowWindow | undefined,
  queryId: string | undefined,
  errors: Omit<ErrorContext, 'queryId'>,
  sessionState: StatementSuccess['sessionState'],
  onStream?: (stop: () => void) => void,
): Promise<StatementOutcome> {
  return new Promise((resolve) => {
    const columns = stmt.getColumns() ?? [];
    exposeTimeValues(columns);
    const converters = columns.map(cellConverter);
    const total = stmt.getNumRows() ?? 0;
    const rows: JsonValue[][] = [];
    let bytes = 2;
    let finished = false;
    const done = (cut?: 'bytes' | 'time'): void => {
      if (finished) return;
      finished = true;
      const rowTruncated = window !== undefined && total > window.start + rows.length;
      // A read stopped by time (a cancel, the call's timeout) cut only if rows were left: it says so, not the row cap.
      const by = cut === 'bytes' ? 'bytes' : rowTruncated ? (cut ?? 'rows') : undefined;
      resolve({
        ok: true,
        columns: columns.map(columnInfo),
        rows,
        totalRows: total,
        truncated: by !== undefined,
        truncatedBy: by,
        queryId,
        sessionState,
      });
    };
    if (window === undefined || window.maxRows <= 0 || window.start >= total) {
      done();
      return;
    }
    const stream = stmt.streamRows({ start: window.start, end: window.start + window.maxRows - 1 });
    onStream?.(() => {
      stream.destroy();
      done('time');
    });
    stream.on('data', (raw: unknown[]) => {
      if (finished) return;
      const row = raw.map((cell, i) => converters[i]!(cell));
      const size = jsonSize(row) + 1;
      if (window.maxBytes !== undefined && bytes + size > window.maxBytes) {
        stream.destroy();
        done('bytes');
        return;
      }
      bytes += size;
      rows.push(row);
    });
    stream.on('end', () => done());
    stream.on('error', (err: unknown) => {
      if (finished) return;
      finished = true;
      // The statement ran and its first rows arrived with the answer: a failure now is the download of a
      // later part of the result (a chunk in cloud storage), never the statement's.
      const error = resultDownloadError(err, { ...errors, queryId, fromRow: window.start + rows.length });
      resolve({ ok: false, error, raw: err, healthy: true, queryId });
    });
  });
}

function readSessionState(stmt: SfStatement): Partial<Record<ContextField, string | null>> {
  const state = stmt.getSessionState() as
    | { getCurrentRole(): unknown; getCurrentWarehouse(): unknown; getCurrentDatabase(): unknown; getCurrentSchema(): unknown }
    | undefined;
  if (state === undefined) return {};
  const value = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  return {
    role: value(state.getCurrentRole()),
    warehouse: value(state.getCurrentWarehouse()),
    database: value(state.getCurrentDatabase()),
    schema: value(state.getCurrentSchema()),
  };
}

/** JSON bind values → what the driver binds: scalars as they are, structures as JSON text. */
function toBind(value: JsonValue): string | number | boolean | null {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
