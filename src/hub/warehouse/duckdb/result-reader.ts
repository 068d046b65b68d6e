import { DuckDBMaterializedResult, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult, type DuckDBType } from '@duckdb/node-api';
import { jsonSize } from '../json-values.js';
import type { ColumnInfo, JsonValue } from '../types.js';
import type { CallState } from './call-scope.js';
import { duckDbCellToJson, duckDbTypeName } from './duckdb-values.js';
import type { RowSource } from './result-cache.js';

/**
 * Reads a DuckDB result for one query call: streamed (each chunk fetched on DuckDB's worker thread), or
 * materialized (the chunks already there, read in place).
 *
 * The answer is the first maxRows rows (fewer if maxBytes is reached); one more row proves truncation,
 * and reading stops there, so a huge result costs no more than the rows shown. Then, so fetchResults
 * can page on without re-running the statement, reading continues briefly (at most `readAheadMs`,
 * interrupting a slow chunk, up to `keepRows` rows / `keepBytes`): those chunks are kept as DuckDB
 * returned them and converted to JSON only if a page asks for them.
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
  /** Every row read (the answer first), for the result cache. */
  kept: RowSource;
  keptBytes: number;
  /** True only when the stream ended on its own (never after an interrupt): `kept` holds the whole result. */
  exhausted: boolean;
}

const DEFAULT_ROW_BYTES = 64;

export async function readResult(connection: DuckDBConnection, result: DuckDBResult, state: CallState, limits: ReadLimits): Promise<ReadOutcome> {
  const types = result.columnTypes();
  const columns: ColumnInfo[] = result.columnNames().map((name, i) => ({ name, type: duckDbTypeName(types[i] as DuckDBType) }));
  const converted: JsonValue[][] = [];
  let convertedBytes = 0;
  const raw = new RawRows(types);
  let answerRows: number | undefined;
  let truncatedBy: 'rows' | 'bytes' | undefined;
  let answerBytes = 0;
  let exhausted = false;
  let readAheadOver = false;

  const nextChunk = chunksOf(result);
  const keptCount = (): number => converted.length + raw.length;
  const estimatedBytes = (): number => convertedBytes + raw.length * averageRowBytes(convertedBytes, converted.length);

  for (;;) {
    if (answerRows !== undefined && (readAheadOver || keptCount() >= limits.keepRows || estimatedBytes() >= limits.keepBytes)) break;
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
    if (answerRows !== undefined) {
      raw.add(chunk, 0);
      continue;
    }
    for (let i = 0; i < chunk.rowCount; i++) {
      const row = convertRow(chunk, i, types);
      const size = jsonSize(row);
      if (converted.length === limits.maxRows) truncatedBy = 'rows';
      else if (limits.maxBytes !== undefined && answerBytes + size > limits.maxBytes) truncatedBy = 'bytes';
      converted.push(row);
      convertedBytes += size;
      if (truncatedBy === undefined) {
        answerBytes += size;
        continue;
      }
      answerRows = converted.length - 1;
      raw.add(chunk, i + 1);
      state.later(limits.readAheadMs, () => {
        readAheadOver = true;
        if (!state.stopped) interruptQuietly(connection);
      });
      break;
    }
  }

  const kept = keptRows(converted, raw, Math.min(keptCount(), Math.max(limits.keepRows, converted.length)));
  return {
    columns,
    rows: answerRows === undefined ? converted : converted.slice(0, answerRows),
    truncatedBy,
    kept,
    keptBytes: estimatedBytes(),
    exhausted: exhausted && kept.length === keptCount(),
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

/** Unconverted rows: whole chunks (from a first row), converted on demand. */
class RawRows {
  private readonly parts: { chunk: DuckDBDataChunk; from: number; start: number; count: number }[] = [];
  length = 0;

  constructor(private readonly types: DuckDBType[]) {}

  add(chunk: DuckDBDataChunk, from: number): void {
    const count = chunk.rowCount - from;
    if (count <= 0) return;
    this.parts.push({ chunk, from, start: this.length, count });
    this.length += count;
  }

  row(index: number): JsonValue[] {
    // Few parts (a handful of chunks): a linear scan is fine.
    for (const part of this.parts) {
      if (index < part.start + part.count) return convertRow(part.chunk, part.from + index - part.start, this.types);
    }
    throw new RangeError(`row ${index} is not kept`);
  }
}

function keptRows(converted: JsonValue[][], raw: RawRows, length: number): RowSource {
  return {
    length,
    row: (index) => (index < converted.length ? (converted[index] as JsonValue[]) : raw.row(index - converted.length)),
  };
}

function averageRowBytes(bytes: number, rows: number): number {
  return rows === 0 ? DEFAULT_ROW_BYTES : bytes / rows;
}

function interruptQuietly(connection: DuckDBConnection): void {
  try {
    connection.interrupt();
  } catch {
    // Already closed: nothing left to stop.
  }
}
