/**
 * Snowflake NUMBER cells: statements fetch them as text (exact digits), and the driver hands a NULL fetched
 * that way over as the text "NULL". It must reach the caller as null — as "NULL" it was a string in a
 * number column, and query_history's Snowflake facts turned it into NaN and failed the whole answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellConverter } from '../../src/hub/warehouse/snowflake/result-values.js';
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
