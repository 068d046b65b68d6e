/**
 * No editor is ever served with another editor's settings. The first editor's shim starts the hub; the hub
 * must not inherit that editor's Snowflake settings (a later editor without settings would be served with
 * them) nor its unrelated secrets, and each session resolves from its own hello.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, defer, runCli, tempHome, textOf } from '../helpers/harness.js';

test('two editors with different environments on one auto-started hub: each is served with its own settings only', { skip: process.platform !== 'linux' && 'reads /proc/<pid>/environ' }, async (t) => {
  const home = tempHome(t);
  const first = await connectClient(t, {
    home,
    kind: 'v2-legacy',
    name: 'editor-with-snowflake',
    env: {
      SNOWFLAKE_ACCOUNT: 'acme-first',
      SNOWFLAKE_USER: 'ALICE',
      SNOWFLAKE_PASSWORD: 'first-editors-password',
      // Nothing listens there: the first editor's calls fail fast, which is its own business.
      SNOWFLAKE_HOST: '127.0.0.1',
      SNOWFLAKE_PORT: '9',
      SNOWFLAKE_PROTOCOL: 'http',
      GITHUB_TOKEN: 'ghp-first-editors-token',
    },
  });
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { pid: number };
  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    try {
      process.kill(status.pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  });
  const environ = readFileSync(`/proc/${status.pid}/environ`, 'utf8').split('\0').filter(Boolean);
  const names = environ.map((e) => e.slice(0, e.indexOf('=')));
  assert.deepEqual(names.filter((n) => n.startsWith('SNOWFLAKE_') || n === 'GITHUB_TOKEN'), [], `hub environment: ${names.join(' ')}`);
  assert.ok(!environ.some((e) => e.includes('first-editors-password') || e.includes('ghp-first-editors-token')));

  // A second editor with no Snowflake settings gets the embedded warehouse, not the first editor's account.
  const second = await connectClient(t, { home, kind: 'v2-modern', name: 'editor-without-settings' });
  const r = await second.callTool('execute_query', { query: 'SELECT COUNT(*) FROM NATION' });
  assert.ok(!r.isError, textOf(r));
  assert.deepEqual((r.structuredContent as { rows: unknown[][] }).rows, [[25]]);

  // The first editor is still served with its own settings (its account is unreachable here).
  const own = await first.callTool('list_databases', {});
  assert.equal(own.isError, true, textOf(own));
  assert.doesNotMatch(textOf(own), /first-editors-password/);
});

test("an editor's relative key file is read from its own directory, not from the directory of the editor that started the hub", async (t) => {
  const home = tempHome(t);
  const projects = tempHome(t, 'smx-projects-');
  const env = { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'ALICE', SNOWFLAKE_PRIVATE_KEY_PATH: 'keys/rsa.p8', SNOWFLAKE_HOST: '127.0.0.1', SNOWFLAKE_PORT: '9', SNOWFLAKE_PROTOCOL: 'http' };
  const dirs = ['first', 'second'].map((name) => join(projects, name));
  for (const dir of dirs) mkdirSync(dir);
  // The first editor's shim starts the hub, which then runs in the first editor's directory.
  const editors = [];
  for (const [i, cwd] of dirs.entries()) editors.push(await connectClient(t, { home, kind: 'v2-legacy', name: `editor-${i}`, env, cwd }));
  defer(t, () => runCli(['stop', '--home', home]));
  for (const [i, editor] of editors.entries()) {
    const r = await editor.callTool('list_databases', {});
    assert.equal(r.isError, true, textOf(r));
    // Neither directory holds the key: each editor is told of the file in its own directory.
    assert.ok(textOf(r).includes(join(dirs[i]!, 'keys', 'rsa.p8')), `editor ${i}: ${textOf(r)}`);
  }
});
