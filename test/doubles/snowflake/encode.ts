/**
 * Turns DuckDB results (and hand-built SHOW/DESCRIBE tables) into Snowflake's JSON result shape:
 * `rowtype` column descriptions and `rowset` cells encoded as text the way snowflake-sdk decodes them
 * (see shared/notes/snowflake-wire.md, "Result cell encoding").
 */
import { DuckDBTypeId, type DuckDBResultReader, type DuckDBType } from '@duckdb/node-api';

export type SfType =
  | 'fixed'
  | 'real'
  | 'text'
  | 'boolean'
  | 'date'
  | 'time'
  | 'timestamp_ntz'
  | 'timestamp_ltz'
  | 'timestamp_tz'
  | 'binary'
  | 'variant'
  | 'object'
  | 'array';

export interface RowType {
  name: string;
  database: string;
  schema: string;
  table: string;
  type: SfType;
  scale: number | null;
  precision: number | null;
  length: number | null;
  byteLength: number | null;
  nullable: boolean;
  collation: null;
}

export interface EncodedResult {
  rowtype: RowType[];
  rowset: (string | null)[][];
}

export function rowType(name: string, type: SfType, extra: Partial<RowType> = {}): RowType {
  const base: RowType = {
    name,
    database: '',
    schema: '',
    table: '',
    type,
    scale: null,
    precision: null,
    length: null,
    byteLength: null,
    nullable: true,
    collation: null,
  };
  if (type === 'fixed') {
    base.precision = 38;
    base.scale = 0;
  } else if (type === 'text') {
    base.length = 16777216;
    base.byteLength = 16777216;
  } else if (type === 'time' || type.startsWith('timestamp')) {
    base.scale = 9;
    base.precision = 0;
  } else if (type === 'binary') {
    base.length = 8388608;
    base.byteLength = 8388608;
  }
  return { ...base, ...extra };
}

/** Snowflake type name shown by DESCRIBE/SHOW COLUMNS for a DuckDB column type. */
export function snowflakeTypeName(duckType: string): string {
  const t = duckType.toUpperCase();
  const dec = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (dec) return `NUMBER(${dec[1]},${dec[2]})`;
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(t)) return 'NUMBER(38,0)';
  if (t === 'DOUBLE' || t === 'FLOAT') return 'FLOAT';
  if (t === 'VARCHAR') return 'VARCHAR(16777216)';
  if (t === 'BOOLEAN') return 'BOOLEAN';
  if (t === 'DATE') return 'DATE';
  if (t === 'TIME' || t === 'TIME_NS') return 'TIME(9)';
  const time = /^UNION\("?SF_TIME_(\d)"? TIME_NS\)$/.exec(t);
  if (time) return `TIME(${time[1]})`;
  if (t === 'TIMESTAMP') return 'TIMESTAMP_NTZ(9)';
  if (t === 'TIMESTAMP WITH TIME ZONE') return 'TIMESTAMP_LTZ(9)';
  if (t === 'BLOB') return 'BINARY(8388608)';
  if (t.endsWith('[]')) return 'ARRAY';
  if (t.startsWith('STRUCT') || t.startsWith('MAP')) return 'OBJECT';
  return 'VARIANT';
}

interface ColumnEncoder {
  rowtype: RowType;
  encode(value: unknown, json: unknown): string | null;
}

function pad9(n: bigint): string {
  return n.toString().padStart(9, '0');
}

/** Seconds since midnight with `scale` fraction digits, as Snowflake sends a TIME(scale) cell ("45296.789"). */
function timeCell(nanos: bigint, scale: number): string {
  const seconds = (nanos / 1_000_000_000n).toString();
  return scale === 0 ? seconds : `${seconds}.${pad9(nanos % 1_000_000_000n).slice(0, scale)}`;
}

/** The n of a `UNION(sf_time_n TIME_NS)` column: Snowflake's TIME(n) in the double's DuckDB. */
function timeScaleOfUnion(type: DuckDBType): number | undefined {
  const tags = (type as unknown as { memberTags?: string[] }).memberTags ?? [];
  const m = tags.length === 1 ? /^sf_time_(\d)$/.exec(tags[0]!) : null;
  return m === null ? undefined : Number(m[1]);
}

/** The n of a `UNION(sf_tstz_n VARCHAR)` column: Snowflake's TIMESTAMP_TZ(n) in the double's DuckDB. */
function timestampTzScaleOfUnion(type: DuckDBType): number | undefined {
  const tags = (type as unknown as { memberTags?: string[] }).memberTags ?? [];
  const m = tags.length === 1 ? /^sf_tstz_(\d)$/.exec(tags[0]!) : null;
  return m === null ? undefined : Number(m[1]);
}

/**
 * A TIMESTAMP_TZ(scale) cell as Snowflake sends it: epoch seconds with `scale` fraction digits, a space, and
 * the value's UTC offset in minutes + 1440 ("1717223400.000000000 1770" for 2024-06-01 12:00:00 +05:30).
 * The text is `YYYY-MM-DD[ T]HH:MI:SS[.f…][ ][Z|±HH[:]MI]`; without an offset it is UTC.
 */
function timestampTzCell(text: string, scale: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  if (m === null) throw new Error(`Timestamp '${text}' is not recognized`);
  const [, y, mo, d, h, mi, sec, frac = '', zone] = m;
  let offset = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const z = zone.replace(':', '');
    offset = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const wall = new Date(0);
  wall.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // not Date.UTC: it reads years 0-99 as 1900-1999
  wall.setUTCHours(Number(h), Number(mi), Number(sec), 0);
  const local = BigInt(wall.getTime() / 1000);
  const nanos = (local - BigInt(offset * 60)) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, scale).padEnd(9, '0'));
  const abs = nanos < 0n ? -nanos : nanos;
  const whole = `${nanos < 0n ? '-' : ''}${abs / 1_000_000_000n}`;
  return `${whole}${scale === 0 ? '' : `.${pad9(abs % 1_000_000_000n).slice(0, scale)}`} ${offset + 1440}`;
}

/** micro-seconds since epoch → signed decimal seconds with 9 fraction digits, as Snowflake sends it. */
function epochMicrosToCell(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  return `${negative ? '-' : ''}${abs / 1_000_000n}.${pad9((abs % 1_000_000n) * 1000n)}`;
}

function encoderFor(name: string, type: DuckDBType): ColumnEncoder {
  const id = type.typeId;
  // DuckDB's JSON stands for VARIANT: the cell is the document's text, digits as written (a 64-bit id stays exact).
  if (type.alias?.toUpperCase() === 'JSON') return { rowtype: rowType(name, 'variant'), encode: (v) => String(v) };
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
      return { rowtype: rowType(name, 'boolean'), encode: (v) => (v ? '1' : '0') };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      return { rowtype: rowType(name, 'fixed'), encode: (v) => String(v) };
    case DuckDBTypeId.DECIMAL: {
      const t = type as unknown as { width: number; scale: number };
      return { rowtype: rowType(name, 'fixed', { precision: t.width, scale: t.scale }), encode: (v) => String(v) };
    }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      // Snowflake sends a negative zero with its sign (String(-0) is "0").
      return { rowtype: rowType(name, 'real'), encode: (v) => (Object.is(v, -0) ? '-0' : String(v)) };
    case DuckDBTypeId.DATE:
      return { rowtype: rowType(name, 'date'), encode: (v) => String((v as { days: number }).days) };
    case DuckDBTypeId.TIME:
      return { rowtype: rowType(name, 'time'), encode: (v) => timeCell((v as { micros: bigint }).micros * 1000n, 9) };
    case DuckDBTypeId.TIME_NS:
      return { rowtype: rowType(name, 'time'), encode: (v) => timeCell((v as { nanos: bigint }).nanos, 9) };
    case DuckDBTypeId.UNION: {
      const tz = timestampTzScaleOfUnion(type);
      if (tz !== undefined) {
        return {
          rowtype: rowType(name, 'timestamp_tz', { scale: tz }),
          encode: (v) => {
            const member = (v as { value: unknown }).value;
            return member === null ? null : timestampTzCell(String(member), tz);
          },
        };
      }
      // Snowflake's TIME(n), as the engine rewrites it: a one-member UNION(sf_time_n TIME_NS) (sql-engine.ts).
      const scale = timeScaleOfUnion(type);
      if (scale === undefined) return { rowtype: rowType(name, 'text'), encode: (v) => String(v) };
      return {
        rowtype: rowType(name, 'time', { scale }),
        encode: (v) => {
          const member = (v as { value: { nanos: bigint } | null }).value;
          return member === null ? null : timeCell(member.nanos, scale);
        },
      };
    }
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_NS:
      return {
        rowtype: rowType(name, 'timestamp_ntz'),
        encode: (v) => {
          const any = v as { micros?: bigint; millis?: bigint; seconds?: bigint; nanos?: bigint };
          const micros = any.micros ?? (any.millis !== undefined ? any.millis * 1000n : any.seconds !== undefined ? any.seconds * 1_000_000n : (any.nanos ?? 0n) / 1000n);
          return epochMicrosToCell(micros);
        },
      };
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { rowtype: rowType(name, 'timestamp_ltz'), encode: (v) => epochMicrosToCell((v as { micros: bigint }).micros) };
    case DuckDBTypeId.BLOB:
      return {
        rowtype: rowType(name, 'binary'),
        encode: (v) => Buffer.from((v as { bytes: Uint8Array }).bytes).toString('hex').toUpperCase(),
      };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { rowtype: rowType(name, 'array'), encode: (_v, json) => semiStructuredText(json, type) };
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
      // Snowflake's OBJECT is a JSON object: a MAP too, at any depth (semiStructuredText).
      return { rowtype: rowType(name, 'object'), encode: (_v, json) => semiStructuredText(json, type) };
    case DuckDBTypeId.SQLNULL:
      return { rowtype: rowType(name, 'text'), encode: () => null };
    default:
      return { rowtype: rowType(name, 'text'), encode: (v) => String(v) };
  }
}

/**
 * DuckDB's JSON of a value as Snowflake's semi-structured text: a MAP (whose DuckDB JSON is a list of
 * {key, value} entries) as a JSON object, keys as text, as an OBJECT's are — at any depth, by the type.
 * Members are written one by one, so a key such as __proto__ stays a member.
 */
function semiStructuredText(json: unknown, type: DuckDBType): string {
  if (json === null || json === undefined) return 'null';
  const t = type as unknown as { valueType?: DuckDBType; entryNames?: string[]; entryTypes?: DuckDBType[] };
  if (type.typeId === DuckDBTypeId.MAP && Array.isArray(json)) {
    const members = (json as { key: unknown; value: unknown }[]).map(({ key, value }) =>
      `${JSON.stringify(typeof key === 'string' ? key : JSON.stringify(key))}:${semiStructuredText(value, t.valueType!)}`);
    return `{${members.join(',')}}`;
  }
  if ((type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) && Array.isArray(json)) {
    return `[${json.map((item) => semiStructuredText(item, t.valueType!)).join(',')}]`;
  }
  if (type.typeId === DuckDBTypeId.STRUCT && typeof json === 'object' && t.entryNames !== undefined) {
    const record = json as Record<string, unknown>;
    const members = t.entryNames.map((name, i) => `${JSON.stringify(name)}:${semiStructuredText(Object.hasOwn(record, name) ? record[name] : null, t.entryTypes![i]!)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(json);
}

/** Encodes a fully read DuckDB result. `names` overrides DuckDB's column names (Snowflake naming). */
export function encodeDuckResult(reader: DuckDBResultReader, names: string[]): EncodedResult {
  const types = reader.columnTypes();
  const encoders = types.map((t, i) => encoderFor(names[i] ?? reader.columnName(i), t));
  const rows = reader.getRows();
  const jsonRows = encoders.some((e) => e.rowtype.type === 'array' || e.rowtype.type === 'object') ? reader.getRowsJson() : undefined;
  const rowset = rows.map((row, r) =>
    row.map((value, c) => (value === null ? null : encoders[c]!.encode(value, jsonRows?.[r]?.[c]))),
  );
  return { rowtype: encoders.map((e) => e.rowtype), rowset };
}

/** A table built by the double itself (SHOW/DESCRIBE): columns with Snowflake types, JS cells. */
export function encodeTable(columns: { name: string; type: SfType }[], rows: unknown[][]): EncodedResult {
  return {
    rowtype: columns.map((c) => rowType(c.name, c.type)),
    rowset: rows.map((row) =>
      row.map((v, i) => {
        if (v === null || v === undefined) return null;
        const type = columns[i]!.type;
        if (type === 'boolean') return v ? '1' : '0';
        if (type === 'timestamp_ltz' && v instanceof Date) return `${Math.floor(v.getTime() / 1000)}.${String((v.getTime() % 1000) * 1_000_000).padStart(9, '0')}`;
        return String(v);
      }),
    ),
  };
}
