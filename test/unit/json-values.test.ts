import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bytesToHex,
  dateObjectToJson,
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
  jsonSize,
  parseJsonText,
  toJsonValue,
} from '../../src/hub/warehouse/json-values.js';
import type { JsonValue } from '../../src/hub/warehouse/types.js';

const MICROS_PER_DAY = 86_400_000_000n;

describe('integers', () => {
  test('safe integers are numbers, anything beyond ±(2^53-1) is an exact decimal string', () => {
    assert.equal(integerToJson(0n), 0);
    assert.equal(integerToJson(-42n), -42);
    assert.equal(integerToJson(9007199254740991n), 9007199254740991);
    assert.equal(integerToJson(-9007199254740991n), -9007199254740991);
    assert.equal(integerToJson(9007199254740992n), '9007199254740992');
    assert.equal(integerToJson(-9007199254740992n), '-9007199254740992');
    assert.equal(integerToJson(170141183460469231731687303715884105727n), '170141183460469231731687303715884105727');
    assert.equal(integerToJson(7), 7);
  });
});

describe('floats', () => {
  test('finite floats are numbers; NaN and infinities are strings', () => {
    assert.equal(floatToJson(1.25), 1.25);
    assert.equal(floatToJson(-0.5), -0.5);
    assert.equal(floatToJson(Number.NaN), 'NaN');
    assert.equal(floatToJson(Infinity), 'Infinity');
    assert.equal(floatToJson(-Infinity), '-Infinity');
  });

  test('a negative zero is "-0" (JSON.stringify writes -0 as 0), in a FLOAT or REAL column; inside a document it stays a number', () => {
    assert.equal(floatToJson(-0), '-0');
    assert.equal(floatToJson(0), 0);
    assert.equal(float32ToJson(-0), '-0');
    assert.deepEqual(toJsonValue({ x: -0 }), { x: -0 });
  });

  test('single-precision values show the digits that round-trip', () => {
    assert.equal(float32ToJson(Math.fround(0.1)), 0.1);
    assert.equal(float32ToJson(Math.fround(3.4028235e38)), 3.4028235e38);
    assert.equal(float32ToJson(Math.fround(-1.5)), -1.5);
    assert.equal(float32ToJson(Number.NaN), 'NaN');
    for (const v of [0.3, 1 / 3, 123456.789, 1e-7]) {
      const widened = Math.fround(v);
      const shown = float32ToJson(widened);
      assert.equal(typeof shown, 'number');
      assert.equal(Math.fround(shown as number), widened, `round trip of ${v}`);
    }
  });
});

describe('decimals', () => {
  test('exact text with the scale kept, never through a float', () => {
    assert.equal(decimalToString(1234n, 2), '12.34');
    assert.equal(decimalToString(1230n, 2), '12.30');
    assert.equal(decimalToString(-5n, 2), '-0.05');
    assert.equal(decimalToString(0n, 2), '0.00');
    assert.equal(decimalToString(-1n, 10), '-0.0000000001');
    assert.equal(decimalToString(42n, 0), '42');
    assert.equal(
      decimalToString(123456789012345678901234567891234567890n, 10),
      '12345678901234567890123456789.1234567890',
    );
    // 0.1 + 0.2 style loss cannot happen: the digits are the digits.
    assert.equal(decimalToString(30000000000000000001n, 20), '0.30000000000000000001');
  });
});

describe('dates, times, timestamps', () => {
  test('DATE as YYYY-MM-DD, proleptic Gregorian, any range', () => {
    assert.equal(formatDateFromDays(0), '1970-01-01');
    assert.equal(formatDateFromDays(-1), '1969-12-31');
    assert.equal(formatDateFromDays(19782), '2024-02-29');
    assert.equal(formatDateFromDays(-719162), '0001-01-01');
    assert.equal(formatDateFromDays(2932896), '9999-12-31');
    assert.equal(formatDateFromDays(2932897), '+010000-01-01');
    assert.equal(formatDateFromDays(-719163), '0000-12-31');
    assert.equal(formatDateFromDays(-719529), '-000001-12-31');
    // agree with the JS calendar across a wide range
    for (let days = -800000; days <= 3000000; days += 9973) {
      const iso = new Date(days * 86_400_000).toISOString().slice(0, 10);
      if (/^\d{4}-/.test(iso)) assert.equal(formatDateFromDays(days), iso, `days ${days}`);
    }
  });

  test('TIME as HH:MM:SS with a fraction only when there is one', () => {
    assert.equal(formatTimeOfDayMicros(0n), '00:00:00');
    assert.equal(formatTimeOfDayMicros(45_296_123_456n), '12:34:56.123456');
    assert.equal(formatTimeOfDayMicros(45_296_500_000n), '12:34:56.500000');
    assert.equal(formatTimeOfDayMicros(86_399_999_999n), '23:59:59.999999');
    assert.equal(formatTimeOfDayNanos(45_296_123_456_789n), '12:34:56.123456789');
    assert.equal(formatTimeOfDayNanos(45_296_123_456_000n), '12:34:56.123456');
    assert.equal(formatTimeWithOffset(43_200_000_000n, 19_800), '12:00:00+05:30');
    assert.equal(formatTimeWithOffset(0n, -3600), '00:00:00-01:00');
  });

  test('TIMESTAMP without zone has no Z; with zone it is UTC with Z', () => {
    const micros = 1_704_164_645_123_456n; // 2024-01-02 03:04:05.123456 UTC
    assert.equal(formatTimestampMicros(micros, false), '2024-01-02T03:04:05.123456');
    assert.equal(formatTimestampMicros(micros, true), '2024-01-02T03:04:05.123456Z');
    assert.equal(formatTimestampMicros(0n, true), '1970-01-01T00:00:00Z');
    assert.equal(formatTimestampMicros(-1n, false), '1969-12-31T23:59:59.999999');
    assert.equal(formatTimestampMicros(-MICROS_PER_DAY, false), '1969-12-31T00:00:00');
    assert.equal(formatTimestampNanos(1_704_067_200_123_456_789n, false), '2024-01-01T00:00:00.123456789');
    assert.equal(formatTimestampNanos(-1n, true), '1969-12-31T23:59:59.999999999Z');
  });

  test('JS Date objects (snowflake-sdk) become ISO strings; invalid dates null', () => {
    assert.equal(dateObjectToJson(new Date(Date.UTC(2024, 1, 29, 13, 45, 30, 500))), '2024-02-29T13:45:30.500Z');
    assert.equal(dateObjectToJson(new Date(Number.NaN)), null);
    assert.equal(toJsonValue(new Date(0)), '1970-01-01T00:00:00.000Z');
  });

  test('INTERVAL as readable text', () => {
    assert.equal(formatInterval(14, 3, 14_706_500_000n), '1 year 2 months 3 days 04:05:06.5');
    assert.equal(formatInterval(0, 1, 0n), '1 day');
    assert.equal(formatInterval(0, 0, 0n), '00:00:00');
    assert.equal(formatInterval(0, 0, -7_200_000_000n), '-02:00:00');
    assert.equal(formatInterval(-1, -2, 1n), '-1 month -2 days 00:00:00.000001');
    assert.equal(formatInterval(0, 0, 90_000_000_000n * 10n), '250:00:00');
  });
});

describe('binary and structures', () => {
  test('binary is upper-case hex', () => {
    assert.equal(bytesToHex(new Uint8Array([0xde, 0xad, 0xbe, 0xef])), 'DEADBEEF');
    assert.equal(bytesToHex(new Uint8Array([])), '');
    assert.equal(toJsonValue(Buffer.from([0, 10, 255])), '000AFF');
    const view = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    assert.equal(toJsonValue(view), '0203');
    assert.equal(toJsonValue(new Uint8Array([0xab]).buffer), 'AB');
  });

  test('nested values are converted recursively', () => {
    const value = {
      a: [1n, 2, 2n ** 60n, Number.NaN, undefined],
      b: { when: new Date(0), bytes: Buffer.from([1]) },
      c: new Map<unknown, unknown>([
        ['k', 1],
        [2, 'two'],
      ]),
      d: new Set([1, 2]),
      e: null,
    };
    assert.deepEqual(toJsonValue(value), {
      a: [1, 2, '1152921504606846976', 'NaN', null],
      b: { when: '1970-01-01T00:00:00.000Z', bytes: '01' },
      c: { k: 1, '2': 'two' },
      d: [1, 2],
      e: null,
    });
  });

  test('values with toJSON, class instances and cycles never throw', () => {
    class Decimalish {
      toString(): string {
        return '1.50';
      }
    }
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic['self'] = cyclic;
    assert.equal(toJsonValue(new Decimalish()), '1.50');
    assert.deepEqual(toJsonValue({ toJSON: () => ({ n: 3n }) }), { n: 3 });
    assert.deepEqual(toJsonValue(cyclic), { name: 'x', self: '[nested too deep]' });
    assert.equal(toJsonValue(Symbol('s')), 'Symbol(s)');
    // the result is always serialisable
    assert.doesNotThrow(() => JSON.stringify(toJsonValue({ deep: cyclic, big: 10n ** 30n })));
  });

  test('JSON text becomes nested values; invalid JSON stays text', () => {
    assert.deepEqual(parseJsonText('{"a":[1,"two",null,{"b":true}]}'), { a: [1, 'two', null, { b: true }] });
    assert.equal(parseJsonText('"just a string"'), 'just a string');
    assert.equal(parseJsonText('not json {'), 'not json {');
  });
});

describe('jsonSize', () => {
  test('matches the UTF-8 length of JSON.stringify for values without escapes', () => {
    const samples: JsonValue[] = [
      null,
      true,
      false,
      0,
      -12.5,
      'abc',
      'héllo wörld €',
      [],
      {},
      [1, 'two', null, [3, [4]], { k: 'v' }],
      { a: 1, b: [true, { c: 'ü' }], 'key with space': null },
      [12345678901234, 1e21, 1.5e-7],
    ];
    for (const sample of samples) {
      assert.equal(jsonSize(sample), Buffer.byteLength(JSON.stringify(sample)), JSON.stringify(sample));
    }
  });

  test('counts escapes exactly: a control character is six bytes, so the byte cap holds for any text', () => {
    const samples: JsonValue[] = [
      '\u0001'.repeat(2000),
      'quote " backslash \\ slash / tab \t newline \n cr \r bs \b ff \f nul \u0000 us \u001f del \u007f',
      'emoji 😀 pair, lone high \ud83d, lone low \ude00, high at end \ud83d',
      '\u2028\u2029 are not escaped',
      { 'key "with" \\ \n escapes': ['\u0002', { '\ud800': '\udbff\udc00' }] },
    ];
    for (const sample of samples) {
      assert.equal(jsonSize(sample), Buffer.byteLength(JSON.stringify(sample)), JSON.stringify(sample));
    }
    // Every character that may need an escape, in random strings.
    const alphabet = ['a', 'é', '€', '"', '\\', '\n', '\u0001', '\u001f', '\ud83d', '\ude00', '😀', ' '];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 500; n++) {
      const text = Array.from({ length: next() % 20 }, () => alphabet[next() % alphabet.length]).join('');
      assert.equal(jsonSize([text, { [text]: text }]), Buffer.byteLength(JSON.stringify([text, { [text]: text }])), JSON.stringify(text));
    }
  });
});
