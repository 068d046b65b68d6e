import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SnowmuxError } from '../../../errors.js';
import { jsonSize } from '../json-values.js';
import type { ColumnInfo, JsonValue, QueryResult } from '../types.js';

/**
 * Finished results kept in memory, bounded by (estimated) bytes, so a client can page through a result by
 * its query id without re-running the statement. Only the first rows of a result are kept; `complete`
 * says whether those are all the rows there were.
 */

/** The kept rows of one result. Rows may be converted only when read, so reading should be cheap but not free. */
export interface RowSource {
  readonly length: number;
  row(index: number): JsonValue[];
}

export interface CachedResult {
  columns: ColumnInfo[];
  rows: RowSource;
  /** Approximate JSON size of all kept rows. */
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

const ENTRY_OVERHEAD_BYTES = 256;

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
      sizeCalculation: (entry) => Math.max(1, Math.ceil(entry.estimatedBytes) + ENTRY_OVERHEAD_BYTES),
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
    const room = this.maxEntryBytes - ENTRY_OVERHEAD_BYTES;
    if (entry.estimatedBytes <= room) {
      this.cache.set(queryId, entry);
      return { rows: entry.rows.length, complete: entry.complete };
    }
    const perRow = entry.estimatedBytes / Math.max(1, entry.rows.length);
    const keep = Math.max(0, Math.floor(room / Math.max(1, perRow)));
    const rows = firstRows(entry.rows, keep);
    this.cache.set(queryId, { ...entry, rows, estimatedBytes: keep * perRow, complete: false });
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
      const row = entry.rows.row(i);
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

function firstRows(source: RowSource, count: number): RowSource {
  return { length: Math.min(count, source.length), row: (index) => source.row(index) };
}

function checkCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SnowmuxError('INVALID_ARGUMENT', `${what} must be a whole number of zero or more; got ${String(value)}.`);
  }
  return value;
}
