/**
 * contrib/clients/ works as pasted on a fresh machine: every snippet launches `snowmux shim` (never
 * `npx -y snowmux`, which would run whoever publishes that name), selects no profile a fresh machine lacks,
 * and has the shape its editor reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const dir = join(repoRoot, 'contrib', 'clients');

test('every JSON snippet launches snowmux shim, with no npx and no profile a fresh machine lacks', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 5, files.join(', '));
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, Record<string, { command: string; args: string[]; type?: string; env?: Record<string, string> }>>;
    const key = f.startsWith('vscode') ? 'servers' : 'mcpServers';
    const entries = Object.values(doc[key] ?? {});
    assert.equal(entries.length, 1, `${f}: one server under "${key}"`);
    const e = entries[0]!;
    assert.equal(e.command, 'snowmux', f);
    assert.deepEqual(e.args, ['shim'], f);
    if (key === 'servers') assert.equal(e.type, 'stdio', `${f}: VS Code needs "type"`);
    assert.equal(e.env?.SNOWMUX_PROFILE, undefined, `${f} selects a profile`);
  }
});

test('the Claude Code line puts options before the server name', () => {
  const line = readFileSync(join(dir, 'claude-code.sh'), 'utf8').split('\n').find((l) => l.startsWith('claude '))!;
  assert.match(line, /^claude mcp add (--[a-z]+ \S+ )+snowflake -- snowmux shim$/);
  assert.doesNotMatch(readFileSync(join(dir, 'claude-code.sh'), 'utf8'), /npx/);
});
