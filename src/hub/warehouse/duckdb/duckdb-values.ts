import {
  DuckDBArrayValue,
  DuckDBBitValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBGeometryValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimeNSValue,
  DuckDBTimeTZValue,
  DuckDBTimeValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  DuckDBUUIDValue,
  DuckDBUnionValue,
  DuckDBVariantValue,
} from '@duckdb/node-api';
import type { DuckDBType, DuckDBValue } from '@duckdb/node-api';
import type { JsonValue } from '../types.js';
import {
  bytesToHex,
  decimalToString,
  float32ToJson,
  floatToJson,
  formatDateFromDays,
  formatInterval,
  formatTimeOfDayMicros,
  formatTimeOfDayNanos,
  formatTimeWithOffset,
  formatTimestampMicros,
  formatTimestampNanos,
  integerToJson,
  keyString,
  parseJsonText,
  setMember,
  toJsonValue,
} from '../json-values.js';

/**
 * DuckDB result values → JSON-safe cells, following the shared rules in json-values.ts.
 * DuckDB's values are mostly self-describing classes; the column type is needed only where two types
 * share a JS representation (JSON is a VARCHAR alias, FLOAT arrives widened to a double).
 */
export function duckDbValueToJson(value: DuckDBValue, type?: DuckDBType): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'string':
      return type !== undefined && isJsonType(type) ? parseJsonText(value) : value;
    case 'number':
      return type?.typeId === DuckDBTypeId.FLOAT ? float32ToJson(value) : floatToJson(value);
    case 'bigint':
      return integerToJson(value);
    default:
      break;
  }
  if (value instanceof DuckDBDecimalValue) return decimalToString(value.value, value.scale);
  // DuckDB's 'infinity' / '-infinity' dates and timestamps are spelled as such (as DuckDB casts them to text).
  if (value instanceof DuckDBDateValue) return value.isFinite ? formatDateFromDays(value.days) : infinity(value.days);
  if (value instanceof DuckDBTimestampTZValue) return value.isFinite ? formatTimestampMicros(value.micros, true) : infinity(value.micros);
  if (value instanceof DuckDBTimestampValue) return value.isFinite ? formatTimestampMicros(value.micros, false) : infinity(value.micros);
  if (value instanceof DuckDBTimestampSecondsValue) return value.isFinite ? formatTimestampMicros(value.seconds * 1_000_000n, false) : infinity(value.seconds);
  if (value instanceof DuckDBTimestampMillisecondsValue) return value.isFinite ? formatTimestampMicros(value.millis * 1000n, false) : infinity(value.millis);
  if (value instanceof DuckDBTimestampNanosecondsValue) return value.isFinite ? formatTimestampNanos(value.nanos, false) : infinity(value.nanos);
  if (value instanceof DuckDBTimeValue) return formatTimeOfDayMicros(value.micros);
  if (value instanceof DuckDBTimeNSValue) return formatTimeOfDayNanos(value.nanos);
  if (value instanceof DuckDBTimeTZValue) return formatTimeWithOffset(value.micros, value.offset);
  if (value instanceof DuckDBIntervalValue) return formatInterval(value.months, value.days, value.micros);
  if (value instanceof DuckDBBlobValue) return bytesToHex(value.bytes);
  if (value instanceof DuckDBGeometryValue) return bytesToHex(value.bytes);
  if (value instanceof DuckDBBitValue) return value.toString();
  if (value instanceof DuckDBUUIDValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
    const itemType = type !== undefined && 'valueType' in type ? type.valueType : undefined;
    return value.items.map((item) => duckDbValueToJson(item, itemType));
  }
  if (value instanceof DuckDBStructValue) {
    const out: Record<string, JsonValue> = {};
    for (const [key, entry] of Object.entries(value.entries)) {
      setMember(out, key, duckDbValueToJson(entry, structEntryType(type, key)));
    }
    return out;
  }
  if (value instanceof DuckDBMapValue) {
    // Snowflake shows a MAP as an object; DuckDB map keys are unique, so nothing is lost.
    const keyType = type?.typeId === DuckDBTypeId.MAP ? type.keyType : undefined;
    const valueType = type?.typeId === DuckDBTypeId.MAP ? type.valueType : undefined;
    const out: Record<string, JsonValue> = {};
    for (const entry of value.entries) {
      setMember(out, keyString(duckDbValueToJson(entry.key, keyType)), duckDbValueToJson(entry.value, valueType));
    }
    return out;
  }
  if (value instanceof DuckDBUnionValue) {
    const memberType = type?.typeId === DuckDBTypeId.UNION ? safeMemberType(type, value.tag) : undefined;
    return duckDbValueToJson(value.value, memberType);
  }
  if (value instanceof DuckDBVariantValue) return duckDbValueToJson(value.value, value.type);
  return toJsonValue(value);
}

/** The type name a client sees: DuckDB's own, with aliases such as JSON kept. */
export function duckDbTypeName(type: DuckDBType): string {
  return type.alias ?? type.toString();
}

function infinity(raw: number | bigint): string {
  return raw > 0 ? 'infinity' : '-infinity';
}

function isJsonType(type: DuckDBType): boolean {
  return type.alias !== undefined && type.alias.toUpperCase() === 'JSON';
}

function structEntryType(type: DuckDBType | undefined, key: string): DuckDBType | undefined {
  if (type?.typeId !== DuckDBTypeId.STRUCT) return undefined;
  try {
    return type.typeForEntry(key);
  } catch {
    return undefined;
  }
}

function safeMemberType(type: DuckDBType & { memberTypeForTag(tag: string): DuckDBType }, tag: string): DuckDBType | undefined {
  try {
    return type.memberTypeForTag(tag);
  } catch {
    return undefined;
  }
}
