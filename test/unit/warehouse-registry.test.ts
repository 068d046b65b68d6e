import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Session } from '../../src/hub/session/session.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { createRuntime } from '../../src/hub/runtime.js';
import { statementContext } from '../../src/hub/names/statement-context.js';
import { targetSchema } from '../../src/hub/tools/catalog-tools.js';
import type { SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import { parseConfigText, type LoadedConfig } from '../../src/hub/config/config-file.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';

const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
const env = (user: string) => ({ SNOWFLAKE_ACCOUNT: 'acct', SNOWFLAKE_USER: user, SNOWFLAKE_PASSWORD: 'pw' });
const session = (id: string, sessionEnv: Record<string, string>) => new Session({ id, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: sessionEnv });

function fakeWarehouse(profile: SnowflakeProfile): Warehouse {
  return {
    kind: 'snowflake',
    info: () => ({ kind: 'snowflake', name: profile.name, detail: { user: profile.user }, defaultDatabase: '', defaultSchema: '' }),
    close: async () => {},
  } as unknown as Warehouse;
}

test('sessions with the same settings share one warehouse; different settings get their own', async () => {
  const opened: string[] = [];
  const registry = new WarehouseRegistry({ home: '/nonexistent', logger, env: {}, openSnowflake: async (p) => (opened.push(p.user), fakeWarehouse(p)) });
  const a = await registry.forSession(session('a', env('alice')));
  const b = await registry.forSession(session('b', env('alice')));
  const c = await registry.forSession(session('c', env('bob')));
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.deepEqual(opened, ['alice', 'bob']);
  assert.deepEqual(registry.describe().map((w) => w.detail.user).sort(), ['alice', 'bob']);
});

test('a failed login is reported to calls for a while instead of logging in again on every call', async () => {
  let attempts = 0;
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: {},
    loginRetryAfterMs: 60_000,
    openSnowflake: async () => {
      attempts++;
      throw new SnowmuxError('AUTH_FAILED', 'Snowflake refused the login of "alice".');
    },
  });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(registry.forSession(session(`s${i}`, env('alice'))), (e) => e instanceof SnowmuxError && e.code === 'AUTH_FAILED');
  }
  assert.equal(attempts, 1);
});

test('after the retry window a new login is attempted', async () => {
  let attempts = 0;
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: {},
    loginRetryAfterMs: 1,
    openSnowflake: async (p) => {
      attempts++;
      if (attempts === 1) throw new SnowmuxError('AUTH_FAILED', 'refused');
      return fakeWarehouse(p);
    },
  });
  await assert.rejects(registry.forSession(session('x', env('alice'))));
  // The retry window is 1 ms: wait for its timer by polling the outcome, not by sleeping a guess.
  let ok = false;
  for (let i = 0; i < 1000 && !ok; i++) {
    await new Promise((r) => setImmediate(r));
    ok = await registry.forSession(session('y', env('alice'))).then(() => true, () => false);
  }
  assert.ok(ok);
  assert.equal(attempts, 2);
});

test('refused credentials are tried again later each time (x4), a failure of the network every time after the same wait', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const attempts = { refused: 0, unreachable: 0 };
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: {},
    loginRetryAfterMs: 1_000,
    openSnowflake: async (p) => {
      if (p.user === 'refused') {
        attempts.refused++;
        throw new SnowmuxError('AUTH_FAILED', 'refused');
      }
      attempts.unreachable++;
      throw new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'unreachable');
    },
  });
  const tryBoth = async () => {
    await assert.rejects(registry.forSession(session('r', env('refused'))));
    await assert.rejects(registry.forSession(session('u', env('unreachable'))));
  };
  return (async () => {
    await tryBoth();
    for (const [advance, refused, unreachable] of [[1_000, 2, 2], [1_000, 2, 3], [3_000, 3, 6], [4_000, 3, 10], [12_000, 4, 22]] as const) {
      // One attempt per advance of the first wait: the refused login waits 1 s, then 4 s, then 16 s.
      for (let ms = 0; ms < advance; ms += 1_000) {
        t.mock.timers.tick(1_000);
        await tryBoth();
      }
      assert.deepEqual(attempts, { refused, unreachable }, `after ${advance} ms more`);
    }
  })();
});

test("a failed login stays in status until that login succeeds, not when another editor's settings (also named env) log in", async () => {
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: {},
    loginRetryAfterMs: 60_000,
    openSnowflake: async (p) => {
      if (p.auth.method === 'password' && p.auth.password === 'wrong') throw new SnowmuxError('AUTH_FAILED', `Snowflake refused the login of "${p.user}".`);
      return fakeWarehouse(p);
    },
  });
  await assert.rejects(registry.forSession(session('c', { ...env('carol'), SNOWFLAKE_PASSWORD: 'wrong' })));
  await registry.forSession(session('a', env('alice')));
  const failed = () => registry.describe().filter((w) => w.problem).map((w) => w.detail.user);
  assert.deepEqual(failed(), ['carol'], "alice's login says nothing about carol's password");
  await registry.forSession(session('c2', env('carol')));
  assert.deepEqual(failed(), [], 'carol with the right password clears her failure');
});

test('the secrets of every resolved profile are reported (for the audit scrubber)', async () => {
  const seen: string[] = [];
  const registry = new WarehouseRegistry({ home: '/nonexistent', logger, env: {}, onSecrets: (s) => seen.push(...s), openSnowflake: async (p) => fakeWarehouse(p) });
  await registry.forSession(session('a', { ...env('alice'), SNOWFLAKE_PASSWORD: 'hunter2-secret' }));
  assert.ok(seen.includes('hunter2-secret'));
});

test("a profile that does not resolve is reported with where its name came from: the role's key, or the shim's --profile", () => {
  const config = parseLoaded('[roles.analyst]\nidentities = ["*"]\nprofile = "dev"\n');
  // homedir too: a developer's own ~/.snowflake/connections.toml may well define "dev".
  const registry = new WarehouseRegistry({ home: '/nonexistent', logger, env: { HOME: '/nonexistent' }, homedir: '/nonexistent', config });
  const bySession = new Session({ id: 's', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: {}, profile: 'mine' });
  assert.throws(
    () => registry.targetFor(session('r', {}), { name: 'analyst', profile: 'dev' }),
    (e: Error) => /Snowflake profile "dev" \(from \/etc\/snowmux\/config\.toml roles\.analyst\.profile\) is not defined/.test(e.message) && !e.message.includes('flag --profile'),
  );
  assert.throws(() => registry.targetFor(bySession, { name: 'default' }), (e: Error) => /Snowflake profile "mine" \(from the shim's --profile\) is not defined/.test(e.message));
  // Named by SNOWMUX_PROFILE in the editor's MCP config (the shim forwards it): that is what to fix, not a flag.
  const byEnv = new Session({ id: 'e', identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', env: { SNOWMUX_PROFILE: 'mine' }, profile: 'mine' });
  assert.throws(() => registry.targetFor(byEnv), (e: Error) => /Snowflake profile "mine" \(from env SNOWMUX_PROFILE of the editor's MCP server\) is not defined/.test(e.message) && !e.message.includes('--profile'));
  // A remote shim forwards no environment: either may have named it.
  const remote = new Session({ id: 'w', identity: { kind: 'api-key', name: 'me' }, transport: 'websocket', profile: 'mine' });
  assert.throws(() => registry.targetFor(remote), (e: Error) => /\(from the shim's --profile or SNOWMUX_PROFILE\)/.test(e.message));
  // stdio reads its own environment.
  const stdioRegistry = new WarehouseRegistry({ home: '/nonexistent', logger, env: { HOME: '/nonexistent', SNOWMUX_PROFILE: 'mine' }, config });
  const stdio = new Session({ id: 'i', identity: { kind: 'local-user', name: 'me' }, transport: 'stdio', profile: 'mine' });
  assert.throws(() => stdioRegistry.targetFor(stdio), (e: Error) => /\(from env SNOWMUX_PROFILE\) is not defined/.test(e.message));
});

function parseLoaded(text: string): LoadedConfig {
  return { path: '/etc/snowmux/config.toml', shownPath: '/etc/snowmux/config.toml', exists: true, config: parseConfigText(text, '/etc/snowmux/config.toml'), warnings: [] };
}

test('a catalog tool without a schema reads the schema a statement lands in: PUBLIC on Snowflake, main on DuckDB', () => {
  const of = (kind: 'duckdb' | 'snowflake') => ({ kind, info: () => ({ kind, name: 'w', detail: {}, defaultDatabase: 'HOME', defaultSchema: 'HOMESCHEMA' }) }) as unknown as Warehouse;
  for (const kind of ['duckdb', 'snowflake'] as const) {
    const w = of(kind);
    assert.equal(targetSchema(w, 'HOME', undefined), 'HOMESCHEMA', kind);
    assert.equal(targetSchema(w, 'OTHER', undefined), kind === 'duckdb' ? 'main' : 'PUBLIC', kind);
    assert.equal(targetSchema(w, 'OTHER', undefined), statementContext(w.info(), 'OTHER', undefined).schema, kind);
    assert.equal(targetSchema(w, 'OTHER', '"Mixed"'), 'Mixed', kind);
  }
});

/** A home whose ~/.snowflake/connections.toml is `toml` (files written as their owner alone may, as snowmux requires). */
function snowflakeHome(toml: string): { dir: string; write: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-creds-'));
  mkdirSync(join(dir, '.snowflake'), { mode: 0o700 });
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    // Replaced by rename, as token refreshers and key rotation tools do (a reader never sees half a file).
    writeFileSync(`${path}.new`, text, { mode: 0o600 });
    renameSync(`${path}.new`, path);
    return path;
  };
  write('.snowflake/connections.toml', toml);
  return { dir, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function credentialRegistry(homedir: string, opened: SnowflakeProfile[]): WarehouseRegistry {
  return new WarehouseRegistry({ home: '/nonexistent', logger, env: { HOME: homedir }, homedir, credentialsCheckMs: 0, openSnowflake: async (p) => (opened.push(p), fakeWarehouse(p)) });
}

const onProfile = (id: string, profile: string) => new Session({ id, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', profile });

test("a running session's next login uses the token its token file holds now, not the one read when the session began", async () => {
  const home = snowflakeHome('');
  try {
    const tokenFile = home.write('oauth.tok', 'oauth-tok-1\n');
    home.write('.snowflake/connections.toml', `[oauth]\naccount = "acct"\nauthenticator = "oauth"\ntoken_file_path = ${JSON.stringify(tokenFile)}\n`);
    const opened: SnowflakeProfile[] = [];
    const registry = credentialRegistry(home.dir, opened);
    const editor = onProfile('e', 'oauth');
    await registry.forSession(editor);
    await registry.forSession(editor);
    home.write('oauth.tok', 'oauth-tok-2\n');
    await registry.forSession(editor);
    assert.deepEqual(opened.map((p) => (p.auth.method === 'oauth' ? p.auth.token : p.auth.method)), ['oauth-tok-1', 'oauth-tok-2']);
    // Calls with nothing changed keep the pool they have.
    const same = registry.targetFor(editor);
    assert.equal(registry.targetFor(editor), same);
  } finally {
    home.cleanup();
  }
});

test("a running session's next login uses a rotated key file", async () => {
  const home = snowflakeHome('');
  try {
    const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const first = pem();
    const second = pem();
    const keyFile = home.write('rsa_key.p8', first);
    home.write('.snowflake/connections.toml', `[kp]\naccount = "acct"\nuser = "alice"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`);
    const opened: SnowflakeProfile[] = [];
    const registry = credentialRegistry(home.dir, opened);
    const editor = onProfile('e', 'kp');
    await registry.forSession(editor);
    home.write('rsa_key.p8', second);
    await registry.forSession(editor);
    assert.deepEqual(opened.map((p) => (p.auth.method === 'keypair' ? p.auth.privateKeyPem : '')), [first, second]);
  } finally {
    home.cleanup();
  }
});

test('a password changed in connections.toml reaches running sessions, and a reload names the profile whose credentials changed', async () => {
  const home = snowflakeHome('[pw]\naccount = "acct"\nuser = "alice"\npassword = "alice-pw-1"\n');
  try {
    const opened: SnowflakeProfile[] = [];
    const registry = credentialRegistry(home.dir, opened);
    const editor = onProfile('e', 'pw');
    await registry.forSession(editor);
    assert.deepEqual(registry.refreshCredentials().credentials, []);
    home.write('.snowflake/connections.toml', '[pw]\naccount = "acct"\nuser = "alice"\npassword = "alice-pw-2"\n');
    assert.deepEqual(registry.refreshCredentials().credentials, ['pw']);
    assert.deepEqual(registry.refreshCredentials().credentials, [], 'said once, by the reload after the change');
    await registry.forSession(editor);
    assert.deepEqual(opened.map((p) => (p.auth.method === 'password' ? p.auth.password : '')), ['alice-pw-1', 'alice-pw-2']);
  } finally {
    home.cleanup();
  }
});

test("a reload's answer names the Snowflake profiles whose credentials changed in connections.toml", async () => {
  const files = snowflakeHome('[pw]\naccount = "acct"\nuser = "alice"\npassword = "alice-pw-1"\n');
  const hubHome = join(files.dir, 'hub');
  mkdirSync(hubHome, { mode: 0o700 });
  const runtime = await createRuntime({ home: hubHome, logger, env: { SNOWFLAKE_HOME: join(files.dir, '.snowflake') }, audit: false });
  try {
    const editor = onProfile('e', 'pw');
    assert.equal(runtime.warehouses.targetFor(editor).name, 'pw');
    assert.deepEqual(runtime.reload().applied, []);
    files.write('.snowflake/connections.toml', '[pw]\naccount = "acct"\nuser = "alice"\npassword = "alice-pw-2"\n');
    assert.deepEqual(runtime.reload().applied, ['credentials of Snowflake profile pw']);
  } finally {
    await runtime.close('test over');
    files.cleanup();
  }
});

test("a reload's answer names a Snowflake profile whose account or host changed in connections.toml, without its credentials", async () => {
  const files = snowflakeHome('[pw]\naccount = "acct1"\nuser = "alice"\npassword = "alice-pw-1"\n');
  const hubHome = join(files.dir, 'hub');
  mkdirSync(hubHome, { mode: 0o700 });
  const runtime = await createRuntime({ home: hubHome, logger, env: { SNOWFLAKE_HOME: join(files.dir, '.snowflake') }, audit: false });
  try {
    const editor = onProfile('e', 'pw');
    assert.equal(runtime.warehouses.targetFor(editor).name, 'pw');
    files.write('.snowflake/connections.toml', '[pw]\naccount = "acct2"\nuser = "alice"\npassword = "alice-pw-1"\nhost = "acct2.example.com"\n');
    assert.deepEqual(runtime.reload().applied, ['Snowflake profile pw now logs in to account acct2 at acct2.example.com (was account acct1)']);
    assert.deepEqual(runtime.reload().applied, [], 'said once, by the reload after the change');
  } finally {
    await runtime.close('test over');
    files.cleanup();
  }
});

/** A registry over fake warehouses that counts retirements, and lets a test wait for the next ones. */
function retiringRegistry(homedir: string, options: { profileName?: string; now?: () => number } = {}) {
  const opened: SnowflakeProfile[] = [];
  const retired: Warehouse[] = [];
  const waiters: (() => void)[] = [];
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: { HOME: homedir },
    homedir,
    credentialsCheckMs: 0,
    ...options,
    openSnowflake: async (p) => {
      opened.push(p);
      return { ...fakeWarehouse(p), retire: async () => {} } as unknown as Warehouse;
    },
    onRetired: (w) => {
      retired.push(w);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const retiredAtLeast = async (n: number): Promise<void> => {
    while (retired.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { registry, opened, retired, retiredAtLeast };
}

const keyOf = (p: SnowflakeProfile) => (p.auth.method === 'keypair' ? p.auth.privateKeyPem : '');
const newKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

test('a key rotated N times leaves one pool: each pool of an old key is retired, every session moves, none is opened again', async () => {
  const home = snowflakeHome('');
  try {
    const keyFile = home.write('rsa_key.p8', newKey());
    home.write('.snowflake/connections.toml', `[kp]\naccount = "acct"\nuser = "alice"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`);
    const { registry, opened, retired, retiredAtLeast } = retiringRegistry(home.dir);
    const [one, two] = [onProfile('e1', 'kp'), onProfile('e2', 'kp')];
    const pools = [await registry.forSession(one)];
    assert.equal(await registry.forSession(two), pools[0], 'the same settings share one pool');
    for (let n = 1; n <= 3; n++) {
      home.write('rsa_key.p8', newKey());
      const next = await registry.forSession(one);
      await retiredAtLeast(n);
      assert.equal(retired.at(-1), pools.at(-1), `rotation ${n}: the pool of the old key is retired`);
      // The other session's next call goes to the new pool, not to the one retired (nor to a new one of the old key).
      assert.equal(await registry.forSession(two), next);
      pools.push(next);
    }
    assert.equal(retired.length, 3);
    assert.equal(opened.length, 4, 'one login per key');
    assert.deepEqual(new Set(opened.map(keyOf)).size, 4);
    assert.equal(registry.describe().length, 1, 'status lists one pool');
  } finally {
    home.cleanup();
  }
});

test("a call that resolved its target before the rotation runs its next statement on the new pool, never reopening the old key's", async () => {
  const home = snowflakeHome('');
  try {
    const keyFile = home.write('rsa_key.p8', newKey());
    home.write('.snowflake/connections.toml', `[kp]\naccount = "acct"\nuser = "alice"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`);
    const { registry, opened, retiredAtLeast } = retiringRegistry(home.dir);
    const editor = onProfile('e', 'kp');
    const call = registry.targetFor(editor);
    const old = await call.open();
    home.write('rsa_key.p8', newKey());
    // Another call of the session sees the new key: the old pool is retired.
    const current = await registry.forSession(editor);
    await retiredAtLeast(1);
    assert.notEqual(current, old);
    assert.equal(await call.open(), current, "the first call's next statement");
    assert.equal(opened.length, 2);
  } finally {
    home.cleanup();
  }
});

test("the hub's default pool, opened at start, is retired when its key is rotated before any session used it", async () => {
  const home = snowflakeHome('');
  try {
    const keyFile = home.write('rsa_key.p8', newKey());
    home.write('.snowflake/connections.toml', `[kp]\naccount = "acct"\nuser = "alice"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`);
    // Found by the first session to come.
    const byCall = retiringRegistry(home.dir, { profileName: 'kp' });
    assert.equal(await byCall.registry.warmUp(), undefined);
    home.write('rsa_key.p8', newKey());
    const current = await byCall.registry.forSession(session('s', {}));
    await byCall.retiredAtLeast(1);
    assert.notEqual(byCall.retired[0], current);
    assert.equal(byCall.opened.length, 2);
    assert.equal(byCall.registry.describe().length, 1);
    // Found by a reload, with no session at all.
    const byReload = retiringRegistry(home.dir, { profileName: 'kp' });
    assert.equal(await byReload.registry.warmUp(), undefined);
    assert.equal(byReload.registry.describe().length, 1);
    home.write('rsa_key.p8', newKey());
    byReload.registry.refreshCredentials();
    await byReload.retiredAtLeast(1);
    assert.equal(byReload.registry.describe().length, 0);
  } finally {
    home.cleanup();
  }
});

test("a pool no open session uses is retired after its idle timeout; the hub's default pool stays; a session coming back opens it again", async () => {
  let clock = 0;
  const opened: string[] = [];
  const retired: string[] = [];
  const waiters: (() => void)[] = [];
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: env('hub'),
    now: () => clock,
    openSnowflake: async (p) => (opened.push(p.user), { ...fakeWarehouse(p), retire: async () => {} } as unknown as Warehouse),
    onRetired: (w) => {
      retired.push(String(w.info().detail['user']));
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const retiredAtLeast = async (n: number): Promise<void> => {
    while (retired.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  try {
    assert.equal(await registry.warmUp(), undefined);
    const [alice, bob, plain] = [session('a', env('alice')), session('b', env('bob')), session('p', {})];
    for (const s of [alice, bob, plain]) await registry.forSession(s);
    assert.deepEqual(opened, ['hub', 'alice', 'bob']);
    alice.close('done');
    plain.close('done');
    const idle = 600_000; // pool.idle_timeout_ms's default
    registry.retireUnused();
    clock += idle - 1;
    registry.retireUnused();
    assert.equal(retired.length, 0, 'not before its idle timeout');
    clock += 1;
    registry.retireUnused();
    await retiredAtLeast(1);
    assert.deepEqual(retired, ['alice']);
    assert.deepEqual(registry.describe().map((w) => w.detail['user']).sort(), ['bob', 'hub'], 'bob is still in use; the default pool stays');
    bob.close('done');
    registry.retireUnused();
    clock += 10 * idle;
    registry.retireUnused();
    await retiredAtLeast(2);
    assert.deepEqual(retired, ['alice', 'bob']);
    assert.deepEqual(registry.describe().map((w) => w.detail['user']), ['hub'], "the hub's default pool is kept warm with no session at all");
    // A session that comes back with those settings logs in again.
    await registry.forSession(session('a2', env('alice')));
    assert.deepEqual(opened, ['hub', 'alice', 'bob', 'alice']);
  } finally {
    await registry.close();
  }
});

test("after the hub's default key is rotated, the pool of the new key is the default one kept warm", async () => {
  const home = snowflakeHome('');
  let clock = 0;
  try {
    const keyFile = home.write('rsa_key.p8', newKey());
    home.write('.snowflake/connections.toml', `[kp]\naccount = "acct"\nuser = "alice"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`);
    const { registry: clocked, retired, retiredAtLeast } = retiringRegistry(home.dir, { profileName: 'kp', now: () => clock });
    assert.equal(await clocked.warmUp(), undefined);
    home.write('rsa_key.p8', newKey());
    const editor = session('s', {});
    const current = await clocked.forSession(editor);
    await retiredAtLeast(1);
    editor.close('done');
    clocked.retireUnused();
    clock += 3_600_000;
    clocked.retireUnused();
    await Promise.resolve();
    assert.equal(retired.length, 1, 'only the pool of the old key');
    assert.deepEqual(clocked.describe().length, 1);
    assert.equal(await clocked.forSession(session('s2', {})), current);
    await clocked.close();
  } finally {
    home.cleanup();
  }
});

// Every session resolves its profile, and a warning about the hub's own files is the same for each: it was
// logged again on every session's first call (12 identical lines for 13 sessions in an outside test).
test('a profile warning is logged once, not once per session', () => {
  const lines: string[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => lines.push(...String(chunk).split('\n').filter(Boolean)));
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger: createLogger({ destination, level: 'warn' }),
    env: { HOME: '/nonexistent' },
    homedir: '/nonexistent',
    config: parseLoaded('[profiles.prod]\naccount = "a"\nuser = "u"\npassword = "p"\n'),
  });
  for (let i = 0; i < 5; i++) registry.targetFor(new Session({ id: `s${i}`, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket' }));
  const warned = lines.filter((line) => line.includes('profile warning'));
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0]!, /none is selected/);
});

/** Steps what Date.now() answers by `stepMs` from now on, as NTP or a resumed VM would; performance.now() runs on. */
function stepWallClock(t: TestContext, stepMs: number): void {
  const real = Date.now.bind(Date);
  t.mock.method(Date, 'now', () => real() + stepMs);
}

test('how long a transient login failure counts in status is measured on the monotonic clock: a wall-clock step hides it neither early nor keeps it for hours', async (t) => {
  const registry = new WarehouseRegistry({
    home: '/nonexistent',
    logger,
    env: {},
    openSnowflake: async () => {
      throw new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'Login to Snowflake did not finish.', { details: { transient: true } });
    },
  });
  await assert.rejects(registry.forSession(session('s', env('alice'))));
  const shown = () => registry.describe().filter((w) => w.problem).map((w) => w.detail['user']);
  assert.deepEqual(shown(), ['alice']);
  // Forward 2 h a moment after the failure: it still counts for the rest of its 15 s, and shows when it happened.
  stepWallClock(t, 2 * 3_600_000);
  assert.deepEqual(shown(), ['alice'], 'a wall clock stepped forward hid a failure of a moment ago');
  const at = Date.parse(registry.describe().find((w) => w.problem)!.problem!.at);
  assert.ok(Math.abs(at - (Date.now() - 2 * 3_600_000)) < 60_000, 'the time shown is the wall-clock time of the failure');
  t.mock.restoreAll();
  // Back 3 h, and 16 s elapsed: the failure has lapsed (the next call tries again), not counted for 3 h more.
  stepWallClock(t, -3 * 3_600_000);
  const mono = performance.now.bind(performance);
  t.mock.method(performance, 'now', () => mono() + 16_000);
  assert.deepEqual(shown(), [], 'a wall clock stepped back kept a lapsed transient failure in status');
});

test("an editor's relative key file path is refused by the hub, which cannot tell whose directory it means", async () => {
  const opened: string[] = [];
  const registry = new WarehouseRegistry({ home: '/nonexistent', logger, env: {}, openSnowflake: async (p) => (opened.push(p.user), fakeWarehouse(p)) });
  const relative = { SNOWFLAKE_ACCOUNT: 'acct', SNOWFLAKE_USER: 'u', SNOWFLAKE_PRIVATE_KEY_PATH: 'keys/rsa.p8' };
  await assert.rejects(registry.forSession(session('rel', relative)), (e) => {
    assert.ok(e instanceof SnowmuxError && e.code === 'CONFIG_INVALID', String(e));
    assert.match(e.message, /SNOWFLAKE_PRIVATE_KEY_PATH="keys\/rsa\.p8" in this editor's environment is a relative path.*Write the path absolute \(or starting with ~\/\)/);
    return true;
  });
  assert.deepEqual(opened, [], 'no login was tried');
  // Absolute (as the shim sends it) or under ~/, the key is looked for, and not refused for its form.
  await assert.rejects(registry.forSession(session('abs', { ...relative, SNOWFLAKE_PRIVATE_KEY_PATH: '/nonexistent/rsa.p8' })), (e) => e instanceof SnowmuxError && !/relative path/.test(e.message));
});
