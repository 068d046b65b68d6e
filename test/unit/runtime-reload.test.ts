/**
 * What `snowmux reload` (the runtime's reload) accepts: a file whose applied parts would leave the running
 * hub inconsistent is refused, and the running rules stay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { formatStatus } from '../../src/cli/commands/status-command.js';
import type { HubStatus } from '../../src/hub/core/status-view.js';
import { isSnowmuxError } from '../../src/errors.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { createRuntime, type HubRuntime } from '../../src/hub/runtime.js';
import { tempHome } from '../helpers/harness.js';

async function runtimeOn(t: { after(fn: () => Promise<void> | void): void }, config: string): Promise<{ home: string; runtime: HubRuntime }> {
  const home = tempHome(t, 'reload-');
  writeFileSync(join(home, 'config.toml'), config, { mode: 0o600 });
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {}, audit: false });
  t.after(() => runtime.close('test over'));
  return { home, runtime };
}

function refusal(runtime: HubRuntime): string {
  try {
    runtime.reload();
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'CONFIG_INVALID'), String(err));
    return err.message;
  }
  assert.fail('expected the reload to be refused');
}

test('a reload whose role names a team tool or a profile added in the same edit is refused: they apply only after a restart', async (t) => {
  const { home, runtime } = await runtimeOn(t, '# no roles yet\n');
  const write = (text: string) => writeFileSync(join(home, 'config.toml'), text, { mode: 0o600 });
  write('[roles.r]\nidentities = ["*"]\ntools = ["only_new"]\n[tools.only_new]\ndescription = "d"\nsql = "select 42 as x"\n');
  assert.match(refusal(runtime), /at roles\.r\.tools: "only_new" names team tool only_new, added in this edit, .*after a restart \(snowmux hub --replace --home /);
  write('[roles.r]\nidentities = ["*"]\nprofile = "p2"\n[profiles.p2]\naccount = "newacct"\nuser = "u2"\npassword = "pw2"\n');
  assert.match(refusal(runtime), /at roles\.r\.profile: role r names profile p2, whose \[profiles\.p2\] table is new in this edit and needs a restart \(snowmux hub --replace/);
  // The running rules stayed: no role was applied.
  const roles = () => (runtime.governance.snapshot().policy as { roles: string[] }).roles;
  assert.deepEqual(roles(), []);
  // Tools and profiles the hub runs with may be named as before; a tool list that also matches a running tool is fine.
  write('[roles.r]\nidentities = ["*"]\ntools = ["list_*"]\n');
  assert.deepEqual(runtime.reload().applied, ['roles']);
  assert.deepEqual(roles(), ['r']);
});

test("a reload is refused while Snowflake's connections.toml is broken or unsafe since the hub read it: sessions would read it again", async (t) => {
  const home = tempHome(t, 'reload-sf-');
  const snowflakeHome = join(home, 'sf');
  mkdirSync(snowflakeHome, { mode: 0o700 });
  const connections = join(snowflakeHome, 'connections.toml');
  writeFileSync(connections, '[dev]\naccount = "acct1"\nuser = "u"\npassword = "pw1"\n', { mode: 0o600 });
  writeFileSync(join(home, 'config.toml'), '[hub]\ndefault_profile = "dev"\n', { mode: 0o600 });
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: { SNOWFLAKE_HOME: snowflakeHome }, audit: false });
  t.after(() => runtime.close('test over'));
  // A half-saved edit.
  writeFileSync(connections, '[dev\naccount = "acct2"\n');
  assert.throws(() => runtime.reload(), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /connections\.toml at line 1.*\nThe reload is refused and the running configuration stays/s.test(err.message));
  writeFileSync(connections, '[dev]\naccount = "acct1"\nuser = "u"\npassword = "pw1"\n');
  chmodSync(connections, 0o666);
  assert.throws(() => runtime.reload(), (err: unknown) => isSnowmuxError(err, 'CONFIG_UNSAFE') && err.message.includes('The reload is refused'));
  chmodSync(connections, 0o600);
  assert.deepEqual(runtime.reload().needsRestart, []);
});

// The list named whole sections ("hub", and "limits (queue sizes)" for a cache TTL): the admin could not
// tell which of twenty keys waits for a restart.
test("a reload names each setting that waits for a restart by its key, and each profile or tool table by its name", async (t) => {
  const home = tempHome(t, 'reload-keys-');
  const write = (text: string) => writeFileSync(join(home, 'config.toml'), text, { mode: 0o600 });
  write('');
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {}, audit: false });
  t.after(() => runtime.close('test over'));
  write('[hub]\nmax_rows = 5\ncall_timeout_ms = 9000\n[limits]\nmetadata_cache_ttl = "0s"\nmax_queued = 7\n[breaker]\nreset_timeout_ms = 1000\n[profiles.dev]\naccount = "a"\nuser = "u"\npassword = "p"\n');
  assert.deepEqual(runtime.reload().needsRestart.sort(), ['breaker.reset_timeout_ms', 'hub.call_timeout_ms', 'hub.max_rows', 'limits.max_queued', 'limits.metadata_cache_ttl', 'profiles.dev']);
});

test("a reload names the changed keys of a profile in config.toml (which account and host it logs in to), not only its table", async (t) => {
  const { home, runtime } = await runtimeOn(t, '[profiles.dev]\naccount = "a1"\nuser = "u"\npassword = "p"\n');
  writeFileSync(join(home, 'config.toml'), '[profiles.dev]\naccount = "a2"\nuser = "u"\npassword = "p"\nhost = "a2.example.com"\nstatement_timeout_s = 60\n[profiles.dev.pool]\nmax = 3\n', { mode: 0o600 });
  assert.deepEqual(runtime.reload().needsRestart.sort(), ['profiles.dev.account', 'profiles.dev.host', 'profiles.dev.pool', 'profiles.dev.statement_timeout_s']);
});

const STATUS = {
  version: '0.1.0', pid: 1, startedAt: new Date().toISOString(), uptimeMs: 1, home: '/h', socket: '/h/hub.sock', state: 'running',
  warehouses: [], sessions: [], totals: { sessionsOpened: 0, calls: 0, errors: 0, refused: 0, cancelled: 0 }, recent: [],
};

// A key or token file every login reads again that became unreadable or untrusted since the hub read it: the
// reload said "configuration reloaded" and the next call failed to log in. It says so now, without the secret.
test("a reload says which Snowflake profile's key or token file can no longer be used, and status keeps it", async (t) => {
  const home = tempHome(t, 'reload-key-');
  const keyFile = join(home, 'rsa_key.p8');
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(keyFile, pem, { mode: 0o600 });
  const tokenFile = join(home, 'token');
  writeFileSync(tokenFile, 'tok-secret-value\n', { mode: 0o600 });
  writeFileSync(
    join(home, 'config.toml'),
    `[hub]\ndefault_profile = "dev"\n[profiles.dev]\naccount = "a1"\nuser = "u"\nauthenticator = "SNOWFLAKE_JWT"\nprivate_key_path = "${keyFile}"\n` +
      `[profiles.ops]\naccount = "a1"\nuser = "u"\nauthenticator = "PROGRAMMATIC_ACCESS_TOKEN"\ntoken_file_path = "${tokenFile}"\n[roles.ops]\nidentities = ["ops"]\nprofile = "ops"\n`,
    { mode: 0o600 },
  );
  const runtime = await createRuntime({ home, logger: createLogger({ destination: new PassThrough(), level: 'silent' }), env: {}, audit: false });
  t.after(() => runtime.close('test over'));
  assert.deepEqual(runtime.reload().unusable ?? [], [], 'nothing to report while both files can be read');
  // Made writable by every user (so untrusted), and moved away.
  chmodSync(keyFile, 0o666);
  renameSync(tokenFile, `${tokenFile}.old`);
  const r = runtime.reload();
  const said = (r.unusable ?? []).join('\n');
  assert.match(said, /Snowflake profile "dev": .*rsa_key\.p8.*every user may write it/);
  assert.match(said, /Snowflake profile "ops": cannot read the token file .*no such file/);
  assert.doesNotMatch(said, /BEGIN|tok-secret-value/);
  const shown = formatStatus({ ...STATUS, config: runtime.statusSections().config } as unknown as HubStatus, 400);
  assert.match(shown, /config reloaded at .* UTC, but a Snowflake profile could not be used then .*: Snowflake profile "dev": .*every user may write it/, 'status shows it after the reload');
  assert.match(shown, /Snowflake profile "ops": cannot read the token file/);
  chmodSync(keyFile, 0o600);
  renameSync(`${tokenFile}.old`, tokenFile);
  assert.deepEqual(runtime.reload().unusable ?? [], []);
});

// The file's warnings were logged and shown by status, but `snowmux reload` (and SIGHUP) said only
// "configuration reloaded": whoever just made the file writable by a group, or gave it to another user, was not told.
test("a reload answers the warnings of the file it loaded, as the hub's start prints them", async (t) => {
  const { home, runtime } = await runtimeOn(t, '[roles.r]\nidentities = ["*"]\n');
  assert.deepEqual(runtime.reload().warnings ?? [], []);
  chmodSync(join(home, 'config.toml'), 0o620);
  const r = runtime.reload();
  assert.match((r.warnings ?? []).join('\n'), /config\.toml decides every session's role and profile, and its group .* may write it \(mode 620\)\. Unless that group is you alone, run: chmod g-w /);
});

test("the fingerprint a team replica heartbeats follows the rules it applies: a reload of another role changes it, one that only touches per-replica bounds does not", async (t) => {
  const { home, runtime } = await runtimeOn(t, '[roles.r]\nidentities = ["*"]\nwrite = false\n');
  const write = (text: string) => writeFileSync(join(home, 'config.toml'), text, { mode: 0o600 });
  const first = runtime.policyFingerprint();
  assert.match(first, /^[0-9a-f]{12}$/);
  write('[roles.r]\nidentities = ["*"]\nwrite = true\n');
  runtime.reload();
  const second = runtime.policyFingerprint();
  assert.notEqual(second, first, 'another role: other rules');
  write('[roles.r]\nidentities = ["*"]\nwrite = false\n');
  runtime.reload();
  assert.equal(runtime.policyFingerprint(), first, 'the same rules: the same fingerprint, as on another replica with this file');
  write('[roles.r]\nidentities = ["*"]\nwrite = false\n[limits]\nrate = { per_second = 3, burst = 9 }\n');
  runtime.reload();
  assert.notEqual(runtime.policyFingerprint(), first, "the team's rate is a rule");
});
