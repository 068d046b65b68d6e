/**
 * `snowmux setup` sets up nothing a hub would refuse: the config file the entry's hub reads passes the
 * hub's own start-up checks, and a profile it names is defined (with a did-you-mean). It used to check only
 * that the file existed, so an entry was printed (or written) whose every call then failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isSnowmuxError } from '../../src/errors.js';
import { setupCommand } from '../../src/cli/commands/setup-command.js';

function rig(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'smx-setup-'));
  const saved = process.env['SNOWFLAKE_HOME'];
  // No connections.toml of the user running the tests: only the config file defines profiles.
  process.env['SNOWFLAKE_HOME'] = dir;
  t.after(() => {
    if (saved === undefined) delete process.env['SNOWFLAKE_HOME'];
    else process.env['SNOWFLAKE_HOME'] = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  const config = join(dir, 'config.toml');
  const run = async (text: string, extra: string[] = [], mode = 0o600) => {
    writeFileSync(config, text);
    chmodSync(config, mode);
    let stdout = '';
    let stderr = '';
    const out = new PassThrough().on('data', (c: Buffer) => (stdout += c.toString()));
    const err = new PassThrough().on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await setupCommand(['generic', '--home', dir, '--config', config, ...extra], { stdout: out, stderr: err });
    return { code, stdout, stderr };
  };
  return { config, run };
}

test('setup refuses a config file the hub would refuse, with the hub\'s own error and code, and sets up nothing', async (t) => {
  const { config, run } = rig(t);
  const refused = (code: string, pattern: RegExp) => (e: unknown) => isSnowmuxError(e) && e.code === code && pattern.test(e.message) && /A hub started for this editor would refuse to run with this config, so nothing was set up/.test(e.message);
  await assert.rejects(run('[hub]\nmax_rowz = 5\n'), refused('CONFIG_INVALID', /at hub: unknown key "max_rowz" \(did you mean "max_rows"\?\)/));
  await assert.rejects(run('[roles.r]\nidentities = ["*"]\ntools = ["exeucte_query"]\n'), refused('CONFIG_INVALID', /roles\.r\.tools: "exeucte_query" matches no tool/));
  await assert.rejects(run('[hub]\nmax_rows = 5\n', [], 0o666), refused('CONFIG_UNSAFE', new RegExp(`${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)));
  const ok = await run('[hub]\nmax_rows = 5\n');
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /"shim"/);
});

test('setup --profile with a misspelt profile is refused with the name it most likely meant', async (t) => {
  const { run } = rig(t);
  const defined = '[profiles.dev]\naccount = "a"\nuser = "u"\nauthenticator = "externalbrowser"\n';
  await assert.rejects(run(defined, ['--profile', 'Dev']), (e) => isSnowmuxError(e, 'CONFIG_INVALID') && /Snowflake profile "Dev" is not defined \(did you mean "dev"\?\)/.test(e.message));
  assert.equal((await run(defined, ['--profile', 'dev'])).code, 0);
});

test('an editor named as people say it gets the client(s) it means ("claude" is two), and an editor snowmux does not list is pointed at "generic"', async () => {
  const firstLine = async (client: string) => {
    let stderr = '';
    const err = new PassThrough().on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await setupCommand([client], { stdout: new PassThrough(), stderr: err });
    assert.equal(code, 2, client);
    return stderr.split('\n')[0];
  };
  assert.equal(await firstLine('claude'), 'Unknown client "claude". Did you mean "claude-desktop" or "claude-code"?');
  assert.equal(await firstLine('roo'), 'Unknown client "roo". Did you mean "roo-code"?');
  assert.equal(await firstLine('VSCode'), 'Unknown client "VSCode". Did you mean "vscode"?');
  assert.equal(await firstLine('Claude Desktop'), 'Unknown client "Claude Desktop". Did you mean "claude-desktop"?');
  assert.equal(await firstLine('claude_code'), 'Unknown client "claude_code". Did you mean "claude-code"?');
  assert.equal(await firstLine('cursr'), 'Unknown client "cursr". Did you mean "cursor"?');
  assert.equal(await firstLine('cline'), 'Unknown client "cline". For another editor that starts MCP servers over stdio, `snowmux setup generic` prints the entry to paste into its MCP config.');
});
