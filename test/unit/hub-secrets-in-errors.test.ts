/**
 * What the hub says of a failure — the message a caller's editor gets, status (a breaker's last failure, a
 * section's last error, the health advice built from them) and hub.log — never carries the hub's own
 * secrets (a profile password, a key passphrase, a proxy's credentials), however the failure quoted them.
 * A secret the caller typed itself is its own and stays in what it is told (else the scrub is an oracle).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { KnownSecrets } from '../../src/hub/audit/known-secrets.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import type { QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import { clientOf } from '../helpers/in-memory-hub.js';
import { defer } from '../helpers/harness.js';

const PASSWORD = 'Hub-Pw-7f3a9c1e';
const PROXY_PASSWORD = 'Proxy-Pw-42bd90';

/** A warehouse whose failures quote what a driver's would: the login's options, a proxy URL. */
class LeakyWarehouse extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  info() {
    return { kind: 'duckdb' as const, name: 'leaky', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 };
  }
  async query(sql: string): Promise<QueryResult> {
    if (sql.includes('CRASH')) throw new TypeError(`Cannot read properties of undefined (reading 'rows') in connect({"account":"xy","password":"${PASSWORD}"})`);
    if (sql.includes('PROXY')) throw new SnowmuxError('WAREHOUSE_UNAVAILABLE', `Could not reach the warehouse through http://ops:${PROXY_PASSWORD}@proxy:3128: ECONNREFUSED.`);
    // The engine echoes the statement it could not run: the caller's own text.
    throw new SnowmuxError('SQL_ERROR', `Parser Error: syntax error at end of input\nLINE 1: ${sql}`);
  }
  override async listDatabases() {
    return [{ name: 'DB' }];
  }
}

test("a failure's message, status and hub.log keep none of the hub's secrets; a secret the caller typed itself stays in its own answer", async (t) => {
  const secrets = new KnownSecrets();
  secrets.hub.add([PASSWORD, PROXY_PASSWORD]);
  const logged = new PassThrough();
  let log = '';
  logged.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const logger = createLogger({ destination: logged, level: 'info', scrub: (line) => secrets.scrubLogLine(line) });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  defer(t, () => governance.close());
  const warehouse = new LeakyWarehouse();
  const target = { kind: 'duckdb' as const, name: 'leaky', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const core = new HubCore({
    home: '/nonexistent',
    logger,
    warehouses: { targetFor: () => target, describe: () => [], close: async () => {} },
    governance,
    secrets,
    // A section as the runtime's are: a breaker's last failure, and a team's last Redis error.
    statusSections: () => ({
      breakers: [{ profile: 'prod', state: 'open', failures: 5, opensCount: 1, nextAttemptAt: null, lastFailure: { message: `login failed: password ${PASSWORD} was refused` } }],
      team: { mode: 'local', lastError: `connect ECONNREFUSED redis://:${PROXY_PASSWORD}@redis:6379` },
    }),
  });
  const attached = core.attachSession({ identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
  defer(t, () => attached.detach('test over'));
  const client = await clientOf(t, attached.env);
  const text = (r: Awaited<ReturnType<typeof client.callTool>>) => (r.content as { text: string }[]).map((c) => c.text).join('\n');

  const crashed = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT CRASH' } });
  assert.equal(crashed.isError, true);
  assert.match(text(crashed), /^Unexpected error: .*"password":"\[REDACTED\]".*snowmux bug/s);
  assert.equal(text(crashed).includes(PASSWORD), false);

  const proxied = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT PROXY' } });
  assert.match(text(proxied), /http:\/\/ops:\[REDACTED\]@proxy:3128/);

  // The caller wrote the string: its answer quotes it as written, nothing tells it the string is a secret.
  const own = await client.callTool({ name: 'execute_query', arguments: { query: `SELECT '${PASSWORD}' AS` } });
  assert.match(text(own), new RegExp(`LINE 1: SELECT '${PASSWORD}' AS`));

  const status = JSON.stringify(core.status());
  for (const secret of [PASSWORD, PROXY_PASSWORD]) assert.equal(status.includes(secret), false, `status keeps ${secret}`);
  assert.match(status, /login failed: password \[REDACTED\] was refused/);
  assert.match(status, /redis:\/\/:\[REDACTED\]@redis:6379/);

  await new Promise((r) => setImmediate(r));
  assert.match(log, /tool failed unexpectedly/);
  for (const secret of [PASSWORD, PROXY_PASSWORD]) assert.equal(log.includes(secret), false, `hub.log keeps ${secret}`);
});
