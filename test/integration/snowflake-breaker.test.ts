/**
 * The circuit breaker of a Snowflake profile, through the call pipeline against the Snowflake double: one
 * identity's queries that reach their own timeout (the role's statement timeout, or the hub's call timeout)
 * are that caller's heavy queries, not an outage — they must not open the breaker and pause everyone else.
 * Only a timeout Snowflake never answered (no query id) counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline, type ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import { SnowflakeWarehouse } from '../../src/hub/warehouse/snowflake/snowflake-warehouse.js';
import type { WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { startSnowflakeDouble, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { doubleProfile } from '../doubles/snowflake/fixtures.js';

const config = parseConfigText(
  `
[roles.to]
identities = ["t*"]
statement_timeout = "1s"
`,
  'test.toml',
);

let double: SnowflakeDouble;
const open: { warehouse: SnowflakeWarehouse; governance: Governance }[] = [];

before(async () => {
  double = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }], syncWaitMs: 50 });
});

after(async () => {
  for (const { governance } of open) governance.close();
  await Promise.all(open.map(({ warehouse }) => warehouse.close()));
  await double.close();
});

/** A pipeline over one Snowflake profile on the double, with the hub's breaker defaults (5 calls, 50 %). */
function hub(name: string, callTimeoutMs: number, profile: Parameters<typeof doubleProfile>[1] = {}) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger, callTimeoutMs });
  const warehouse = new SnowflakeWarehouse(doubleProfile(double, { name, pool: { max: 8 }, ...profile }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
  open.push({ warehouse, governance });
  const target: WarehouseTarget = { kind: 'snowflake', name, defaultDatabase: 'SNOWFLAKE_SAMPLE_DATA', defaultSchema: 'TPCH_SF1', open: async () => warehouse };
  const pipeline = new CallPipeline({
    warehouses: { targetFor: () => target },
    governance,
    limits: { ...DEFAULT_LIMITS, callTimeoutMs },
    logger,
    sink: { record: () => undefined },
  });
  let n = 0;
  const call = async (identity: string, sql: string) => {
    const session = new Session({ id: `s-${identity}-${++n}`, identity: { kind: 'api-key', name: identity }, transport: 'http' });
    const body: ToolBody = async (c) => {
      const result = await c.warehouse.query(sql, { ...c.ctx, maxRows: 10 });
      return { content: [{ type: 'text', text: JSON.stringify(result.rows) }] };
    };
    const result = await pipeline.run(session, 'execute_query', { id: String(n), signal: new AbortController().signal }, { query: sql }, body);
    const error = result._meta?.['dev.snowmux/error'] as { code?: string } | undefined;
    const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
    return { code: error?.code, text };
  };
  const search = async (identity: string) => {
    const session = new Session({ id: `s-${identity}-${++n}`, identity: { kind: 'api-key', name: identity }, transport: 'http' });
    const body: ToolBody = async (c) => {
      const reply = await c.warehouse.cortexSearch!({ database: 'SNOWFLAKE_SAMPLE_DATA', schema: 'TPCH_SF1', name: 'REGION_SEARCH' }, { query: 'x', columns: [], limit: 1 }, c.ctx);
      return { content: [{ type: 'text', text: JSON.stringify(reply.results) }] };
    };
    const result = await pipeline.run(session, 'cortex_search', { id: String(n), signal: new AbortController().signal }, { service: 'REGION_SEARCH', query: 'x' }, body);
    const error = result._meta?.['dev.snowmux/error'] as { code?: string } | undefined;
    return { code: error?.code, text: result.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
  };
  const breaker = () => governance.breakerFor(warehouse).snapshot();
  return { call, search, breaker, warehouse };
}

describe('Snowflake breaker and timeouts', () => {
  it("one identity's statements stopped at its role's statement timeout leave the breaker closed; another identity's call runs meanwhile and after", async () => {
    const { call, breaker } = hub('role-timeouts', 60_000);
    const slow = Array.from({ length: 6 }, () => call('t1', "select system$wait(20, 'SECONDS')"));
    const other = call('bob', 'select 1');
    const answers = await Promise.all(slow);
    for (const a of answers) {
      assert.equal(a.code, 'QUERY_TIMEOUT', a.text);
      assert.match(a.text, /ran longer than 1000 ms and was cancelled in Snowflake \(query id [0-9a-f-]+\)/);
      // The limit came from the role: the advice names that setting, not an internal field.
      assert.match(a.text, /raise roles\.to\.statement_timeout\./);
      assert.doesNotMatch(a.text, /statementTimeoutMs/);
    }
    assert.equal((await other).code, undefined, (await other).text);
    assert.deepEqual([breaker().state, breaker().failures], ['closed', 0]);
    const bob = await call('bob', 'select 2');
    assert.equal(bob.code, undefined, bob.text);
  });

  it("calls ended by the hub's call timeout while Snowflake ran their statements leave the breaker closed", async () => {
    const { call, breaker } = hub('call-timeouts', 700);
    const answers = await Promise.all(Array.from({ length: 6 }, () => call('ann', "select system$wait(20, 'SECONDS')")));
    for (const a of answers) {
      assert.equal(a.code, 'QUERY_TIMEOUT', a.text);
      assert.match(a.text, /hub's 700 ms call timeout/);
    }
    assert.deepEqual([breaker().state, breaker().failures], ['closed', 0]);
    const bob = await call('bob', 'select 3');
    assert.equal(bob.code, undefined, bob.text);
  });

  it("Cortex calls that reach their deadline on a logged-in session are the caller's slow questions: the breaker stays closed", async () => {
    const { call, search, breaker } = hub('cortex-timeouts', 60_000);
    assert.equal((await call('t3', 'select 6')).code, undefined, 'warm');
    double.inject({ kind: 'hang', endpoint: 'cortex' });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => search('t3')));
      for (const a of answers) {
        assert.equal(a.code, 'QUERY_TIMEOUT', a.text);
        assert.match(a.text, /took longer than 1000 ms and was abandoned.*raise roles\.to\.statement_timeout/);
      }
    } finally {
      double.clearFaults();
    }
    assert.deepEqual([breaker().state, breaker().failures], ['closed', 0]);
    assert.equal((await call('bob', 'select 7')).code, undefined);
  });

  it("a profile's own statement_timeout_s caps a longer call timeout, and the advice names it; its default does not", async () => {
    const capped = hub('capped', 60_000, { statementTimeoutMs: 1000, sources: { statementTimeoutMs: 'config.toml [profiles.capped]' } });
    const answer = await capped.call('bob', "select system$wait(20, 'SECONDS')");
    assert.equal(answer.code, 'QUERY_TIMEOUT', answer.text);
    assert.match(answer.text, /ran longer than 1000 ms.*raise statement_timeout_s \(set by config\.toml \[profiles\.capped\]\)/);
    // A role's shorter timeout still wins over the profile's.
    const role = await capped.call('t4', "select system$wait(20, 'SECONDS')");
    assert.match(role.text, /ran longer than 1000 ms.*raise (roles\.to\.statement_timeout|statement_timeout_s)/);
    // Unset, the profile's 300 s default leaves the hub's call timeout in charge.
    const unset = hub('unset', 60_000, { statementTimeoutMs: 1000 });
    const free = await unset.call('bob', "select system$wait(2, 'SECONDS')");
    assert.equal(free.code, undefined, free.text);
  });

  it("a call that waited out the pool's acquire timeout is told the setting by its config key", () => {
    const { warehouse } = hub('acquire-timeout', 60_000);
    const busy = warehouse.capacityBusy(2000);
    assert.equal(busy.code, 'POOL_EXHAUSTED');
    assert.match(busy.message, /or raise pool\.max \(set by test fixture\) or pool\.acquire_timeout_ms of \[profiles\.acquire-timeout\]\.$/);
    assert.doesNotMatch(busy.message, /acquireTimeoutMs/);
  });

  it("a statement Snowflake took and failed inside (an internal error with a query id, e.g. a query too big for its warehouse) is neither retried nor counted as an outage", async () => {
    const { call, breaker } = hub('internal-errors', 60_000);
    assert.equal((await call('t5', 'select 8')).code, undefined, 'warm');
    const before = double.counters.requests;
    double.inject({ kind: 'error', endpoint: 'query', code: '000603', sqlState: 'XX000', message: 'SQL execution internal error: Processing aborted due to error 300005:4035471965; incident 8217013.', queryId: true });
    let answers: { code: string | undefined; text: string }[];
    try {
      answers = [];
      for (let i = 0; i < 6; i++) answers.push(await call('t5', 'select count(*) from lineitem a, lineitem b'));
    } finally {
      double.clearFaults();
    }
    for (const a of answers) {
      assert.equal(a.code, 'WAREHOUSE_ERROR', a.text);
      // What happened, which query, and what to do: not "the call can be retried" (it ran, and failed inside).
      assert.match(a.text, /query id [0-9a-f-]{36}/);
      assert.match(a.text, /Processing aborted due to error 300005/);
      assert.match(a.text, /Snowflake ran the statement and failed inside it/);
      assert.doesNotMatch(a.text, /The call can be retried/);
    }
    // One statement request per call: a read that failed inside Snowflake is not sent again.
    assert.equal(double.counters.requests - before, 6);
    assert.deepEqual([breaker().state, breaker().failures], ['closed', 0]);
    const bob = await call('bob', 'select 9');
    assert.equal(bob.code, undefined, bob.text);
  });

  it('an internal error Snowflake gives without a query id (it never took the statement) still counts as an outage', async () => {
    const { call, breaker } = hub('internal-unanswered', 60_000);
    assert.equal((await call('t6', 'select 10')).code, undefined, 'warm');
    double.inject({ kind: 'error', endpoint: 'query', code: '000603', sqlState: 'XX000', message: 'SQL execution internal error', times: 3 });
    try {
      const answer = await call('t6', 'select 11');
      assert.equal(answer.code, 'WAREHOUSE_ERROR', answer.text);
    } finally {
      double.clearFaults();
    }
    assert.equal(breaker().failures, 1);
  });

  it('a timeout of a statement Snowflake never answered (no query id) still counts as an outage', async () => {
    const { call, breaker, warehouse } = hub('unanswered', 60_000);
    assert.equal((await call('t2', 'select 4')).code, undefined, 'warm');
    double.inject({ kind: 'hang', endpoint: 'query', times: 1 });
    try {
      const answer = await call('t2', 'select 5');
      assert.equal(answer.code, 'QUERY_TIMEOUT', answer.text);
      assert.match(answer.text, /before Snowflake returned a query id/);
    } finally {
      double.clearFaults();
    }
    assert.equal(breaker().failures, 1);
    assert.equal(breaker().lastFailure?.code, 'QUERY_TIMEOUT');
    assert.ok(warehouse);
  });
});

/**
 * Snowflake holds a statement's request open while it runs (up to ~45 s) before it answers "in progress" with the
 * query id: a role's short statement_timeout ends a heavy query before the client has its id, and Snowflake names
 * it in answer to the cancel. The caller is told it ran (with the id), not that Snowflake may be down.
 */
describe('Snowflake timeouts before the query id', () => {
  let holding: SnowflakeDouble;
  const held: { warehouse: SnowflakeWarehouse; governance: Governance }[] = [];
  before(async () => {
    holding = await startSnowflakeDouble({ users: [{ name: 'alice', password: 'alice-secret-pw', roles: ['ANALYST', 'PUBLIC'] }], syncWaitMs: 30_000 });
  });
  after(async () => {
    for (const { governance } of held) governance.close();
    await Promise.all(held.map(({ warehouse }) => warehouse.close()));
    await holding.close();
  });

  it("a heavy query stopped at the role's statement timeout before Snowflake named it is told its query id once the cancel names it, and leaves the breaker closed", async () => {
    const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
    const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger, callTimeoutMs: 60_000 });
    const warehouse = new SnowflakeWarehouse(doubleProfile(holding, { name: 'held', pool: { max: 8 } }), { driverOptions: { sfRetryMaxLoginRetries: 0 } });
    held.push({ warehouse, governance });
    const target: WarehouseTarget = { kind: 'snowflake', name: 'held', defaultDatabase: 'SNOWFLAKE_SAMPLE_DATA', defaultSchema: 'TPCH_SF1', open: async () => warehouse };
    const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs: 60_000 }, logger, sink: { record: () => undefined } });
    let n = 0;
    const call = async (identity: string, sql: string) => {
      const session = new Session({ id: `h-${identity}-${++n}`, identity: { kind: 'api-key', name: identity }, transport: 'http' });
      const body: ToolBody = async (c) => {
        const result = await c.warehouse.query(sql, { ...c.ctx, maxRows: 10 });
        return { content: [{ type: 'text', text: JSON.stringify(result.rows) }] };
      };
      const result = await pipeline.run(session, 'execute_query', { id: String(n), signal: new AbortController().signal }, { query: sql }, body);
      const error = result._meta?.['dev.snowmux/error'] as { code?: string } | undefined;
      return { code: error?.code, text: result.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
    };
    assert.equal((await call('bob', 'select 1')).code, undefined, 'warm');
    const answers = await Promise.all(Array.from({ length: 3 }, () => call('t1', "select system$wait(20, 'SECONDS')")));
    for (const a of answers) {
      assert.equal(a.code, 'QUERY_TIMEOUT', a.text);
      assert.match(a.text, /ran longer than 1000 ms and was cancelled in Snowflake \(query id [0-9a-f-]{36}\)\. Narrow the query, or raise roles\.to\.statement_timeout\./);
      assert.doesNotMatch(a.text, /before Snowflake returned a query id|did not answer/);
    }
    const state = governance.breakerFor(warehouse).snapshot();
    assert.deepEqual([state.state, state.failures], ['closed', 0]);
  });
});
