import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, INFRASTRUCTURE_CODES, NOT_TRANSIENT_CODES, REFUSAL_CODES, USER_CODES } from '../../src/error-codes.js';
import { renderErrorsDoc } from '../../src/error-codes-doc.js';
import { repoRoot } from '../helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every registered error code is given somewhere in src/ (no dead codes)', () => {
  const files = sources(join(repoRoot, 'src')).filter((f) => !/error-codes(-doc)?\.ts$/.test(f));
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
  assert.deepEqual(unused, [], 'codes nothing gives: remove them from src/error-codes.ts');
});

test('docs/errors.md is generated from the registry and up to date', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  assert.equal(doc, renderErrorsDoc(), 'run `npm run build && node tools/errors-doc.mjs`');
  for (const code of Object.keys(ERROR_CODES)) assert.ok(doc.includes(`\`${code}\``), code);
});

test('the sets the hub acts on are derived consistently', () => {
  for (const code of REFUSAL_CODES) assert.ok(code in ERROR_CODES);
  for (const code of USER_CODES) assert.ok(!INFRASTRUCTURE_CODES.has(code), `${code} is both the user's and the warehouse's fault`);
  for (const code of NOT_TRANSIENT_CODES) assert.ok(INFRASTRUCTURE_CODES.has(code));
  // The breaker must never trip on a user's SQL or a policy refusal.
  for (const code of ['SQL_ERROR', 'SQL_REFUSED', 'POLICY_DENIED', 'RATE_LIMITED', 'INVALID_ARGUMENTS']) assert.ok(USER_CODES.has(code), code);
  for (const code of ['WAREHOUSE_UNAVAILABLE', 'CONNECTION_LOST', 'QUERY_TIMEOUT']) assert.ok(INFRASTRUCTURE_CODES.has(code), code);
});
