/**
 * JSON / VARIANT documents keep integers beyond 2^53 exact (as decimal strings, the rule NUMBER columns
 * follow): JSON.parse read 1234567890123456789 as 1234567890123456800. So are other numbers a double does
 * not hold as written (98765432109876.54321 read as 98765432109876.55, 1e400 as Infinity). Everything else
 * must be exactly what JSON.parse gives, and what JSON.parse refuses is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJsonText, toJsonValue } from '../../src/hub/warehouse/json-values.js';
import { parseJsonLossless } from '../../src/hub/warehouse/lossless-json.js';
import { parseVariantText } from '../../src/hub/warehouse/snowflake/sdk-loader.js';

/** A 19-digit integer sends a document past the fast path, so the scanner reads all of it. */
const SLOW = '1234567890123456789';
/** A three-digit exponent does too; a double holds this one exactly. */
const SLOW_DOUBLE = '1.5e100';

describe('lossless JSON', () => {
  test('integers beyond ±(2^53-1) become exact decimal strings, at any depth', () => {
    assert.deepEqual(parseJsonLossless('{"id": 1234567890123456789, "f": 1.0}'), { id: '1234567890123456789', f: 1 });
    assert.deepEqual(parseJsonLossless('[9007199254740993, -9007199254740993, 9007199254740992, 9007199254740991, -9007199254740991]'), [
      '9007199254740993',
      '-9007199254740993',
      '9007199254740992',
      9007199254740991,
      -9007199254740991,
    ]);
    assert.equal(parseJsonLossless(' 12345678901234567890 '), '12345678901234567890');
    assert.deepEqual(parseJsonLossless('{"a": {"b": [[{"c": 123456789012345678901234567890}]]}}'), { a: { b: [[{ c: '123456789012345678901234567890' }]] } });
    assert.deepEqual(parseJsonText('{"big": 12345678901234567890}'), { big: '12345678901234567890' });
  });

  test('a fraction or exponent a double does not hold as written stays its exact decimal text, at any depth and on either path', () => {
    assert.deepEqual(parseJsonLossless('{"amount": 98765432109876.54321, "ok": 0.25}'), { amount: '98765432109876.54321', ok: 0.25 });
    assert.deepEqual(parseJsonLossless('[1234567.1234567891, 0.12345678901234567890, 1.2345678901234567890e30, 1e400, -1e400, 1e-400, 12345678901234567890e2, 1234567890123456789.5]'), [
      '1234567.1234567891',
      '0.12345678901234567890',
      '1.2345678901234567890e30',
      '1e400',
      '-1e400',
      '1e-400',
      '12345678901234567890e2',
      '1234567890123456789.5',
    ]);
    assert.deepEqual(parseJsonText('{"a": [{"b": 12345678901234.56789}], "c": 1.5}'), { a: [{ b: '12345678901234.56789' }], c: 1.5 });
    assert.deepEqual(parseVariantText('{"p": 0.12345678901234567890, "n": NaN}'), { p: '0.12345678901234567890', n: NaN });
  });

  test('everything else is what JSON.parse gives', () => {
    const documents = [
      `[${SLOW_DOUBLE}, 0.1, 1.50, 15e-1, 0.30000000000000004, 1.7976931348623157e308, 5e-324, -0, 0, -0.0, -1.5E-7, 1.2345678901234567e30, 123456789012345.6]`,
      `{"s": "digits in a string ${SLOW}", "e": "tab\\t quote\\" slash\\/ \\u00e9 \\ud83d\\ude00", "empty": "", "n": null, "t": true, "f": false}`,
      `{"dup": 1, "x": ${SLOW_DOUBLE}, "dup": 2, "__proto__": {"polluted": true}, "constructor": 1}`,
      ` \n\t\r[ ${SLOW_DOUBLE} , { } , [ ] , "" ] \n`,
      `{"unicode ключ": ["😀", "\u2028"], "nested": [[[[[${SLOW_DOUBLE}]]]]]}`,
    ];
    for (const text of documents) {
      const parsed = parseJsonLossless(text);
      assert.deepEqual(parsed, JSON.parse(text), text);
      assert.equal(JSON.stringify(parsed), JSON.stringify(JSON.parse(text)), text);
    }
    const proto = parseJsonLossless(documents[2]!) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.keys(proto), ['dup', 'x', '__proto__', 'constructor']);
    assert.ok(Object.is((parseJsonLossless(documents[0]!) as number[])[7], -0));
  });

  test('text JSON.parse refuses is refused, with a SyntaxError', () => {
    const fragments = ['', '[1,]', '{"a":1,}', '01', '1.', '.5', '+1', '-', '1e', '"\t"', '"\\x"', '"\\u12"', '[1 2]', '{"a" 1}', '{a: 1}', "'s'", 'tru', 'nul', 'NaN', 'undefined', '"open', '[', '{', '}', '1 2'];
    for (const fragment of fragments) {
      const text = `[${SLOW}, ${fragment}]`;
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      assert.throws(() => parseJsonLossless(text), SyntaxError, text);
    }
    assert.throws(() => parseJsonLossless(`${SLOW} x`), SyntaxError);
    assert.throws(() => parseJsonLossless(`[${SLOW}] ]`), SyntaxError);
    assert.equal(parseJsonText(`{"big": ${SLOW},`), `{"big": ${SLOW},`);
  });

  test('a document nested too deep for the scanner is still read (by JSON.parse)', () => {
    const depth = 5000;
    const parsed = parseJsonLossless(`${'['.repeat(depth)}${SLOW}${']'.repeat(depth)}`);
    assert.ok(Array.isArray(parsed));
  });

  test("Snowflake's VARIANT text: non-strict tokens read as the driver's eval did, big integers exact, non-JSON text refused (for the XML parser)", () => {
    assert.deepEqual(toJsonValue(parseVariantText('{"a": NaN, "b": undefined, "c": [Infinity, -Infinity, 1]}')), { a: 'NaN', b: null, c: ['Infinity', '-Infinity', 1] });
    assert.deepEqual(toJsonValue(parseVariantText(`{"id": ${SLOW}, "n": NaN}`)), { id: SLOW, n: 'NaN' });
    assert.deepEqual(parseVariantText('[1, 2.5, "x"]'), [1, 2.5, 'x']);
    assert.throws(() => parseVariantText('<a x="1">7</a>'), SyntaxError);
    assert.throws(() => parseJsonLossless('[NaN]'), SyntaxError, 'only VARIANT text takes the non-strict tokens');
  });
});
