/**
 * Pools no open session uses go (against the Snowflake double, through the real snowflake-sdk): editors
 * with distinct SNOWFLAKE_* settings (here a warehouse each) opened one pool apiece, and every one stayed —
 * logged in, listed in status, holding its credentials — for the life of the hub. Once no open session
 * has used one for its idle timeout it is logged out and forgotten; a pool still in use stays.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Session } from '../../src/hub/session/session.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { profileEnv, startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { queryOptions } from '../doubles/snowflake/fixtures.js';

const EDITORS = 12;

let double: SnowflakeDouble;
let dir: string;
let registry: WarehouseRegistry;
let clock = 0;
const retired: Warehouse[] = [];
const waiters: (() => void)[] = [];

async function retiredAtLeast(n: number): Promise<void> {
  while (retired.length < n) await new Promise<void>((r) => waiters.push(r));
}

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: 'pw1' }], warehouses: Array.from({ length: EDITORS }, (_, i) => `WH${i}`) });
  dir = mkdtempSync(join(tmpdir(), 'snowmux-sf-unused-'));
  registry = new WarehouseRegistry({
    home: dir,
    logger: createLogger({ destination: new PassThrough(), level: 'silent' }),
    env: { HOME: dir },
    homedir: dir,
    now: () => clock,
    onRetired: (w) => {
      retired.push(w);
      for (const wake of waiters.splice(0)) wake();
    },
  });
});

after(async () => {
  await registry.close();
  await double.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pools of settings no session uses any more', () => {
  it('are logged out and forgotten after their idle timeout; the one still in use stays', { timeout: 60_000 }, async () => {
    const editors = Array.from({ length: EDITORS }, (_, i) =>
      new Session({ id: `e${i}`, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: profileEnv(double, { user: 'alice', password: 'pw1' }, { SNOWFLAKE_WAREHOUSE: `WH${i}` }) }),
    );
    for (const editor of editors) {
      const warehouse = await registry.forSession(editor);
      assert.equal((await warehouse.query('select current_user() as u', queryOptions())).rows[0]?.[0], 'ALICE');
    }
    assert.equal(registry.describe().length, EDITORS, 'one pool per distinct setting');
    const [kept, ...gone] = editors;
    for (const editor of gone) editor.close('editor closed');
    registry.retireUnused();
    clock += 600_000; // pool.idle_timeout_ms's default
    registry.retireUnused();
    await retiredAtLeast(EDITORS - 1);
    const pools = registry.describe();
    assert.deepEqual(pools.map((p) => p.detail['warehouse']), ['WH0'], 'status lists the pool still in use');
    const loggedIn = (pools[0]?.detail['pool'] as { loggedIn: number }).loggedIn;
    assert.equal(double.openSessions(), loggedIn, 'Snowflake sees only the sessions of the pool in use');
    assert.equal(double.counters.logins - double.counters.logouts, loggedIn);
    // The editor still open is served by its pool, and one coming back with retired settings logs in again.
    assert.equal((await (await registry.forSession(kept!)).query('select 1 as n', queryOptions())).rows[0]?.[0], 1);
    const back = new Session({ id: 'back', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: profileEnv(double, { user: 'alice', password: 'pw1' }, { SNOWFLAKE_WAREHOUSE: 'WH3' }) });
    assert.equal((await (await registry.forSession(back)).query('select current_user() as u', queryOptions())).rows[0]?.[0], 'ALICE');
    assert.equal(registry.describe().length, 2);
  });
});
