import { parseJsonLossless } from './lossless-json.js';
import type { JsonValue } from './types.js';

/**
 * Turns warehouse driver values into JSON-safe result cells, the same way for every backend, so a
 * client sees identical shapes from the embedded warehouse and from Snowflake:
 *
 * - integers within ±(2^53-1) → number; larger integers → decimal string (never a rounded number);
 * - fixed-point decimals → exact decimal string with the column's scale ("12.30"), never a float;
 * - floats → number; NaN / ±Infinity / -0 → "NaN" / "Infinity" / "-Infinity" / "-0" (JSON has no such numbers:
 *   JSON.stringify writes -0 as 0, so a FLOAT column's negative zero would read as zero);
 * - DATE → "YYYY-MM-DD"; TIME → "HH:MM:SS[.ffffff]"; TIMESTAMP without zone → "YYYY-MM-DDTHH:MM:SS[.ffffff]";
 *   TIMESTAMP with zone → the same in UTC with a trailing "Z"; JS Date → ISO with "Z";
 * - binary → upper-case hex; semi-structured values → nested JSON values, the same integer rule inside them,
 *   and any other number a double does not hold as written as its exact text (lossless-json.ts).
 *
 * Driver-specific decoding (which class is a TIMESTAMP and which a TIMESTAMP WITH TIME ZONE) lives with
 * each driver; it calls the formatters exported here.
 */

const MAX_DEPTH = 64;
const MICROS_PER_SECOND = 1_000_000n;
const SECONDS_PER_DAY = 86_400n;

/** Converts any JS value a driver may hand out into a JSON-safe value (recursively). */
export function toJsonValue(value: unknown): JsonValue {
  return convert(value, 0, new Set<object>());
}

function convert(value: unknown, depth: number, seen: Set<object>): JsonValue {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      // A number inside a document stays a number (a VARIANT's -0 is JSON's -0, which serializes as 0).
      return Object.is(value, -0) ? value : floatToJson(value);
    case 'bigint':
      return integerToJson(value);
    case 'symbol':
    case 'function':
      return String(value);
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return dateObjectToJson(obj);
  if (obj instanceof Uint8Array) return bytesToHex(obj);
  if (obj instanceof ArrayBuffer) return bytesToHex(new Uint8Array(obj));
  if (ArrayBuffer.isView(obj)) return bytesToHex(new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength));
  if (depth >= MAX_DEPTH || seen.has(obj)) return '[nested too deep]';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((item) => convert(item, depth + 1, seen));
    if (obj instanceof Map) {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of obj) out[keyString(convert(k, depth + 1, seen))] = convert(v, depth + 1, seen);
      return out;
    }
    if (obj instanceof Set) return [...obj].map((item) => convert(item, depth + 1, seen));
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return convert(toJSON.call(obj), depth + 1, seen);
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      // A driver's value class without toJSON (e.g. a decimal wrapper): its string form is its value.
      const text = String(obj);
      if (text !== '[object Object]') return text;
    }
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(obj)) setMember(out, k, convert(v, depth + 1, seen));
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** A converted value as an object key: strings as they are, anything else as its JSON text. */
export function keyString(key: JsonValue): string {
  return typeof key === 'string' ? key : JSON.stringify(key);
}

/** Integers: exact number when safe, else a decimal string. */
export function integerToJson(value: bigint | number): number | string {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : floatToJson(value);
  if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  return value.toString();
}

/**
 * Floats: numbers, with the values JSON cannot carry spelled as strings: the non-finite ones and negative
 * zero (JSON.stringify(-0) is "0"; Snowflake and DuckDB show -0).
 */
export function floatToJson(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (Object.is(value, -0)) return '-0';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/**
 * A single-precision float, widened to a double by the driver, shown with the fewest digits that
 * round-trip in single precision (0.1 rather than 0.10000000149011612).
 */
export function float32ToJson(value: number): number | string {
  if (!Number.isFinite(value) || Object.is(value, -0)) return floatToJson(value);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === Math.fround(value)) return candidate;
  }
  return value;
}

/** The exact decimal text of `unscaled / 10^scale`, keeping the scale's digits ("12.30", "-0.05"). */
export function decimalToString(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (scale <= 0) return (negative ? '-' : '') + digits + (scale < 0 ? '0'.repeat(-scale) : '');
  const padded = digits.padStart(scale + 1, '0');
  const text = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  return negative ? `-${text}` : text;
}

/** "YYYY-MM-DD" for a count of days since 1970-01-01 (proleptic Gregorian). */
export function formatDateFromDays(days: number): string {
  const { year, month, day } = civilFromDays(BigInt(days));
  return `${formatYear(year)}-${pad2(month)}-${pad2(day)}`;
}

/** "HH:MM:SS[.ffffff]" for microseconds since midnight (a fraction only when there is one). */
export function formatTimeOfDayMicros(micros: bigint): string {
  return formatTimeOfDay(micros / MICROS_PER_SECOND, Number(micros % MICROS_PER_SECOND) * 1000);
}

/** "HH:MM:SS[.ffffff]" (or 9 fraction digits when nanoseconds need them) for nanoseconds since midnight. */
export function formatTimeOfDayNanos(nanos: bigint): string {
  return formatTimeOfDay(nanos / 1_000_000_000n, Number(nanos % 1_000_000_000n));
}

/** "HH:MM:SS[.ffffff]±HH:MM" for a time of day with a UTC offset in seconds. */
export function formatTimeWithOffset(micros: bigint, offsetSeconds: number): string {
  return formatTimeOfDayMicros(micros) + formatOffset(offsetSeconds);
}

/**
 * An instant given as microseconds since the epoch: "YYYY-MM-DDTHH:MM:SS[.ffffff]", with a trailing "Z"
 * when `utc` (TIMESTAMP WITH TIME ZONE: the instant in UTC); without it for a zone-less TIMESTAMP.
 */
export function formatTimestampMicros(micros: bigint, utc: boolean): string {
  return formatEpochParts(floorDiv(micros, MICROS_PER_SECOND), Number(floorMod(micros, MICROS_PER_SECOND)) * 1000, utc);
}

/** As formatTimestampMicros, for nanoseconds since the epoch. */
export function formatTimestampNanos(nanos: bigint, utc: boolean): string {
  return formatEpochParts(floorDiv(nanos, 1_000_000_000n), Number(floorMod(nanos, 1_000_000_000n)), utc);
}

/**
 * An instant (epoch nanoseconds) as the wall time at a UTC offset, with that offset:
 * "2024-06-01T12:00:00+05:30" — a TIMESTAMP_TZ value as it was stored; "+00:00" for an offset of 0.
 */
export function formatTimestampNanosAtOffset(nanos: bigint, offsetMinutes: number): string {
  const local = nanos + BigInt(offsetMinutes) * 60_000_000_000n;
  return formatEpochParts(floorDiv(local, 1_000_000_000n), Number(floorMod(local, 1_000_000_000n)), false) + formatOffset(offsetMinutes * 60);
}

/** A readable interval: "1 year 2 months 3 days 04:05:06.5"; "00:00:00" for a zero interval. */
export function formatInterval(months: number, days: number, micros: bigint): string {
  const parts: string[] = [];
  const years = Math.trunc(months / 12);
  const restMonths = months % 12;
  if (years !== 0) parts.push(plural(years, 'year'));
  if (restMonths !== 0) parts.push(plural(restMonths, 'month'));
  if (days !== 0) parts.push(plural(days, 'day'));
  if (micros !== 0n || parts.length === 0) {
    const negative = micros < 0n;
    const abs = negative ? -micros : micros;
    const totalSeconds = abs / MICROS_PER_SECOND;
    const fraction = abs % MICROS_PER_SECOND;
    const hours = totalSeconds / 3600n;
    const minutes = (totalSeconds / 60n) % 60n;
    const seconds = totalSeconds % 60n;
    let text = `${hours.toString().padStart(2, '0')}:${pad2(Number(minutes))}:${pad2(Number(seconds))}`;
    if (fraction !== 0n) text += `.${fraction.toString().padStart(6, '0').replace(/0+$/, '')}`;
    parts.push(negative ? `-${text}` : text);
  }
  return parts.join(' ');
}

/** Upper-case hex, as Snowflake shows BINARY with BINARY_OUTPUT_FORMAT = HEX. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

/** A JS Date as ISO 8601 in UTC; an invalid Date as null (it carries no value). */
export function dateObjectToJson(date: Date): string | null {
  const ms = date.getTime();
  if (Number.isNaN(ms)) return null;
  return date.toISOString();
}

/**
 * The text of a JSON / VARIANT column as nested JSON values, integers beyond ±(2^53-1) inside it as exact
 * decimal strings (lossless-json.ts). Text that is not valid JSON stays a string (a warehouse may hand
 * back a bare scalar or an invalid document; the cell is still worth showing).
 */
export function parseJsonText(text: string): JsonValue {
  try {
    return toJsonValue(parseJsonLossless(text));
  } catch {
    return text;
  }
}

/**
 * The size in bytes of a value serialized as JSON.stringify does it (UTF-8), without building the string:
 * the measure of the result-size caps. Escapes count: a control character is six bytes (\u0001), so
 * counting it as one let a result of them reach six times the cap.
 */
export function jsonSize(value: JsonValue): number {
  if (value === null) return 4;
  switch (typeof value) {
    case 'boolean':
      return value ? 4 : 5;
    case 'number':
      return String(value).length;
    case 'string':
      return stringSize(value);
    default:
      break;
  }
  if (Array.isArray(value)) {
    let size = 2 + Math.max(0, value.length - 1);
    for (const item of value) size += jsonSize(item);
    return size;
  }
  const entries = Object.entries(value);
  let size = 2 + Math.max(0, entries.length - 1);
  for (const [k, v] of entries) size += stringSize(k) + 1 + jsonSize(v);
  return size;
}

/** Characters JSON.stringify writes as an escape: quote, backslash, controls, and (if lone) surrogates. */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

function stringSize(text: string): number {
  const size = Buffer.byteLength(text, 'utf8') + 2;
  return ESCAPED.test(text) ? size + escapeBytes(text) : size;
}

/** Bytes the escapes in `text` add to its UTF-8 length. */
function escapeBytes(text: string): number {
  let extra = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) {
      extra += 1; // \" \\ \b \t \n \f \r
    } else if (c < 0x20) {
      extra += 5; // \u00XX
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++; // a pair: 4 UTF-8 bytes, counted
      else extra += 3; // lone: \udXXX is 6 bytes where UTF-8 counted 3 (U+FFFD)
    }
  }
  return extra;
}

// ---- calendar arithmetic (exact for any bigint; the JS Date range is too small for DuckDB's) ----

function formatEpochParts(epochSeconds: bigint, fractionNanos: number, utc: boolean): string {
  const days = floorDiv(epochSeconds, SECONDS_PER_DAY);
  const secondOfDay = floorMod(epochSeconds, SECONDS_PER_DAY);
  const { year, month, day } = civilFromDays(days);
  return `${formatYear(year)}-${pad2(month)}-${pad2(day)}T${formatTimeOfDay(secondOfDay, fractionNanos)}${utc ? 'Z' : ''}`;
}

function formatTimeOfDay(totalSeconds: bigint, fractionNanos: number): string {
  const s = Number(totalSeconds);
  const text = `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
  if (fractionNanos === 0) return text;
  if (fractionNanos % 1000 === 0) return `${text}.${String(fractionNanos / 1000).padStart(6, '0')}`;
  return `${text}.${String(fractionNanos).padStart(9, '0')}`;
}

function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  const text = `${sign}${pad2(Math.floor(abs / 3600))}:${pad2(Math.floor(abs / 60) % 60)}`;
  return abs % 60 === 0 ? text : `${text}:${pad2(abs % 60)}`;
}

/** Howard Hinnant's days-to-civil algorithm: on numbers in the usual range (fast), on bigints beyond it. */
function civilFromDays(daysSinceEpoch: bigint): { year: bigint; month: number; day: number } {
  if (daysSinceEpoch > -1_000_000_000n && daysSinceEpoch < 1_000_000_000n) {
    const z = Number(daysSinceEpoch) + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    return { year: BigInt(yoe + era * 400 + (month <= 2 ? 1 : 0)), month, day };
  }
  const z = daysSinceEpoch + 719_468n;
  const era = floorDiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = Number(doy - (153n * mp + 2n) / 5n + 1n);
  const month = Number(mp < 10n ? mp + 3n : mp - 9n);
  const year = yoe + era * 400n + (month <= 2 ? 1n : 0n);
  return { year, month, day };
}

/** Four digits for years 0–9999; ISO 8601 expanded form (sign, at least six digits) outside it. */
function formatYear(year: bigint): string {
  if (year >= 0n && year <= 9999n) return year.toString().padStart(4, '0');
  const abs = year < 0n ? -year : year;
  return (year < 0n ? '-' : '+') + abs.toString().padStart(6, '0');
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function floorMod(a: bigint, b: bigint): bigint {
  return a - floorDiv(a, b) * b;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${Math.abs(n) === 1 ? '' : 's'}`;
}

/**
 * `out[key] = value` for keys that are data: a member named `__proto__` (a struct field, a map key, a JSON
 * object's) is assigned as an own member; a plain assignment would set the object's prototype instead and
 * the member would vanish from the result.
 */
export function setMember(out: Record<string, JsonValue>, key: string, value: JsonValue): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}
