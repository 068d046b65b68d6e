import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qualifiedNameParts } from '../../src/hub/names/identifiers.js';

test('qualified names split as Snowflake reads them; anything else stays one name', () => {
  assert.deepEqual(qualifiedNameParts('DB.S.T'), ['DB', 'S', 'T']);
  assert.deepEqual(qualifiedNameParts('s.t_1$'), ['s', 't_1$']);
  assert.deepEqual(qualifiedNameParts('"My DB"."a.b".T'), ['"My DB"', '"a.b"', 'T']);
  assert.deepEqual(qualifiedNameParts('"x""y".T'), ['"x""y"', 'T']);
  for (const one of ['T', '"a.b"', 'a.b.c.d', 'a..b', '.a', 'a.', 'a b.c', '1a.b', 'a."b', 'a.b;drop', 'data.csv.x.y', '"a".', 'a.""']) {
    assert.equal(qualifiedNameParts(one), undefined, one);
  }
});
