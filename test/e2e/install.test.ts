/**
 * The README's tarball install, as a user runs it: `npm pack`, then `npm install -g` of the file into a
 * prefix of its own. The installed package needs no dev toolchain (no build on install: no TypeScript,
 * esbuild or tsx comes along), answers --version, prints an editor entry pointing into the install, and
 * that entry — launched with no node on PATH — serves a query. `npm uninstall -g` removes it.
 *
 * Packing skips `prepack` (the build): `npm test` has just built dist/, and rebuilding it here would
 * rewrite files other tests are reading. The install needs the npm registry (or npm's cache, which CI's
 * `npm ci` has just filled); without either it fails, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { defer, killEveryHub, runCli, tempHome } from '../helpers/harness.js';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
const NETWORK = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|network/i;

test('npm pack, then npm install -g of the tarball into a prefix: no dev toolchain, --version, setup, a working entry, uninstall', async (t) => {
  const work = tempHome(t, 'smx-install-');
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: repoRoot, env: npmEnv });
  const filename = (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename;
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(filename, `snowmux-${version}.tgz`, 'the file name the README shows');

  const prefix = join(work, 'global');
  try {
    await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', join(work, filename)], { cwd: work, env: npmEnv, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    // No skip: a README install path that cannot be checked is a failure, said plainly.
    const text = `${(err as { stderr?: string }).stderr ?? ''}${(err as Error).message}`;
    const line = text.split('\n').find((l) => NETWORK.test(l));
    if (line) throw new Error(`npm could not reach the registry or its cache (this test installs the tarball's dependencies from them; CI's npm ci fills the cache): ${line}`, { cause: err });
    throw err;
  }
  const installed = join(prefix, 'lib', 'node_modules', 'snowmux');
  const bin = join(prefix, 'bin', 'snowmux');
  assert.ok(existsSync(bin), 'snowmux is on the prefix\'s PATH');
  // Nothing of the dev toolchain came along, and nothing would build on install.
  const deps = readdirSync(join(installed, 'node_modules'));
  for (const dev of ['typescript', 'esbuild', 'tsx', 'knip']) assert.ok(!deps.includes(dev), `${dev} is not installed`);
  const scripts = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(scripts[hook], undefined, `no ${hook} script`);
  assert.ok(existsSync(join(installed, 'dist', 'shim.cjs')) && existsSync(join(installed, 'LICENSE')));

  // The installed command, found through PATH as a user's shell finds it.
  const env = { PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: work };
  assert.equal((await run('snowmux', ['--version'], { env })).stdout.trim(), version);
  const setup = await run('snowmux', ['setup', 'generic'], { env });
  const entry = (JSON.parse(setup.stdout) as { mcpServers: { snowflake: { command: string; args: string[] } } }).mcpServers.snowflake;
  assert.equal(entry.command, process.execPath);
  assert.equal(entry.args[0], join(installed, 'bin', 'snowmux.js'), 'the entry points into the install, symlinks resolved');

  const home = tempHome(t);
  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    killEveryHub(home);
  });
  const transport = new StdioClientTransport({ command: entry.command, args: [...entry.args, '--home', home], env: { PATH: '/nonexistent', HOME: work }, stderr: 'ignore' });
  const client = new Client({ name: 'installed-editor', version: '1' });
  await client.connect(transport);
  defer(t, () => client.close());
  const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT count(*) AS n FROM REGION' } });
  assert.notEqual(result.isError, true, JSON.stringify(result));
  assert.deepEqual((result.structuredContent as { rows: unknown[][] }).rows, [[5]]);
  await client.close();
  assert.equal((await run('snowmux', ['stop', '--home', home], { env })).stdout.includes('stopping'), true);

  await run('npm', ['uninstall', '-g', '--prefix', prefix, 'snowmux'], { cwd: work, env: npmEnv });
  assert.equal(existsSync(bin), false, 'npm uninstall -g removes the command');
});
