/**
 * The hub's call timeout against time spent in the fair queue (cancel probe F3): a call that waited for a slot
 * until too little of its deadline was left is not started (nothing sent, billed and cancelled at once), and is
 * told it waited and behind what, not to narrow its query; a call that got its slot late and then ran out of time
 * is told where the time went. Slots are held through the scheduler itself and released on the waiting call's own
 * progress report: no sleeps decide the order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { newCallMeter } from '../../src/hub/governance/call-meter.js';
import { Governance } from '../../src/hub/governance/governance.js';
import type { CallRecord } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import type { Statement } from '../../src/hub/pipeline/statement.js';
import { queue, runFloorMs } from '../../src/hub/pipeline/stages/queue.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { QueryOptions, QueryProgress, QueryResult } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import type { WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';

const policy = Policy.fromConfig(parseConfigText('[roles.reader]\nidentities = ["*"]\n', 'test.toml'), 'test.toml');

/** A warehouse whose every statement runs until its call is cancelled. */
class SlowWarehouse extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  readonly queries: string[] = [];
  info() {
    return { kind: 'duckdb' as const, name: 'slow', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 1 };
  }
  async query(sql: string, o: QueryOptions): Promise<QueryResult> {
    this.queries.push(sql);
    return new Promise((_, reject) => o.signal.addEventListener('abort', () => reject(new SnowmuxError('QUERY_CANCELLED', 'The statement was cancelled.')), { once: true }));
  }
}

function setup(callTimeoutMs: number) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy, logger, limits: { maxConcurrentQueries: 1 } });
  const warehouse = new SlowWarehouse();
  const target: WarehouseTarget = { kind: 'duckdb', name: 'slow', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const records: CallRecord[] = [];
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs }, logger, sink: { record: (r: CallRecord) => void records.push(r) } });
  // Another editor's call holds the warehouse's one slot until the test lets it go.
  const held = governance.scheduler.schedule('s-other', undefined, governance.poolFor(warehouse), 'other');
  const run = (onProgress?: (p: QueryProgress) => void) => {
    const session = new Session({ id: 's-late', identity: { kind: 'local-user', name: 'late' }, transport: 'stdio' });
    return pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal, onProgress }, { query: 'SELECT 1' }, async (c) => {
      await c.warehouse.query('SELECT 1', { ...c.ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
  };
  return { governance, warehouse, records, held, run };
}

const textOf = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;
const metaOf = (r: { _meta?: Record<string, unknown> | undefined }) => r._meta?.['dev.snowmux/error'] as { code: string; retryable: boolean; retryAfterMs?: number };

test('the floor: a tenth of the call timeout, at most 1 s', () => {
  assert.equal(runFloorMs(3_000), 300);
  assert.equal(runFloorMs(300_000), 1_000);
  assert.equal(runFloorMs(5), 0);
});

test('a call that waited in the queue until less than the floor was left is not started, and is told it waited, behind what', async () => {
  const callTimeoutMs = 400;
  const { governance, warehouse, records, held, run } = setup(callTimeoutMs);
  const slot = await held;
  try {
    const answer = await run();
    assert.equal(answer.isError, true);
    const text = textOf(answer);
    assert.match(text, /^The call waited \d+ ms in the hub's queue for a slot on slow \(1 running there \(all it runs at once\), 1 waiting\) and was not started: only \d+ ms of its 400 ms call timeout \(hub\.call_timeout_ms\) were left, less than the 40 ms a statement is given at least; nothing was sent to the warehouse\./);
    assert.match(text, /Retry in a while; .* an operator can raise limits\.max_concurrent_queries/);
    // Before: "… narrow the query or raise hub.call_timeout_ms", for a query that never ran.
    assert.doesNotMatch(text, /narrow/i);
    const meta = metaOf(answer);
    assert.equal(meta.code, 'QUERY_TIMEOUT');
    assert.equal(meta.retryable, true, 'the same call, later, may well succeed');
    assert.equal(typeof meta.retryAfterMs, 'number');
    assert.deepEqual(warehouse.queries, [], 'no statement reached the warehouse');
    assert.equal(records.length, 1);
    assert.equal(records[0]!.errorCode, 'QUERY_TIMEOUT');
    assert.ok(records[0]!.queueWaitMs >= callTimeoutMs / 2, `queueWaitMs ${records[0]!.queueWaitMs}`);
    assert.equal(records[0]!.runMs, 0);
    assert.equal(governance.scheduler.snapshot().queued, 0, 'it left the queue');
  } finally {
    slot.release();
    governance.close();
  }
});

test('a call given its slot late that then runs out of time is told the time went to the queue, not to narrow the query', async () => {
  const callTimeoutMs = 1_800;
  const { governance, warehouse, records, held, run } = setup(callTimeoutMs);
  const slot = await held;
  // A call's deadline timer does not keep a process alive (a hub has its sockets for that): this test has none.
  const alive = setTimeout(() => {}, 10_000);
  try {
    // The slot frees on the waiting call's first "waiting for a free slot" report (after 1 s of its 1.8 s): it
    // then has more than the floor left, is started, and its statement runs into the deadline.
    const answer = await run((p) => {
      if (p.phase === 'queued') slot.release();
    });
    const text = textOf(answer);
    assert.match(text, /^The call did not finish within the hub's 1800 ms call timeout and was cancelled \(in the warehouse too\): \d+ ms of it went to waiting in the hub's queue for a slot, leaving \d+ ms to run\. The hub was busy/);
    assert.doesNotMatch(text, /narrow/i);
    assert.deepEqual(warehouse.queries, ['SELECT 1'], 'it was started');
    assert.ok(records[0]!.queueWaitMs >= 900, `queueWaitMs ${records[0]!.queueWaitMs}`);
  } finally {
    clearTimeout(alive);
    slot.release();
    governance.close();
  }
});

test('a statement with less than the floor of its deadline left is not given a free slot either (the call spent its time before)', async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy, logger, limits: { maxConcurrentQueries: 1 } });
  const warehouse = new SlowWarehouse();
  const meter = newCallMeter();
  const st = {
    op: { kind: 'query', sql: 'SELECT 1', options: { signal: new AbortController().signal, tag: { sessionId: 's', requestId: '1', client: 'c', tool: 'execute_query' }, maxRows: 1 } },
    scope: { governance, identity: 'late', sessionKey: 's-late', meter, deadline: { totalMs: 3_000, leftMs: () => 299 } },
    warehouse,
  } as unknown as Statement;
  let ran = false;
  await assert.rejects(
    queue.run(st, async () => {
      ran = true;
      return [];
    }),
    (err: SnowmuxError) => {
      assert.equal(err.code, 'QUERY_TIMEOUT');
      assert.match(err.message, /^The call's next statement on slow was not started: only 299 ms of its 3000 ms call timeout \(hub\.call_timeout_ms\) were left, less than the 300 ms/);
      return true;
    },
  );
  assert.equal(ran, false);
  const snapshot = governance.scheduler.snapshot();
  assert.deepEqual([snapshot.running, snapshot.totals.granted], [0, 0], 'no slot was given');
  governance.close();
});
