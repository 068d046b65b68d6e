/**
 * `snowmux setup --write` rewrites the file whose `command` an editor runs as the user: it never leaves it
 * (or its backup) writable by every user, whatever mode it was found with or the umask, and never writes
 * through a name someone put at its temporary file's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setupCommand } from '../../src/cli/commands/setup-command.js';
import { isSnowmuxError } from '../../src/errors.js';
import { cliEnv } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

function rig(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'smx-setup-modes-'));
  const saved = { HOME: process.env['HOME'], SNOWFLAKE_HOME: process.env['SNOWFLAKE_HOME'] };
  const userHome = join(dir, 'user');
  mkdirSync(join(userHome, '.cursor'), { recursive: true, mode: 0o755 });
  chmodSync(join(userHome, '.cursor'), 0o755);
  process.env['HOME'] = userHome;
  process.env['SNOWFLAKE_HOME'] = join(dir, 'no-snowflake');
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(userHome, '.cursor', 'mcp.json');
  const run = async (extra: string[] = []) => {
    let stdout = '';
    let stderr = '';
    const out = new PassThrough().on('data', (c: Buffer) => (stdout += c.toString()));
    const err = new PassThrough().on('data', (c: Buffer) => (stderr += c.toString()));
    const before = process.umask(0o000); // the mode given is the mode made
    try {
      const code = await setupCommand(['cursor', '--write', '--home', join(dir, 'home'), ...extra], { stdout: out, stderr: err });
      return { code, stdout, stderr };
    } finally {
      process.umask(before);
    }
  };
  return { dir, file, run };
}

test('setup --write never leaves the editor config (or its backup) writable by every user: one found 0666 is written 0664, and said', async (t) => {
  const { file, run } = rig(t);
  writeFileSync(file, JSON.stringify({ mcpServers: { github: { command: 'gh-mcp' } } }));
  chmodSync(file, 0o666);
  const r = await run();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(file).mode & 0o777, 0o664, 'others may no longer replace the command the editor runs');
  assert.equal(statSync(`${file}.bak`).mode & 0o777, 0o664, 'nor the backup');
  assert.match(r.stderr, /warning: .*mcp\.json may be written by every user \(mode 666\): any of them could change the command Cursor runs, as you\. It is written 664 now/);
  assert.match(JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))), /"github".*"snowflake"/);

  // Found open again with the entry already in place: nothing to write, but it is said, with the fix.
  chmodSync(file, 0o666);
  const again = await run();
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already has this "snowflake" entry; nothing written/);
  assert.match(again.stderr, /may be written by every user \(mode 666\).*chmod o-w .*mcp\.json/);
});

test('setup --write makes its temporary file anew: a symlink planted at that name is not written through', async (t) => {
  const { dir, file, run } = rig(t);
  writeFileSync(file, JSON.stringify({ mcpServers: {} }), { mode: 0o600 });
  const precious = join(dir, 'precious');
  writeFileSync(precious, 'keep me\n', { mode: 0o600 });
  // setupCommand runs in this process: its temporary name is this pid's.
  symlinkSync(precious, `${file}.snowmux-${process.pid}.tmp`);
  const r = await run();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(precious, 'utf8'), 'keep me\n', 'the file the link named is untouched');
  assert.ok(lstatSync(file).isFile(), 'the config is a file of its own, not the planted link');
  assert.match(readFileSync(file, 'utf8'), /"snowflake"/);
});

test('setup --write refuses an editor config that is no regular file (a FIFO) or absurdly large, at once and saying so; nothing is written', async (t) => {
  const { dir, file, run } = rig(t);
  // A FIFO: read plainly, it hung the command for ever (in its own process here, so a hang is a failure, not a stuck run).
  execFileSync('mkfifo', [file]);
  const proc = spawn(process.execPath, [cliPath, 'setup', 'cursor', '--write', '--home', join(dir, 'home')], {
    env: cliEnv({ HOME: join(dir, 'user'), SNOWFLAKE_HOME: join(dir, 'no-snowflake') }),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  assert.equal(signal, null, `ended by ${signal}: it hung on the FIFO`);
  assert.notEqual(code, 0);
  assert.match(stderr, /Cursor's config .*mcp\.json is not a regular file \(a FIFO, device or socket\); snowmux will not read or replace it, and nothing was written\. .*EDITOR_CONFIG_UNWRITABLE/s);
  assert.ok(lstatSync(file).isFIFO(), 'the FIFO is left as it was');
  rmSync(file);
  // 64 MiB (sparse): refused without reading it whole.
  writeFileSync(file, '');
  truncateSync(file, 64 * 1024 * 1024);
  await assert.rejects(run(), (e) => isSnowmuxError(e, 'INVALID_ARGUMENT') && /Cursor's config .*mcp\.json is larger than 1024 KiB, far more than an editor's MCP config holds; snowmux will not rewrite it, and nothing was written/.test(e.message));
  assert.equal(statSync(file).size, 64 * 1024 * 1024);
  assert.equal(existsSync(`${file}.bak`), false);
});

test("setup --write through a dotfile manager's symlink whose file does not exist yet writes that file and keeps the link; a link into a missing directory is refused, nothing made", async (t) => {
  const { dir, file, run } = rig(t);
  const dotfiles = join(dir, 'dotfiles');
  mkdirSync(dotfiles, { mode: 0o700 });
  // Relative, as stow and chezmoi make them, and two links deep.
  symlinkSync('../../dotfiles/cursor-link.json', file);
  symlinkSync('cursor.json', join(dotfiles, 'cursor-link.json'));
  const r = await run();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(file).isSymbolicLink(), 'the link survives');
  assert.match(r.stdout, new RegExp(`added "snowflake" to ${join(dotfiles, 'cursor.json')}`));
  assert.ok(JSON.parse(readFileSync(join(dotfiles, 'cursor.json'), 'utf8')).mcpServers.snowflake, 'the entry went into the linked file');
  assert.ok(lstatSync(join(dotfiles, 'cursor-link.json')).isSymbolicLink());

  rmSync(file);
  symlinkSync(join(dir, 'not-cloned-yet', 'cursor.json'), file);
  await assert.rejects(run(), (e) => isSnowmuxError(e, 'EDITOR_CONFIG_UNWRITABLE') && e.message.includes(`is a symbolic link to ${join(dir, 'not-cloned-yet', 'cursor.json')}, and ${join(dir, 'not-cloned-yet')} does not exist`) && /nothing was written/.test(e.message));
  assert.ok(lstatSync(file).isSymbolicLink());
  assert.equal(existsSync(join(dir, 'not-cloned-yet')), false);
});
