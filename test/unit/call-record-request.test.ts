/**
 * What a call's audit record keeps as `request` (docs/audit.md, Record format): the call's arguments beside
 * its SQL, absent when there are none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argumentsBesideSql } from '../../src/hub/pipeline/call-record.js';

test('a call without arguments has no request: list_databases wrote "request":{} although the docs say it is absent', () => {
  assert.equal(argumentsBesideSql({}, null), undefined);
  assert.equal(argumentsBesideSql({ query: 'SELECT 1' }, 'SELECT 1'), undefined);
  // Every argument of a metadata call is kept; beside SQL, all but the SQL.
  assert.deepEqual(argumentsBesideSql({ database: 'D', schema: 'S' }, null), { database: 'D', schema: 'S' });
  assert.deepEqual(argumentsBesideSql({ query: 'SELECT 1', limit: 5 }, 'SELECT 1'), { limit: 5 });
  // A "__proto__" key a client sent stays an ordinary member, with or without SQL.
  const hostile = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  const kept = argumentsBesideSql(hostile, null)!;
  assert.deepEqual(Object.keys(kept), ['__proto__']);
  assert.equal(Object.getPrototypeOf(kept), Object.prototype);
});
