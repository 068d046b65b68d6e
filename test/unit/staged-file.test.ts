/** parseStagedFile: a staged file as users write it, resolved once (quoted parts literal, defaults filled, no `..`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStagedFile } from '../../src/hub/names/staged-file.js';

const DEFAULTS = { database: 'DB', schema: 'PUBLIC' };

test('parts are resolved like identifiers, missing ones come from the defaults', () => {
  assert.deepEqual(parseStagedFile('@analytics.models.stage1/sales.yaml', DEFAULTS), { stage: { database: 'ANALYTICS', schema: 'MODELS', name: 'STAGE1' }, path: 'sales.yaml' });
  assert.deepEqual(parseStagedFile('@stage1/dir/m.yml', DEFAULTS), { stage: { database: 'DB', schema: 'PUBLIC', name: 'STAGE1' }, path: 'dir/m.yml' });
  assert.deepEqual(parseStagedFile('@s.stage1/m.yaml', DEFAULTS).stage, { database: 'DB', schema: 'S', name: 'STAGE1' });
  // Quoted parts are literal, dots and slashes inside quotes included.
  assert.deepEqual(parseStagedFile('@"My Db"."a.b"."st/g"/m.yaml', DEFAULTS), { stage: { database: 'My Db', schema: 'a.b', name: 'st/g' }, path: 'm.yaml' });
  assert.deepEqual(parseStagedFile('@"x""y".s.t/m.yaml', DEFAULTS).stage.database, 'x"y');
});

test('anything else is refused with the form to use', () => {
  for (const bad of ['stage/m.yaml', '@stage', '@stage/', '@a.b.c.d/m.yaml', '@"open.b/m.yaml', '@s/../m.yaml', '@s/./m.yaml', '@s/m.yaml?x=1', '@s/a//b.yaml', '@s/m yaml', '@/m.yaml']) {
    assert.throws(() => parseStagedFile(bad, DEFAULTS), (err: Error & { code?: string }) => ['INVALID_ARGUMENT', 'INVALID_IDENTIFIER'].includes(err.code ?? '') && /@DATABASE\.SCHEMA\.STAGE|identifier|name/i.test(err.message), bad);
  }
});
