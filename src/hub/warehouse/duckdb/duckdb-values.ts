import {
  DuckDBArrayValue,
  DuckDBBitValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBGeometryValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBListVector,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBStructVector,
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
import type { DuckDBType, DuckDBValue, DuckDBVector } from '@duckdb/node-api';
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
 * One cell of a result, read from its column's vector. @duckdb/node-api fills a STRUCT value's `entries`
 * by plain assignment, so a field named __proto__ never arrives as a field (the assignment sets the
 * object's prototype, or does nothing for a scalar). A STRUCT, at any depth of STRUCTs and LISTs, is
 * therefore read field by field from its vectors, by the type's entry names; every other cell is
 * converted from DuckDB's value.
 */
export function duckDbCellToJson(vector: DuckDBVector, index: number, type: DuckDBType = vector.type): JsonValue {
  if (vector instanceof DuckDBStructVector) {
    if (!vector.isItemValid(index)) return null;
    // The result's own type where it says the same (it carries aliases such as JSON).
    const { entryNames, entryTypes } = type.typeId === DuckDBTypeId.STRUCT ? type : vector.type;
    const out: Record<string, JsonValue> = {};
    for (let i = 0; i < entryNames.length; i++) {
      setMember(out, entryNames[i] as string, duckDbCellToJson(vector.entryVectorAt(i), index, entryTypes[i]));
    }
    return out;
  }
  if (vector instanceof DuckDBListVector) {
    const items = vector.getItemVector(index);
    if (items === null) return null;
    const itemType = type.typeId === DuckDBTypeId.LIST ? type.valueType : vector.type.valueType;
    const out = new Array<JsonValue>(items.itemCount);
    for (let i = 0; i < out.length; i++) out[i] = duckDbCellToJson(items, i, itemType);
    return out;
  }
  return duckDbValueToJson(vector.getItem(index), type);
}

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
    for (const [key, entry] of structFields(value, type)) {
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

/**
 * A STRUCT value's fields, in the type's order when it is known. The value was built by @duckdb/node-api
 * (a STRUCT inside an ARRAY, MAP or UNION; duckDbCellToJson reads the others from their vectors), whose
 * plain assignment made a field named __proto__ the prototype of `entries`: a nested value or NULL is
 * taken back from there; a scalar one is already lost.
 */
function structFields(value: DuckDBStructValue, type: DuckDBType | undefined): [string, DuckDBValue][] {
  const fields = Object.entries(value.entries);
  const proto = Object.getPrototypeOf(value.entries) as DuckDBValue | object;
  if (proto !== Object.prototype) fields.push(['__proto__', proto as DuckDBValue]);
  if (type?.typeId === DuckDBTypeId.STRUCT) fields.sort(([a], [b]) => type.entryNames.indexOf(a) - type.entryNames.indexOf(b));
  return fields;
}

/** By position in the type's entry names: the type's own lookup by name is a plain object too. */
function structEntryType(type: DuckDBType | undefined, key: string): DuckDBType | undefined {
  if (type?.typeId !== DuckDBTypeId.STRUCT) return undefined;
  const index = type.entryNames.indexOf(key);
  return index < 0 ? undefined : type.entryTypes[index];
}

function safeMemberType(type: DuckDBType & { memberTypeForTag(tag: string): DuckDBType }, tag: string): DuckDBType | undefined {
  try {
    return type.memberTypeForTag(tag);
  } catch {
    return undefined;
  }
}
