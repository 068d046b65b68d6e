import { DuckDBMaterializedResult, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult, type DuckDBType } from '@duckdb/node-api';
import { jsonSize } from '../json-values.js';
import type { ColumnInfo, JsonValue } from '../types.js';
import type { CallState } from './call-scope.js';
import { duckDbCellToJson, duckDbTypeName } from './duckdb-values.js';

/**
 * Reads a DuckDB result for one query call: streamed (each chunk fetched on DuckDB's worker thread), or
 * materialized (the chunks already there, read in place).
 *
 * The answer is the first maxRows rows (fewer if maxBytes is reached); one more row proves truncation,
 * and reading stops there, so a huge result costs no more than the rows shown. Then, so fetchResults
 * can page on without re-running the statement, reading continues briefly (at most `readAheadMs`,
 * interrupting a slow chunk, up to `keepRows` rows / `keepBytes`). Those rows are converted to JSON values
 * as they are read: the result cache holds plain rows only, whose size it counts, and no DuckDB chunk
 * (kept unconverted, a chunk's native memory was counted nowhere and cost several times the budget).
 */

export interface ReadLimits {
  maxRows: number;
  maxBytes: number | undefined;
  keepRows: number;
  keepBytes: number;
  readAheadMs: number;
}

export interface ReadOutcome {
  columns: ColumnInfo[];
  /** The answer rows. */
  rows: JsonValue[][];
  truncatedBy: 'rows' | 'bytes' | undefined;
  /** Every row kept (the answer first), for the result cache: plain JSON values. */
  kept: JsonValue[][];
  /** The JSON size of `kept`. */
  keptBytes: number;
  /** True only when the stream ended on its own (never after an interrupt): `kept` holds the whole result. */
  exhausted: boolean;
}

/**
 * `names`: the statement's own column names, when the result is that of the statement run under a LIMIT
 * (row-limited.ts), whose outer SELECT renames duplicates. At most readerRowBound(maxRows, keepRows) rows
 * are read.
 */
export async function readResult(connection: DuckDBConnection, result: DuckDBResult, state: CallState, limits: ReadLimits, names?: readonly string[]): Promise<ReadOutcome> {
  const types = result.columnTypes();
  const columns: ColumnInfo[] = result.columnNames().map((name, i) => ({ name: names?.[i] ?? name, type: duckDbTypeName(types[i] as DuckDBType) }));
  const converted: JsonValue[][] = [];
  let convertedBytes = 0;
  let answerRows: number | undefined;
  let truncatedBy: 'rows' | 'bytes' | undefined;
  let answerBytes = 0;
  let exhausted = false;
  let readAheadOver = false;
  /**
   * The read-ahead kept all it may (keepRows, keepBytes). Its time (readAheadMs) is checked between
   * chunks: converting one chunk's rows (~0.5 µs a cell) may run past it by that much.
   */
  let full = false;

  const nextChunk = chunksOf(result);

  for (;;) {
    if (answerRows !== undefined && (readAheadOver || full)) break;
    let chunk: DuckDBDataChunk | null;
    try {
      chunk = await nextChunk();
    } catch (err) {
      // The read-ahead was cut short; the answer itself is complete.
      if (answerRows !== undefined && !state.stopped) break;
      throw err;
    }
    if (chunk === null || chunk.rowCount === 0) {
      // DuckDB answers an interrupted fetch with an empty chunk, not an error: after an interrupt (the
      // read-ahead's or a cancel's) an empty chunk proves nothing, so only a stream left alone has ended.
      exhausted = !readAheadOver && !state.stopped;
      break;
    }
    if (state.stopped) break;
    for (let i = 0; i < chunk.rowCount; i++) {
      if (answerRows !== undefined && (converted.length >= limits.keepRows || convertedBytes >= limits.keepBytes)) {
        full = true;
        break;
      }
      const row = convertRow(chunk, i, types);
      const size = jsonSize(row);
      if (answerRows !== undefined) {
        converted.push(row);
        convertedBytes += size;
        continue;
      }
      if (converted.length === limits.maxRows) truncatedBy = 'rows';
      else if (limits.maxBytes !== undefined && answerBytes + size > limits.maxBytes) truncatedBy = 'bytes';
      converted.push(row);
      convertedBytes += size;
      if (truncatedBy === undefined) {
        answerBytes += size;
        continue;
      }
      answerRows = converted.length - 1;
      state.later(limits.readAheadMs, () => {
        readAheadOver = true;
        if (!state.stopped) interruptQuietly(connection);
      });
    }
  }

  return {
    columns,
    rows: answerRows === undefined ? converted : converted.slice(0, answerRows),
    truncatedBy,
    kept: converted,
    keptBytes: convertedBytes,
    exhausted,
  };
}

/** The result's chunks in order, then null. */
function chunksOf(result: DuckDBResult): () => DuckDBDataChunk | null | Promise<DuckDBDataChunk | null> {
  if (!(result instanceof DuckDBMaterializedResult)) return () => result.fetchChunk();
  const count = result.chunkCount;
  let next = 0;
  return () => (next < count ? result.getChunk(next++) : null);
}

/** Converts one row of a chunk; a value the converter cannot handle still shows, as DuckDB's text. */
export function convertRow(chunk: DuckDBDataChunk, index: number, types: DuckDBType[]): JsonValue[] {
  const row = new Array<JsonValue>(chunk.columnCount);
  for (let i = 0; i < row.length; i++) {
    const vector = chunk.getColumnVector(i);
    try {
      row[i] = duckDbCellToJson(vector, index, types[i]);
    } catch {
      row[i] = String(vector.getItem(index));
    }
  }
  return row;
}

function interruptQuietly(connection: DuckDBConnection): void {
  try {
    connection.interrupt();
  } catch {
    // Already closed: nothing left to stop.
  }
}
