/**
 * The shim is what every editor launches: it must stay a small forwarder. Its bundle (what bin/snowmux.js
 * runs for `snowmux shim`) may load node builtins only — no MCP SDK, no Snowflake driver, no DuckDB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

test('the shim bundle requires node builtins only, and stays small', () => {
  const bundle = join(repoRoot, 'dist', 'shim.cjs');
  const text = readFileSync(bundle, 'utf8');
  const required = [...text.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]!);
  assert.ok(required.length > 0);
  // `ws` is loaded only by a remote shim (--url), lazily; everything a local shim loads is a builtin.
  for (const name of required) assert.match(name, /^(node:.*|ws)$/, `the shim loads ${name}`);
  for (const heavy of ['@modelcontextprotocol', 'snowflake-sdk', '@duckdb', 'pino', 'zod', 'opossum']) {
    assert.ok(!text.includes(`"${heavy}`) && !text.includes(`'${heavy}`), `the shim references ${heavy}`);
  }
  // A guard against a heavy import (the MCP SDK alone is several times this), not a byte budget: the bundle
  // was 104.9 KiB once the shim cancelled its calls on EPIPE and sent an editor's relative paths absolute.
  // Removing its white space (81 KiB) loaded no faster (30 paired runs of node -e require(...)), so it is kept readable.
  // 114.5 KiB once a remote shim said TLS failures (an untrusted certificate, another name, no TLS) with their fix.
  assert.ok(statSync(bundle).size < 120 * 1024, 'the shim bundle grew past 120 KiB');
});
