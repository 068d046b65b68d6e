/**
 * The Snowflake driver's own files stay in the hub's home (`<home>/snowflake-driver`). Its log stays off
 * whatever the user's Snowflake client config (`~/sf_client_config.json`, shared by every Snowflake driver)
 * says: the hub hands each connection a client config of its own. With the user's, the driver wrote an
 * unscrubbed file log (the hub's proxy password in it). Its MFA / SSO token cache is there too: in the
 * driver's default directory (~/.cache/snowflake, $XDG_CACHE_HOME/snowflake), which the hub never checked,
 * a symlink made the hub overwrite another file with the token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, defer, startHub, tempHome, textOf } from '../helpers/harness.js';

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test("a user's sf_client_config.json asking for a DEBUG file log does not turn the driver's log on in the hub", async (t) => {
  const double = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'drv-log-pw-1234', roles: ['ANALYST'] }] });
  defer(t, () => double.close());
  const home = tempHome(t);
  const userHome = join(home, 'user-home');
  const logDir = join(userHome, 'sf-logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(userHome, 'sf_client_config.json'), JSON.stringify({ common: { log_level: 'DEBUG', log_path: logDir } }), { mode: 0o600 });
  writeFileSync(
    join(home, 'config.toml'),
    `[hub]\ndefault_profile = "p"\n[profiles.p]\naccount = "fakeacct"\nuser = "alice"\npassword = "drv-log-pw-1234"\naccess_url = "${double.url}"\nwarehouse = "COMPUTE_WH"\ndatabase = "ANALYTICS"\nschema = "PUBLIC"\n`,
  );
  await startHub(t, home, [], { HOME: userHome });
  const client = await connectClient(t, { home, kind: 'v2-legacy', env: { HOME: userHome } });
  const r = await client.callTool('execute_query', { query: 'SELECT 1' });
  assert.ok(!r.isError, textOf(r));
  assert.deepEqual(files(logDir), [], "the user's log path got no driver log");
  // The hub's own config, private, says OFF; the driver wrote no log under it either.
  const own = join(home, 'snowflake-driver', 'client-config.json');
  assert.equal(statSync(own).mode & 0o777, 0o600);
  assert.deepEqual(files(join(home, 'snowflake-driver')).map((f) => f.slice(home.length)), ['/snowflake-driver/client-config.json']);
});

test("the driver's MFA token cache is kept in the hub's home, never in ~/.cache/snowflake, where a symlink sent the token over another file", async (t) => {
  const double = await startSnowflakeDouble({ users: [{ name: 'BOB', password: 'mfa-cache-pw-1234', mfaPasscode: '123456', roles: ['ANALYST'] }] });
  defer(t, () => double.close());
  const home = tempHome(t);
  const userHome = join(home, 'user-home');
  // The driver's default cache directory, where whoever may write it left a link to a file of the user's.
  const defaultCache = join(userHome, '.cache', 'snowflake');
  mkdirSync(defaultCache, { recursive: true, mode: 0o700 });
  const victim = join(userHome, 'precious');
  writeFileSync(victim, 'PRECIOUS\n', { mode: 0o600 });
  symlinkSync(victim, join(defaultCache, 'credential_cache_v1.json'));
  writeFileSync(
    join(home, 'config.toml'),
    `[hub]\ndefault_profile = "p"\n[profiles.p]\naccount = "fakeacct"\nuser = "bob"\nauthenticator = "USERNAME_PASSWORD_MFA"\npassword = "mfa-cache-pw-1234"\npasscode = "123456"\naccess_url = "${double.url}"\nwarehouse = "COMPUTE_WH"\ndatabase = "ANALYTICS"\nschema = "PUBLIC"\n`,
    { mode: 0o600 },
  );
  await startHub(t, home, [], { HOME: userHome });
  const client = await connectClient(t, { home, kind: 'v2-legacy', env: { HOME: userHome } });
  const r = await client.callTool('execute_query', { query: 'SELECT 1' });
  assert.ok(!r.isError, textOf(r));
  assert.ok(double.loginLog.some((l) => l.user === 'BOB' && l.authenticator === 'USERNAME_PASSWORD_MFA'), JSON.stringify(double.loginLog));
  assert.equal(readFileSync(victim, 'utf8'), 'PRECIOUS\n', 'the file behind the link in ~/.cache/snowflake is untouched');
  // The token Snowflake issued for the MFA login is cached in the hub's own directory, private.
  const cache = join(home, 'snowflake-driver', 'credential_cache_v1.json');
  assert.equal(statSync(cache).mode & 0o777, 0o600);
  assert.match(readFileSync(cache, 'utf8'), /MfaToken/);
});
