#!/usr/bin/env node
// Writes docs/errors.md from the error-code registry (src/error-codes.ts, built to dist/).
// `node tools/errors-doc.mjs --check` exits 1 when the file is out of date (the unit test does the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderErrorsDoc } = await import(join(root, 'dist', 'src', 'error-codes-doc.js'));
const file = join(root, 'docs', 'errors.md');
const text = renderErrorsDoc();
if (process.argv.includes('--check')) {
  const current = readFileSync(file, 'utf8');
  if (current !== text) {
    console.error('docs/errors.md is out of date: run `npm run build && node tools/errors-doc.mjs`.');
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
