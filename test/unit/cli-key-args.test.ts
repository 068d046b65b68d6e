/**
 * A snowmux API key typed where the command line expected something else (as an argument, as --key-file's
 * or --config's value) is quoted back without its secret: on the terminal, in the shim's stderr (the
 * editor's log) and in the answer the shim gives the editor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hideApiKeys } from '../../src/shown-text.js';
import { repoRoot } from '../helpers/paths.js';

const bin = join(repoRoot, 'bin', 'snowmux.js');
const SECRET = 'KeySecretKeySecretKeySecret_0123';
const KEY = `smx_0123456789ab_${SECRET}`;

test('an API key pasted into a command line is never quoted back whole: terminal, shim stderr, the editor\'s answer', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'snowmux-keyargs-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const initialize = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`;
  const cases: Array<{ args: string[]; expect: RegExp }> = [
    { args: ['shim', '--url', 'wss://127.0.0.1:1/shim', KEY], expect: /Unexpected argument 'smx_0123456789ab_\[REDACTED\]'/ },
    { args: ['shim', '--url', 'wss://127.0.0.1:1/shim', `--key-file=${KEY}`], expect: /--key-file smx_0123456789ab_\[REDACTED\] cannot be read/ },
    { args: ['shim', '--config', KEY, '--url', 'wss://127.0.0.1:1/shim', KEY.slice(0, 40)], expect: /Unexpected argument 'smx_0123456789ab_\[REDACTED\]'/ },
    { args: ['status', KEY], expect: /snowmux status: Unexpected argument 'smx_0123456789ab_\[REDACTED\]'/ },
    { args: ['audit', 'verify', '--dir', KEY], expect: /smx_0123456789ab_\[REDACTED\]/ },
  ];
  for (const c of cases) {
    const r = spawnSync(process.execPath, [bin, ...c.args], { encoding: 'utf8', timeout: 30_000, input: initialize, env: { ...process.env, SNOWMUX_HOME: home, SNOWMUX_KEY: '' } });
    const said = `${r.stdout}${r.stderr}`;
    assert.match(said, c.expect, `${c.args.join(' ')}: ${said}`);
    assert.doesNotMatch(said, /KeySecret/, c.args.join(' '));
  }
});

test('hideApiKeys hides the secret of a key whole or cut short, keeps its id, and leaves other text', () => {
  assert.equal(hideApiKeys(`a ${KEY} b`), 'a smx_0123456789ab_[REDACTED] b');
  assert.equal(hideApiKeys(`'${KEY.slice(0, 30)}'`), "'smx_0123456789ab_[REDACTED]'");
  for (const text of ['smx_ is the prefix', 'smx_nothex000000_x', 'no key here']) assert.equal(hideApiKeys(text), text);
});
