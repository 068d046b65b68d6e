import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeIdentifier, qualifiedNameParts } from '../../src/hub/names/identifiers.js';

test('qualified names split as Snowflake reads them; anything else stays one name', () => {
  assert.deepEqual(qualifiedNameParts('DB.S.T'), ['DB', 'S', 'T']);
  assert.deepEqual(qualifiedNameParts('s.t_1$'), ['s', 't_1$']);
  assert.deepEqual(qualifiedNameParts('"My DB"."a.b".T'), ['"My DB"', '"a.b"', 'T']);
  assert.deepEqual(qualifiedNameParts('"x""y".T'), ['"x""y"', 'T']);
  for (const one of ['T', '"a.b"', 'a.b.c.d', 'a..b', '.a', 'a.', 'a b.c', '1a.b', 'a."b', 'a.b;drop', 'data.csv.x.y', '"a".', 'a.""']) {
    assert.equal(qualifiedNameParts(one), undefined, one);
  }
});

test('an identifier argument with control or invisible characters (C0, DEL, C1, line separators, bidi and zero-width marks) is refused', () => {
  for (const bad of ['ORD\u0000ERS', 'ORD\u007fERS', 'ORD\u009bERS', 'ORD\u2028ERS', 'ORD\u202eERS', 'ORD\u200bERS']) {
    assert.throws(() => normalizeIdentifier(bad, 'table name'), (err: Error & { code?: string }) => err.code === 'INVALID_IDENTIFIER' && /control or invisible/.test(err.message), JSON.stringify(bad));
  }
  assert.equal(typeof normalizeIdentifier('Ordres été', 'table name'), 'string', 'letters of any script are fine');
});
