/**
 * A FIFO (or a directory) at the name of a file snowmux keeps in its home — hub-start.lock,
 * hub-stderr.log, audit-writer.pid, audit-writer.lock, hub.log, keys.json, the sample database — is refused
 * at once with an error naming it and what to do. Before, a FIFO made open() or a read wait for a writer
 * that never came: the shim hung in open() (SIGTERM did not end it), the hub froze at start or for every
 * call, or never exited after a stop. Every case here would hang the test itself without the fix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError, type SnowmuxError } from '../../src/errors.js';
import { tryAcquireSpawnLock, SPAWN_LOCK_NAME } from '../../src/shim/spawn-lock.js';
import { connectOrStartHub } from '../../src/shim/hub-link.js';
import { makeHello } from '../../src/wire/hello.js';
import { claimAuditWriter, readAuditClaim } from '../../src/wire/audit-claim.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { readKeys, keysPath } from '../../src/hub/keys/api-keys.js';
import { lastFailedStart } from '../../src/cli/failed-start.js';
import { DuckDbWarehouse } from '../../src/hub/warehouse/duckdb/duckdb-warehouse.js';
import { SAMPLE_FILE_NAME } from '../../src/hub/warehouse/duckdb/sample-database.js';

function scratchHome(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'state-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fifo(path: string): string {
  execFileSync('mkfifo', ['-m', '600', path]);
  return path;
}

/** A refusal that names the entry, says what it is, and what to do. */
function named(code: string, path: string, kind: RegExp) {
  return (err: unknown) => {
    assert.ok(isSnowmuxError(err), String(err));
    assert.equal((err as { code: string }).code, code, (err as Error).message);
    const message = (err as Error).message;
    assert.ok(message.includes(path), message);
    assert.match(message, kind);
    assert.match(message, /rm -r /);
    return true;
  };
}

test('the start-up and audit-claim locks: a FIFO or a directory at their name is refused at once, not waited on', (t) => {
  const home = scratchHome(t);
  fifo(join(home, SPAWN_LOCK_NAME));
  assert.throws(() => tryAcquireSpawnLock(home, 15_000), named('HOME_UNUSABLE', join(home, SPAWN_LOCK_NAME), /FIFO/));
  fifo(join(home, 'audit-writer.lock'));
  assert.throws(() => tryAcquireSpawnLock(home, 10_000, 'audit-writer.lock'), named('HOME_UNUSABLE', join(home, 'audit-writer.lock'), /FIFO/));
  // A directory made every shim wait out its start deadline, then say "no hub answered".
  const other = scratchHome(t);
  mkdirSync(join(other, SPAWN_LOCK_NAME));
  assert.throws(() => tryAcquireSpawnLock(other, 15_000), named('HOME_UNUSABLE', join(other, SPAWN_LOCK_NAME), /directory/));
});

test('hub-stderr.log as a FIFO: the shim says so at once instead of blocking in open(); status reads no failed start from it', async (t) => {
  const home = scratchHome(t);
  const log = fifo(join(home, 'hub-stderr.log'));
  await assert.rejects(
    connectOrStartHub({ home, socketPath: join(home, 'hub.sock'), hello: makeHello({ role: 'shim', pid: process.pid }), hubCommand: ['-e', ''], deadlineMs: 15_000 }),
    named('HUB_START_FAILED', log, /FIFO/),
  );
  assert.equal(lastFailedStart(home), undefined);
});

test('audit-writer.pid as a FIFO: reading the claim finds none, taking it is refused naming it', (t) => {
  const home = scratchHome(t);
  const pid = fifo(join(home, 'audit-writer.pid'));
  assert.equal(readAuditClaim(home), null);
  assert.throws(() => claimAuditWriter(home), named('HOME_UNUSABLE', pid, /FIFO/));
});

test('hub.log as a FIFO: the hub refuses to start with it (its log thread would block for ever)', (t) => {
  const home = scratchHome(t);
  const log = fifo(join(home, 'hub.log'));
  assert.throws(() => createLogger({ home, level: 'info' }), named('HOME_UNUSABLE', log, /FIFO/));
});

test('keys.json as a FIFO is refused as not a regular file', (t) => {
  const home = scratchHome(t);
  fifo(keysPath(home));
  assert.throws(() => readKeys(keysPath(home)), (err: unknown) => isSnowmuxError(err, 'CONFIG_INVALID') && /not a regular file/.test((err as Error).message));
});

test('the sample database as a FIFO: the embedded warehouse refuses to open it, naming it', async (t) => {
  const dataDir = join(scratchHome(t), 'warehouse');
  mkdirSync(dataDir, { mode: 0o700 });
  const file = fifo(join(dataDir, SAMPLE_FILE_NAME));
  await assert.rejects(DuckDbWarehouse.open({ dataDir, threads: 1 }), (err: unknown) => {
    // The operator's copy (the log, status, doctor) names it and what to do; the copy every editor's call gets does not name the hub's files.
    named('WAREHOUSE_UNAVAILABLE', file, /FIFO/)(err);
    const shown = (err as SnowmuxError).callerMessage ?? '';
    assert.match(shown, /FIFO/);
    assert.ok(!shown.includes(dataDir) && !/rm -r /.test(shown), shown);
    return true;
  });
});
