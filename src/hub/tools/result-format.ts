/**
 * Shapes warehouse results for MCP: a readable text table for the model, and the same data as
 * `structuredContent` (matching each tool's outputSchema) for clients that read JSON.
 */
import type { JsonValue, QueryResult } from '../warehouse/types.js';
import type { ResultForm } from '../config/config-schema.js';
import { describeLimit, describeWindow } from '../guard/quota.js';
import { escapeInvisible } from '../../shown-text.js';

/** Cells wider than this are cut in a text table beside structuredContent, which keeps full values. */
const MAX_CELL_CHARS = 120;

/**
 * Who reads a table: a role whose answers are the text alone (result_form = "text") has no
 * structuredContent to read a cut cell from, so its tables carry every cell whole. Callers pass the role.
 */
export interface TableReader {
  resultForm?: ResultForm | undefined;
}

/**
 * How SQL NULL shows in a text table: as the warehouses' own consoles show it. No string shows as this
 * alone: a string that is exactly `NULL` shows as `\NULL` (a backslash in a string is doubled), so SQL NULL
 * and the string 'NULL' stay apart.
 */
export const NULL_CELL = 'NULL';

/**
 * The first `max` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair: half a
 * character is invalid UTF-16, which clients show as U+FFFD.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

const CELL_ESCAPES: Record<string, string> = { '\\': '\\\\', '|': '\\|', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A value as GFM table text that can be read back: a pipe would end the cell and a line break the row, and
 * a backslash before either would swallow the escape (`x\|y` renders as `x|y`), so all are escaped. So is
 * every other control or invisible character (`\u001b`, `\u0000`, a right-to-left override, a zero-width
 * space, a lone surrogate): raw, an ESC sequence acts on a terminal that prints the table, an override
 * reorders what the cell shows, and `x` and `x\u200b` would read the same. structuredContent keeps them.
 */
function escapeCell(text: string): string {
  return escapeInvisible(text.replace(/[\\|\n\r\t]/g, (c) => CELL_ESCAPES[c]!));
}

function clip(text: string, whole: boolean): string {
  return !whole && text.length > MAX_CELL_CHARS ? `${cutText(text, MAX_CELL_CHARS - 1)}…` : text;
}

function cellText(value: JsonValue, whole: boolean): string {
  if (value === null) return NULL_CELL;
  if (typeof value === 'string') return value === NULL_CELL ? `\\${NULL_CELL}` : escapeCell(clip(value, whole));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return escapeCell(clip(JSON.stringify(value), whole));
}

/**
 * A pipe table: header, separator, rows. Cells are escaped (escapeCell) so columns stay aligned and values
 * recoverable; SQL NULL shows as NULL_CELL. Long cells are cut unless the reader has only this text.
 */
export function renderTable(headers: string[], rows: JsonValue[][], reader: TableReader): string {
  const whole = reader.resultForm === 'text';
  const texts = rows.map((row) => headers.map((_, i) => cellText(row[i] ?? null, whole)));
  const heads = headers.map((h) => escapeCell(clip(h, whole)));
  const widths = heads.map((h, i) => alignedWidth([h, ...texts.map((r) => r[i]!)]));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(Math.max(w, 1) + 2)).join('|')}|`;
  return [line(heads), sep, ...texts.map(line)].join('\n');
}

/** Padding a column may add per cell beyond twice its text: short cells under a long header stay aligned. */
const PAD_SLACK_PER_CELL = 32;

/**
 * The width a column's cells are padded to: its widest cell's, when that padding adds at most the column's
 * text again and a few characters a cell; else none (a pipe table needs no alignment). Padding every cell to the width of one wide
 * cell made the text grow as rows × widest: one 200 KB cell among 1000 short rows of a text-only role
 * (whole cells) made a 200 MB answer of a 206 KB result, far past max_result_bytes, and the hub's heap.
 */
function alignedWidth(cells: string[]): number {
  let widest = 0;
  let total = 0;
  for (const cell of cells) {
    widest = Math.max(widest, cell.length);
    total += cell.length;
  }
  return widest * cells.length <= 2 * total + PAD_SLACK_PER_CELL * cells.length ? widest : 0;
}

export interface QueryStructured {
  [key: string]: unknown;
  columns: { name: string; type: string }[];
  rows: JsonValue[][];
  row_count: number;
  truncated: boolean;
  query_id: string | null;
  notice: string | null;
}

/**
 * How the hub holds a result to its caps, whether the caller may page it (its role grants fetch_results),
 * and whether a larger limit would get more rows (the cap is below the role's most).
 */
export interface TruncationCaps {
  maxRows: number;
  maxBytes: number;
  canPage: boolean;
  canRaise: boolean;
}

/**
 * What a truncated result says: which rows are shown, of how many when known, and how to get the rest —
 * never a fetch_results page the warehouse cannot serve (the embedded warehouse keeps only the first rows
 * of a large result), nor fetch_results to a role that may not call it.
 */
export function truncationNotice(result: QueryResult, cap: TruncationCaps, offset = 0): string | null {
  if (!result.truncated) return null;
  if (result.quotaCut !== undefined) return quotaNotice(result, result.quotaCut, cap, offset);
  if (result.truncatedBy === 'bytes' && result.rowCount === 0) return oversizedRowNotice(result, cap, offset);
  const total = result.totalRows !== undefined ? ` of ${result.totalRows}` : '';
  const shown = `Showing rows ${offset + 1}–${offset + result.rowCount}${total}`;
  const nextOffset = offset + result.rowCount;
  // A page that ends at the last row the hub kept was cut there, not by the row cap (a fetch_results page
  // of 2 rows asked with limit 5, or of 6001 with limit 10000).
  const keptCut = result.truncatedBy !== 'bytes' && result.truncatedBy !== 'time' && result.cappedAt === undefined && result.pageableRows !== undefined && nextOffset >= result.pageableRows;
  const why = result.truncatedBy === 'bytes'
    ? `the result exceeded the ${cap.maxBytes}-byte cap`
    : result.truncatedBy === 'time'
      ? 'reading its rows stopped when the call was cancelled or reached its time limit, and more rows exist (not the row cap)'
    : result.cappedAt !== undefined
      ? `the hub ran the query with its ${result.cappedAt}-row cap as a LIMIT, and more rows exist`
      : keptCut
        ? `more rows exist, but the hub kept only the first ${result.pageableRows} rows of this result`
        : `more rows exist beyond the ${cap.maxRows}-row cap`;
  const pageable = cap.canPage && result.queryId !== undefined && (result.pageableRows === undefined || nextOffset < result.pageableRows);
  const limit = result.pageableRows !== undefined ? ` (the hub keeps the first ${result.pageableRows} rows of this result for paging)` : '';
  const next = pageable
    ? ` Page on with fetch_results(query_id="${result.queryId}", offset=${nextOffset})${limit}, or narrow the query (WHERE, LIMIT, fewer columns).`
    : result.cappedAt !== undefined
      ? ` The result has no rows past its first ${result.cappedAt}: ${cap.canRaise ? 'pass a larger limit, ' : ''}narrow the query, or reach later rows with ORDER BY … LIMIT/OFFSET in SQL.`
      : keptCut && cap.canPage
      ? ' Narrow the query, or reach later rows with ORDER BY … LIMIT/OFFSET in SQL.'
      : result.pageableRows !== undefined && cap.canPage
      ? ` The hub kept only the first ${result.pageableRows} rows of this result: narrow the query, or reach later rows with ORDER BY … LIMIT/OFFSET in SQL.`
      : ` Narrow the query (WHERE, fewer columns), or reach later rows with ORDER BY … LIMIT … OFFSET ${nextOffset} in SQL.`;
  return `Result truncated: ${shown}; ${why}.${next}`;
}

/** The identity's `rows` or `bytes` quota had less left than the call's caps: say so, and when it refills. */
function quotaNotice(result: QueryResult, quota: NonNullable<QueryResult['quotaCut']>, cap: TruncationCaps, offset: number): string {
  const shown = result.rowCount > 0 ? `Showing rows ${offset + 1}–${offset + result.rowCount}` : 'No row is shown';
  const left = quota.metric === 'rows' ? `${quota.left} row${quota.left === 1 ? '' : 's'}` : `${quota.left} bytes`;
  const nextOffset = offset + result.rowCount;
  const pageable = cap.canPage && result.queryId !== undefined && result.cappedAt === undefined && (result.pageableRows === undefined || nextOffset < result.pageableRows);
  const then = pageable ? `; then page on with fetch_results(query_id="${result.queryId}", offset=${nextOffset})` : '';
  return (
    `Result truncated: ${shown}; your quota had ${left} left (${describeLimit(quota.metric, quota.limit)} ${describeWindow(quota.windowMs)}), and the call was cut there. ` +
    `The quota refills at ${quota.resetsAt}${then}. Narrow the query (WHERE, LIMIT, fewer columns) to spend it on the rows you need.`
  );
}

/**
 * The first row due is by itself larger than the byte cap, so the page is empty: offering the same offset
 * again would loop an agent for ever. Say which row, how to read it, and how to reach the rows after it.
 */
function oversizedRowNotice(result: QueryResult, cap: TruncationCaps, offset: number): string {
  const row = offset + 1;
  const more = (result.pageableRows === undefined || row < result.pageableRows) && (result.totalRows === undefined || row < result.totalRows);
  const after = !more
    ? ''
    : cap.canPage && result.queryId !== undefined
      ? ` The rows after it: fetch_results(query_id="${result.queryId}", offset=${row}).`
      : ` The rows after it: ORDER BY … LIMIT … OFFSET ${row} in SQL.`;
  return `Result truncated: row ${row} alone is larger than the ${cap.maxBytes}-byte cap, so no row is shown. Read it with fewer or shorter columns (LEFT(col, 1000), a JSON path, or leave the wide column out).${after}`;
}

export function queryStructured(result: QueryResult, notice: string | null): QueryStructured {
  return {
    columns: result.columns.map((c) => ({ name: c.name, type: c.type })),
    rows: result.rows,
    row_count: result.rowCount,
    truncated: result.truncated,
    query_id: result.queryId ?? null,
    notice,
  };
}

export function queryText(result: QueryResult, notice: string | null, reader: TableReader): string {
  const parts: string[] = [];
  if (result.columns.length === 0) parts.push('Statement executed; it returned no columns.');
  else parts.push(renderTable(result.columns.map((c) => c.name), result.rows, reader));
  const tail = `${result.rowCount} row${result.rowCount === 1 ? '' : 's'}${result.truncated ? ' (truncated)' : ''} in ${Math.round(result.elapsedMs)} ms${result.queryId ? `, query id ${result.queryId}` : ''}.`;
  parts.push(tail);
  if (notice) parts.push(notice);
  return parts.join('\n\n');
}
