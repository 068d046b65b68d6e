import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SnowmuxError } from '../../../errors.js';
import { jsonSize } from '../json-values.js';
import type { ColumnInfo, JsonValue, QueryResult } from '../types.js';

/**
 * Finished results kept in memory, bounded by the heap they take, so a client can page through a result
 * by its query id without re-running the statement. Only the first rows of a result are kept; `complete`
 * says whether those are all the rows there were.
 */

export interface CachedResult {
  columns: ColumnInfo[];
  /** Plain JSON rows: what the cache counts is all it holds (no engine object, no closure over one). */
  rows: readonly JsonValue[][];
  /** JSON size of all kept rows (known from reading them: the cache walks no row to size an entry). */
  estimatedBytes: number;
  /** True when `rows` holds every row of the result. */
  complete: boolean;
  statementType?: string | undefined;
}

/** What the cache kept of one result: its first `rows` rows, which are all of them when `complete`. */
export interface KeptRows {
  rows: number;
  complete: boolean;
}

export interface ResultPage {
  offset: number;
  limit: number;
  maxBytes?: number | undefined;
}

/**
 * What a kept result costs in heap besides its rows' JSON text, measured with the cache filled and then
 * emptied (heap after gc, node --expose-gc; V8 with pointer compression, as Node ships): an entry with its
 * query id, the LRU's bookkeeping and its columns; a row's array; a cell's slot and, for a string or a
 * non-integer number, its own header. Counted as JSON text alone, small results took ~3.5× and wide ones
 * ~2.5× what the budget said.
 */
const ENTRY_OVERHEAD_BYTES = 400;
const COLUMN_OVERHEAD_BYTES = 80;
const ROW_OVERHEAD_BYTES = 32;
const CELL_OVERHEAD_BYTES = 20;

/** The heap an entry of `rows` rows of `columns` columns whose JSON is `jsonBytes` takes. */
function heapBytes(columns: number, rows: number, jsonBytes: number): number {
  return ENTRY_OVERHEAD_BYTES + columns * COLUMN_OVERHEAD_BYTES + rows * (ROW_OVERHEAD_BYTES + columns * CELL_OVERHEAD_BYTES) + Math.ceil(jsonBytes);
}

export class ResultCache {
  private readonly cache: LRUCache<string, CachedResult>;
  /** Largest single entry: a quarter of the budget, so one huge result cannot flush every other. */
  readonly maxEntryBytes: number;

  constructor(maxBytes: number) {
    const budget = Math.max(4096, Math.floor(maxBytes));
    this.maxEntryBytes = Math.floor(budget / 4);
    this.cache = new LRUCache<string, CachedResult>({
      maxSize: budget,
      maxEntrySize: this.maxEntryBytes,
      sizeCalculation: (entry) => heapBytes(entry.columns.length, entry.rows.length, entry.estimatedBytes),
    });
  }

  /** Snowflake-shaped query id: a UUID whose first byte is 01. */
  static newQueryId(): string {
    return `01${randomUUID().slice(2)}`;
  }

  /**
   * Stores a result, keeping as many leading rows as fit in one entry (then `complete` becomes false).
   * Returns what was kept: that, not what was offered, is how far the result can be paged.
   */
  put(queryId: string, entry: CachedResult): KeptRows {
    const columns = entry.columns.length;
    if (heapBytes(columns, entry.rows.length, entry.estimatedBytes) <= this.maxEntryBytes) {
      this.cache.set(queryId, entry);
      return { rows: entry.rows.length, complete: entry.complete };
    }
    const perRow = heapBytes(columns, 1, entry.estimatedBytes / Math.max(1, entry.rows.length)) - heapBytes(columns, 0, 0);
    const keep = Math.max(0, Math.floor((this.maxEntryBytes - heapBytes(columns, 0, 0)) / perRow));
    const rows = entry.rows.slice(0, keep);
    this.cache.set(queryId, { ...entry, rows, estimatedBytes: (keep * entry.estimatedBytes) / Math.max(1, entry.rows.length), complete: false });
    return { rows: rows.length, complete: false };
  }

  /** One page of a kept result; throws RESULT_NOT_FOUND for an unknown or evicted id. */
  page(queryId: string, page: ResultPage): Omit<QueryResult, 'elapsedMs'> {
    const entry = typeof queryId === 'string' ? this.cache.get(queryId) : undefined;
    if (entry === undefined) {
      throw new SnowmuxError(
        'RESULT_NOT_FOUND',
        `No result is kept for query id ${String(queryId)}: it is unknown or was evicted (the embedded warehouse keeps recent results in memory only). Re-run the query.`,
      );
    }
    const offset = checkCount(page.offset, 'offset');
    const limit = checkCount(page.limit, 'limit');
    const maxBytes = page.maxBytes === undefined ? undefined : checkCount(page.maxBytes, 'maxBytes');
    const kept = entry.rows.length;
    if (offset >= kept && !entry.complete) {
      throw new SnowmuxError(
        'RESULT_ROWS_NOT_KEPT',
        `Only the first ${kept} rows of query ${queryId} were kept, so rows from offset ${offset} are not available. ` +
          'Re-run the query with ORDER BY and LIMIT/OFFSET (or a narrower filter) to reach them.',
        { details: { keptRows: kept } },
      );
    }
    const rows: JsonValue[][] = [];
    let bytes = 0;
    let truncatedBy: 'rows' | 'bytes' | undefined;
    for (let i = offset; i < kept; i++) {
      if (rows.length === limit) {
        truncatedBy = 'rows';
        break;
      }
      const row = entry.rows[i]!;
      const size = jsonSize(row);
      if (maxBytes !== undefined && bytes + size > maxBytes) {
        truncatedBy = 'bytes';
        break;
      }
      rows.push(row);
      bytes += size;
    }
    // Rows beyond the kept ones exist but were not kept: still "more rows existed than were returned".
    if (truncatedBy === undefined && !entry.complete) truncatedBy = 'rows';
    return {
      columns: entry.columns,
      rows,
      rowCount: rows.length,
      truncated: truncatedBy !== undefined,
      truncatedBy,
      queryId,
      statementType: entry.statementType,
      ...(entry.complete ? { totalRows: kept } : { pageableRows: kept }),
    };
  }

  has(queryId: string): boolean {
    return this.cache.has(queryId);
  }

  clear(): void {
    this.cache.clear();
  }
}

function checkCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SnowmuxError('INVALID_ARGUMENT', `${what} must be a whole number of zero or more; got ${String(value)}.`);
  }
  return value;
}
