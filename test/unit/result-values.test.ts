/**
 * Snowflake cells the driver hands over as text: NUMBER and FLOAT (statements fetch them as text, exact
 * digits) and TIME (always text). A NULL comes that way as the text "NULL". It must reach the caller as
 * null — as "NULL" it was a string in a number column (query_history's Snowflake facts turned it into NaN
 * and failed the whole answer), "NaN" in a FLOAT column and the string "NULL" in a TIME column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellConverter, formatTimeAtScale } from '../../src/hub/warehouse/snowflake/result-values.js';
import type { SfColumn } from '../../src/hub/warehouse/snowflake/sdk-types.js';

const numberColumn = (scale: number) => ({ getType: () => 'fixed', getScale: () => scale, getPrecision: () => 38, getName: () => 'N', isNullable: () => true }) as unknown as SfColumn;

test('a NULL NUMBER is null, at any scale; NUMBER text keeps its exact value', () => {
  for (const scale of [0, 2]) {
    const convert = cellConverter(numberColumn(scale));
    assert.equal(convert('NULL'), null);
    assert.equal(convert(null), null);
  }
  assert.equal(cellConverter(numberColumn(0))('42'), 42);
  assert.equal(cellConverter(numberColumn(0))('12345678901234567890'), '12345678901234567890');
  assert.equal(cellConverter(numberColumn(2))('12.50'), '12.50');
});

const column = (type: string) => ({ getType: () => type, getScale: () => 9, getPrecision: () => 0, getName: () => 'C', isNullable: () => true }) as unknown as SfColumn;

test('the text "NULL" is SQL NULL for every type the driver may hand over as text, and data for text and documents', () => {
  // FLOAT is fetched as string like NUMBER; TIME always comes as text; the others would, fetched as string.
  for (const type of ['fixed', 'real', 'time', 'date', 'timestamp_ntz', 'timestamp_ltz', 'timestamp_tz', 'boolean', 'binary']) {
    const convert = cellConverter(column(type));
    assert.equal(convert('NULL'), null, type);
    assert.equal(convert(null), null, type);
  }
  assert.equal(cellConverter(column('real'))('1.5'), 1.5);
  assert.equal(cellConverter(column('real'))('NaN'), 'NaN');
  assert.equal(cellConverter(column('time'))('01:02:03'), '01:02:03');
  // A VARCHAR 'NULL' is a string; so is a document's JSON string "NULL" (the driver gives their NULL as null).
  for (const type of ['text', 'variant', 'object', 'array']) {
    assert.equal(cellConverter(column(type))('NULL'), 'NULL', type);
    assert.equal(cellConverter(column(type))(null), null, type);
  }
});

test('a FLOAT negative zero stays -0 (JSON.stringify would write 0), whatever its text', () => {
  for (const text of ['-0', '-0.0', '-0e0']) assert.equal(cellConverter(column('real'))(text), '-0', text);
  assert.equal(cellConverter(column('real'))('0'), 0);
  assert.equal(cellConverter(column('real'))(-0), '-0');
});

test('a TIME(scale) value shows the fraction the column holds, to its scale, for every scale 0-9', () => {
  // 12:34:56.123456789 as the driver decodes it: midnight seconds + nanoseconds (the cell keeps `scale` digits).
  const expected = ['12:34:56', '12:34:56.1', '12:34:56.12', '12:34:56.123', '12:34:56.1234', '12:34:56.12345', '12:34:56.123456', '12:34:56.1234567', '12:34:56.12345678', '12:34:56.123456789'];
  for (let scale = 0; scale <= 9; scale++) {
    const nanos = Math.floor(123_456_789 / 10 ** (9 - scale)) * 10 ** (9 - scale);
    assert.equal(formatTimeAtScale(45_296, nanos, scale), expected[scale], `scale ${scale}`);
  }
  assert.equal(formatTimeAtScale(45_296, 789_000_000, 3), '12:34:56.789');
  assert.equal(formatTimeAtScale(45_296, 789_000_000, 9), '12:34:56.789');
  assert.equal(formatTimeAtScale(0, 0, 9), '00:00:00');
  assert.equal(formatTimeAtScale(86_399, 999_999_999, 9), '23:59:59.999999999');
  // A decoded SfTime goes through the column's converter the same way.
  const sfTime = { getMidnightSeconds: () => 45_296, getNanoSeconds: () => 5_000_000 };
  const time3 = { getType: () => 'time', getScale: () => 3, getPrecision: () => 0, getName: () => 'T', isNullable: () => true } as unknown as SfColumn;
  assert.equal(cellConverter(time3)(sfTime), '12:34:56.005');
});

test('a VECTOR is its array of numbers and a GeoJSON GEOGRAPHY its object, not strings holding JSON; WKT stays text', () => {
  // snowflake-sdk does not know these types and hands over Snowflake's cell text as it is.
  assert.deepEqual(cellConverter(column('vector'))('[1.5,2,-3]'), [1.5, 2, -3]);
  assert.deepEqual(cellConverter(column('vector'))('[4,5,6]'), [4, 5, 6]);
  assert.equal(cellConverter(column('vector'))(null), null);
  assert.equal(cellConverter(column('vector'))('NULL'), null);
  assert.deepEqual(cellConverter(column('geography'))('{\n  "coordinates": [-122.35, 37.55],\n  "type": "Point"\n}'), { coordinates: [-122.35, 37.55], type: 'Point' });
  assert.deepEqual(cellConverter(column('geometry'))('{"coordinates":[1,2],"type":"Point"}'), { coordinates: [1, 2], type: 'Point' });
  assert.equal(cellConverter(column('geography'))('POINT(-122.35 37.55)'), 'POINT(-122.35 37.55)');
  assert.equal(cellConverter(column('geography'))(null), null);
});
