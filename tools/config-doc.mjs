#!/usr/bin/env node
// Writes the generated reference of docs/configuration.md (between its marker comments) from the config
// schema (src/hub/config/config-schema.ts, built to dist/). The prose around it stays hand-written.
// `node tools/config-doc.mjs --check` exits 1 when the file is out of date (the unit test does the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderConfigReference, spliceReference } = await import(join(root, 'dist', 'src', 'hub', 'config', 'config-reference.js'));
const file = join(root, 'docs', 'configuration.md');
const current = readFileSync(file, 'utf8');
const text = spliceReference(current, renderConfigReference());
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error('docs/configuration.md is out of date with the config schema: run `npm run docs:config`.');
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
