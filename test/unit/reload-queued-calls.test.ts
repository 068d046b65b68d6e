/**
 * A reload that narrows a role reaches the calls already waiting for a slot: a statement judged as its call
 * entered, and sent once a slot freed, ran with the rights the operator had just taken away (the fair queue
 * holds a call up to its deadline, minutes). It is judged again under the rules as they are now, before
 * anything is sent (stages/rules-current.ts); a reload that leaves its rules as they were lets it run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline, type ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { QueryOptions, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';
import type { WarehouseProvider, WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';

const policyOf = (text: string) => Policy.fromConfig(parseConfigText(text, 't.toml'), 't.toml');
const LIMITS = { defaultRate: { perSecond: 1000, burst: 1000 }, retryAttempts: 0, retryBudgetMs: 0 };

function setup(config: string) {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: policyOf(config), logger, limits: { maxConcurrentQueries: 1, metadataCacheTtlMs: 0, retryAttempts: 0 } });
  const sent: string[] = [];
  const options: QueryOptions[] = [];
  const warehouse = {
    kind: 'duckdb',
    info: () => ({ kind: 'duckdb', name: 'w', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 }),
    async query(sql: string, o: QueryOptions): Promise<QueryResult> {
      sent.push(sql);
      options.push(o);
      const rows = Array.from({ length: Math.min(o.maxRows, 50) }, (_, i) => [i]);
      return { columns: [{ name: 'X', type: 'INTEGER' }], rows, rowCount: rows.length, truncated: o.maxRows < 50, elapsedMs: 0 };
    },
    async explain() {
      return { estimate: { rows: 1_000_000 }, operations: [] };
    },
    async listDatabases() {
      sent.push('list databases');
      return [{ name: 'DB' }, { name: 'HR' }];
    },
    async listSchemas() {
      return [];
    },
    async listObjects() {
      return [];
    },
    async describeObject() {
      return [];
    },
    async close() {},
  } as unknown as Warehouse;
  const target: WarehouseTarget = { kind: 'duckdb', name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const warehouses: WarehouseProvider = { targetFor: () => target };
  const pipeline = new CallPipeline({ warehouses, governance, limits: DEFAULT_LIMITS, logger, sink: { record: () => undefined } });
  const session = new Session({ id: 's1', identity: { kind: 'local-user', name: 'ann' }, transport: 'stdio' });
  let n = 0;
  const call = (tool: string, body: ToolBody) => pipeline.run(session, tool, { id: String(++n), signal: new AbortController().signal }, {}, body);
  const query = (sql: string) =>
    call('execute_query', async ({ warehouse: w, ctx, noteSql }) => {
      noteSql(sql);
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'ran' }] };
    });
  /** Takes the hub's one slot; the returned function frees it. */
  const holdSlot = async () => (await governance.scheduler.schedule('someone else')).release;
  const waiting = async () => {
    for (let i = 0; i < 50 && governance.scheduler.snapshot().queued === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(governance.scheduler.snapshot().queued, 1, 'the call waits in the queue');
  };
  return { governance, sent, options, call, query, holdSlot, waiting };
}

const errorOf = (r: { _meta?: Record<string, unknown> | undefined; content?: unknown }) => {
  const e = r._meta?.['dev.snowmux/error'] as { code?: string } | undefined;
  return { code: e?.code, text: JSON.stringify(r.content) };
};

test('a query waiting for a slot when a reload denies the object it reads is refused, and nothing is sent', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\n';
  const { governance, sent, query, holdSlot, waiting } = setup(role);
  const free = await holdSlot();
  const result = query('SELECT * FROM DB.HR.PAY');
  await waiting();
  governance.reconfigure(policyOf(`${role}deny = ["*.HR.*"]\n`), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, 'POLICY_DENIED', r.text);
  assert.match(r.text, /HR/);
  assert.match(r.text, /reloaded while this call waited for a slot[\s\S]*nothing was sent to the warehouse/);
  assert.deepEqual(sent, [], 'the denied statement never reached the warehouse');
  governance.close();
});

test('a call waiting for a slot when a reload takes its tool or write right away is refused', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\nwrite = true\n';
  for (const [after, sql, code] of [
    ['tools = ["list_databases"]\n', 'SELECT 1', 'POLICY_DENIED'],
    ['', 'DELETE FROM DB.S.T', 'SQL_REFUSED'],
  ] as const) {
    const { governance, sent, query, holdSlot, waiting } = setup(role);
    const free = await holdSlot();
    const result = query(sql);
    await waiting();
    governance.reconfigure(policyOf(`[roles.ann]\nidentities = ["ann"]\n${after}`), LIMITS);
    free();
    const r = errorOf(await result);
    assert.equal(r.code, code, r.text);
    assert.deepEqual(sent, [], sql);
    governance.close();
  }
});

test('a listing waiting for a slot is filtered by the role as a reload left it', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\n';
  const { governance, call, holdSlot, waiting } = setup(role);
  const free = await holdSlot();
  const result = call('list_databases', async ({ warehouse: w, ctx }) => ({ content: [{ type: 'text', text: (await w.listDatabases(ctx)).map((d) => d.name).join(',') }] }));
  await waiting();
  governance.reconfigure(policyOf(`${role}deny = ["HR.*.*"]\n`), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, undefined, r.text);
  assert.equal(r.text, JSON.stringify([{ type: 'text', text: 'DB' }]));
  governance.close();
});

test('a reload that leaves the waiting call its rights lets it run', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\ndeny = ["*.HR.*"]\n';
  const { governance, sent, query, holdSlot, waiting } = setup(role);
  const free = await holdSlot();
  const result = query('SELECT * FROM DB.S.T');
  await waiting();
  // Another role added, this one's tools widened: nothing this statement needs changed.
  governance.reconfigure(policyOf(`${role}tools = ["*"]\n[roles.bob]\nidentities = ["bob"]\n`), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, undefined, r.text);
  assert.deepEqual(sent.length, 1);
  governance.close();
});

test('a query waiting for a slot when a reload sets a scan limit it passes is refused by that limit', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\n';
  const { governance, sent, query, holdSlot, waiting } = setup(role);
  const free = await holdSlot();
  const result = query('SELECT * FROM DB.S.T');
  await waiting();
  governance.reconfigure(policyOf(`${role}max_scan_rows = 10\n`), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, 'SCAN_LIMIT', r.text);
  assert.match(r.text, /estimates it reads about 1000000 rows; role \\"ann\\" may read at most 10 rows per statement \(max_scan_rows\)/);
  assert.deepEqual(sent, [], 'the statement over the new limit never ran');
  governance.close();
});

test('a query waiting for a slot runs under the row cap, statement timeout and quota of its role as a reload left it', async () => {
  const { governance, sent, options, call, holdSlot, waiting } = setup('[roles.wide]\nidentities = ["ann"]\nrow_cap_pushdown = true\n');
  const free = await holdSlot();
  let shownCap: number | undefined;
  // As execute_query asks: the role's row cap for the call, taken as the body starts (before the queue).
  const result = call('execute_query', async ({ warehouse: w, ctx, rowCap, noteSql }) => {
    noteSql('SELECT X FROM DB.S.T');
    const r = await w.query('SELECT X FROM DB.S.T', { ...ctx, maxRows: rowCap(undefined) });
    shownCap = rowCap(undefined);
    return { content: [{ type: 'text', text: String(r.rowCount) }] };
  });
  await waiting();
  // The reload moves ann to another role, with a lower row cap, a statement timeout and a rows quota.
  governance.reconfigure(policyOf('[roles.narrow]\nidentities = ["ann"]\nrow_cap_pushdown = true\nmax_rows = 20\nstatement_timeout = "7s"\n[roles.narrow.quota]\nwindow = "1h"\nrows = 5\n'), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, undefined, r.text);
  assert.equal(sent.length, 1);
  assert.equal(options[0]!.timeoutMs, 7000, "the role's new statement_timeout applies in the warehouse");
  assert.equal(options[0]!.timeoutSetting, 'roles.narrow.statement_timeout');
  assert.equal(options[0]!.maxRows, 5, "the role's new rows quota (5 left) caps what the warehouse returns");
  assert.match(sent[0]!, /LIMIT 21$/, "the pushed-down cap is the role's new max_rows");
  assert.equal(shownCap, 20, "the tool's row cap is the role's as it is now");
  assert.equal(r.text, JSON.stringify([{ type: 'text', text: '5' }]));
  // The rows it received count against the new role's quota: none left for the next call.
  const next = errorOf(await call('execute_query', async ({ warehouse: w, ctx }) => {
    await w.query('SELECT X FROM DB.S.T', { ...ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: 'ran' }] };
  }));
  assert.equal(next.code, 'QUOTA_EXCEEDED', next.text);
  governance.close();
});

test('a later statement of a call that adopted a reloaded role is judged before the queue under that role, not the old one', async () => {
  const role = '[roles.ann]\nidentities = ["ann"]\n';
  const { governance, sent, call, holdSlot, waiting } = setup(`${role}deny = ["*.HR.*"]\n`);
  const free = await holdSlot();
  // Two statements in one call (as run_script or a tool's follow-up query): the first waits for a slot.
  const result = call('execute_query', async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT 1');
    await w.query('SELECT 1', { ...ctx, maxRows: 1 });
    await w.query('SELECT * FROM DB.HR.PAY', { ...ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: 'ran both' }] };
  });
  await waiting();
  // The reload gives ann HR: the first statement, judged again, runs under the role as it is now — so must the second.
  governance.reconfigure(policyOf(role), LIMITS);
  free();
  const r = errorOf(await result);
  assert.equal(r.code, undefined, r.text);
  assert.deepEqual(sent, ['SELECT 1', 'SELECT * FROM DB.HR.PAY']);
  governance.close();
});
