import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeIdentifier, overlongQualifiedName, qualifiedNameParts } from '../../src/hub/names/identifiers.js';
import { targetObject } from '../../src/hub/tools/catalog-tools.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import { SnowmuxError } from '../../src/errors.js';

test('qualified names split as Snowflake reads them; anything else stays one name', () => {
  assert.deepEqual(qualifiedNameParts('DB.S.T'), ['DB', 'S', 'T']);
  assert.deepEqual(qualifiedNameParts('s.t_1$'), ['s', 't_1$']);
  assert.deepEqual(qualifiedNameParts('"My DB"."a.b".T'), ['"My DB"', '"a.b"', 'T']);
  assert.deepEqual(qualifiedNameParts('"x""y".T'), ['"x""y"', 'T']);
  for (const one of ['T', '"a.b"', 'a.b.c.d', 'a..b', '.a', 'a.', 'a b.c', '1a.b', 'a."b', 'a.b;drop', 'data.csv.x.y', '"a".', 'a.""']) {
    assert.equal(qualifiedNameParts(one), undefined, one);
  }
});

test('a dotted name of four or more parts is refused as a path typed too long, saying how many parts a name has', () => {
  assert.equal(overlongQualifiedName('a.b.c.d'), 4);
  assert.equal(overlongQualifiedName('DB."s.x".T.COL.SUB'), 5);
  for (const fine of ['T', 'a.b', 'a.b.c', '"a.b.c.d"', 'a b.c.d.e', 'a..b.c.d', 'a.b.c.d.']) assert.equal(overlongQualifiedName(fine), undefined, fine);
  // Refused before any warehouse is asked.
  const none = {} as Warehouse;
  assert.throws(
    () => targetObject(none, { name: 'SNOWMUX_SAMPLE.TPCH.NATION.N_NAME' }, 'table name'),
    (err: unknown) =>
      err instanceof SnowmuxError &&
      err.code === 'INVALID_ARGUMENT' &&
      err.message.startsWith('The table name "SNOWMUX_SAMPLE.TPCH.NATION.N_NAME" has 4 dot-separated parts; a name has at most three (database.schema.table).'),
  );
});

test('an identifier argument with control or invisible characters (C0, DEL, C1, line separators, bidi and zero-width marks) is refused', () => {
  for (const bad of ['ORD\u0000ERS', 'ORD\u007fERS', 'ORD\u009bERS', 'ORD\u2028ERS', 'ORD\u202eERS', 'ORD\u200bERS']) {
    assert.throws(() => normalizeIdentifier(bad, 'table name'), (err: Error & { code?: string }) => err.code === 'INVALID_IDENTIFIER' && /control or invisible/.test(err.message), JSON.stringify(bad));
  }
  assert.equal(typeof normalizeIdentifier('Ordres été', 'table name'), 'string', 'letters of any script are fine');
  // A tab is the one control character a name may hold (the catalog lists such tables); shown escaped.
  assert.equal(normalizeIdentifier('"tab\tname"', 'table name'), 'tab\tname');
});

test('an identifier argument with half a surrogate pair is refused; a whole character beyond U+FFFF is a name', () => {
  // Each engine reads a lone surrogate as U+FFFD: the object reached would not be the one the policy judged.
  for (const lone of ['\ud800', 'ORDERS\udfff', '"a\ud83d"', 'x\ude00y']) {
    assert.throws(() => normalizeIdentifier(lone, 'database'), (e: unknown) => e instanceof SnowmuxError && e.code === 'INVALID_IDENTIFIER' && /database contains half of a UTF-16 surrogate pair/.test(e.message), JSON.stringify(lone));
  }
  assert.equal(normalizeIdentifier('"sales 📈"'), 'sales 📈');
});
