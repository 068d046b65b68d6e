/**
 * snowflake-sdk result cells → JSON-safe values, with the same shapes the embedded warehouse produces
 * (json-values.ts). Statements run with fetchAsString ['Number'], so NUMBER cells arrive as Snowflake's
 * exact text (no float rounding of big integers or decimals); dates and timestamps arrive as the driver's
 * SfDate objects, whose epoch seconds + nanoseconds keep full precision. TIME needs help: the driver hands
 * out only its text in the session's TIME_OUTPUT_FORMAT (Snowflake's default HH24:MI:SS drops the fraction),
 * although it decoded the exact value first; exposeTimeValues() hands the statement's rows that decoded
 * value (an SfTime: midnight seconds + nanoseconds) instead, and it is shown with the column's scale.
 */
import {
  decimalToString,
  floatToJson,
  formatDateFromDays,
  formatTimestampNanos,
  formatTimestampNanosAtOffset,
  integerToJson,
  parseJsonText,
  toJsonValue,
} from '../json-values.js';
import type { ColumnInfo, JsonValue } from '../types.js';
import type { SfColumn } from './sdk-types.js';

export type CellConverter = (value: unknown) => JsonValue;

interface SfDateLike {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
  /** TIMESTAMP_TZ: the value's UTC offset in minutes; LTZ: the session's TIMEZONE name. */
  getTimezone?(): unknown;
}
interface SfTimeLike {
  getMidnightSeconds(): number;
  getNanoSeconds(): number;
}

const NANOS = 1_000_000_000n;
/** Marks a driver column whose TIME cells exposeTimeValues() already hands over decoded. */
const TIME_EXPOSED = Symbol('snowmux.timeExposed');

export function columnInfo(column: SfColumn): ColumnInfo {
  return { name: column.getName(), type: snowflakeTypeName(column), nullable: column.isNullable() };
}

/** Snowflake's own spelling of a column type, e.g. NUMBER(38,0), VARCHAR, TIMESTAMP_NTZ. */
export function snowflakeTypeName(column: SfColumn): string {
  const type = column.getType().toLowerCase();
  switch (type) {
    case 'fixed':
      return `NUMBER(${column.getPrecision() ?? 38},${column.getScale() ?? 0})`;
    case 'real':
      return 'FLOAT';
    case 'text':
      return 'VARCHAR';
    default:
      return type.toUpperCase();
  }
}

/**
 * Column types whose cell may be the text "NULL" as a value: VARCHAR's 'NULL' is a real string, and a
 * VARIANT/OBJECT/ARRAY cell is the parsed document (a JSON string "NULL" is data). The driver gives their
 * NULL as null.
 */
const TEXT_VALUED_TYPES = new Set(['text', 'variant', 'object', 'array', 'map']);

/**
 * The converter for a column's cells. The driver gives a NULL as the text "NULL" wherever it hands over
 * text rather than a value (its process-wide representNullAsStringNull default, which the hub leaves
 * alone): every cell fetched as string (NUMBER and FLOAT, fetchAsString ['Number']) and TIME, which it
 * always gives as text. For every type other than those in TEXT_VALUED_TYPES that text cannot be a
 * value, so it is the NULL — also for types that arrive as values today (a boolean, an SfDate, a Buffer),
 * should they ever be fetched as string.
 */
export function cellConverter(column: SfColumn): CellConverter {
  const type = column.getType().toLowerCase();
  const convert = valueConverter(column, type);
  if (TEXT_VALUED_TYPES.has(type)) return convert;
  return (v) => (v === 'NULL' ? null : convert(v));
}

function valueConverter(column: SfColumn, type: string): CellConverter {
  switch (type) {
    case 'fixed': {
      const scale = column.getScale() ?? 0;
      return (v) => (v === null || v === undefined ? null : fixedToJson(String(v), scale));
    }
    case 'real':
      return (v) => (v === null || v === undefined ? null : realToJson(v));
    case 'date':
      return (v) => (isSfDate(v) ? formatDateFromDays(Math.floor(v.getEpochSeconds() / 86_400)) : toJsonValue(v));
    case 'time': {
      const scale = column.getScale() ?? 9;
      return (v) => (isSfTime(v) ? formatTimeAtScale(v.getMidnightSeconds(), v.getNanoSeconds(), scale) : toJsonValue(v));
    }
    case 'timestamp_ntz':
      return (v) => (isSfDate(v) ? formatTimestampNanos(epochNanos(v), false) : toJsonValue(v));
    case 'timestamp_ltz':
      return (v) => (isSfDate(v) ? formatTimestampNanos(epochNanos(v), true) : toJsonValue(v));
    case 'timestamp_tz':
      // The offset is part of a TIMESTAMP_TZ value (Snowflake keeps each value's own): shown with it, as
      // Snowflake does, not turned into UTC. The driver hands it over in minutes.
      return (v) => {
        if (!isSfDate(v)) return toJsonValue(v);
        const offset = typeof v.getTimezone === 'function' ? v.getTimezone() : undefined;
        return typeof offset === 'number' && Number.isInteger(offset) && Math.abs(offset) <= 1440
          ? formatTimestampNanosAtOffset(epochNanos(v), offset)
          : formatTimestampNanos(epochNanos(v), true);
      };
    case 'vector':
      // The driver does not know VECTOR and hands over Snowflake's cell text, "[1.5,2,3]": the caller gets
      // the array of numbers, as an ARRAY cell is given — not a string holding JSON.
      return (v) => (typeof v === 'string' ? parseJsonText(v) : toJsonValue(v));
    case 'geography':
    case 'geometry':
      // Text in the session's GEOGRAPHY/GEOMETRY_OUTPUT_FORMAT: GeoJSON (the default) is a JSON object, given
      // as one like an OBJECT cell; WKT, EWKT and the hex of WKB stay text.
      return (v) => (typeof v === 'string' && v.trimStart().startsWith('{') ? parseJsonText(v) : toJsonValue(v));
    default:
      // text, boolean, binary (Buffer → hex), variant/object/array (parsed JSON)
      return toJsonValue;
  }
}

/** NUMBER text → integer (exact number when safe, else string) or exact decimal string with the column's scale. */
export function fixedToJson(text: string, scale: number): JsonValue {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (m === null) return text;
  const [, sign, whole, fraction = ''] = m;
  if (scale <= 0 && fraction.replace(/0+$/, '') === '') return integerToJson(BigInt(`${sign}${whole || '0'}`));
  const digits = (fraction + '0'.repeat(scale)).slice(0, Math.max(scale, 0));
  return decimalToString(BigInt(`${sign}${whole || '0'}${digits}`), Math.max(scale, 0));
}

/**
 * A TIME(scale) value as Snowflake holds it: "HH:MM:SS" and the fraction of a second to the column's scale,
 * its trailing zeros dropped (TIME(3) 12:34:56.789 → "12:34:56.789", TIME(9) 01:02:03.5 → "01:02:03.5",
 * no fraction when there is none) — never a digit the column does not hold, never one of its digits lost.
 */
export function formatTimeAtScale(midnightSeconds: number, nanos: number, scale: number): string {
  const s = Math.trunc(midnightSeconds);
  const pad2 = (n: number): string => String(n).padStart(2, '0');
  const text = `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
  const digits = Math.min(Math.max(Math.trunc(scale), 0), 9);
  const fraction = String(Math.trunc(nanos)).padStart(9, '0').slice(0, digits).replace(/0+$/, '');
  return fraction === '' ? text : `${text}.${fraction}`;
}

/**
 * Makes the rows of a statement's result carry each TIME cell as the value the driver decoded (an SfTime)
 * rather than the text it formats from it in the session's TIME_OUTPUT_FORMAT, which by Snowflake's default
 * (HH24:MI:SS) loses the fraction of a second. The hub does not set TIME_OUTPUT_FORMAT itself: that would
 * change how the caller's own SQL turns TIME into text (TO_VARCHAR, ::VARCHAR).
 *
 * snowflake-sdk has no public way to this value: each column's `_getRowValue(row)` decodes the cell into
 * `row.values[index]` and then formats it. The wrapper returns that decoded value; should a driver version
 * lack either, the cell stays the driver's text (test/integration/snowflake-results.test.ts fails then).
 */
export function exposeTimeValues(columns: readonly SfColumn[]): void {
  for (const column of columns) {
    if (column.getType().toLowerCase() !== 'time') continue;
    const internal = column as unknown as { _getRowValue?: (row: unknown) => unknown; [TIME_EXPOSED]?: true };
    const original = internal._getRowValue;
    if (typeof original !== 'function' || internal[TIME_EXPOSED] === true) continue;
    const index = column.getIndex();
    internal._getRowValue = function (this: unknown, row: unknown): unknown {
      const formatted = original.call(this, row);
      const decoded = (row as { values?: unknown[] } | null)?.values?.[index];
      return isSfTime(decoded) ? decoded : formatted;
    };
    internal[TIME_EXPOSED] = true;
  }
}

function realToJson(v: unknown): JsonValue {
  if (typeof v === 'number') return floatToJson(v);
  const text = String(v).trim().toLowerCase();
  if (text === 'inf' || text === 'infinity') return 'Infinity';
  if (text === '-inf' || text === '-infinity') return '-Infinity';
  return floatToJson(Number(text));
}

function epochNanos(v: SfDateLike): bigint {
  return BigInt(v.getEpochSeconds()) * NANOS + BigInt(v.getNanoSeconds());
}

function isSfDate(v: unknown): v is SfDateLike {
  return typeof v === 'object' && v !== null && typeof (v as SfDateLike).getEpochSeconds === 'function';
}

function isSfTime(v: unknown): v is SfTimeLike {
  return typeof v === 'object' && v !== null && typeof (v as SfTimeLike).getMidnightSeconds === 'function';
}
