/**
 * The Snowflake driver's own log stays off whatever the user's Snowflake client config
 * (`~/sf_client_config.json`, shared by every Snowflake driver) says: the hub hands each connection a client
 * config of its own. With the user's, the driver wrote an unscrubbed file log (the hub's proxy password in it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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
