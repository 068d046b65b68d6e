/** The shape every query tool answers in: its output schema, its limit argument, and the result it builds. */
import * as z from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { QueryResult } from '../warehouse/types.js';
import { cutText, queryStructured, queryText, truncationNotice, type TableReader } from './result-format.js';
import type { HubLimits } from '../pipeline/hub-limits.js';

export const queryOutput = z.object({
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.array(z.unknown())),
  row_count: z.number(),
  truncated: z.boolean(),
  query_id: z.string().nullable(),
  notice: z.string().nullable(),
});

/**
 * A query id argument: printable ASCII, as every engine's ids are (UUIDs). It is shown back in errors and
 * logs, so control and invisible characters are refused here, at the one place every id comes in.
 */
export function queryIdArg(maxLength: number) {
  return z.string().min(1).max(maxLength).regex(/^[!-~]+$/, { error: 'a query id is printable ASCII without spaces, such as 01b2c3d4-0000-1111-2222-333344445555' });
}

export function limitArg(limits: HubLimits) {
  return z
    .number()
    .int()
    .min(1)
    .max(limits.maxRowsCeiling)
    .optional()
    .describe(
      `Maximum rows to return. Default ${limits.defaultMaxRows} (lower if your role's max_rows is); the most is your role's max_rows, or ${limits.defaultMaxRows} ` +
        `if it sets none (never above ${limits.maxRowsCeiling}): a larger limit is lowered, as the notice says. Larger results are truncated with a notice.`,
    );
}

/** A call's row cap: the limit it asked for, the cap it got, and the most any call of its role gets. */
export interface RowLimit {
  cap: number;
  asked: number | undefined;
  most: number;
}

/** `rowCap` is the call's (call-pipeline.ts holds the rule): the most is what the largest allowed limit gets. */
export function rowLimit(rowCap: (asked: number | undefined) => number, asked: number | undefined, limits: HubLimits): RowLimit {
  return { cap: rowCap(asked), asked, most: rowCap(limits.maxRowsCeiling) };
}

/**
 * What a role decides about the shape of its results (max_cell_chars, result_form), and which tools its
 * notices may offer. A text-only role's table carries whole cells: max_cell_chars and max_result_bytes,
 * which say so in the notice, are its cuts.
 */
export interface ResultShape extends TableReader {
  maxCellChars?: number | undefined;
  maxRows?: number | undefined;
  toolAllowed(tool: string): boolean;
}

/** A page asked past a result's last row: empty, and saying why (an empty page read as "no more rows" only by luck). */
function pastEnd(result: QueryResult, offset: number): string | null {
  if (offset === 0 || result.rowCount > 0 || result.totalRows === undefined || offset < result.totalRows) return null;
  const total = result.totalRows;
  return total === 0
    ? `No row is shown: the result has no rows.`
    : `No row is shown: offset ${offset} is past the end of the result, which has ${total} row${total === 1 ? '' : 's'} (offsets 0–${total - 1}).`;
}

export function queryResult(result: QueryResult, limits: HubLimits, rows: RowLimit, offset: number, shape: ResultShape): CallToolResult {
  const { result: shown, cut } = capCells(result, shape.maxCellChars);
  const caps = { maxRows: rows.cap, maxBytes: limits.maxResultBytes, canPage: shape.toolAllowed('fetch_results'), canRaise: rows.cap < rows.most };
  // A lowered limit matters only when rows were left out for it (not when the byte cap cut first).
  const lowered = rows.asked !== undefined && rows.asked > rows.cap && shown.truncated && shown.truncatedBy !== 'bytes' && shown.truncatedBy !== 'time';
  const notices = [
    truncationNotice(shown, caps, offset),
    lowered ? `Your limit ${rows.asked} was lowered to ${rows.cap}, the most ${shape.maxRows !== undefined ? "your role's max_rows" : "the hub's max_rows"} allows per call.` : null,
    pastEnd(shown, offset),
    cut > 0 ? `${cut} cell(s) longer than ${shape.maxCellChars} characters were cut (max_cell_chars of your role; a VARIANT, OBJECT or ARRAY cell is given as its JSON text, cut); select a part of the value (SUBSTR, a JSON path) to read the rest.` : null,
  ].filter((n): n is string => n !== null);
  const notice = notices.length > 0 ? notices.join(' ') : null;
  const structured = queryStructured(shown, notice);
  // A role may take its rows once (structured) instead of twice (table text too): clients bill both.
  const text = shape.resultForm === 'structured'
    ? `${shown.rowCount} row${shown.rowCount === 1 ? '' : 's'}${shown.truncated ? ' (truncated)' : ''}${shown.queryId ? `, query id ${shown.queryId}` : ''}; the rows are in the structured result.${notice ? `\n\n${notice}` : ''}`
    : queryText(shown, notice, shape);
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/**
 * Column types whose cells are exact values of bounded size (a NUMBER's 40 digits, a timestamp's 30
 * characters): never cut. Cut at max_cell_chars = 10, "12345678901234567890" read "1234567890…" and every
 * timestamp its date alone — values the caller could not tell from others, not text shortened.
 */
const WHOLE_VALUE_TYPES = /^(NUMBER|DECIMAL|NUMERIC|INT|INTEGER|BIGINT|SMALLINT|TINYINT|BYTEINT|HUGEINT|UHUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|FLOAT|FLOAT4|FLOAT8|DOUBLE|REAL|DATE|TIME|TIME_NS|TIMETZ|TIMESTAMP|TIMESTAMPTZ|TIMESTAMP_NTZ|TIMESTAMP_LTZ|TIMESTAMP_TZ|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|BOOLEAN|INTERVAL|UUID)(\(\s*\d+\s*(,\s*\d+\s*)?\))?( WITH(OUT)? TIME ZONE)?$/i;

/**
 * Text cells cut to `max` characters (with an ellipsis); how many were cut. A semi-structured cell (VARIANT,
 * OBJECT, ARRAY, a STRUCT or LIST) is as long as its JSON text: one longer than `max` becomes that text, cut
 * — before, it went whole, so wrapping a column in an array (ARRAY_CONSTRUCT, TO_VARIANT) escaped the role's cap.
 */
function capCells(result: QueryResult, max: number | undefined): { result: QueryResult; cut: number } {
  if (max === undefined) return { result, cut: 0 };
  const whole = result.columns.map((c) => WHOLE_VALUE_TYPES.test(c.type.trim()));
  let cut = 0;
  const rows = result.rows.map((row) =>
    row.map((cell, i) => {
      if (whole[i] === true || cell === null) return cell;
      const text = typeof cell === 'string' ? cell : typeof cell === 'object' ? JSON.stringify(cell) : undefined;
      if (text !== undefined && text.length > max) {
        cut++;
        return `${cutText(text, max)}…`;
      }
      return cell;
    }),
  );
  return cut === 0 ? { result, cut } : { result: { ...result, rows }, cut };
}
