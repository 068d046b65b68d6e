import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { newCallMeter } from '../../src/hub/governance/call-meter.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { GovernedWarehouse } from '../../src/hub/pipeline/governed-warehouse.js';
import { openedTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import { isSnowmuxError } from '../../src/errors.js';
import type { CallContext, QueryOptions, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';
import { PassThrough } from 'node:stream';

class FakeWarehouse implements Warehouse {
  constructor(readonly kind: 'duckdb' | 'snowflake' = 'duckdb') {}
  queries: string[] = [];
  fetched: string[] = [];
  private n = 0;
  info() {
    return { kind: this.kind, name: 'fake', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S' };
  }
  async query(sql: string, _o: QueryOptions): Promise<QueryResult> {
    this.queries.push(sql);
    return { columns: [{ name: 'X', type: 'INTEGER' }], rows: [[1], [2]], rowCount: 2, truncated: true, queryId: `q${++this.n}`, elapsedMs: 1 };
  }
  async fetchResults(queryId: string): Promise<QueryResult> {
    this.fetched.push(queryId);
    return { columns: [], rows: [[3]], rowCount: 1, truncated: false, queryId, elapsedMs: 1 };
  }
  async listDatabases() {
    return [{ name: 'DB' }, { name: 'SECRET' }];
  }
  async listSchemas(database: string) {
    return [{ database, name: 'S' }, { database, name: 'HR' }];
  }
  async listObjects(database: string, schema: string) {
    return [{ database, schema, name: 'T', kind: 'table' as const }, { database, schema, name: 'SALARIES', kind: 'table' as const }];
  }
  async describeObject() {
    return [{ name: 'C', type: 'INTEGER', nullable: true }];
  }
  async close() {}
}

const config = parseConfigText(`
[roles.restricted]
identities = ["alice", "bob"]
allow = ["DB.*.*"]
deny = ["*.HR.*", "*.*.SALARIES"]
[roles.open]
identities = ["carol"]
`, 'test.toml');

function setup(kind: 'duckdb' | 'snowflake' = 'duckdb', roles = config) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(roles, 'test.toml'), logger, limits: { maxConcurrentQueries: 2, maxQueued: 4 } });
  const warehouse = new FakeWarehouse(kind);
  const as = (name: string) => {
    const session = new Session({ id: `s-${name}`, identity: { kind: 'local-user', name }, transport: 'stdio' });
    const role = governance.roleFor(session);
    const meter = newCallMeter();
    const w = new GovernedWarehouse({ governance, target: openedTarget(warehouse), role, identity: name, sessionKey: session.id, meter });
    return { w, meter };
  };
  return { governance, warehouse, as };
}

const ctx = (): CallContext => ({ signal: new AbortController().signal, tag: { sessionId: 's', requestId: '1', client: 'c', tool: 't' } });

test('metadata is filtered to what the role may see; describe of a denied object is refused', async () => {
  const { as, governance } = setup();
  const { w, meter } = as('alice');
  assert.deepEqual((await w.listDatabases(ctx())).map((d) => d.name), ['DB']);
  assert.deepEqual((await w.listSchemas('DB', ctx())).map((s) => s.name), ['S']);
  assert.deepEqual((await w.listObjects('DB', 'S', 'table', ctx())).map((o) => o.name), ['T']);
  await assert.rejects(w.describeObject({ database: 'DB', schema: 'S', name: 'SALARIES' }, 'table', ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  await assert.rejects(w.listSchemas('SECRET', ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  assert.ok(meter.rows >= 3);
  governance.close();
});

test('SQL naming a denied object is refused before it reaches the warehouse', async () => {
  const { as, warehouse, governance } = setup();
  const { w } = as('alice');
  await assert.rejects(w.query('SELECT * FROM T JOIN SALARIES USING (ID)', { ...ctx(), maxRows: 10 }), (e) => isSnowmuxError(e, 'POLICY_DENIED') && /SALARIES/.test(e.message));
  assert.deepEqual(warehouse.queries, []);
  const r = await w.query('SELECT * FROM T', { ...ctx(), maxRows: 10 });
  assert.equal(r.rowCount, 2);
  governance.close();
});

test('a result is paged only by the identity that ran it', async () => {
  const { as, warehouse, governance } = setup();
  const alice = as('alice');
  const r = await alice.w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 });
  assert.equal(alice.meter.queryId, r.queryId);
  assert.equal(alice.meter.rows, 2);
  assert.ok(alice.meter.bytes > 0);
  const page = await alice.w.fetchResults!(r.queryId!, { offset: 2, limit: 10 }, ctx());
  assert.deepEqual(page.rows, [[3]]);
  await assert.rejects(as('bob').w.fetchResults!(r.queryId!, { offset: 2, limit: 10 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED') && /another user/.test(e.message));
  await assert.rejects(as('carol').w.fetchResults!(r.queryId!, { offset: 2, limit: 10 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  // An id the hub never issued: a restricted role may not page it; an unrestricted role may.
  await assert.rejects(as('alice').w.fetchResults!('unknown-id', { offset: 0, limit: 10 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  await as('carol').w.fetchResults!('unknown-id', { offset: 0, limit: 10 }, ctx());
  assert.deepEqual(warehouse.fetched, [r.queryId, 'unknown-id']);
  governance.close();
});

test('a result id written in another case is still its owner\'s alone: another user\'s unrestricted role does not page, RESULT_SCAN or profile it', async () => {
  // Owners were looked up by the exact string: an upper-cased id had no owner, so carol's unrestricted role
  // (which may read a result the hub knows no owner of) sent alice's result id to the warehouse, where a UUID
  // in another case may name the same result.
  const { as, warehouse, governance } = setup();
  Object.assign(warehouse, { queryProfile: async (queryId: string) => ({ queryId, operators: [] }) });
  const r = await as('alice').w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 });
  const other = r.queryId!.toUpperCase();
  assert.notEqual(other, r.queryId);
  const carol = as('carol').w;
  const anotherUser = (e: unknown) => isSnowmuxError(e, 'POLICY_DENIED') && /another user/.test(e.message);
  await assert.rejects(carol.fetchResults!(other, { offset: 0, limit: 10 }, ctx()), anotherUser);
  await assert.rejects(carol.query(`SELECT * FROM TABLE(RESULT_SCAN('${other}'))`, { ...ctx(), maxRows: 5 }), anotherUser);
  await assert.rejects(carol.queryProfile!(other, ctx()), anotherUser);
  assert.deepEqual(warehouse.fetched, [], 'nothing refused reached the warehouse');
  // Its owner pages it in either case.
  await as('alice').w.fetchResults!(other, { offset: 2, limit: 10 }, ctx());
  governance.close();
});

test('one user\'s narrow role (by client name) does not page, RESULT_SCAN or profile a result its wider role computed', async () => {
  // Two editors of one user: the narrow role's deny held for execute_query, but fetch_results of the wider
  // editor's query id (offered by query_history) served the denied table's rows, since only the identity was compared.
  const policy = Policy.fromConfig(parseConfigText(`[roles.narrow]\nclients = ["narrow*"]\nallow = ["DB.*.*"]\ndeny = ["*.*.SALARIES"]\n`, 'test.toml'), 'test.toml');
  const governance = new Governance({ policy, logger: createLogger({ destination: new PassThrough(), level: 'silent' }) });
  const warehouse = new FakeWarehouse('snowflake');
  Object.assign(warehouse, { queryProfile: async (queryId: string) => ({ queryId, operators: [] }) });
  const editor = (client: string) => {
    const session = new Session({ id: `s-${client}`, identity: { kind: 'local-user', name: 'dana' }, transport: 'stdio' });
    session.client = { name: client, version: '1' };
    const role = governance.roleFor(session);
    return new GovernedWarehouse({ governance, target: openedTarget(warehouse), role, identity: 'dana', sessionKey: session.id, meter: newCallMeter() });
  };
  const wide = editor('wide-editor');
  const narrow = editor('narrow-editor');
  const denied = (e: unknown) => isSnowmuxError(e, 'POLICY_DENIED') && (e.details as { rule?: string }).rule === 'result-owner' && /run under role "default"/.test(e.message) && /role "narrow"/.test(e.message);
  await assert.rejects(narrow.query('SELECT * FROM SALARIES', { ...ctx(), maxRows: 2 }), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  const salaries = (await wide.query('SELECT * FROM SALARIES', { ...ctx(), maxRows: 2 })).queryId!;
  const sent = { queries: warehouse.queries.length, fetched: warehouse.fetched.length };
  await assert.rejects(narrow.fetchResults!(salaries, { offset: 2, limit: 3 }, ctx()), denied);
  await assert.rejects(narrow.fetchResults!(salaries, { offset: 0, limit: 3 }, ctx()), denied);
  // (A role limited to some objects may not use RESULT_SCAN at all: which objects it reads is not in the SQL.)
  await assert.rejects(narrow.query(`SELECT * FROM TABLE(RESULT_SCAN('${salaries}'))`, { ...ctx(), maxRows: 5 }), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  await assert.rejects(narrow.queryProfile!(salaries, ctx()), denied);
  assert.deepEqual({ queries: warehouse.queries.length, fetched: warehouse.fetched.length }, sent, 'nothing refused reached the warehouse');
  // Its own results page; the wider role (every object) pages them too, and that does not take them from the narrow one.
  const own = (await narrow.query('SELECT * FROM T', { ...ctx(), maxRows: 2 })).queryId!;
  await narrow.fetchResults!(own, { offset: 2, limit: 3 }, ctx());
  await wide.fetchResults!(own, { offset: 2, limit: 3 }, ctx());
  await wide.fetchResults!(salaries, { offset: 2, limit: 3 }, ctx());
  await narrow.fetchResults!(own, { offset: 2, limit: 3 }, ctx());
  assert.deepEqual(await governance.resultOwners.ownerOf(own), { identity: 'dana', role: 'narrow', rules: governance.policy.role('narrow')!.objectRules });
  governance.close();
});

test('a role a reload tightened does not page what it computed under its looser rules, on this replica or another', async () => {
  // Owners were identity + role name: after a reload denied SALARIES to the role, its earlier result of
  // SALARIES still paged (fetch_results, RESULT_SCAN, profile), since the name had not changed.
  const roleConfig = (deny: string) => Policy.fromConfig(parseConfigText(`[roles.team]\nidentities = ["erin"]\nallow = ["DB.*.*"]\ndeny = [${deny}]\n[roles.team.rate]\nper_second = ${deny === '' ? 5 : 6}\nburst = 5\n`, 'test.toml'), 'test.toml');
  const shared = new Map<string, string>();
  const team = {
    take: async () => undefined,
    quotaAdmit: async () => undefined,
    quotaRecord: async () => false,
    rememberOwner: async (id: string, owner: string) => (shared.set(id, owner), true),
    ownerOf: async (id: string) => shared.get(id),
    acquireSlot: async () => undefined,
  };
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const replicas = [new Governance({ policy: roleConfig('"*.HR.*"'), logger }), new Governance({ policy: roleConfig('"*.HR.*"'), logger })];
  for (const g of replicas) g.useTeam(team);
  const warehouse = new FakeWarehouse('snowflake');
  Object.assign(warehouse, { queryProfile: async (queryId: string) => ({ queryId, operators: [] }) });
  const erin = (g: Governance) => {
    const session = new Session({ id: 's-erin', identity: { kind: 'local-user', name: 'erin' }, transport: 'stdio' });
    return new GovernedWarehouse({ governance: g, target: openedTarget(warehouse), role: g.roleFor(session), identity: 'erin', sessionKey: session.id, meter: newCallMeter() });
  };
  const salaries = (await erin(replicas[0]!).query('SELECT * FROM SALARIES', { ...ctx(), maxRows: 2 })).queryId!;
  // A reload that changes nothing the role may read (its rate) keeps its results pageable.
  for (const g of replicas) g.reconfigure(roleConfig('"*.HR.*"'), { defaultRate: { perSecond: 5, burst: 5 }, retryAttempts: 1, retryBudgetMs: 1000 });
  await erin(replicas[1]!).fetchResults!(salaries, { offset: 2, limit: 3 }, ctx());
  // Both replicas reload a config that denies SALARIES to the same role name.
  for (const g of replicas) g.reconfigure(roleConfig('"*.HR.*", "*.*.SALARIES"'), { defaultRate: { perSecond: 5, burst: 5 }, retryAttempts: 1, retryBudgetMs: 1000 });
  const fetched = warehouse.fetched.length;
  const stale = (e: unknown) => isSnowmuxError(e, 'POLICY_DENIED') && (e.details as { reason?: string }).reason === 'rules-changed' && /before the hub's configuration changed them/.test(e.message);
  for (const g of replicas) {
    await assert.rejects(erin(g).fetchResults!(salaries, { offset: 2, limit: 3 }, ctx()), stale);
    await assert.rejects(erin(g).queryProfile!(salaries, ctx()), stale);
  }
  assert.equal(warehouse.fetched.length, fetched, 'no row of the old result was served');
  // What it computes under the new rules pages, here and on the other replica.
  const own = (await erin(replicas[0]!).query('SELECT * FROM T', { ...ctx(), maxRows: 2 })).queryId!;
  await erin(replicas[1]!).fetchResults!(own, { offset: 2, limit: 3 }, ctx());
  for (const g of replicas) g.close();
});

test('while a replica cannot reach Redis, a result another replica ran is read by nobody there (it may be another\'s), nor taken over', async () => {
  // The owner was asked of Redis, and "Redis cannot answer" read as "no owner": carol, whose role may use
  // every object, paged alice's result on the other replica during an outage, and was recorded as its owner
  // (written back over alice's when Redis returned). Now the read is refused, retryable, and nothing is recorded.
  const redis = { up: true, owners: new Map<string, string>() };
  const team = {
    take: async () => undefined,
    quotaAdmit: async () => undefined,
    quotaRecord: async () => false,
    rememberOwner: async (id: string, owner: string) => {
      if (!redis.up) return false;
      if (!redis.owners.has(id)) redis.owners.set(id, owner);
      return true;
    },
    ownerOf: async (id: string) => (redis.up ? redis.owners.get(id) : { unavailable: 'Redis did not answer in time' }),
    acquireSlot: async () => undefined,
  };
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const replicas = [0, 1].map(() => new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger }));
  for (const g of replicas) g.useTeam(team);
  const warehouse = new FakeWarehouse('snowflake');
  const as = (g: Governance, name: string) => {
    const session = new Session({ id: `s-${name}`, identity: { kind: 'local-user', name }, transport: 'stdio' });
    return new GovernedWarehouse({ governance: g, target: openedTarget(warehouse), role: g.roleFor(session), identity: name, sessionKey: session.id, meter: newCallMeter() });
  };
  const alices = (await as(replicas[0]!, 'alice').query('SELECT * FROM T', { ...ctx(), maxRows: 2 })).queryId!;
  redis.up = false;
  const unreachable = (e: unknown) =>
    isSnowmuxError(e, 'TEAM_REDIS_UNREACHABLE') && /Cannot check who ran query q1: this replica of the team hub cannot reach its Redis \(Redis did not answer in time\)/.test(e.message) && /Retry in a few seconds/.test(e.message);
  const fetched = warehouse.fetched.length;
  const sent = warehouse.queries.length;
  for (const name of ['carol', 'alice', 'bob']) {
    await assert.rejects(as(replicas[1]!, name).fetchResults!(alices, { offset: 2, limit: 3 }, ctx()), unreachable, name);
  }
  await assert.rejects(as(replicas[1]!, 'carol').query(`SELECT * FROM TABLE(RESULT_SCAN('${alices}'))`, { ...ctx(), maxRows: 5 }), unreachable);
  assert.equal(warehouse.fetched.length, fetched, 'no row of the result was served');
  assert.equal(warehouse.queries.length, sent, 'nothing reached the warehouse');
  // The replica that ran it knows its owner without Redis.
  await as(replicas[0]!, 'alice').fetchResults!(alices, { offset: 2, limit: 3 }, ctx());
  await assert.rejects(as(replicas[0]!, 'carol').fetchResults!(alices, { offset: 2, limit: 3 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED'));
  // Redis back: the owner pages on the other replica, carol is refused as ever.
  redis.up = true;
  await as(replicas[1]!, 'alice').fetchResults!(alices, { offset: 2, limit: 3 }, ctx());
  await assert.rejects(as(replicas[1]!, 'carol').fetchResults!(alices, { offset: 2, limit: 3 }, ctx()), (e) => isSnowmuxError(e, 'POLICY_DENIED') && /another user/.test(e.message));
  assert.equal(redis.owners.size, 1);
  for (const g of replicas) g.close();
});

test('through SQL too, an earlier result is read only by the identity that ran it, whatever the role\'s objects', async () => {
  const { as, warehouse, governance } = setup('snowflake');
  const r = await as('alice').w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 });
  const scan = (id: string) => `SELECT * FROM TABLE(RESULT_SCAN('${id}'))`;
  const denied = (e: unknown) => isSnowmuxError(e, 'POLICY_DENIED') && (e.details as { rule?: string }).rule === 'result-owner';
  const sent = warehouse.queries.length;
  // carol's role may use every object, yet alice's result is alice's (as fetch_results and query_profile rule).
  for (const sql of [
    scan(r.queryId!),
    `select * from table(result_scan( /* id */ '${r.queryId!}' ))`,
    `SELECT * FROM TABLE(GET_QUERY_OPERATOR_STATS('${r.queryId!}'))`,
    `SELECT * FROM TABLE(INFORMATION_SCHEMA.BIND_VALUES('${r.queryId!}'))`,
    `WITH x AS (SELECT * FROM TABLE(RESULT_SCAN('${r.queryId!}'))) SELECT COUNT(*) FROM x`,
  ]) {
    await assert.rejects(as('carol').w.query(sql, { ...ctx(), maxRows: 10 }), (e) => denied(e) && /another user/.test((e as Error).message), sql);
  }
  // On a pooled connection LAST_QUERY_ID() is whatever ran there last, maybe another editor's statement.
  for (const sql of ['SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))', 'SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID(-2)))', "SELECT * FROM TABLE(RESULT_SCAN('01' || '23'))"]) {
    await assert.rejects(as('carol').w.query(sql, { ...ctx(), maxRows: 10 }), (e) => denied(e) && /LAST_QUERY_ID\(\) names the previous statement|written as a plain string literal/.test((e as Error).message) && /fetch_results/.test((e as Error).message), sql);
  }
  assert.equal(warehouse.queries.length, sent, 'nothing refused reached the warehouse');
  // carol's own result, and an id the hub never issued (as fetch_results allows an unrestricted role), run.
  const own = await as('carol').w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 });
  await as('carol').w.query(scan(own.queryId!), { ...ctx(), maxRows: 10 });
  await as('carol').w.query(scan('01b71944-0001-b181-0000-0129032279f6'), { ...ctx(), maxRows: 10 });
  assert.equal(warehouse.queries.length, sent + 3);
  governance.close();
});

test('SQL that reads an earlier result (RESULT_SCAN, DESCRIBE RESULT, GET_QUERY_OPERATOR_STATS) follows the owner rule of fetch_results', async () => {
  for (const kind of ['duckdb', 'snowflake'] as const) {
    const { as, warehouse, governance } = setup();
    (warehouse as { kind: string }).kind = kind;
    const alices = (await as('alice').w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 })).queryId!;
    const carol = as('carol').w;
    const carols = (await carol.query('SELECT 1', { ...ctx(), maxRows: 2 })).queryId!;
    const refused = (sql: string, why: RegExp) =>
      assert.rejects(carol.query(sql, { ...ctx(), maxRows: 5 }), (e) => isSnowmuxError(e, 'POLICY_DENIED') && why.test(e.message) && /rule: result-owner/.test(e.message), `${kind}: ${sql}`);
    // Another identity's result, however the SQL spells the read: carol's role is unrestricted, but the result is not hers.
    for (const sql of [
      `SELECT * FROM TABLE(RESULT_SCAN('${alices}'))`,
      `select * from table ( result_scan ( '${alices}' ) ) where 1 = 1`,
      `SELECT * FROM TABLE(/* c */ RESULT_SCAN(\n'${alices}'))`,
      `WITH r AS (SELECT * FROM TABLE(RESULT_SCAN('${alices}'))) SELECT * FROM r`,
      `SELECT 1 FROM T WHERE EXISTS (SELECT 1 FROM TABLE(RESULT_SCAN($$${alices}$$)))`,
      `DESCRIBE RESULT '${alices}'`,
      `SELECT * FROM TABLE(GET_QUERY_OPERATOR_STATS('${alices}'))`,
    ]) {
      await refused(sql, /was run by another user/);
    }
    // LAST_QUERY_ID() on a pooled connection names another call's statement; a computed id cannot be checked.
    await refused('SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))', /LAST_QUERY_ID\(\) names the previous statement of the pooled connection/);
    await refused('SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID(-2)))', /LAST_QUERY_ID/);
    await refused('DESCRIBE RESULT LAST_QUERY_ID()', /DESCRIBE RESULT '<query id>'/);
    await refused(`SELECT * FROM TABLE(RESULT_SCAN('${alices.slice(0, 1)}' || '${alices.slice(1)}'))`, /written as a plain string literal/);
    const before = warehouse.queries.length;
    // Her own result, an id the hub never issued (as fetch_results allows an unrestricted role), and a user function of that name still run.
    await carol.query(`SELECT * FROM TABLE(RESULT_SCAN('${carols}'))`, { ...ctx(), maxRows: 5 });
    await carol.query(`DESCRIBE RESULT '${carols}'`, { ...ctx(), maxRows: 5 });
    await carol.query("SELECT * FROM TABLE(RESULT_SCAN('01b2c3d4-0000-1111-0000-000000000001'))", { ...ctx(), maxRows: 5 });
    await carol.query(`SELECT 'RESULT_SCAN(LAST_QUERY_ID())' AS x, db.s.result_scan(1) AS y`, { ...ctx(), maxRows: 5 });
    assert.equal(warehouse.queries.length, before + 4, kind);
    governance.close();
  }
});

test('status snapshot shows policy, queue, breakers, rate limits and quotas', async () => {
  const { as, governance } = setup();
  const alice = governance.roleFor(new Session({ id: 's-alice', identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' }));
  await governance.takeToken('alice', alice);
  await as('alice').w.query('SELECT * FROM T', { ...ctx(), maxRows: 2 });
  const snap = governance.snapshot() as { policy: { roles: string[] }; queue: { maxConcurrent: number }; breakers: { state: string }[]; rateLimits: { identity: string }[] };
  assert.deepEqual(snap.policy.roles, ['restricted', 'open']);
  assert.equal(snap.queue.maxConcurrent, 2);
  assert.equal(snap.breakers[0]!.state, 'closed');
  assert.ok(snap.rateLimits.some((r) => r.identity === 'alice'));
  governance.close();
});

test('every statement any tool sends is checked here: writes, several statements and session changes never reach the warehouse', async () => {
  const { as, warehouse, governance } = setup();
  const { w } = as('carol');
  for (const [sql, code] of [
    ['DELETE FROM T', 'SQL_REFUSED'],
    ['SELECT 1; DROP TABLE T', 'SQL_MULTI_STATEMENT'],
    ['USE DATABASE OTHER', 'SQL_REFUSED'],
    ['', 'SQL_EMPTY'],
  ] as const) {
    await assert.rejects(w.query(sql, { ...ctx(), maxRows: 5 }), (e) => isSnowmuxError(e, code), sql);
  }
  assert.deepEqual(warehouse.queries, [], 'nothing reached the warehouse');
  await w.query('SELECT 1;', { ...ctx(), maxRows: 5 });
  assert.deepEqual(warehouse.queries, ['SELECT 1'], 'the checked statement is what runs');
  governance.close();
});

test('a refused result read offers fetch_results only to a role that may call it', async () => {
  const { as, governance } = setup('snowflake', parseConfigText('[roles.nopaging]\nidentities = ["dave"]\ntools = ["*", "!fetch_results"]\n', 'test.toml'));
  for (const sql of ['SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))', "SELECT * FROM TABLE(RESULT_SCAN('01' || '23'))", 'DESCRIBE RESULT LAST_QUERY_ID()']) {
    await assert.rejects(as('dave').w.query(sql, { ...ctx(), maxRows: 10 }), (e) => {
      assert.ok(isSnowmuxError(e, 'POLICY_DENIED'), String(e));
      assert.doesNotMatch(e.message, /fetch_results/, sql);
      assert.match(e.message, /'<query id>'\)*\.$/, sql);
      return true;
    });
  }
  governance.close();
});
