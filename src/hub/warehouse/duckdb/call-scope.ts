import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SnowmuxError, errorMessage, isSnowmuxError } from '../../../errors.js';
import type { QueryProgress, QueryTag } from '../types.js';
import { forgetStatements } from './prepared-statements.js';
import { timerDelay } from '../../../timer-delay.js';
import { hideLocalPaths } from '../../../shown-text.js';

/**
 * One warehouse call on its own DuckDB connection: interrupting it touches no one else.
 *
 * Connections are pooled (opening one and setting it up cost about as much as a trivial statement), but
 * a connection goes back to the pool only after a call that cannot have changed its state: a call that
 * finished normally and whose statements were all reads, by DuckDB's statement type and by the hub's
 * classifier, which knows the functions that change a connection from a SELECT (`setseed`, `nextval`)
 * (`CallState.reusable`). Anything else (a
 * statement of another type, an error, a cancel, a timeout) closes it, so nothing a call does (SET,
 * variables, temp objects, an interrupted result) can reach another. Each statement call sets its own
 * database and schema first, so the current schema never carries over either.
 *
 * Aborts (the call's signal) and timeouts interrupt the connection and reject at once; the statement
 * winds down in the background and the connection is closed only after it has, never under it.
 *
 * Calls wait for a slot first. The DuckDB bindings run every statement step on the libuv thread pool
 * (4 threads unless UV_THREADPOOL_SIZE says otherwise), and a long statement holds its thread for as
 * long as it computes: with as many long statements as threads, every fs call in the hub (logs, audit)
 * would stall. The slots keep some threads free.
 */

export interface CallScopeOptions {
  signal: AbortSignal;
  timeoutMs?: number | undefined;
  /** The setting timeoutMs came from, named by a timeout's advice (CallContext.timeoutSetting). */
  timeoutSetting?: string | undefined;
  onProgress?: ((progress: QueryProgress) => void) | undefined;
  progressIntervalMs: number;
  /** Where the call waits for its turn. */
  slots: Slots;
  /** Whose call it is: named by status, and by the error of a call that waited behind it, if it outlives its cancel. */
  tag?: QueryTag | undefined;
}

/**
 * A statement that was told to stop (cancel, timeout, the hub stopping) at least OUTLIVED_MS ago and still runs
 * in the engine: DuckDB checks for an interrupt between steps, and some steps (a backtracking pattern match, an
 * edit distance of long texts) run for minutes. It keeps its slot (and the libuv thread under it) until it ends:
 * closing its connection under it is not safe, and the hub re-sends the interrupt meanwhile.
 */
export interface OutlivedStatement {
  sessionId: string;
  requestId: string;
  client: string;
  tool: string;
  /** What stopped it: QUERY_TIMEOUT, QUERY_CANCELLED, WAREHOUSE_CLOSED… */
  stoppedBy: string;
  /** Since it was told to stop. */
  sinceStopMs: number;
  /** Since it was given its slot. */
  runningMs: number;
}

/** How long past its stop a statement must still run to count as outliving it (an interrupt lands within milliseconds). */
const OUTLIVED_MS = 1000;

/** Re-interrupt at this pace until the statement stops: an interrupt that lands between statements is otherwise lost. */
const REINTERRUPT_MS = 25;

interface ActiveCall {
  connection: DuckDBConnection | undefined;
  stop(cause: SnowmuxError): void;
  settled: Promise<unknown>;
  slots: Slots;
  tag: QueryTag | undefined;
  /** When it was given its slot (performance.now()); undefined while it waits for one or after it let go. */
  slotSince: number | undefined;
  /** When it was told to stop, and why. */
  stoppedAt: number | undefined;
  stoppedBy: string | undefined;
}

/** Idle connections kept for reuse; more than the concurrent calls the slots allow is never needed. */
const MAX_IDLE_CONNECTIONS = 8;

export class CallTracker {
  private readonly active = new Set<ActiveCall>();
  /** How long past its stop a statement must still run to count as outliving it (tests shorten it). */
  private readonly outlivedAfterMs: number;

  constructor(options: { outlivedAfterMs?: number } = {}) {
    this.outlivedAfterMs = options.outlivedAfterMs ?? OUTLIVED_MS;
  }

  private readonly idleConnections: DuckDBConnection[] = [];
  private closing = false;

  /** Connections opened since the tracker was made (for tests and status: reuse keeps this low). */
  opened = 0;

  get size(): number {
    return this.active.size;
  }

  /** Statements that hold a slot of `slots` (any, when not given) past their stop: see OutlivedStatement. */
  outlived(slots?: Slots): OutlivedStatement[] {
    const now = performance.now();
    const held: OutlivedStatement[] = [];
    for (const call of this.active) {
      if (call.slotSince === undefined || call.stoppedAt === undefined || now - call.stoppedAt < this.outlivedAfterMs) continue;
      if (slots !== undefined && call.slots !== slots) continue;
      held.push({
        sessionId: call.tag?.sessionId ?? '',
        requestId: call.tag?.requestId ?? '',
        client: call.tag?.client ?? '',
        tool: call.tag?.tool ?? '',
        stoppedBy: call.stoppedBy ?? 'QUERY_CANCELLED',
        sinceStopMs: Math.round(now - call.stoppedAt),
        runningMs: Math.round(now - call.slotSince),
      });
    }
    return held.sort((a, b) => b.sinceStopMs - a.sinceStopMs);
  }

  /** Resolves once no call holds a connection or waits for one (calls started meanwhile included). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.allSettled([...this.active].map((call) => call.settled));
  }

  /** Stops every call (running or waiting) and waits until each has let go of its connection. */
  async drain(): Promise<void> {
    this.closing = true;
    const closed = closedError();
    for (const call of this.active) call.stop(closed);
    await this.idle();
    for (const connection of this.idleConnections.splice(0)) closeQuietly(connection);
  }

  private async connection(instance: DuckDBInstance): Promise<DuckDBConnection> {
    const reused = this.idleConnections.pop();
    if (reused !== undefined) return reused;
    this.opened += 1;
    return await instance.connect();
  }

  /** Back to the pool when the call left it as it found it; closed otherwise. */
  private letGo(connection: DuckDBConnection, reusable: boolean): void {
    if (reusable && !this.closing && this.idleConnections.length < MAX_IDLE_CONNECTIONS) this.idleConnections.push(connection);
    else closeQuietly(connection);
  }

  async run<T>(instance: DuckDBInstance, options: CallScopeOptions, work: (connection: DuckDBConnection, scope: CallState) => Promise<T>): Promise<T> {
    const { signal } = options;
    if (this.closing) throw closedError();
    if (signal.aborted) throw cancellationError(signal);
    const started = performance.now();
    const state = new CallState();
    const stopped = new AbortController();
    let stopCause: SnowmuxError | undefined;
    let reinterrupt: NodeJS.Timeout | undefined;
    let progress: NodeJS.Timeout | undefined;
    let queued = false;
    let rejectEarly: (err: SnowmuxError) => void = () => {};
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    early.catch(() => {});

    const call: ActiveCall = {
      connection: undefined,
      settled: Promise.resolve(),
      slots: options.slots,
      tag: options.tag,
      slotSince: undefined,
      stoppedAt: undefined,
      stoppedBy: undefined,
      stop: (given) => {
        if (stopCause !== undefined) return;
        // A call that timed out while it waited for a slot never ran: when statements that outlived their own
        // stop hold the slots, that is why, and what the caller is told (not to narrow a query that never ran).
        const held = call.slotSince === undefined && given.code === 'QUERY_TIMEOUT' ? this.outlived(options.slots) : [];
        const cause = held.length > 0 ? heldSlotsError(given, held, options.slots.limit, performance.now() - started) : given;
        stopCause = cause;
        call.stoppedAt = performance.now();
        // The caller is answered now (rejectEarly): its client hears no progress after that answer, however long
        // the engine takes to stop the statement (one that outlives its interrupt went on reporting for minutes).
        clearInterval(progress);
        call.stoppedBy = cause.code;
        state.stopped = true;
        stopped.abort(cause);
        safeInterrupt(call.connection);
        reinterrupt = setInterval(() => safeInterrupt(call.connection), REINTERRUPT_MS);
        reinterrupt.unref();
        rejectEarly(cause);
      },
    };
    const onAbort = (): void => call.stop(cancellationError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    const timeout =
      options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0
        ? setTimeout(() => call.stop(timeoutError(options.timeoutMs as number, options.timeoutSetting)), timerDelay(options.timeoutMs))
        : undefined;
    const report = (): void => reportProgress(queued ? undefined : call.connection, queued, started, options.onProgress, queued ? this.outlived(options.slots) : []);
    progress = options.onProgress !== undefined ? setInterval(report, options.progressIntervalMs) : undefined;
    progress?.unref();

    let finishedCleanly = false;
    const inner = (async () => {
      let release: (() => void) | undefined;
      try {
        if (!options.slots.free) {
          queued = true;
          report();
        }
        release = await options.slots.acquire(stopped.signal);
        call.slotSince = performance.now();
        queued = false;
        if (stopCause !== undefined) throw stopCause;
        if (this.closing) throw closedError();
        call.connection = await this.connection(instance);
        if (stopCause !== undefined) throw stopCause;
        const value = await work(call.connection, state);
        finishedCleanly = stopCause === undefined;
        return value;
      } finally {
        if (timeout !== undefined) clearTimeout(timeout);
        if (progress !== undefined) clearInterval(progress);
        if (reinterrupt !== undefined) clearInterval(reinterrupt);
        signal.removeEventListener('abort', onAbort);
        state.dispose();
        if (call.connection !== undefined) this.letGo(call.connection, finishedCleanly && state.reusable);
        call.connection = undefined;
        call.slotSince = undefined;
        release?.();
      }
    })();
    call.settled = inner.then(
      () => this.active.delete(call),
      () => this.active.delete(call),
    );
    this.active.add(call);

    try {
      return await Promise.race([inner, early]);
    } catch (err) {
      throw stopCause ?? toWarehouseError(err);
    }
  }
}

/** A counting semaphore with a FIFO queue; a waiter leaves the queue when its signal aborts. */
export class Slots {
  private used = 0;
  private readonly waiters: { grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  get free(): boolean {
    return this.used < this.limit;
  }

  get queued(): number {
    return this.waiters.length;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw signal.reason;
    if (this.used < this.limit) {
      this.used++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
    return this.releaser();
  }

  /** Releasing hands the slot straight to the next waiter, so the count never dips below the queue. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next !== undefined) next.grant();
      else this.used--;
    };
  }
}

/** Per-call state the work function can consult and extend. */
export class CallState {
  /** Set once the call was cancelled or timed out: stop reading. */
  stopped = false;
  /** Cleared by work that may have changed the connection's state (any statement but a read). */
  reusable = true;
  private readonly timers: NodeJS.Timeout[] = [];

  /** A timer cleared automatically when the call ends. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
  }
}

const OUT_OF_MEMORY_ADVICE =
  'The embedded warehouse keeps intermediate results in memory only (its memory limit; nothing spills to the hub\'s disk): narrow the query — filters, fewer columns, no cross join — or aggregate before sorting.';

// A write role's write on the sample: DuckDB says only that the database is read-only, which reads as the
// role's refusal or a fault to retry. What is true, and what can be done instead.
const READ_ONLY_SAMPLE = /attached in read-only mode/;
const READ_ONLY_SAMPLE_ADVICE =
  'The embedded sample warehouse is read-only for every role, writers too: it is the hub\'s built-in demo data. Each call runs on its own, so a TEMP table or a SET lasts for that call only. ' +
  'Read the data with SELECT (a CTE or subquery for intermediate steps); to write, point the hub at Snowflake (a profile; snowmux doctor checks it).';

/** A table, view, schema or database that does not exist (not a function: that is the statement's mistake). */
const MISSING_OBJECT = /^(Catalog Error: (Table|View|Schema) with name .* does not exist|Binder Error: Catalog "[^"]*" does not exist)/;

/**
 * A name that does not exist: DuckDB's guess is dropped when it is one of the engine's own catalog
 * functions (`Did you mean "pragma_database_list"?` for a mistyped table — which the hub refuses), and the
 * caller is told where the real names are.
 */
function catalogError(message: string): string {
  // A function of an extension the sample does not load: DuckDB's advice (INSTALL, LOAD, SET autoload…) is
  // statements the hub refuses. Its first line, and what is true here.
  if (/but it exists in the \w+ extension/.test(message)) {
    return `${message.split('\n', 1)[0]!} The embedded warehouse loads no extensions (they would read files or the network): use the functions it has, or a Snowflake profile.`;
  }
  const cleaned = message.replace(/\s*Did you mean "(?:pragma_|duckdb_|pg_)[^"]*"\?/gi, '');
  if (!MISSING_OBJECT.test(cleaned)) return cleaned;
  const nl = cleaned.indexOf('\n');
  return nl < 0 ? `${cleaned} ${CATALOG_ADVICE}` : `${cleaned.slice(0, nl)} ${CATALOG_ADVICE}${cleaned.slice(nl)}`;
}

/** The parser's refusals of a statement nested too deeply: its expression depth limit, and bison's stack. */
const DEPTH_LIMIT = /^Parser Error: (Max expression depth limit of \d+ exceeded|memory exhausted at or near)/;

// Where an unqualified name was looked for: the call's own database/schema arguments when it gave them (it
// said "the default database and schema", sending a call with schema = "SHOWCASE" to look in the default).
const CATALOG_ADVICE =
  'Find the exact name with list_tables, list_views or search_objects (an unqualified name is looked for in the call\'s database and schema: ' +
  'its database/schema arguments, else the defaults; qualify it as SCHEMA.NAME or DATABASE.SCHEMA.NAME to read elsewhere).';

/** DuckDB errors raised by user SQL become SQL_ERROR (OBJECT_NOT_FOUND for a missing name) with DuckDB's own message; ours pass through. */
export function toWarehouseError(err: unknown): SnowmuxError {
  if (isSnowmuxError(err)) return err;
  // The node bindings prefix some engine errors with the step that failed; the engine's text is what helps.
  // The engine quotes paths whole: a relative file name resolved against the hub's working directory (its
  // home), its own extension and secret directories in the hub user's home. The caller is told the name only.
  const message =
    hideLocalPaths(
      errorMessage(err)
        .replace(/^(Failed to extract statements|Failure running pending result task): /, '')
        .trim(),
    ) || 'DuckDB reported an error without a message.';
  const kind = /^([A-Za-z ]+) Error:/.exec(message)?.[1];
  // DuckDB's own advice for running out of memory (SET temp_directory, threads, memory_limit) is settings
  // the hub locks: only its first line is kept, with what the caller can do.
  const text =
    kind === 'Out of Memory'
      ? `${message.split('\n', 1)[0]!} ${OUT_OF_MEMORY_ADVICE}`
      : kind === 'Catalog'
        ? catalogError(message)
        : kind === 'Parser' && DEPTH_LIMIT.test(message)
          ? // DuckDB's advice ("Use SET max_expression_depth TO x") is a setting the hub locks; bison's "memory
            // exhausted" reads as the hub running out of memory. Both are the query's nesting.
            `Parser Error: the query nests expressions or subqueries deeper than the embedded engine parses (${message.split('\n', 1)[0]!.replace(/^Parser Error: /, '').replace(/\. Use "SET max_expression_depth[^"]*"[^.]*\./, '')}); the limit is fixed. Write it with fewer levels: an IN list or CASE instead of nested calls, a CTE for each level of subquery.`
          : READ_ONLY_SAMPLE.test(message)
          ? `${message.split('\n', 1)[0]!} ${READ_ONLY_SAMPLE_ADVICE}`
          : message === 'Parser Error: NameListToString NOT IMPLEMENTED'
          ? // What DuckDB's parser says of a table name with four or more parts: an internal placeholder.
            'Parser Error: a table name has at most three parts (database.schema.table); the query names one with more. Remove the extra part (a column belongs in the SELECT list), or double-quote a name that has dots in it.'
          : message;
  // Parsing, binding and name lookup happen before the statement runs: the quota does not count it.
  const notRun = kind === 'Parser' || kind === 'Binder' || kind === 'Catalog';
  // A name that does not exist is OBJECT_NOT_FOUND, as Snowflake's 002003 is: a typo in a name is not a
  // broken statement, and the code tells the caller to look the name up rather than rewrite the SQL.
  const code = MISSING_OBJECT.test(message) ? 'OBJECT_NOT_FOUND' : 'SQL_ERROR';
  return new SnowmuxError(code, text, { cause: err, details: { engine: 'duckdb', ...(kind ? { errorType: kind } : {}), ...(notRun ? { notRun: true } : {}) } });
}

export function cancellationError(signal: AbortSignal): SnowmuxError {
  // The hub may abort with its own typed reason (shutdown, a hub-side deadline); keep it.
  if (isSnowmuxError(signal.reason)) return signal.reason;
  return new SnowmuxError('QUERY_CANCELLED', 'The query was cancelled (the request was cancelled or the client disconnected). Run it again if you still need the result.');
}

export function closedError(): SnowmuxError {
  return new SnowmuxError('WAREHOUSE_CLOSED', 'The embedded warehouse is shut down (the hub is stopping). Retry once the hub is back.');
}

function timeoutError(timeoutMs: number, setting: string | undefined): SnowmuxError {
  const seconds = timeoutMs >= 1000 ? `${Math.round(timeoutMs / 100) / 10} s` : `${timeoutMs} ms`;
  return new SnowmuxError(
    'QUERY_TIMEOUT',
    `The query ran longer than the ${seconds} statement timeout and was cancelled. Narrow it (filters, LIMIT) or raise ${setting ?? 'the timeout'}.`,
    { details: { timeoutMs } },
  );
}

/** "1 of its slots is held by a statement that outlived its cancel (…)": what holds the slots, for a person. */
function heldSlotsText(held: readonly OutlivedStatement[], limit?: number): string {
  const of = limit === undefined ? '' : ` of its ${limit}`;
  const who = held
    .slice(0, 3)
    .map((h) => `session ${h.sessionId.slice(0, 8) || '?'}'s ${h.tool || 'call'}, ${h.stoppedBy === 'QUERY_TIMEOUT' ? 'timed out' : 'stopped'} ${seconds(h.sinceStopMs)} ago`)
    .join('; ');
  const more = held.length > 3 ? `; ${held.length - 3} more` : '';
  return `${held.length}${of} ${held.length === 1 ? 'slot is' : 'slots are'} held by ${held.length === 1 ? 'a statement' : 'statements'} the engine could not interrupt, which outlived ${held.length === 1 ? 'its' : 'their'} cancel (${who}${more})`;
}

function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * The timeout of a call that never ran because statements that outlived their cancel hold the slots: it says
 * so, whose they are, and what ends them, instead of a timeout's "narrow the query". Keeps the timeout's code;
 * `details.heldSlots` tells the call's own timeout (the hub's) to let this one speak (call-state.ts).
 */
function heldSlotsError(timeout: SnowmuxError, held: readonly OutlivedStatement[], limit: number, waitedMs: number): SnowmuxError {
  return new SnowmuxError(
    timeout.code,
    `The query never ran: it waited ${seconds(waitedMs)} for a statement slot of the embedded warehouse, and ${heldSlotsText(held, limit)}. ` +
      'Such a statement keeps its slot until it ends on its own; the query itself may be fine. Retry once they end; `snowmux status` names them, and restarting the hub (`snowmux hub --replace`) ends them.',
    { cause: timeout, details: { ...(timeout.details ?? {}), heldSlots: held.length, notRun: true } },
  );
}

function closeQuietly(connection: DuckDBConnection): void {
  forgetStatements(connection);
  try {
    connection.closeSync();
  } catch {
    // The connection is gone either way.
  }
}

function safeInterrupt(connection: DuckDBConnection | undefined): void {
  try {
    connection?.interrupt();
  } catch {
    // Already closed.
  }
}

function reportProgress(
  connection: DuckDBConnection | undefined,
  queued: boolean,
  started: number,
  onProgress: CallScopeOptions['onProgress'],
  held: readonly OutlivedStatement[],
): void {
  const elapsedMs = Math.round(performance.now() - started);
  let message: string;
  if (queued) {
    message =
      held.length > 0
        ? `Waiting for a free slot in the embedded warehouse: ${heldSlotsText(held)}.`
        : 'Waiting for a free slot in the embedded warehouse (other statements are running).';
  } else {
    message = `Running for ${Math.round(elapsedMs / 1000)} s`;
    try {
      const percentage = connection?.progress.percentage ?? -1;
      if (percentage >= 0) message += ` (about ${Math.round(percentage)}% done)`;
    } catch {
      // Progress is best effort.
    }
  }
  try {
    onProgress?.({ phase: queued ? 'queued' : 'running', elapsedMs, message });
  } catch {
    // A failing listener must not fail the query.
  }
}
