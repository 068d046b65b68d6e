/**
 * The result owners a hub keeps in its home (result-owners.jsonl): kept across a new process, for a result's
 * lifetime (24 h) and within the bound; and, whenever the hub may have forgotten an owner it issued within
 * that lifetime (a journal it cannot read or trust, more ids than the bound), an id it does not know is
 * paged by no one — not by every unrestricted role, as an unknown owner allowed before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { newCallMeter } from '../../src/hub/governance/call-meter.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { RESULT_LIFETIME_MS, RESULT_OWNERS_FILE, ResultOwnerStore } from '../../src/hub/governance/owner-store.js';
import { GovernedWarehouse } from '../../src/hub/pipeline/governed-warehouse.js';
import { openedTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import { isSnowmuxError } from '../../src/errors.js';
import type { CallContext, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'smx-owners-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const alice = { identity: 'alice', role: 'default', rules: 'r1' };

test('owners are kept in the home for a new process, for 24 hours, in a file closed to others', (t) => {
  const home = tempDir(t);
  let now = 1_000_000;
  const first = new ResultOwnerStore({ home, now: () => now });
  first.set('q-1', alice);
  first.set('q-2', { identity: 'bob', role: undefined });
  assert.equal(readFileSync(join(home, RESULT_OWNERS_FILE), 'utf8').split('\n').filter(Boolean).length, 2);
  const second = new ResultOwnerStore({ home, now: () => now });
  assert.deepEqual(second.get('q-1'), alice);
  assert.deepEqual(second.get('q-2'), { identity: 'bob', role: undefined });
  assert.equal(second.gap(), undefined, 'a journal read whole leaves no gap');
  // What a process still running appends (a hub draining after a replace) is read on a miss.
  first.set('q-3', { identity: 'carol', role: 'default' });
  assert.equal(second.get('q-3')?.identity, 'carol');
  now += RESULT_LIFETIME_MS;
  assert.equal(second.get('q-1'), undefined, 'a result older than Snowflake keeps it names nothing');
  const third = new ResultOwnerStore({ home, now: () => now });
  assert.equal(third.snapshot().known, 0, 'expired owners are not loaded (and compacted away)');
  assert.equal(readFileSync(join(home, RESULT_OWNERS_FILE), 'utf8'), '');
});

test('a journal the hub cannot trust or read, or an owner dropped for room, makes unknown ids refused for 24 hours', (t) => {
  let now = 5_000_000;
  const warnings: string[] = [];
  const cases: [string, (path: string) => void, RegExp][] = [
    ['others may write it', (p) => { writeFileSync(p, `${JSON.stringify({ q: 'x', i: 'mallory', t: now })}\n`); chmodSync(p, 0o666); }, /may be written by others/],
    ['a symlink', (p) => { writeFileSync(`${p}.elsewhere`, ''); symlinkSync(`${p}.elsewhere`, p); }, /symbolic link/],
    ['a directory', (p) => mkdirSync(p), /not a regular file|could not be opened/],
  ];
  for (const [what, make, why] of cases) {
    const home = tempDir(t);
    const path = join(home, RESULT_OWNERS_FILE);
    make(path);
    const store = new ResultOwnerStore({ home, now: () => now, warn: (w) => warnings.push(w) });
    assert.equal(store.get('x'), undefined, `${what}: nothing is taken from it`);
    const gap = store.gap();
    assert.ok(gap, what);
    assert.match(gap.why, why, what);
    assert.equal(gap.until, now + RESULT_LIFETIME_MS);
    assert.match(warnings.at(-1)!, /for 24 hours a result whose owner the hub does not know is paged by no one/);
    store.set('q', alice);
    assert.equal(store.get('q')?.identity, 'alice', `${what}: kept in memory`);
  }
  // A line the hub did not write (a cut-off append, an edit).
  const home = tempDir(t);
  writeFileSync(join(home, RESULT_OWNERS_FILE), `${JSON.stringify({ q: 'a', i: 'alice', t: now })}\n{"q":"b","i":\n`, { mode: 0o600 });
  const cut = new ResultOwnerStore({ home, now: () => now });
  assert.equal(cut.get('a')?.identity, 'alice');
  assert.match(cut.gap()!.why, /1 line\(s\)/);
  // The bound: the oldest owner dropped while its result lives.
  const small = new ResultOwnerStore({ max: 2, now: () => now });
  small.set('1', alice);
  small.set('2', alice);
  assert.equal(small.gap(), undefined);
  small.set('3', alice);
  assert.match(small.gap()!.why, /more than 2 query results were run within 24 hours/);
  now += RESULT_LIFETIME_MS;
  assert.equal(small.gap(), undefined, 'once that result has expired, unknown means not issued again');
});

class FakeWarehouse implements Warehouse {
  readonly kind = 'snowflake' as const;
  fetched: string[] = [];
  private n = 0;
  info() {
    return { kind: this.kind, name: 'fake', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S' };
  }
  async query(): Promise<QueryResult> {
    return { columns: [{ name: 'X', type: 'INTEGER' }], rows: [[1]], rowCount: 1, truncated: false, queryId: `q${++this.n}`, elapsedMs: 1 };
  }
  async fetchResults(queryId: string): Promise<QueryResult> {
    this.fetched.push(queryId);
    return { columns: [], rows: [[3]], rowCount: 1, truncated: false, queryId, elapsedMs: 1 };
  }
  async listDatabases() {
    return [];
  }
  async listSchemas() {
    return [];
  }
  async listObjects() {
    return [];
  }
  async describeObject() {
    return [];
  }
  async close() {}
}

test('a hub whose journal it cannot trust refuses an unknown id to every role (fetch_results and RESULT_SCAN), and says why and until when', async (t) => {
  const home = tempDir(t);
  writeFileSync(join(home, RESULT_OWNERS_FILE), '', { mode: 0o600 });
  chmodSync(join(home, RESULT_OWNERS_FILE), 0o622);
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText('[roles.open]\nidentities = ["carol", "alice"]\n', 'test.toml'), 'test.toml');
  const governance = new Governance({ policy, logger, ownersHome: home });
  t.after(() => governance.close());
  const warehouse = new FakeWarehouse();
  const as = (name: string) => {
    const session = new Session({ id: `s-${name}`, identity: { kind: 'local-user', name }, transport: 'stdio' });
    return new GovernedWarehouse({ governance, target: openedTarget(warehouse), role: governance.roleFor(session), identity: name, sessionKey: session.id, meter: newCallMeter() });
  };
  const ctx = (): CallContext => ({ signal: new AbortController().signal, tag: { sessionId: 's', requestId: '1', client: 'c', tool: 't' } });
  const unknown = '01b71944-0001-b181-0000-0129032279f6';
  const refused = (e: unknown) =>
    isSnowmuxError(e, 'POLICY_DENIED') && (e.details as { reason?: string }).reason === 'owner-unknown' && /does not know who ran query/.test(e.message) && /without being able to use .*result-owners.jsonl/.test(e.message) && /Run the query again with execute_query/.test(e.message);
  await assert.rejects(as('carol').fetchResults!(unknown, { offset: 0, limit: 5 }, ctx()), refused);
  await assert.rejects(as('carol').query(`SELECT * FROM TABLE(RESULT_SCAN('${unknown}'))`, { ...ctx(), maxRows: 5 }), refused);
  assert.deepEqual(warehouse.fetched, []);
  // What runs now is known, and paged by its owner only.
  const own = await as('alice').query('SELECT 1', { ...ctx(), maxRows: 5 });
  await as('alice').fetchResults!(own.queryId!, { offset: 0, limit: 5 }, ctx());
  await assert.rejects(as('carol').fetchResults!(own.queryId!, { offset: 0, limit: 5 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED') && /another user/.test(e.message));
  assert.equal((governance.snapshot()['resultOwners'] as { unknownRefusedUntil?: string }).unknownRefusedUntil !== undefined, true);
  // Without a gap (the ordinary case), an id the hub never issued still pages for an unrestricted role.
  const plain = new Governance({ policy, logger, ownersHome: tempDir(t) });
  t.after(() => plain.close());
  const session = new Session({ id: 's-p', identity: { kind: 'local-user', name: 'carol' }, transport: 'stdio' });
  await new GovernedWarehouse({ governance: plain, target: openedTarget(warehouse), role: plain.roleFor(session), identity: 'carol', sessionKey: session.id, meter: newCallMeter() }).fetchResults!(unknown, { offset: 0, limit: 5 }, ctx());
  assert.deepEqual(warehouse.fetched, [own.queryId, unknown]);
});

test('a team replica restarted while Redis was away writes the owners its journal kept back to Redis, so other replicas know them', async (t) => {
  // A replica keeps the owners Redis could not take in memory and writes them back when it rejoins. Restarted
  // before that (hub --replace, a crash), the new process read them from its journal but never gave them to
  // the team: on every other replica the result had no owner, and carol's unrestricted role paged alice's.
  const home = tempDir(t);
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText('[roles.open]\nidentities = ["carol", "alice"]\n', 'test.toml'), 'test.toml');
  const redis = { up: false, owners: new Map<string, { owner: string; ttlMs: number | undefined }>() };
  /** One replica process's side of the team, as redis-team.ts keeps it: owners Redis did not take wait for the rejoin. */
  const teamOfProcess = () => {
    const waiting = new Map<string, { owner: string; ttlMs: number | undefined }>();
    const write = (id: string, entry: { owner: string; ttlMs: number | undefined }) => {
      if (!redis.owners.has(id)) redis.owners.set(id, entry);
    };
    return {
      take: async () => undefined,
      quotaAdmit: async () => undefined,
      quotaRecord: async () => false,
      rememberOwner: async (id: string, owner: string, ttlMs?: number) => {
        waiting.set(id, { owner, ttlMs });
        if (!redis.up) return false;
        write(id, { owner, ttlMs });
        return true;
      },
      ownerOf: async (id: string) => redis.owners.get(id)?.owner,
      acquireSlot: async () => undefined,
      rejoin: () => {
        for (const [id, entry] of waiting) write(id, entry);
      },
    };
  };
  const warehouse = new FakeWarehouse();
  const as = (governance: Governance, name: string) => {
    const session = new Session({ id: `s-${name}`, identity: { kind: 'local-user', name }, transport: 'stdio' });
    return new GovernedWarehouse({ governance, target: openedTarget(warehouse), role: governance.roleFor(session), identity: name, sessionKey: session.id, meter: newCallMeter() });
  };
  const ctx = (): CallContext => ({ signal: new AbortController().signal, tag: { sessionId: 's', requestId: '1', client: 'c', tool: 't' } });

  const before = new Governance({ policy, logger, ownersHome: home });
  before.useTeam(teamOfProcess());
  const alices = (await as(before, 'alice').query('SELECT 1', { ...ctx(), maxRows: 5 })).queryId!;
  before.close();
  // The replica's next process, then Redis comes back and it rejoins.
  const after = new Governance({ policy, logger, ownersHome: home });
  t.after(() => after.close());
  const team = teamOfProcess();
  after.useTeam(team);
  redis.up = true;
  team.rejoin();
  const kept = redis.owners.get(alices.toLowerCase());
  assert.ok(kept !== undefined, 'the owner kept in the journal reached Redis');
  assert.ok(kept.ttlMs !== undefined && kept.ttlMs > 0 && kept.ttlMs <= RESULT_LIFETIME_MS, 'for what is left of the result\'s lifetime');
  const other = new Governance({ policy, logger });
  t.after(() => other.close());
  other.useTeam(teamOfProcess());
  const fetched = warehouse.fetched.length;
  await assert.rejects(as(other, 'carol').fetchResults!(alices, { offset: 0, limit: 5 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED') && /another user/.test(e.message));
  await as(other, 'alice').fetchResults!(alices, { offset: 0, limit: 5 }, ctx());
  assert.equal(warehouse.fetched.length, fetched + 1, 'only alice\'s own page reached the warehouse');
});

test('an owner a draining predecessor appends is not lost when the journal is compacted', (t) => {
  // compact() rewrote the journal from the owners in memory: a line the process being replaced appended since
  // this one last read the file was dropped with the old file, and its result had no owner from then on.
  const home = tempDir(t);
  const now = 2_000_000;
  const successor = new ResultOwnerStore({ home, now: () => now, max: 3 });
  const draining = new ResultOwnerStore({ home, now: () => now, max: 3 });
  draining.set('q-draining', { identity: 'carol', role: 'default' });
  // The successor's own calls: past the bound of appends it compacts (one id again and again, so nothing is dropped for room).
  for (let i = 0; i < 4; i++) successor.set('q-own', alice);
  assert.equal(successor.gap(), undefined);
  assert.deepEqual(successor.get('q-draining'), { identity: 'carol', role: 'default' });
  assert.deepEqual(new ResultOwnerStore({ home, now: () => now }).get('q-draining'), { identity: 'carol', role: 'default' }, 'the compacted journal holds it');
});

test('owners the hub could not write to its journal are known to the next start: unknown ids are refused for their lifetime, and it says why', (t) => {
  // A failed append (a full disk, EIO, a journal made read-only) was only a warning of that process: the next
  // one read the journal without the owner, knew of no gap, and let any unrestricted role page the result.
  const home = tempDir(t);
  let now = 3_000_000;
  const failing = new ResultOwnerStore({ home, now: () => now });
  failing.set('q-kept', alice);
  // A write that fails for a while (as root, whom a mode does not stop): the journal's name is a directory meanwhile.
  const journal = join(home, RESULT_OWNERS_FILE);
  renameSync(journal, `${journal}.aside`);
  mkdirSync(journal);
  now += 1000;
  failing.set('q-unwritten', { identity: 'alice', role: 'default' });
  assert.deepEqual(failing.get('q-unwritten'), { identity: 'alice', role: 'default' }, 'this process still knows it');
  rmSync(journal, { recursive: true });
  renameSync(`${journal}.aside`, journal);
  now += 60_000;
  const warnings: string[] = [];
  const next = new ResultOwnerStore({ home, now: () => now, warn: (w) => warnings.push(w) });
  assert.deepEqual(next.get('q-kept'), alice);
  assert.equal(next.get('q-unwritten'), undefined);
  const gap = next.gap();
  assert.ok(gap !== undefined, 'an unknown id may be the owner the journal missed');
  assert.equal(gap.until, 3_001_000 + RESULT_LIFETIME_MS);
  assert.match(gap.why, /could not record who ran 1 query/);
  assert.ok(warnings.some((w) => /could not record who ran 1 query/.test(w) && w.includes(RESULT_OWNERS_FILE)), warnings.join('\n'));
  assert.ok(next.snapshot().unknownRefusedUntil !== undefined, 'status shows it');
  // Another start within the lifetime still knows; after it, nothing is refused for it.
  assert.ok(new ResultOwnerStore({ home, now: () => now }).gap() !== undefined);
  now = 3_001_000 + RESULT_LIFETIME_MS;
  assert.equal(new ResultOwnerStore({ home, now: () => now }).gap(), undefined);
});
