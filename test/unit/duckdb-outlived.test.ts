/**
 * A DuckDB statement the engine cannot interrupt (one step that runs for minutes: a backtracking pattern, an
 * edit distance of long texts) keeps its statement slot after its call timed out or was cancelled. Status names
 * such slots (whose, since when), and a call that waited behind them and timed out is told why, not to narrow a
 * query that never ran. The engine is a stand-in here: a statement that ignores interrupts until the test lets it
 * end, so nothing depends on how fast a real statement runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { isSnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import { CallTracker, Slots, type CallScopeOptions } from '../../src/hub/warehouse/duckdb/call-scope.js';
import type { QueryOptions, QueryProgress, QueryResult, QueryTag } from '../../src/hub/warehouse/types.js';
import { EmptyCatalogWarehouse } from '../helpers/empty-catalog-warehouse.js';
import type { WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { formatStatus } from '../../src/cli/commands/status-command.js';
import { ownStatus, type HubStatus } from '../../src/hub/core/status-view.js';

/** An engine whose statements ignore interrupts: each runs until `end()` (counting the interrupts it was sent). */
function stubbornEngine() {
  let interrupts = 0;
  const endings: (() => void)[] = [];
  const connection = {
    interrupt: () => void interrupts++,
    closeSync: () => {},
    progress: { percentage: -1 },
  };
  const instance = { connect: async () => connection } as unknown as DuckDBInstance;
  const statement = (): Promise<string> => new Promise((resolve) => endings.push(() => resolve('done')));
  return { instance, statement, end: () => endings.splice(0).forEach((f) => f()), interrupts: () => interrupts };
}

const tag = (sessionId: string): QueryTag => ({ sessionId, requestId: `r-${sessionId}`, client: 'cursor 1.0', tool: 'execute_query' });

function options(slots: Slots, sessionId: string, extra: Partial<CallScopeOptions> = {}): CallScopeOptions {
  return { signal: new AbortController().signal, progressIntervalMs: 60_000, slots, tag: tag(sessionId), ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected the call to fail');
}

test('a statement that outlives its timeout is named while it holds its slot; a call that timed out waiting behind it is told why', async () => {
  const engine = stubbornEngine();
  const tracker = new CallTracker({ outlivedAfterMs: 0 });
  const slots = new Slots(1);
  const stuck = tracker.run(engine.instance, options(slots, 'stuck-session-1', { timeoutMs: 20, timeoutSetting: 'hub.call_timeout_ms' }), () => engine.statement());
  const timedOut = await rejection(stuck);
  assert.ok(isSnowmuxError(timedOut, 'QUERY_TIMEOUT'), String(timedOut));
  assert.ok(engine.interrupts() >= 1, 'the engine was told to stop');

  const held = tracker.outlived();
  assert.equal(held.length, 1);
  assert.deepEqual({ ...held[0], sinceStopMs: 0, runningMs: 0 }, { sessionId: 'stuck-session-1', requestId: 'r-stuck-session-1', client: 'cursor 1.0', tool: 'execute_query', stoppedBy: 'QUERY_TIMEOUT', sinceStopMs: 0, runningMs: 0 });

  // The next call waits for the slot, hears why, and times out never having run.
  const progress: QueryProgress[] = [];
  const waiting = tracker.run(engine.instance, options(slots, 'waiting-session-2', { timeoutMs: 30, onProgress: (p) => progress.push(p), progressIntervalMs: 5 }), () => engine.statement());
  const told = await rejection(waiting);
  assert.ok(isSnowmuxError(told, 'QUERY_TIMEOUT'), String(told));
  assert.match(told.message, /^The query never ran: it waited \d+ m?s for a statement slot of the embedded warehouse, and 1 of its 1 slot is held by a statement the engine could not interrupt, which outlived its cancel \(session stuck-se's execute_query, timed out \d+ m?s ago\)\. .*the query itself may be fine\. Retry once they end; `snowmux status` names them, and restarting the hub \(`snowmux hub --replace`\) ends them\.$/);
  assert.doesNotMatch(told.message, /narrow/i);
  assert.equal(told.details?.['heldSlots'], 1);
  assert.equal(told.details?.['notRun'], true);
  assert.ok(progress.length > 0 && progress.every((p) => p.phase === 'queued'));
  assert.match(progress[0]!.message, /^Waiting for a free slot in the embedded warehouse: 1 slot is held by a statement the engine could not interrupt, which outlived its cancel \(session stuck-se's execute_query/);

  // A call cancelled by its client while waiting is told it was cancelled, as before.
  const cancel = new AbortController();
  const cancelled = tracker.run(engine.instance, options(slots, 'cancelled-session-3', { signal: cancel.signal }), () => engine.statement());
  cancel.abort();
  assert.ok(isSnowmuxError(await rejection(cancelled), 'QUERY_CANCELLED'));

  // Once the statement ends on its own, the slot is free again and nothing is named.
  engine.end();
  await tracker.idle();
  assert.deepEqual(tracker.outlived(), []);
  assert.equal(slots.free, true);
  assert.equal(await tracker.run(engine.instance, options(slots, 'next-session-4'), async () => 'ran'), 'ran');
});

test('a statement that ends promptly after its cancel is not named, nor blamed by the calls behind it', async () => {
  const engine = stubbornEngine();
  const tracker = new CallTracker();
  const slots = new Slots(1);
  const stuck = tracker.run(engine.instance, options(slots, 'brief-1', { timeoutMs: 10 }), () => engine.statement());
  await rejection(stuck);
  assert.deepEqual(tracker.outlived(), [], 'within a second of its stop it is winding down, not outliving it');
  const waiting = await rejection(tracker.run(engine.instance, options(slots, 'brief-2', { timeoutMs: 10, timeoutSetting: 'hub.call_timeout_ms' }), () => engine.statement()));
  assert.match(waiting.message, /^The query ran longer than the 10 ms statement timeout/);
  engine.end();
  await tracker.idle();
});

/** A warehouse on the real call tracker over the stubborn engine, as DuckDbWarehouse runs its statements. */
class StubbornWarehouse extends EmptyCatalogWarehouse {
  readonly kind = 'duckdb' as const;
  readonly engine = stubbornEngine();
  readonly tracker = new CallTracker({ outlivedAfterMs: 0 });
  readonly slots = new Slots(1);
  info() {
    return { kind: 'duckdb' as const, name: 'embedded', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 1 };
  }
  async query(_sql: string, o: QueryOptions): Promise<QueryResult> {
    const run = (_c: DuckDBConnection) => this.engine.statement();
    await this.tracker.run(this.engine.instance, { signal: o.signal, timeoutMs: o.timeoutMs, timeoutSetting: o.timeoutSetting, progressIntervalMs: 60_000, slots: this.slots, tag: o.tag }, run);
    return { columns: [], rows: [], rowCount: 0, truncated: false, elapsedMs: 0 };
  }
}

test("the hub's call timeout of a call that waited behind such a statement gives the warehouse's account, not 'narrow the query'", async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml');
  const governance = new Governance({ policy, logger });
  const warehouse = new StubbornWarehouse();
  const target: WarehouseTarget = { kind: 'duckdb', name: 'embedded', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs: 300 }, logger, sink: { record: () => undefined } });
  const run = (id: string) => {
    const session = new Session({ id, identity: { kind: 'local-user', name: id }, transport: 'stdio' });
    return pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal }, { query: 'SELECT 1' }, async (c) => {
      await c.warehouse.query('SELECT 1', { ...c.ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
  };
  try {
    const first = await run('stuck-editor');
    assert.equal(first.isError, true);
    const second = await run('next-editor');
    assert.equal(second.isError, true);
    const text = (second.content[0] as { text: string }).text;
    assert.match(text, /^The query never ran: it waited \d+ m?s for a statement slot of the embedded warehouse, and 1 of its 1 slot is held by a statement the engine could not interrupt, which outlived its cancel \(session stuck-ed's execute_query, timed out \d+ m?s ago\)/);
    assert.doesNotMatch(text, /narrow/i);
    assert.equal((second._meta?.['dev.snowmux/error'] as { code: string }).code, 'QUERY_TIMEOUT');
  } finally {
    warehouse.engine.end();
    await warehouse.tracker.idle();
    governance.close();
  }
});

test('status names the slots held by statements that outlived their cancel: whose session and identity, since when; another identity sees only that they are held', () => {
  const status: HubStatus = {
    version: '0.1.0',
    pid: 1,
    startedAt: new Date().toISOString(),
    uptimeMs: 1000,
    home: '/h',
    socket: '/h/s',
    state: 'running',
    warehouses: [
      {
        kind: 'duckdb',
        name: 'embedded',
        detail: {
          maxConcurrentStatements: 2,
          outlivedStatements: [{ sessionId: 'aaaabbbb-1111', requestId: '7', client: 'cursor 1.0', tool: 'execute_query', stoppedBy: 'QUERY_TIMEOUT', sinceStopMs: 95_000, runningMs: 400_000 }],
        },
        defaultDatabase: 'SNOWMUX_SAMPLE',
        defaultSchema: 'TPCH',
        capacity: 2,
      },
    ],
    sessions: [{ id: 'aaaabbbb-1111', identity: { kind: 'local-user', name: 'alice' } } as unknown as HubStatus['sessions'][number]],
    totals: { sessionsOpened: 1, calls: 1, errors: 1, refused: 0, cancelled: 0 },
    recent: [],
  };
  const text = formatStatus(status, 200);
  assert.match(text, /\n {2}SLOTS HELD 1 of 2 by statements the engine could not interrupt, which outlived their cancel \(each keeps its slot until it ends on its own; restarting the hub ends it\):\n {4}session aaaabbbb \(alice, cursor 1\.0\) execute_query: timed out 1m35s ago, holding its slot for 6m40s\n/);
  const bob = ownStatus(status, 'bob');
  const shown = bob.warehouses[0]!.detail['outlivedStatements'] as Record<string, unknown>[];
  assert.deepEqual(shown, [{ stoppedBy: 'QUERY_TIMEOUT', sinceStopMs: 95_000, runningMs: 400_000 }]);
  assert.match(formatStatus(bob, 200), /SLOTS HELD 1 of 2 .*\n {4}another identity's call: timed out 1m35s ago, holding its slot for 6m40s\n/);
  assert.deepEqual(ownStatus(status, 'alice').warehouses[0]!.detail['outlivedStatements'], status.warehouses[0]!.detail['outlivedStatements']);
});

test('a call answered at its timeout or cancel hears no more progress while its statement winds down (none after the answer)', async () => {
  for (const stop of ['timeout', 'cancel'] as const) {
    const engine = stubbornEngine();
    const tracker = new CallTracker({ outlivedAfterMs: 0 });
    const slots = new Slots(1);
    const cancel = new AbortController();
    const progress: QueryProgress[] = [];
    let answered = false;
    let afterAnswer = 0;
    const onProgress = (p: QueryProgress): void => {
      if (answered) afterAnswer += 1;
      progress.push(p);
    };
    const running = tracker.run(engine.instance, options(slots, `${stop}-session`, { signal: cancel.signal, onProgress, progressIntervalMs: 1, ...(stop === 'timeout' ? { timeoutMs: 40 } : {}) }), () => engine.statement());
    if (stop === 'cancel') {
      // Cancelled once it reported running at least once.
      while (progress.length === 0) await new Promise((r) => setImmediate(r));
      cancel.abort();
    }
    const err = await rejection(running);
    answered = true;
    assert.ok(isSnowmuxError(err, stop === 'timeout' ? 'QUERY_TIMEOUT' : 'QUERY_CANCELLED'), String(err));
    // The statement ignores its interrupt: the tracker keeps re-sending it (every 25 ms) while it runs on. Five of
    // them take far longer than the 1 ms progress interval: the call's client would have heard ~100 more reports.
    const sent = engine.interrupts();
    while (engine.interrupts() < sent + 5) await new Promise((r) => setTimeout(r, 5));
    assert.equal(afterAnswer, 0, `${stop}: ${afterAnswer} progress reports after the call was answered`);
    engine.end();
    await tracker.idle();
  }
});
