/**
 * When the embedded warehouse cannot open or build its sample database, the editor's call is told what
 * happened without the hub machine's paths, and where the whole story is (`snowmux status`, doctor, the hub
 * log; or the hub's operator); the operator's copies — the hub log, status's warehouse problem, its health
 * reasons — name the file and the fix. Before, every editor got the operator's text (the hub user's home,
 * `ls -l` / `rm -r` advice), and status showed no problem at all (a hub with nothing but the sample read healthy
 * while every call failed). A key holder's /status and /readyz show that problem as the editor's call does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { SAMPLE_FILE_NAME } from '../../src/hub/warehouse/duckdb/sample-database.js';
import { defer, tempHome, textOf, type Cleanup } from '../helpers/harness.js';
import { localClient } from '../helpers/in-memory-hub.js';

/** A hub core over the real registry, its embedded warehouse in `embeddedDir`; `log()` is what hub.log got. */
function hubOver(t: Cleanup, home: string, embeddedDir: string): { core: HubCore; log: () => string } {
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  const logger = createLogger({ destination: out, level: 'info' });
  const governance = new Governance({ policy: Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml'), logger });
  const warehouses = new WarehouseRegistry({ home, logger, env: {}, homedir: home, embeddedDir });
  defer(t, async () => {
    await warehouses.close();
    await governance.close();
  });
  return { core: new HubCore({ home, logger, warehouses, governance }), log: () => written };
}

/** The editor's copy: the code, no path of the hub's, where to look; the operator's: the path and the fix. */
async function assertSplit(t: Cleanup, home: string, embeddedDir: string, code: string, operatorSays: RegExp): Promise<void> {
  const { core, log } = hubOver(t, home, embeddedDir);
  const client = await localClient(t, core);
  for (const [name, args] of [['execute_query', { query: 'SELECT 1' }], ['list_schemas', {}]] as const) {
    const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: { text?: string }[]; _meta?: Record<string, { code?: string }> };
    const text = textOf(result as never);
    assert.equal(result.isError, true, text);
    assert.equal(result._meta?.['dev.snowmux/error']?.code, code, text);
    assert.ok(!text.includes(home), `the editor is shown the hub's path: ${text}`);
    assert.doesNotMatch(text, /rm -r|ls -l|\/warehouse\b|SNOWMUX_SAMPLE\.duckdb/, text);
    assert.match(text, /embedded warehouse/);
    assert.match(text, /`snowmux status`/);
    assert.match(text, /ask its operator/);
  }
  // The operator: status's warehouse problem and its health reason, and the hub log, name the path and the fix.
  const status = core.status();
  const embedded = status.warehouses.find((w) => w.kind === 'duckdb');
  assert.ok(embedded?.problem, JSON.stringify(status.warehouses));
  assert.equal(embedded.problem.code, code);
  assert.ok(embedded.problem.message.includes(embeddedDir), embedded.problem.message);
  assert.match(embedded.problem.message, operatorSays);
  assert.equal(status.health?.ok, false);
  assert.match(status.health?.reasons.join('\n') ?? '', /the embedded warehouse fails to open \(\d+ times/);
  assert.ok(status.health?.reasons.join('\n').includes(embeddedDir), JSON.stringify(status.health));
  assert.ok(log().includes(embeddedDir), log());
  assert.match(log(), operatorSays);
  // A key holder's /status and /readyz (statusFor): the hub's facts, that problem and its health reason without the path.
  const remote = core.statusFor({ kind: 'api-key', name: 'bob' });
  const seen = JSON.stringify({ warehouses: remote.warehouses, health: remote.health });
  assert.ok(!seen.includes(embeddedDir), seen);
  assert.equal(remote.health?.ok, false);
  assert.match(remote.health?.reasons.join('\n') ?? '', /the embedded warehouse fails to open .*`snowmux status`/);
  assert.equal(remote.warehouses.find((w) => w.kind === 'duckdb')?.problem?.code, code);
}

test('a FIFO at the sample file: the editor is told without the path, status and the log name it and say to remove it', async (t) => {
  const home = tempHome(t, 'openpath-');
  const dataDir = join(home, 'warehouse');
  mkdirSync(dataDir, { mode: 0o700 });
  execFileSync('mkfifo', ['-m', '600', join(dataDir, SAMPLE_FILE_NAME)]);
  await assertSplit(t, home, dataDir, 'WAREHOUSE_UNAVAILABLE', /a FIFO \(named pipe\).*rm -r /);
});

test('a sample that cannot be built (its directory cannot be made): the editor hears why without the path, status names it', async (t) => {
  const home = tempHome(t, 'openpath-');
  // The home's warehouse directory under a directory that does not exist (a home removed under a running hub).
  const dataDir = join(home, 'gone', 'warehouse');
  await assertSplit(t, home, dataDir, 'SAMPLE_BUILD_FAILED', /Could not build the sample database in .*ENOENT/);
});
