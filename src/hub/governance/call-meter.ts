import type { SnowmuxError } from '../../errors.js';

/** What one tool call used, filled in as it runs; read by the call record, audit and quotas. */
export interface CallMeter {
  queueWaitMs: number;
  /** The call asked the fair queue for a slot: its queueWaitMs is a wait (0 ms too), not an absence of one. */
  queued?: boolean | undefined;
  runMs: number;
  /**
   * Time the call spent opening its warehouse (the embedded database's open, a Snowflake pool's first login),
   * and since when it is opening one now: a deadline it ran out on is said from where the time went.
   */
  openMs?: number | undefined;
  openingSince?: number | undefined;
  rows: number;
  bytes: number;
  queryId?: string | undefined;
  /** Warehouse profile the call ran on. */
  profile?: string | undefined;
  /** The engine's pre-flight estimate of what the call's statement would read (scan-limit, explain_query). */
  scanEstimate?: { bytes?: number | undefined; partitions?: number | undefined; partitionsTotal?: number | undefined; rows?: number | undefined } | undefined;
  /** A SQL statement was handed to the warehouse (it counts against the quota whatever its outcome). */
  statementSent?: boolean | undefined;
  /** A statement that may change data was about to be handed over (write-intent recorded it). */
  writeSent?: boolean | undefined;
  /**
   * The refusal for a statement that carries SQL, when a budget only such statements spend (`queries`,
   * `scan_bytes`) was already spent as the call began (the quota call stage); the quota-spent statement stage
   * throws it before the statement goes further. A call that runs none (a listing, a page of a result) is served.
   */
  queryQuotaSpent?: SnowmuxError | undefined;
  /** The quota-charge stage has charged this call (once per call, whatever number of statements it runs). */
  quotaCharged?: boolean | undefined;
  /** When (ms) a team hub counted this call's query against the identity's quota (refunded if no query ran). */
  quotaReservedAt?: number | undefined;
  /** When (ms) this hub counted this call's query against its own copy of the quota (refunded if no query ran). */
  quotaReservedLocallyAt?: number | undefined;
}

/**
 * The bytes of rows as the `bytes` quota charges them and every result byte cap counts them: each row's JSON
 * (UTF-8), summed, with nothing between them. The warehouses' readers stop a result at its byte cap by the same
 * sum (json-values.ts `jsonSize` of each row), so a result cut at exactly what is left of a budget is charged
 * exactly that. (Counted as a JSON array, the commas and brackets the cap never saw made a cut answer pass the
 * budget by about a byte a row.)
 */
export function rowsBytes(rows: readonly unknown[]): number {
  let bytes = 0;
  for (const row of rows) bytes += rowBytes(row);
  return bytes;
}

/** One row's part of rowsBytes. */
export function rowBytes(row: unknown): number {
  // JSON.stringify answers undefined for undefined: such a row has no JSON, and costs nothing.
  return Buffer.byteLength(JSON.stringify(row) ?? '');
}

/** Counts rows returned to the caller, and their bytes (rowsBytes). */
export function meterRows(meter: CallMeter, rows: readonly unknown[], rowCount = rows.length): void {
  meter.rows += rowCount;
  meter.bytes += rowsBytes(rows);
}

export function newCallMeter(): CallMeter {
  return { queueWaitMs: 0, runMs: 0, rows: 0, bytes: 0 };
}

/** Milliseconds the call has spent opening its warehouse so far (an open still under way included). */
export function openingMs(meter: CallMeter, now = performance.now()): number {
  return (meter.openMs ?? 0) + (meter.openingSince === undefined ? 0 : Math.max(0, now - meter.openingSince));
}
