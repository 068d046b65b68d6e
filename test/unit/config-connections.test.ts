import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import {
  connectionLayer,
  loadSnowflakeConnections,
  snowflakeConfigDir,
} from '../../src/hub/config/connections-toml.js';

/** A fresh directory used as the user's home directory. */
function tempHome(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-conn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeSecretFile(path: string, text: string, mode = 0o600): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

test('Snowflake config dir: SNOWFLAKE_HOME, else ~/.snowflake, else the platform config dir', (t) => {
  const home = tempHome(t);
  const custom = join(home, 'sfhome');
  mkdirSync(custom);
  assert.equal(snowflakeConfigDir({ env: { SNOWFLAKE_HOME: custom }, homedir: home }), custom);
  assert.equal(snowflakeConfigDir({ env: { SNOWFLAKE_HOME: '~/sfhome' }, homedir: home }), custom);
  // Neither exists: the Python connector falls back to platformdirs' user config dir.
  assert.equal(snowflakeConfigDir({ env: {}, homedir: home, platform: 'linux' }), join(home, '.config', 'snowflake'));
  assert.equal(snowflakeConfigDir({ env: { XDG_CONFIG_HOME: '/xdg' }, homedir: home, platform: 'linux' }), '/xdg/snowflake');
  assert.equal(
    snowflakeConfigDir({ env: {}, homedir: home, platform: 'darwin' }),
    join(home, 'Library', 'Application Support', 'snowflake'),
  );
  assert.equal(
    snowflakeConfigDir({ env: { SNOWFLAKE_HOME: join(home, 'missing') }, homedir: home, platform: 'linux' }),
    join(home, '.config', 'snowflake'),
  );
  mkdirSync(join(home, '.snowflake'));
  assert.equal(snowflakeConfigDir({ env: {}, homedir: home }), join(home, '.snowflake'));
});

test('connections.toml sections are connections and replace config.toml [connections.*] entirely', (t) => {
  const home = tempHome(t);
  const dir = join(home, '.snowflake');
  writeSecretFile(join(dir, 'config.toml'), '[connections.fromconfig]\naccount = "c"\n[cli.logs]\nsave_logs = true\n');
  const configOnly = loadSnowflakeConnections({ env: {}, homedir: home });
  assert.deepEqual(Object.keys(configOnly.connections), ['fromconfig']);
  assert.equal(configOnly.file?.kind, 'config.toml');
  assert.equal(connectionLayer(configOnly, 'fromconfig')?.label, '~/.snowflake/config.toml [connections.fromconfig]');

  writeSecretFile(join(dir, 'connections.toml'), 'stray = "not a table"\n[dev]\naccount = "d"\n[prod]\naccount = "p"\n');
  const both = loadSnowflakeConnections({ env: {}, homedir: home });
  assert.deepEqual(Object.keys(both.connections).sort(), ['dev', 'prod']);
  assert.equal(both.file?.kind, 'connections.toml');
  assert.equal(connectionLayer(both, 'fromconfig'), null);
  assert.equal(connectionLayer(both, 'dev')?.label, '~/.snowflake/connections.toml [dev]');
});

test('default connection: SNOWFLAKE_DEFAULT_CONNECTION_NAME, else config.toml default_connection_name, else "default"', (t) => {
  const home = tempHome(t);
  const dir = join(home, '.snowflake');
  writeSecretFile(join(dir, 'connections.toml'), '[default]\naccount = "a"\n');
  assert.deepEqual(loadSnowflakeConnections({ env: {}, homedir: home }).defaultConnection, {
    name: 'default',
    source: 'the built-in default name',
  });
  writeSecretFile(join(dir, 'config.toml'), 'default_connection_name = "prod"\n');
  assert.deepEqual(loadSnowflakeConnections({ env: {}, homedir: home }).defaultConnection, {
    name: 'prod',
    source: '~/.snowflake/config.toml default_connection_name',
  });
  assert.deepEqual(
    loadSnowflakeConnections({ env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'dev' }, homedir: home }).defaultConnection,
    { name: 'dev', source: 'env SNOWFLAKE_DEFAULT_CONNECTION_NAME' },
  );
});

test('Python connector, Snowflake CLI and Node connector key names all map to settings', (t) => {
  const home = tempHome(t);
  writeSecretFile(
    join(home, '.snowflake', 'connections.toml'),
    `
[py]
account = "a1"
user = "u1"
private_key_file = "/keys/a.p8"
private_key_file_pwd = "pp1"
authenticator = "snowflake_jwt"
host = "127.0.0.1"
port = 8080
protocol = "http"

[cli]
account = "a2"
username = "u2"
private_key_path = "/keys/b.p8"
private_key_passphrase = "pp2"
token_file_path = "/run/token"

[node]
account = "a3"
username = "u3"
privateKeyPath = "/keys/c.p8"
privateKeyPass = "pp3"
accessUrl = "https://x.example"
`,
  );
  const conns = loadSnowflakeConnections({ env: {}, homedir: home });
  assert.deepEqual(connectionLayer(conns, 'py')?.values, {
    account: 'a1',
    user: 'u1',
    privateKeyPath: '/keys/a.p8',
    privateKeyPassphrase: 'pp1',
    authenticator: 'SNOWFLAKE_JWT',
    host: '127.0.0.1',
    accessUrl: 'http://127.0.0.1:8080',
  });
  assert.deepEqual(connectionLayer(conns, 'cli')?.values, {
    account: 'a2',
    user: 'u2',
    privateKeyPath: '/keys/b.p8',
    privateKeyPassphrase: 'pp2',
    tokenFilePath: '/run/token',
  });
  assert.deepEqual(connectionLayer(conns, 'node')?.values, {
    account: 'a3',
    user: 'u3',
    privateKeyPath: '/keys/c.p8',
    privateKeyPassphrase: 'pp3',
    accessUrl: 'https://x.example',
  });
  const layer = connectionLayer(conns, 'py')!;
  assert.equal(layer.sources.account, '~/.snowflake/connections.toml [py]');
  assert.equal(layer.hint('privateKeyPath'), 'private_key_file in ~/.snowflake/connections.toml [py]');
  assert.equal(layer.hint('privateKeyPassphrase'), 'private_key_file_pwd in ~/.snowflake/connections.toml [py]');
});

test('an unsupported authenticator in connections.toml names the file, section and key', (t) => {
  const home = tempHome(t);
  writeSecretFile(join(home, '.snowflake', 'connections.toml'), '[dev]\naccount = "a"\nauthenticator = "kerberos"\n');
  const conns = loadSnowflakeConnections({ env: {}, homedir: home });
  assert.throws(
    () => connectionLayer(conns, 'dev'),
    (err: unknown) =>
      isSnowmuxError(err, 'CONFIG_INVALID') &&
      err.message.startsWith('Config error in ~/.snowflake/connections.toml [dev] at authenticator: expected one of SNOWFLAKE,'),
  );
});

test('a broken connections.toml is reported with its path and position', (t) => {
  const home = tempHome(t);
  const path = join(home, '.snowflake', 'connections.toml');
  writeSecretFile(path, '[dev]\npassword = "pw-SECRET-broken\n');
  assert.throws(
    () => loadSnowflakeConnections({ env: {}, homedir: home }),
    (err: unknown) =>
      isSnowmuxError(err, 'CONFIG_INVALID') && err.message.includes(`${path} at line 2`) && !err.message.includes('pw-SECRET-broken'),
  );
});

test('a connection or key defined twice in connections.toml is named', (t) => {
  const home = tempHome(t);
  const path = join(home, '.snowflake', 'connections.toml');
  writeSecretFile(path, '[dev]\naccount = "a"\npassword = "pw-SECRET-1"\npassword = "pw-SECRET-2"\n');
  assert.throws(
    () => loadSnowflakeConnections({ env: {}, homedir: home }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.includes(`${path} at line 4, column 1: dev.password is already set above`) && !err.message.includes('pw-SECRET'),
  );
  writeSecretFile(path, '[dev]\naccount = "a"\n[dev]\naccount = "b"\n');
  assert.throws(() => loadSnowflakeConnections({ env: {}, homedir: home }), /at line 3, column 2: the table \[dev\] is already defined above/);
});

test('files readable or writable by group/others, or owned by someone else, produce a warning like the connectors', (t) => {
  const home = tempHome(t);
  const path = join(home, '.snowflake', 'connections.toml');
  writeSecretFile(path, '[dev]\naccount = "a"\npassword = "pw-SECRET-perm"\n', 0o600);
  assert.deepEqual(loadSnowflakeConnections({ env: {}, homedir: home }).warnings, []);

  chmodSync(path, 0o640);
  const readable = loadSnowflakeConnections({ env: {}, homedir: home }).warnings;
  assert.equal(readable.length, 1);
  assert.match(readable[0]!, /^Bad owner or permissions on ~\/\.snowflake\/connections\.toml \(readable by group or others; mode 640\)/);
  // The command is pasteable: the real path, not a "~" that quotes would keep the shell from expanding.
  assert.ok(readable[0]!.includes(`\`chmod 0600 ${path}\``), readable[0]);
  assert.ok(!/chmod 0600 "?~/.test(readable[0]!), readable[0]);
  assert.ok(!readable[0]!.includes('pw-SECRET-perm'));

  chmodSync(path, 0o660);
  assert.match(loadSnowflakeConnections({ env: {}, homedir: home }).warnings[0]!, /writable by group or others, readable by group or others/);

  const silenced = loadSnowflakeConnections({ env: { SF_SKIP_WARNING_FOR_READ_PERMISSIONS_ON_CONFIG_FILE: 'true' }, homedir: home });
  assert.deepEqual(silenced.warnings, []);

  chmodSync(path, 0o600);
  // Files owned by root are exempt (as in the connectors), so as root hand the file to another uid instead.
  const realUid = process.getuid?.() ?? 1000;
  if (realUid === 0) chownSync(path, 54321, 54321);
  const otherOwner = loadSnowflakeConnections({ env: {}, homedir: home, uid: realUid === 0 ? 0 : realUid + 1 });
  assert.match(otherOwner.warnings[0]!, /owned by another user/);
  assert.deepEqual(loadSnowflakeConnections({ env: {}, homedir: home, platform: 'win32' }).warnings, []);
});

test('a connections.toml another user could change is refused, not used: it could send the password an editor brings to a host of their choosing', (t) => {
  const home = tempHome(t);
  const path = join(home, '.snowflake', 'connections.toml');
  writeSecretFile(path, '[dev]\naccount = "a"\naccess_url = "http://127.0.0.1:9"\n', 0o666);
  assert.throws(() => loadSnowflakeConnections({ env: {}, homedir: home }), (e) => isSnowmuxError(e, 'CONFIG_UNSAFE') && /connections\.toml decides which Snowflake account, host and credentials the hub logs in with, and every user may write it \(mode 666\)\. Run: chmod o-w /.test(e.message));
  chmodSync(path, 0o600);
  // Reached through a directory every user may write (no sticky bit): anyone could put their own file there.
  const open = join(home, 'open');
  mkdirSync(open, { mode: 0o700 });
  chmodSync(open, 0o777);
  writeSecretFile(join(open, 'connections.toml'), '[dev]\naccount = "a"\n', 0o600);
  assert.throws(() => loadSnowflakeConnections({ env: { SNOWFLAKE_HOME: open }, homedir: home }), (e) => isSnowmuxError(e, 'CONFIG_UNSAFE') && /writable by others without the sticky bit/.test(e.message));
  // A symlink into such a directory is judged by where it leads.
  rmSync(path);
  symlinkSync(join(open, 'connections.toml'), path);
  assert.throws(() => loadSnowflakeConnections({ env: {}, homedir: home }), (e) => isSnowmuxError(e, 'CONFIG_UNSAFE'));
});

test('no Snowflake files at all is not an error', (t) => {
  const home = tempHome(t);
  const conns = loadSnowflakeConnections({ env: {}, homedir: home, platform: 'linux' });
  assert.equal(conns.file, null);
  assert.deepEqual(conns.connections, {});
  assert.equal(conns.shownConnectionsPath, '~/.config/snowflake/connections.toml');
});

test('a connections.toml that is a device or FIFO is refused, not read as an empty file (nor waited on)', (t) => {
  const home = tempHome(t);
  mkdirSync(join(home, '.snowflake'));
  const path = join(home, '.snowflake', 'connections.toml');
  symlinkSync('/dev/null', path);
  assert.throws(
    () => loadSnowflakeConnections({ env: {}, homedir: home }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_UNREADABLE') && err.message.includes(`Cannot read ${path}: it is not a regular file`),
  );
});

test('a connections.toml that is not UTF-8 is refused at its first bad byte, as config.toml is, not read with its values changed', (t) => {
  const home = tempHome(t);
  const path = join(home, '.snowflake', 'connections.toml');
  mkdirSync(join(home, '.snowflake'), { recursive: true, mode: 0o700 });
  // Latin-1's one-byte "é" became U+FFFD: the login then sent another password, with no word of why.
  writeFileSync(path, Buffer.concat([Buffer.from('[dev]\naccount = "a"\nuser = "u"\npassword = "caf'), Buffer.from([0xe9]), Buffer.from('-SECRET"\n')]), { mode: 0o600 });
  assert.throws(
    () => loadSnowflakeConnections({ env: {}, homedir: home }),
    (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && err.message.includes(`${path} at line 4, column 16:`) && /not UTF-8/.test(err.message) && !err.message.includes('SECRET'),
  );
  writeFileSync(path, '[dev]\naccount = "a"\nuser = "josé"\n');
  assert.equal(loadSnowflakeConnections({ env: {}, homedir: home }).connections.dev?.user, 'josé');
});
