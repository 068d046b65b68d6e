/**
 * The hub's own Snowflake settings that cannot be used (a default profile whose key file is missing): an
 * editor that brought no settings of its own is told so without the hub machine's paths, and where the
 * operator sees them; the hub log and status keep the file and the fix. An editor's own setting (its
 * SNOWFLAKE_PRIVATE_KEY_PATH) is still named back to it in full: it is that editor's to fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText, type LoadedConfig } from '../../src/hub/config/config-file.js';
import { Session } from '../../src/hub/session/session.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { defer, tempHome, textOf } from '../helpers/harness.js';
import { localClient } from '../helpers/in-memory-hub.js';

test("a default profile whose key file is missing: the editor's call names no path of the hub's, the log and status name it", async (t) => {
  const home = tempHome(t, 'hubsettings-');
  const key = join(home, 'keys', 'missing.p8');
  const path = join(home, 'config.toml');
  const text = `[hub]\ndefault_profile = "dev"\n[profiles.dev]\naccount = "acme"\nuser = "u"\nauthenticator = "SNOWFLAKE_JWT"\nprivate_key_path = "${key}"\n`;
  const config: LoadedConfig = { path, shownPath: path, exists: true, config: parseConfigText(text, path), warnings: [] };
  const out = new PassThrough();
  let log = '';
  out.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const logger = createLogger({ destination: out, level: 'info' });
  const governance = new Governance({ policy: Policy.fromConfig(config.config, path), logger });
  const warehouses = new WarehouseRegistry({ home, logger, env: { HOME: home }, homedir: home, config, openSnowflake: async () => assert.fail('no login with settings that do not resolve') });
  defer(t, async () => {
    await warehouses.close();
    await governance.close();
  });
  assert.match((await warehouses.warmUp()) ?? warehouses.startupWarnings().join('\n'), /missing\.p8/);
  const core = new HubCore({ home, logger, warehouses, governance });
  const client = await localClient(t, core);
  const result = (await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT 1' } })) as { isError?: boolean; content: { text?: string }[]; _meta?: Record<string, { code?: string }> };
  const shown = textOf(result as never);
  assert.equal(result.isError, true, shown);
  assert.equal(result._meta?.['dev.snowmux/error']?.code, 'CONFIG_INVALID', shown);
  assert.ok(!shown.includes(home), `the editor is shown the hub's path: ${shown}`);
  assert.match(shown, /The hub's Snowflake profile "dev" cannot be used/);
  assert.match(shown, /ask its operator/);
  // The operator's copies: the log of the call, and status's problem (a key holder's view without the path).
  assert.ok(log.includes(key), log);
  const problem = core.status().warehouses.find((w) => w.name === 'dev')?.problem;
  assert.ok(problem?.message.includes(key), JSON.stringify(problem));
  const remote = JSON.stringify(core.statusFor({ kind: 'api-key', name: 'bob' }).warehouses);
  assert.ok(!remote.includes(key), remote);
  // An editor's own key file setting is its own to fix: named back in full.
  const own = join(home, 'mine', 'editor.p8');
  const session = new Session({ id: 'e', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: { SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: own } });
  assert.throws(() => warehouses.targetFor(session), (err: unknown) => err instanceof SnowmuxError && err.message.includes(own) && err.callerMessage === undefined);
});
