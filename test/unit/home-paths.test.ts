/**
 * Every path under "~" is found one way (src/user-path.ts). With HOME set but empty (an editor's or a service
 * definition's "" placeholder) only the snowmux home was taken from the user database: Snowflake's
 * connections.toml, a `--home ~/x`, a `private_key_path = "~/…"`, `[audit] dir = "~/…"`, an editor's config
 * file and a service definition's place were all relative, read from (or written into) whatever directory
 * snowmux ran in. A relative HOME is refused wherever a path needs it, and with no home directory at all a
 * path that needs one is refused, naming it; a remote shim's `--key-file ~/…` is expanded like the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { resolveHome } from '../../src/wire/home.js';
import { resolveProfile } from '../../src/hub/config/resolve-profile.js';
import { loadConfigFile } from '../../src/hub/config/config-file.js';
import { configFileFor } from '../../src/cli/editor-configs.js';
import { serviceCommand } from '../../src/cli/commands/service-command.js';
import { apiKeyFrom } from '../../src/shim/remote-link.js';
import { tempHome } from '../helpers/harness.js';
import { cliPath } from '../helpers/paths.js';

const passwdHome = userInfo().homedir;
const unusable = (pattern: RegExp) => (e: unknown) => isSnowmuxError(e, 'HOME_UNUSABLE') && pattern.test((e as Error).message);

/**
 * Runs `body` with $HOME empty and the current directory a temporary one holding what a relative path would
 * find there: a .snowflake/connections.toml defining [trap], and a "~" directory with a usable private key.
 */
async function inEmptyHome(t: Parameters<typeof tempHome>[0], body: (cwd: string) => Promise<void> | void): Promise<void> {
  const cwd = tempHome(t, 'smx-cwd-');
  mkdirSync(join(cwd, '.snowflake'), { mode: 0o700 });
  writeFileSync(join(cwd, '.snowflake', 'connections.toml'), '[trap]\naccount = "trap"\nuser = "trap"\npassword = "trap"\n', { mode: 0o600 });
  mkdirSync(join(cwd, '~'), { mode: 0o700 });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(cwd, '~', 'trap-key.p8'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const saved = { home: process.env.HOME, xdg: process.env.XDG_CONFIG_HOME, snowflakeHome: process.env.SNOWFLAKE_HOME, dir: process.cwd() };
  process.env.HOME = '';
  delete process.env.XDG_CONFIG_HOME;
  delete process.env.SNOWFLAKE_HOME;
  process.chdir(cwd);
  try {
    await body(cwd);
  } finally {
    process.chdir(saved.dir);
    for (const [name, value] of [['HOME', saved.home], ['XDG_CONFIG_HOME', saved.xdg], ['SNOWFLAKE_HOME', saved.snowflakeHome]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test('HOME set but empty: every path under ~ is under the user database\'s home directory, none in the current directory', async (t) => {
  assert.ok(passwdHome.startsWith('/'), 'this user has a home directory in the user database');
  await inEmptyHome(t, async (cwd) => {
    await t.test('--home ~/x (the default home was already right)', () => {
      assert.equal(resolveHome({ flag: '~/work-home', env: process.env }), join(passwdHome, 'work-home'));
      assert.equal(resolveHome({ env: process.env }), join(passwdHome, '.snowmux'));
    });
    await t.test('Snowflake\'s connections.toml: the one in <cwd>/.snowflake is not the user\'s', () => {
      assert.throws(() => resolveProfile({ name: 'trap', env: { HOME: '' } }), (e) => isSnowmuxError(e) && !/account trap/.test((e as Error).message));
    });
    await t.test('private_key_path = "~/…": not <cwd>/~/trap-key.p8', () => {
      const keyEnv = { HOME: '', SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'me', SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT', SNOWFLAKE_PRIVATE_KEY_PATH: '~/trap-key.p8' };
      assert.throws(() => resolveProfile({ env: keyEnv }), (e) => isSnowmuxError(e, 'CONFIG_INVALID') && /private key file ~\/trap-key\.p8 .*no such file/.test((e as Error).message));
    });
    await t.test('[audit] dir = "~/…"', () => {
      const config = join(cwd, 'audit.toml');
      writeFileSync(config, '[audit]\ndir = "~/snowmux-audit"\n', { mode: 0o600 });
      assert.equal(loadConfigFile({ home: join(cwd, 'h'), explicitPath: config, env: process.env }).config.audit.dir, join(passwdHome, 'snowmux-audit'));
    });
    await t.test('the editor\'s config file `snowmux setup --write` writes', () => {
      assert.equal(configFileFor('cursor', 'linux', { HOME: '' }), join(passwdHome, '.cursor', 'mcp.json'));
      assert.equal(configFileFor('claude-desktop', 'linux', { HOME: '', XDG_CONFIG_HOME: '' }), join(passwdHome, '.config', 'Claude', 'claude_desktop_config.json'));
    });
    await t.test('the service definition\'s place (printed only: nothing is written under the real home)', async () => {
      let said = '';
      const sink = { write: (s: string) => ((said += s), true) } as unknown as NodeJS.WritableStream;
      assert.equal(await serviceCommand(['install', 'systemd', '--print', '--home', join(cwd, 'h')], { stdout: sink, stderr: sink }), 0);
      assert.ok(said.includes(`write it to ${join(passwdHome, '.config', 'systemd', 'user', 'snowmux-hub.service')}`), said);
    });
  });
});

test('a remote shim\'s --key-file ~/… is the home directory\'s file, as every other path; ~name/ is refused', (t) => {
  const userHome = tempHome(t, 'smx-user-');
  writeFileSync(join(userHome, 'hub.key'), 'smx_test_key\n', { mode: 0o600 });
  const warnings: string[] = [];
  assert.equal(apiKeyFrom('~/hub.key', { HOME: userHome }, (w) => warnings.push(w)), 'smx_test_key');
  assert.deepEqual(warnings, []);
  assert.throws(() => apiKeyFrom('~bob/hub.key', { HOME: userHome }), (e) => isSnowmuxError(e, 'USAGE') && /--key-file ~bob\/hub\.key starts with "~name"/.test((e as Error).message));
});

test('a relative HOME is refused by every path under ~ (HOME_UNUSABLE, naming the path), and ignored by paths written out in full', () => {
  const env = { HOME: 'relative-home' };
  assert.throws(() => resolveHome({ flag: '~/work-home', env }), unusable(/\$HOME is a relative path \("relative-home"\), so --home ~\/work-home would depend on the directory/));
  assert.throws(() => configFileFor('cursor', 'linux', env), unusable(/Cursor's MCP config file/));
  assert.throws(() => apiKeyFrom('~/hub.key', env), unusable(/--key-file ~\/hub\.key/));
  assert.throws(() => resolveProfile({ env: { ...env, SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'me', SNOWFLAKE_AUTHENTICATOR: 'SNOWFLAKE_JWT', SNOWFLAKE_PRIVATE_KEY_PATH: '~/k.p8' } }), unusable(/relative path/));
  assert.equal(resolveHome({ flag: '/srv/snowmux', env }), '/srv/snowmux');
  assert.equal(configFileFor('vscode', 'linux', { ...env, XDG_CONFIG_HOME: '/xdg' }), '/xdg/Code/User/mcp.json');
});

/** A uid without an entry in /etc/passwd, to run the CLI as a user with no home directory anywhere. */
function homelessUid(): number | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const taken = new Set(readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')[2]));
  for (let uid = 47_113; uid < 47_200; uid++) if (!taken.has(String(uid))) return uid;
  return undefined;
}

test('no home directory at all (HOME unset, none in the user database): each path under ~ is refused, naming it and what to do', { skip: homelessUid() === undefined ? 'needs root to run as a uid without a passwd entry' : false }, (t) => {
  const uid = homelessUid()!;
  const cwd = tempHome(t, 'smx-homeless-');
  chmodSync(cwd, 0o777);
  const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd, uid, gid: uid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmpdir() }, encoding: 'utf8', timeout: 30_000 });
  const home = join(cwd, 'h');

  const status = run('status');
  assert.equal(status.status, 1, status.stderr);
  assert.match(status.stderr, /\$HOME is unset and this user has no home directory in the system's user database, so there is no ~ for the default snowmux home \(~\/\.snowmux\)\. Set HOME to your home directory, or give the home with --home DIR or SNOWMUX_HOME\. \[HOME_UNUSABLE\]/);

  const tilde = run('status', '--home', '~/x');
  assert.match(tilde.stderr, /so there is no ~ for --home ~\/x\. .*write the path out in full\. \[HOME_UNUSABLE\]/);

  const write = run('setup', 'cursor', '--write', '--home', home);
  assert.equal(write.status, 1, write.stderr);
  assert.match(write.stderr, /no ~ for Cursor's MCP config file\. .*\[HOME_UNUSABLE\]/);
  // Printed only, the file is named as "~/…" and the entry is shown.
  const printed = run('setup', 'cursor', '--home', home);
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.stderr, /Cursor reads this from ~\/\.cursor\/mcp\.json/);
  assert.match(printed.stdout, /"mcpServers"/);

  const install = run('service', 'install', 'systemd', '--home', home);
  assert.equal(install.status, 1, install.stderr);
  assert.match(install.stderr, /no ~ for the systemd service definition's place \(~\/\.config\/systemd\/user\)\. .*--print.*\[HOME_UNUSABLE\]/);
  assert.equal(existsSync(join(cwd, '.config')), false, 'nothing written in the current directory');
  const shown = run('service', 'install', 'systemd', '--print', '--home', home);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stderr, /write it to ~\/\.config\/systemd\/user\/snowmux-hub\.service/);
});

test('a working directory deleted under snowmux is read only for a relative path, which is refused naming it: a hub started there with an absolute home runs', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'smx-gone-cwd-'));
  const was = process.cwd();
  t.after(() => {
    process.chdir(was);
    rmSync(base, { recursive: true, force: true });
  });
  const home = join(base, 'home');
  mkdirSync(home, { mode: 0o700 });
  const gone = join(base, 'gone');
  mkdirSync(gone);
  process.chdir(gone);
  rmdirSync(gone);
  // No --config: the home's config.toml, whatever the working directory (it was read first, and failed: uv_cwd).
  assert.equal(loadConfigFile({ home, env: {} }).path, join(home, 'config.toml'));
  // A relative one names nothing now: said, with what to do.
  assert.throws(
    () => loadConfigFile({ home, explicitPath: 'team.toml', env: {} }),
    (e) => isSnowmuxError(e, 'CONFIG_INVALID') && e.message.includes('--config team.toml is a relative path, and the directory snowmux was started in no longer exists (it was deleted)') && e.message.includes('Give an absolute path'),
  );
  process.chdir(was);
  // The CLI, as a terminal left in a removed directory runs it.
  const gone2 = join(base, 'gone2');
  mkdirSync(gone2);
  const r = spawnSync('sh', ['-c', 'cd "$1" && rmdir "$1" && exec "$2" "$3" hub --home "$4" --config rel.toml', 'sh', gone2, process.execPath, cliPath, home], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /--config rel\.toml is a relative path, and the directory snowmux was started in no longer exists.*\[CONFIG_INVALID\]/);
});
