/**
 * A key rotated under a running hub leaves one pool (against the Snowflake double, through the real
 * snowflake-sdk): each pool of an old key finishes the statement running on it, then logs its sessions out
 * and is forgotten, however many times the key is rotated.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Session } from '../../src/hub/session/session.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { makeRsaKeyPair, startSnowflakeDouble, type DoubleUser, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { queryOptions, waitForEvent } from '../doubles/snowflake/fixtures.js';

const keyUser: DoubleUser = { name: 'kp_user', roles: ['ANALYST'] };

let double: SnowflakeDouble;
let dir: string;
let registry: WarehouseRegistry;
const retired: Warehouse[] = [];
const waiters: (() => void)[] = [];

/** Replaced by rename, as key rotation tools write (never half a file). */
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(`${path}.new`, text, { mode: 0o600 });
  renameSync(`${path}.new`, path);
  return path;
}

/** A new key pair: Snowflake is given the public key, the key file the private one. */
function rotate(): void {
  const pair = makeRsaKeyPair();
  keyUser.publicKeyPem = pair.publicKeyPem;
  write('rsa_key.p8', pair.privateKeyPem);
}

async function retiredAtLeast(n: number): Promise<void> {
  while (retired.length < n) await new Promise<void>((r) => waiters.push(r));
}

const editor = (id: string) => new Session({ id, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', profile: 'kp' });

async function currentUser(session: Session): Promise<unknown> {
  const warehouse = await registry.forSession(session);
  return (await warehouse.query('select current_user() as u', queryOptions())).rows[0]?.[0];
}

before(async () => {
  double = await startSnowflakeDouble({ users: [keyUser] });
  dir = mkdtempSync(join(tmpdir(), 'snowmux-sf-rotation-'));
  mkdirSync(join(dir, '.snowflake'), { mode: 0o700 });
  mkdirSync(join(dir, 'home'), { mode: 0o700 });
  rotate();
  const keyFile = join(dir, 'rsa_key.p8');
  write(
    '.snowflake/connections.toml',
    `[kp]\naccount = ${JSON.stringify(double.account.toLowerCase())}\naccess_url = ${JSON.stringify(double.url)}\nrole = "ANALYST"\nuser = "kp_user"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`,
  );
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  registry = new WarehouseRegistry({
    home: join(dir, 'home'),
    logger,
    env: { HOME: dir },
    homedir: dir,
    credentialsCheckMs: 0,
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

describe('a key rotated under a running hub', () => {
  it('N rotations leave one pool: the old ones finish their statements, then log their sessions out', { timeout: 60_000 }, async () => {
    const [one, two] = [editor('e1'), editor('e2')];
    assert.equal(await currentUser(one), 'KP_USER');
    assert.equal(await currentUser(two), 'KP_USER');
    const first = await registry.forSession(one);
    // A statement runs on the pool of the first key while the key is rotated: it finishes there.
    double.setQueryLatency(300);
    const started = waitForEvent(double.events, 'queryStarted');
    const running = first.query('select current_user() as u', queryOptions());
    await started;
    rotate();
    assert.equal(await currentUser(one), 'KP_USER');
    double.setQueryLatency(0);
    assert.equal((await running).rows[0]?.[0], 'KP_USER', 'the statement running on the old pool finished');
    await retiredAtLeast(1);
    assert.equal(retired[0], first);
    for (let n = 2; n <= 3; n++) {
      rotate();
      assert.equal(await currentUser(two), 'KP_USER');
      assert.equal(await currentUser(one), 'KP_USER');
      await retiredAtLeast(n);
    }
    assert.equal(retired.length, 3);
    const pools = registry.describe();
    assert.equal(pools.length, 1, 'status lists one pool');
    const loggedIn = (pools[0]?.detail['pool'] as { loggedIn: number }).loggedIn;
    assert.equal(double.openSessions(), loggedIn, 'Snowflake sees only the sessions of the current pool');
    assert.equal(double.counters.logins - double.counters.logouts, loggedIn);
    // Nothing of an old pool answers any more: a statement that had picked one is refused without reaching Snowflake.
    await assert.rejects(first.query('select 1', queryOptions()), (err: unknown) => {
      const e = err as { code?: string; details?: Record<string, unknown> };
      return e.code === 'CONNECTION_LOST' && e.details?.['settingsChanged'] === true;
    });
  });
});
