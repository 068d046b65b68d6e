/**
 * docs/configuration.md stays true to the config schema: its reference part is exactly what the schema
 * generates (`npm run docs:config`), every key the schema accepts is documented, and every section the
 * docs show as a `[section]` heading exists in the schema. (KNOWN_KEYS is derived from the zod schema
 * itself, so a key added to the schema fails here until it is documented.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_KEYS } from '../../src/hub/config/config-schema.js';
import { REFERENCE_BEGIN, REFERENCE_END, renderConfigReference, spliceReference } from '../../src/hub/config/config-reference.js';
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

test('the reference part of docs/configuration.md is what the config schema generates', () => {
  const begin = doc.indexOf(REFERENCE_BEGIN);
  const end = doc.indexOf(REFERENCE_END);
  assert.ok(begin >= 0 && end > begin, 'docs/configuration.md keeps the generated reference between its marker comments');
  const generated = renderConfigReference();
  assert.ok(
    doc.slice(begin, end + REFERENCE_END.length) === generated,
    'docs/configuration.md is out of date with the config schema (src/hub/config/config-schema.ts): run `npm run docs:config`',
  );
});

/** A Markdown table cell: anything but an unescaped "|". */
const CELL = String.raw`(?:\\\||[^|])+`;

test('the reference has every key of every table, with a type, a default and a meaning', () => {
  const reference = renderConfigReference();
  for (const [section, keys] of Object.entries(KNOWN_KEYS)) {
    if (section === '') continue;
    for (const key of keys) assert.match(reference, new RegExp(String.raw`^\| \`${key}\` \| ${CELL} \| ${CELL} \| ${CELL} \|$`, 'm'), `${section}.${key}`);
  }
  // Splicing replaces only the generated part: the prose around it stays.
  const spliced = spliceReference(`before\n${REFERENCE_BEGIN}\nold\n${REFERENCE_END}\nafter\n`, 'NEW');
  assert.equal(spliced, 'before\nNEW\nafter\n');
});
