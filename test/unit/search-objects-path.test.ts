/** search_objects' text listing names each hit as one would write it: odd names quoted, never a false path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { path } from '../../src/hub/tools/search-objects.js';

test('a hit whose names need quotes is shown quoted, plain names stay plain', () => {
  assert.equal(path({ database: 'SNOWMUX_SAMPLE', schema: 'TPCH', object: 'NATION', column: 'N_NAME' }), 'SNOWMUX_SAMPLE.TPCH.NATION.N_NAME');
  // A table literally named my.table is one name, not schema "my" and table "table".
  assert.equal(path({ database: 'DB', schema: 'S', object: 'my.table', column: null }), 'DB.S."my.table"');
  assert.equal(path({ database: 'DB', schema: 'a"b', object: null, column: null }), 'DB."a""b"');
  assert.equal(path({ database: 'DB', schema: 'S', object: 'T', column: 'two words' }), 'DB.S.T."two words"');
});
