/**
 * docs/configuration.md stays true to the config schema: every key the schema accepts, in every section,
 * is documented there, and every section the docs show as a `[section]` heading exists in the schema.
 * (KNOWN_KEYS is derived from the zod schema itself, so a key added to the schema fails this test until
 * it is documented.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_KEYS } from '../../src/hub/config/config-schema.js';
import { repoRoot } from '../helpers/paths.js';

const doc = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');

test('every config key the schema accepts is documented in docs/configuration.md', () => {
  const missing: string[] = [];
  for (const [section, keys] of Object.entries(KNOWN_KEYS)) {
    for (const key of keys) {
      if (!doc.includes(`\`${key}\``) && !new RegExp(`\\[[a-z_.<>]*\\b${key}\\b`).test(doc)) missing.push(section ? `${section}.${key}` : key);
    }
  }
  assert.deepEqual(missing, [], 'document these keys in docs/configuration.md');
});

test('every top-level section the docs name exists in the schema', () => {
  const named = new Set([...doc.matchAll(/^#+ .*?`\[([a-z_]+)[\].]/gm)].map((m) => m[1]!));
  const unknown = [...named].filter((s) => !KNOWN_KEYS['']!.includes(s));
  assert.deepEqual(unknown, []);
});
