/**
 * The call pipeline's order is a property of the design, checked here without a hub: a refusal by a
 * cheap rule never causes a login (or even a target resolution), a rate refusal never runs the tool body
 * (so its SQL is never read), SQL and object refusals happen before the warehouse is opened, every call
 * ends in one record, and the tools folder has no way to a warehouse but the pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { SnowmuxError } from '../../src/errors.js';
import { AUDIT_MAX_TEXT_CHARS } from '../../src/hub/audit/audit-redact.js';
import { KnownSecrets } from '../../src/hub/audit/known-secrets.js';
import type { CallTracer, SpanAttributes } from '../../src/hub/observe/tracing.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import type { LimitSettings } from '../../src/hub/config/config-schema.js';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { ACTIVE_HTTP_SESSION_MS, Governance, type TeamRateLimits } from '../../src/hub/governance/governance.js';
import type { CallRecord, CallSink } from '../../src/hub/observe/call-record.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CALL_STAGES, CallPipeline, type ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { toolError } from '../../src/hub/pipeline/call-state.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { STATEMENT_STAGES } from '../../src/hub/pipeline/statement-pipeline.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { ObjectKind, QueryOptions, QueryResult, Warehouse } from '../../src/hub/warehouse/types.js';
import type { WarehouseProvider, WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';
import { truncationNotice } from '../../src/hub/tools/result-format.js';
import { repoRoot } from '../helpers/paths.js';
import { ManualClock } from '../../src/hub/guard/clock.js';
import { rateLimitedError } from '../../src/hub/guard/rate-limit.js';

const config = parseConfigText(`
[roles.lister]
identities = ["lister"]
tools = ["list_databases"]
[roles.reader]
identities = ["reader"]
deny = ["*.HR.*"]
[roles.scoped]
identities = ["scoped"]
allow = ["*.S.*"]
[roles.slow]
identities = ["slow"]
[roles.slow.rate]
per_second = 0.001
burst = 1
[roles.budget]
identities = ["budget"]
deny = ["*.HR.*"]
[roles.budget.quota]
window = "1h"
queries = 3
[roles.capped]
identities = ["erin"]
clients = ["capped-*"]
[roles.capped.quota]
window = "1h"
queries = 2
[roles.capped.rate]
per_second = 0.001
burst = 4
[roles.rowq]
identities = ["rowq"]
max_rows = 1000
[roles.rowq.quota]
window = "1h"
rows = 10
[roles.byteq]
identities = ["byteq"]
[roles.byteq.quota]
window = "1h"
bytes = 100
[roles.writer]
identities = ["writer"]
write = true
[roles.brief]
identities = ["brief"]
statement_timeout = "2s"
`, 'test.toml');

class CountingWarehouse implements Warehouse {
  readonly kind = 'duckdb' as const;
  readonly queries: string[] = [];
  /** Tables per `DATABASE.SCHEMA`, as the catalog lists them. */
  readonly tables = new Map<string, string[]>([['DB.S', ['T', 'SECRET', 'ÄRGER']], ['OTHER.S', ['SECRET']]]);
  readonly listings: string[] = [];
  info() {
    return { kind: 'duckdb' as const, name: 'counting', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 };
  }
  async query(sql: string, _o: QueryOptions): Promise<QueryResult> {
    this.queries.push(sql);
    if (sql.includes('FAILS_AT_RUN_TIME')) throw new SnowmuxError('SQL_ERROR', 'Division by zero');
    if (sql.includes('TIMES_OUT')) throw new SnowmuxError('QUERY_TIMEOUT', 'The query ran past its 2 s timeout and was cancelled.');
    if (sql.includes('NO_CONNECTION')) throw new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'Could not reach the warehouse.');
    if (sql.includes('NO_SUCH_TABLE')) throw new SnowmuxError('OBJECT_NOT_FOUND', 'Table NO_SUCH_TABLE does not exist.');
    if (sql.includes('NO_SUCH_COLUMN')) throw new SnowmuxError('SQL_ERROR', 'Binder Error: column NO_SUCH_COLUMN not found', { details: { notRun: true } });
    if (sql.includes('MANY_ROWS')) return manyRows(_o);
    if (sql.includes('WAITS_FOR_CANCEL')) {
      await new Promise((_, reject) => _o.signal.addEventListener('abort', () => reject(new SnowmuxError('QUERY_CANCELLED', 'The statement was cancelled.', { details: { queryId: 'q-waits' } })), { once: true }));
    }
    return { columns: [{ name: 'X', type: 'INTEGER' }], rows: [[1]], rowCount: 1, truncated: false, elapsedMs: 0 };
  }
  async listDatabases() {
    return [{ name: 'DB' }];
  }
  async listSchemas() {
    return [];
  }
  async listObjects(database: string, schema: string, kind: ObjectKind) {
    this.listings.push(`${database}.${schema} ${kind}`);
    return kind === 'table' ? (this.tables.get(`${database}.${schema}`) ?? []).map((name) => ({ database, schema, name, kind })) : [];
  }
  async describeObject() {
    return [];
  }
  async close() {}
}

/** 1000 one-column rows, read as a warehouse reads them: up to the call's maxRows, then its maxBytes. */
function manyRows(options: QueryOptions): QueryResult {
  const rows: number[][] = [];
  let bytes = 0;
  let truncatedBy: 'rows' | 'bytes' | undefined;
  for (let i = 0; i < 1000 && truncatedBy === undefined; i++) {
    const size = JSON.stringify([i]).length;
    if (rows.length === options.maxRows) truncatedBy = 'rows';
    else if (options.maxBytes !== undefined && bytes + size > options.maxBytes) truncatedBy = 'bytes';
    else {
      rows.push([i]);
      bytes += size;
    }
  }
  return { columns: [{ name: 'X', type: 'INTEGER' }], rows, rowCount: rows.length, truncated: truncatedBy !== undefined, truncatedBy, queryId: 'q-many', elapsedMs: 0 };
}

function setup(opts: { badTarget?: boolean; kind?: WarehouseTarget['kind']; logLevel?: 'silent' | 'info' | 'debug'; hold?: Promise<void>; limits?: Partial<LimitSettings>; audit?: Partial<CallSink>; tracer?: CallTracer; secrets?: KnownSecrets } = {}) {
  const logged = new PassThrough();
  const logLines: Record<string, unknown>[] = [];
  logged.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const logger = createLogger({ destination: logged, level: opts.logLevel ?? 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger, ...(opts.limits ? { limits: opts.limits } : {}) });
  const warehouse = new CountingWarehouse();
  const counts = { targets: 0, opens: 0 };
  const target: WarehouseTarget = {
    kind: opts.kind ?? 'duckdb',
    name: 'counting',
    defaultDatabase: 'DB',
    defaultSchema: 'S',
    open: async () => {
      counts.opens++;
      return warehouse;
    },
  };
  const warehouses: WarehouseProvider = {
    targetFor: () => {
      counts.targets++;
      if (opts.badTarget) throw new SnowmuxError('CONFIG_INVALID', 'profile "nope" is not defined');
      return target;
    },
  };
  const records: CallRecord[] = [];
  /** What the audit log was told before a statement ran, with the warehouse's queries seen by then. */
  const started: { record: CallRecord; queriesBefore: number }[] = [];
  const sink = {
    record: (r: CallRecord) => (records.push(r), opts.hold),
    recordStarted: async (r: CallRecord) => void started.push({ record: r, queriesBefore: warehouse.queries.length }),
    ...opts.audit,
  };
  const pipeline = new CallPipeline({ warehouses, governance, limits: DEFAULT_LIMITS, logger, sink, tracer: opts.tracer, secrets: opts.secrets });
  let n = 0;
  const call = (identity: string, tool: string, body: ToolBody, client?: string) => {
    const session = new Session({ id: `s-${identity}${client === undefined ? '' : `-${client}`}`, identity: { kind: 'local-user', name: identity }, transport: 'stdio' });
    if (client !== undefined) session.client = { name: client, version: '1' };
    return pipeline.run(session, tool, { id: String(++n), signal: new AbortController().signal }, { q: 1 }, body);
  };
  return { governance, warehouse, counts, records, started, call, logLines, pipeline };
}

const codeOf = (r: { _meta?: Record<string, unknown> | undefined }) => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

test('the stages, in order: cheapest refusals first, the warehouse last', () => {
  assert.deepEqual(CALL_STAGES.map((s) => s.name), ['trace', 'audit', 'audit-gate', 'usage', 'tool-policy', 'rate-limit', 'quota', 'target', 'settings-notice']);
  assert.deepEqual(STATEMENT_STAGES.map((s) => s.name), ['accounting', 'quota-spent', 'sql-policy', 'call-context', 'object-policy', 'row-cap', 'open-warehouse', 'metadata-cache', 'name-resolution', 'queue', 'team-slot', 'rules-current', 'scan-limit', 'quota-charge', 'breaker', 'retry', 'write-intent']);
  // The quota is charged after every stage that refuses by a rule: only the breaker (a warehouse that is down)
  // and retries come after it, and a statement they stop never started, so settle gives its count back.
  // A write's intent is recorded last, so nothing after it can refuse the statement.
  const names = STATEMENT_STAGES.map((s) => s.name);
  assert.deepEqual(names.slice(names.indexOf('quota-charge') + 1), ['breaker', 'retry', 'write-intent']);
});

test('a role refusal never resolves a target, logs in or runs the body; it is recorded once', async () => {
  const { counts, records, call, governance } = setup();
  let ran = false;
  const r = await call('lister', 'execute_query', async () => {
    ran = true;
    return { content: [] };
  });
  assert.equal(codeOf(r), 'POLICY_DENIED');
  assert.equal(ran, false);
  assert.deepEqual(counts, { targets: 0, opens: 0 });
  assert.equal(records.length, 1);
  assert.equal(records[0]!.outcome, 'refused');
  assert.equal(records[0]!.errorCode, 'POLICY_DENIED');
  governance.close();
});

test("a call's log lines carry its session, request and tool, at the levels asked for", async () => {
  for (const level of ['info', 'debug'] as const) {
    const { call, governance, logLines } = setup({ logLevel: level });
    await call('lister', 'execute_query', async () => ({ content: [] }));
    await call('reader', 'execute_query', async () => ({ content: [] }));
    await new Promise((r) => setImmediate(r));
    const failed = logLines.filter((l) => l.msg === 'tool call failed');
    assert.equal(failed.length, 1, level);
    assert.deepEqual([failed[0]!.session, failed[0]!.request, failed[0]!.tool, failed[0]!.code], ['s-lister', '1', 'execute_query', 'POLICY_DENIED']);
    // The reason is its own field: as `msg` it was written twice in one line, and readers kept only the last.
    assert.match(String(failed[0]!.reason), /role/);
    assert.equal(failed[0]!.level, 30, "a caller's refusal is info");
    const done = logLines.filter((l) => l.msg === 'tool call done');
    assert.deepEqual(done.map((l) => [l.session, l.request, l.tool, l.outcome]), level === 'debug' ? [['s-lister', '1', 'execute_query', 'refused'], ['s-reader', '2', 'execute_query', 'ok']] : [], level);
    governance.close();
  }
});

test("a failed call's log line keeps no credential of its SQL that the engine's error quoted (DuckDB's LINE 1: …)", async () => {
  const { call, governance, logLines, records } = setup({ logLevel: 'info' });
  const sql = "SELECT * FROM accounts WHERE api_token = 'tok_live_9f8e7d' AND pw_hint = 'x'";
  // What DuckDB answers such a statement with: the whole line of SQL, quoted under the error.
  await call('reader', 'execute_query', async (c) => {
    c.noteSql(sql);
    throw new SnowmuxError('OBJECT_NOT_FOUND', `Catalog Error: Table with name accounts does not exist!\n\nLINE 1: ${sql}\n                      ^`);
  });
  await call('reader', 'execute_query', async (c) => {
    c.noteSql("CREATE SECRET (TYPE s3, KEY_ID 'AKIAEXAMPLE', SECRET 'wJalrXUtnFEMI')");
    throw new Error("unexpected: could not parse SECRET 'wJalrXUtnFEMI' near KEY_ID 'AKIAEXAMPLE'");
  });
  await new Promise((r) => setImmediate(r));
  const lines = JSON.stringify(logLines);
  for (const secret of ['tok_live_9f8e7d', 'wJalrXUtnFEMI', 'AKIAEXAMPLE']) assert.equal(lines.includes(secret), false, secret);
  const failed = logLines.filter((l) => l.msg === 'tool call failed' || l.msg === 'tool failed unexpectedly');
  assert.equal(failed.length, 2);
  assert.match(String(failed[0]!.reason), /LINE 1: SELECT \* FROM accounts WHERE api_token = '\[REDACTED\]' AND pw_hint = 'x'/);
  assert.match(JSON.stringify(failed[1]!.err), /could not parse SECRET '\[REDACTED\]'/);
  // The audit's copy of the SQL hides them too (runtime.scrubCall); the raw record here is the hub's own.
  assert.equal(records.length, 2);
  governance.close();
});

test("a failed call's log line keeps no credential that stands past the part of a long statement the audit reads (an IN list of 40,000 characters before it)", async () => {
  const { call, governance, logLines } = setup({ logLevel: 'info' });
  const list = Array.from({ length: 8000 }, (_, i) => String(i)).join(',');
  const statements = [
    `SELECT * FROM (SELECT 1 AS api_token) WHERE api_token IN (${list}) AND api_token = 'tok_live_late_9f8e'`,
    `SELECT * FROM t WHERE id IN (${list}); ALTER USER eve SET PASSWORD = $$late-dollar-pw$$`,
    `SELECT * FROM t WHERE id IN (${list}) AND note = 'it\\'s' AND "SECRET_STRING" /* c */ => 'late-after-backslash'`,
    `SELECT * FROM t WHERE id IN (${list}); ATTACH 'postgres://bob:late-url-pw@db/x' AS p`,
  ];
  for (const sql of statements) {
    assert.ok(sql.length > 2 * AUDIT_MAX_TEXT_CHARS);
    await call('reader', 'execute_query', async (c) => {
      c.noteSql(sql);
      // What DuckDB answers: the value it could not convert, and the end of the line it failed on.
      throw new SnowmuxError('SQL_ERROR', `Conversion Error: Could not convert string '${sql.slice(-30)}' to INT32\n\nLINE 1: ...${sql.slice(-90)}\n      ^`);
    });
  }
  await new Promise((r) => setImmediate(r));
  const failed = logLines.filter((l) => l.msg === 'tool call failed');
  assert.equal(failed.length, statements.length);
  const lines = JSON.stringify(logLines);
  for (const secret of ['tok_live_late_9f8e', 'late-dollar-pw', 'late-after-backslash', 'late-url-pw']) assert.equal(lines.includes(secret), false, secret);
  assert.match(String(failed[0]!.reason), /LINE 1: \.\.\.[\d,]+\) AND api_token = '\[REDACTED\]'/);
  governance.close();
});

test("a call's trace spans carry no secret the hub or the session knows: a client name, an identity or a profile holding one is scrubbed as in the audit record", async () => {
  const secrets = new KnownSecrets();
  secrets.hub.add(['hub-redis-pw-7f3e']);
  const client = 'agent hub-redis-pw-7f3e editor-own-pw-91ab';
  // The session's id as setup() names it; the session's own secret (its forwarded SNOWFLAKE_PASSWORD, say).
  secrets.addSession(`s-reader-${client}`, ['editor-own-pw-91ab']);
  const spans: { name: string; attributes: SpanAttributes[] }[] = [];
  const tracer: CallTracer = {
    startCall: (name, _carrier, attributes) => {
      const root = { name, attributes: [attributes] };
      spans.push(root);
      return {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        child: (childName, childAttributes) => {
          const child = { name: childName, attributes: childAttributes ? [childAttributes] : [] };
          spans.push(child);
          return { end: (more) => void (more && child.attributes.push(more)) };
        },
        end: (more, failure) => void root.attributes.push(more, { failure }),
      };
    },
    snapshot: () => ({}),
    shutdown: async () => {},
  };
  const { call, governance } = setup({ tracer, secrets });
  await call('reader', 'execute_query', async (c) => {
    c.noteSql('SELECT 1');
    await c.warehouse.query('SELECT 1', { ...c.ctx, maxRows: 1 });
    return { content: [] };
  }, client);
  const exported = JSON.stringify(spans);
  assert.ok(spans.length >= 2, exported);
  assert.match(exported, /"snowmux.client":"agent \[REDACTED\] \[REDACTED\]/);
  for (const secret of ['hub-redis-pw-7f3e', 'editor-own-pw-91ab']) assert.equal(exported.includes(secret), false, `${secret} in ${exported}`);
  governance.close();
});

test("a call the warehouse failed is logged at warn with its reason (the operator's to see); a caller's own error at info", async () => {
  const { call, governance, logLines } = setup({ logLevel: 'info' });
  await call('reader', 'execute_query', async () => {
    throw new SnowmuxError('AUTH_FAILED', 'Snowflake refused the login for user ALICE: the key was rotated.');
  });
  await call('reader', 'execute_query', async () => {
    throw new SnowmuxError('SQL_ERROR', 'Binder Error: column X not found');
  });
  await new Promise((r) => setImmediate(r));
  const failed = logLines.filter((l) => l.msg === 'tool call failed');
  assert.deepEqual(failed.map((l) => [l.code, l.level, l.reason]), [
    ['AUTH_FAILED', 40, 'Snowflake refused the login for user ALICE: the key was rotated.'],
    ['SQL_ERROR', 30, 'Binder Error: column X not found'],
  ]);
  governance.close();
});

test('a sink that holds the answer (an audit log behind its writes) is waited for: the call answers only once its record is written', async () => {
  let release!: () => void;
  const { call, records, governance } = setup({ hold: new Promise<void>((r) => (release = r)) });
  let answered = false;
  const pending = call('reader', 'execute_query', async () => ({ content: [] })).then((r) => {
    answered = true;
    return r;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(records.length, 1);
  assert.equal(answered, false);
  release();
  assert.equal(codeOf(await pending), undefined);
  governance.close();
});

test('a statement the warehouse ran counts against the quota whatever became of it; one the hub refused or the warehouse never started does not', async () => {
  const { call, governance } = setup();
  const running = (sql: string): ToolBody => async ({ warehouse: w, ctx, noteSql }) => {
    noteSql(sql);
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  // Neither a refused write, a warehouse that could not be reached nor an unknown table spends the budget of 3 queries.
  assert.equal(codeOf(await call('budget', 'execute_query', running('DELETE FROM T'))), 'SQL_REFUSED');
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT NO_CONNECTION FROM T'))), 'WAREHOUSE_UNAVAILABLE');
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT * FROM NO_SUCH_TABLE'))), 'OBJECT_NOT_FOUND');
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT NO_SUCH_COLUMN FROM T'))), 'SQL_ERROR');
  // A run-time failure and a timeout had the warehouse working: before, they were free, without limit.
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT FAILS_AT_RUN_TIME FROM T'))), 'SQL_ERROR');
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT TIMES_OUT FROM T'))), 'QUERY_TIMEOUT');
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT 1 FROM T'))), undefined);
  assert.equal(codeOf(await call('budget', 'execute_query', running('SELECT 1 FROM T'))), 'QUOTA_EXCEEDED');
  governance.close();
});

test("calls of one identity running at once are refused exactly at its queries quota on a hub without a team", async () => {
  // The query used to be checked before it ran and counted after: 10 calls at once all passed a budget of 3.
  const { call, governance, warehouse } = setup();
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held: ToolBody = async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT 1 FROM T');
    await w.query('SELECT 1 FROM T', { ...ctx, maxRows: 1 });
    await gate; // none of them has finished (been settled) while the others are admitted
    return { content: [] };
  };
  const calls = Array.from({ length: 10 }, () => call('budget', 'execute_query', held));
  await new Promise((resolve) => setImmediate(resolve));
  open();
  const codes = (await Promise.all(calls)).map(codeOf);
  assert.equal(codes.filter((c) => c === undefined).length, 3, JSON.stringify(codes));
  assert.equal(codes.filter((c) => c === 'QUOTA_EXCEEDED').length, 7);
  assert.equal(warehouse.queries.filter((q) => q === 'SELECT 1 FROM T').length, 3, 'the warehouse ran 3 statements');
  const quota = (governance.snapshot() as { quotas: { identity: string; windows: { used: { queries: number } }[] }[] }).quotas;
  assert.equal(quota.find((q) => q.identity === 'budget')?.windows[0]?.used.queries, 3, 'counted once each');
  governance.close();
});

test("one call cannot return more than what is left of a rows or bytes quota: its caps are lowered to it, and the answer says so", async () => {
  // rows = 10 per hour and max_rows = 1000: one call under budget used to return all 1000 rows.
  const { call, governance } = setup();
  const seen: QueryResult[] = [];
  const many: ToolBody = async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT MANY_ROWS FROM T');
    const result = await w.query('SELECT MANY_ROWS FROM T', { ...ctx, maxRows: 1000, maxBytes: 1_000_000 });
    seen.push(result);
    return { content: [{ type: 'text', text: truncationNotice(result, { maxRows: 1000, maxBytes: 1_000_000, canPage: true, canRaise: false }) ?? '' }] };
  };
  const answer = await call('rowq', 'execute_query', many);
  assert.equal(seen[0]?.rowCount, 10);
  assert.equal(seen[0]?.quotaCut?.metric, 'rows');
  assert.equal(seen[0]?.quotaCut?.left, 10);
  const text = (answer.content[0] as { text: string }).text;
  assert.match(text, /^Result truncated: Showing rows 1–10; your quota had 10 rows left \(10 rows returned per hour\), and the call was cut there\. The quota refills at \d{4}-\d\d-\d\dT\d\d:00:00Z; then page on with fetch_results\(query_id="q-many", offset=10\)\./);
  assert.equal(codeOf(await call('rowq', 'execute_query', many)), 'QUOTA_EXCEEDED', 'the budget is spent, not overshot');
  const rowsUsed = (governance.snapshot() as { quotas: { identity: string; windows: { used: { rows: number } }[] }[] }).quotas;
  assert.equal(rowsUsed.find((q) => q.identity === 'rowq')?.windows[0]?.used.rows, 10);

  // A bytes budget caps the answer's bytes the same way: [0],[1],… are 3 to 5 bytes as JSON.
  await call('byteq', 'execute_query', many);
  const cut = seen[1]!;
  assert.equal(cut.quotaCut?.metric, 'bytes');
  // Counted as the cap counts them (each row's JSON, summed), the budget is spent and not passed.
  const bytesUsed = (governance.snapshot() as { quotas: { identity: string; windows: { used: { bytes: number } }[] }[] }).quotas.find((q) => q.identity === 'byteq')?.windows[0]?.used.bytes;
  assert.equal(bytesUsed, cut.rows.reduce((sum, row) => sum + JSON.stringify(row).length, 0));
  assert.ok(bytesUsed! <= 100 && bytesUsed! > 100 - 5, `${bytesUsed} bytes charged`);
  assert.ok(cut.rowCount > 10 && cut.rowCount < 40, `${cut.rowCount} rows`);
  // What a call without a budget gets is untouched.
  await call('reader', 'execute_query', many);
  assert.equal(seen[2]?.rowCount, 1000);
  assert.equal(seen[2]?.quotaCut, undefined);
  governance.close();
});

/** Runs one execute_query for alice that is cancelled while it waits (for the hub's queue or the team's slot); its record. */
async function cancelledWhileWaiting(ctx: ReturnType<typeof setup>): Promise<CallRecord> {
  const controller = new AbortController();
  const session = new Session({ id: 's-waiter', identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' });
  const body: ToolBody = async ({ warehouse: w, ctx: c, noteSql }) => {
    noteSql('SELECT 1 FROM T');
    await w.query('SELECT 1 FROM T', { ...c, maxRows: 1 });
    return { content: [] };
  };
  const result = ctx.pipeline.run(session, 'execute_query', { id: '1', signal: controller.signal }, { q: 1 }, body);
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  assert.equal(codeOf(await result), 'QUERY_CANCELLED');
  assert.equal(ctx.records.length, 1);
  return ctx.records[0]!;
}

test('a call cancelled while it waits in the queue is recorded with the time it waited', async () => {
  const ctx = setup({ limits: { maxConcurrentQueries: 2 } });
  const held = [await ctx.governance.scheduler.schedule('other'), await ctx.governance.scheduler.schedule('other')];
  const record = await cancelledWhileWaiting(ctx);
  assert.equal(ctx.warehouse.queries.length, 0);
  assert.ok(record.queueWaitMs > 0, `queueWaitMs ${record.queueWaitMs}`);
  assert.equal(record.runMs, 0);
  for (const r of held) r.release();
  ctx.governance.close();
});

test("a call cancelled while it waits for the team's slot is recorded with the time it waited, as queue wait", async () => {
  const ctx = setup({ limits: { teamMaxConcurrentQueries: 1 } });
  const { team } = fakeTeam();
  // Every team slot is taken: the call waits until it is cancelled.
  team.acquireSlot = (_scope, _limit, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new SnowmuxError('QUERY_CANCELLED', 'cancelled')), { once: true }));
  ctx.governance.useTeam(team);
  const record = await cancelledWhileWaiting(ctx);
  assert.ok(record.queueWaitMs > 0, `queueWaitMs ${record.queueWaitMs}`);
  assert.ok(record.runMs < record.queueWaitMs, `runMs ${record.runMs} holds no wait`);
  ctx.governance.close();
});

/**
 * A team's Redis as the quota sees it: one atomic check-and-count per admission. Refunds (a negative count)
 * can be held, so a test can look at the budget while refused calls are between their refusal and their settle.
 */
function fakeTeam() {
  const used = new Map<string, number>();
  const refunds: { arrived: number; held: Promise<void>; release: () => void; onArrival?: () => void } = { arrived: 0, held: Promise.resolve(), release: () => {} };
  const team: TeamRateLimits = {
    take: async () => undefined,
    async quotaAdmit(holder, rules, count) {
      await Promise.resolve();
      const queries = used.get(holder) ?? 0;
      const over = rules.some((r) => r.queries !== undefined && queries >= r.queries);
      if (count && !over) used.set(holder, queries + 1);
      return { reserved: count && !over, usage: new Map(rules.map((r) => [r.windowMs, { queries, rows: 0, bytes: 0, scanBytes: 0 }])), at: Date.now() };
    },
    async quotaRecord(holder, _windows, usage) {
      if (usage.queries < 0) {
        refunds.arrived++;
        refunds.onArrival?.();
        await refunds.held;
      }
      used.set(holder, (used.get(holder) ?? 0) + usage.queries);
      return true;
    },
    rememberOwner: async () => false,
    ownerOf: async () => undefined,
    acquireSlot: async () => undefined,
  };
  return { team, used, refunds };
}

test('calls a rule refuses hold none of a team quota: concurrent refused writes at the edge leave an allowed query its budget', async () => {
  // The quota stage counted each call's query on admission and gave it back at settle: refused writes in
  // flight at the same time read as spent budget, and another call of the identity was refused QUOTA_EXCEEDED.
  const { call, governance, warehouse } = setup();
  const { team, used, refunds } = fakeTeam();
  governance.useTeam(team);
  const query = (sql: string): ToolBody => async ({ warehouse: w, ctx, noteSql }) => {
    noteSql(sql);
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  assert.equal(codeOf(await call('budget', 'execute_query', query('SELECT 1 FROM T'))), undefined);
  assert.equal(codeOf(await call('budget', 'execute_query', query('SELECT 2 FROM T'))), undefined);
  // One query of 3 left. Five writes the read-only role refuses, held (if they took any budget) before they give it back.
  let release!: () => void;
  refunds.held = new Promise<void>((resolve) => (release = resolve));
  // Each write ends up answered or held giving back what it took.
  let settled = 0;
  let allSettled!: () => void;
  const done = new Promise<void>((resolve) => (allSettled = resolve));
  const bump = () => ++settled === 5 && allSettled();
  refunds.onArrival = bump;
  const writes = Array.from({ length: 5 }, () => call('budget', 'execute_query', query('DELETE FROM T')).finally(bump));
  await done;
  assert.equal(codeOf(await call('budget', 'execute_query', query('SELECT 3 FROM T'))), undefined, 'the last unit of the budget is still there');
  release();
  assert.deepEqual((await Promise.all(writes)).map(codeOf), Array(5).fill('SQL_REFUSED'));
  assert.equal(refunds.arrived, 0, 'no refused write was charged');
  assert.equal(used.get('budget\u0000budget'), 3);
  assert.equal(codeOf(await call('budget', 'execute_query', query('SELECT 4 FROM T'))), 'QUOTA_EXCEEDED', 'and the budget holds exactly');
  assert.deepEqual(warehouse.queries, ['SELECT 1 FROM T', 'SELECT 2 FROM T', 'SELECT 3 FROM T']);
  governance.close();
});

test('a call refused by any rule after the quota stage is never charged to a team quota', async () => {
  const { call, governance } = setup();
  const { team, used, refunds } = fakeTeam();
  governance.useTeam(team);
  const query = (sql: string): ToolBody => async ({ warehouse: w, ctx, noteSql }) => {
    noteSql(sql);
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  const refused = [
    ['DELETE FROM T', 'SQL_REFUSED'],
    ['SELECT 1; SELECT 2', 'SQL_MULTI_STATEMENT'],
    ['SELECT * FROM HR.SALARIES', 'POLICY_DENIED'],
    ['SELECT * FROM SECRET', undefined],
  ] as const;
  for (const [sql, code] of refused.slice(0, 3)) assert.equal(codeOf(await call('budget', 'execute_query', query(sql))), code, sql);
  // A listing is no query: it passes the quota stage's check and is never charged either.
  assert.equal(codeOf(await call('budget', 'list_databases', async ({ warehouse: w, ctx }) => ({ content: [], structuredContent: { d: await w.listDatabases(ctx) } }))), undefined);
  assert.equal(used.get('budget\u0000budget') ?? 0, 0);
  assert.equal(refunds.arrived, 0, 'nothing was reserved, so nothing was given back');
  assert.equal(codeOf(await call('budget', 'execute_query', query(refused[3][0]))), refused[3][1]);
  assert.equal(used.get('budget\u0000budget'), 1, 'an allowed query is charged once');
  governance.close();
});

test('a role\'s quota and rate count that role\'s calls, whatever the same user\'s editors under other roles do meanwhile', async () => {
  // Usage was per identity, under the rules of the role of the identity's latest call: when the other
  // editor's call (a role without a quota) came between the capped call's check and its settle, the capped
  // query was never counted, and the capped role ran 8 queries of a budget of 3 (the other editor's calls
  // also took from the same rate bucket, at whichever role's limit called last).
  const { call, governance } = setup();
  const query = (sql: string): ToolBody => async ({ warehouse: w, ctx, noteSql }) => {
    noteSql(sql);
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  const outcomes: (string | undefined)[] = [];
  const wide: (string | undefined)[] = [];
  for (let i = 0; i < 5; i++) {
    let bodyRan!: () => void;
    const running = new Promise<void>((resolve) => (bodyRan = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The capped editor's query has run and its call is not settled yet when the other editor's call comes and goes.
    const capped = call('erin', 'execute_query', async (c) => {
      const result = await query('SELECT 1 FROM T')(c);
      bodyRan();
      await held;
      return result;
    }, 'capped-editor');
    await Promise.race([running, capped]);
    wide.push(codeOf(await call('erin', 'execute_query', query('SELECT 2 FROM T'), 'wide-editor')));
    release();
    outcomes.push(codeOf(await capped));
  }
  // The quota (2 per hour) refuses the third and fourth; the rate (bursts of 4, the other editor's calls not
  // among them) the fifth.
  assert.deepEqual(outcomes, [undefined, undefined, 'QUOTA_EXCEEDED', 'QUOTA_EXCEEDED', 'RATE_LIMITED']);
  assert.deepEqual(wide, [undefined, undefined, undefined, undefined, undefined], 'the other role has no quota, and a rate of its own');
  const quota = (governance.snapshot() as { quotas: { identity: string; role?: string; windows: { used: { queries: number } }[] }[] }).quotas;
  assert.deepEqual(quota.map((q) => [q.identity, q.role, q.windows[0]!.used.queries]), [['erin', 'capped', 2]]);
  governance.close();
});

test('a rate refusal never runs the body, so its SQL is never read, and never logs in', async () => {
  const { counts, records, call, warehouse, governance } = setup();
  let bodies = 0;
  const body: ToolBody = async ({ warehouse: w, ctx }) => {
    bodies++;
    await w.query('SELECT 1', { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  assert.equal(codeOf(await call('slow', 'execute_query', body)), undefined);
  const refused = await call('slow', 'execute_query', body);
  assert.equal(codeOf(refused), 'RATE_LIMITED');
  assert.equal(bodies, 1);
  assert.equal(counts.opens, 1);
  assert.deepEqual(warehouse.queries, ['SELECT 1']);
  assert.deepEqual(records.map((r) => r.errorCode), [null, 'RATE_LIMITED']);
  governance.close();
});

test('SQL and object refusals come before the warehouse is opened (no login for a refused statement)', async () => {
  const { counts, call, warehouse, governance } = setup();
  const run = (sql: string) =>
    call('reader', 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
      noteSql(sql);
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [] };
    });
  assert.equal(codeOf(await run('DELETE FROM t')), 'SQL_REFUSED');
  assert.equal(codeOf(await run('SELECT * FROM hr.salaries')), 'POLICY_DENIED');
  assert.equal(codeOf(await run('SELECT 1; SELECT 2')), 'SQL_MULTI_STATEMENT');
  assert.equal(counts.opens, 0, 'nothing logged in');
  assert.deepEqual(warehouse.queries, []);
  assert.equal(codeOf(await run('SELECT * FROM t -- fine')), undefined);
  assert.equal(counts.opens, 1);
  assert.deepEqual(warehouse.queries, ['SELECT * FROM t'], 'the judged statement is what runs');
  governance.close();
});

test("names resolve in the schema the engine is in: another database's default schema, not the profile's", async () => {
  for (const [kind, schema] of [['snowflake', 'PUBLIC'], ['duckdb', 'main']] as const) {
    const { call, warehouse, governance } = setup({ kind });
    const run = (sql: string, database?: string, schemaArg?: string) =>
      call('scoped', 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
        noteSql(sql);
        await w.query(sql, { ...ctx, maxRows: 1, ...(database ? { database } : {}), ...(schemaArg ? { schema: schemaArg } : {}) });
        return { content: [{ type: 'text', text: 'ran' }] };
      });
    // The profile's schema S belongs to its database DB. In OTHER the engine starts in its default schema
    // (Snowflake's USE DATABASE lands in PUBLIC), so `secret` is OTHER.<that schema>.SECRET, which the role
    // may not read; judging it as OTHER.S.SECRET let it through.
    const refused = await run('SELECT * FROM secret', 'OTHER');
    assert.equal(codeOf(refused), 'POLICY_DENIED', kind);
    assert.match((refused.content[0] as { text: string }).text, new RegExp(`OTHER\\.("?)${schema}\\1\\.SECRET`), kind);
    assert.equal(codeOf(await run('SELECT * FROM secret', 'OTHER', 'S')), undefined, `${kind}: the call's own schema`);
    assert.equal(codeOf(await run('SELECT * FROM secret')), undefined, `${kind}: the profile's own context`);
    assert.equal(warehouse.queries.length, 2);
    governance.close();
  }
});

test('an allowed unqualified name that is not there, where the engine would read a refused object instead, is refused before it runs', async () => {
  for (const kind of ['snowflake', 'duckdb'] as const) {
    const { call, warehouse, governance } = setup({ kind });
    const run = (sql: string) =>
      call('scoped', 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
        noteSql(sql);
        await w.query(sql, { ...ctx, maxRows: 1 });
        return { content: [{ type: 'text', text: 'ran' }] };
      });
    const text = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;
    // DB.S.T exists: the engine reads it, whatever its search path says next.
    assert.equal(codeOf(await run('SELECT * FROM t')), undefined, kind);
    assert.equal(codeOf(await run('SELECT * FROM t JOIN secret USING (id)')), undefined, kind);
    // DB.S.NOSUCH does not: Snowflake would read DB.PUBLIC.NOSUCH, DuckDB DB.main.NOSUCH — outside "*.S.*".
    const missing = await run('SELECT * FROM nosuch');
    assert.equal(codeOf(missing), 'POLICY_DENIED', kind);
    const fallback = kind === 'snowflake' ? 'PUBLIC' : 'main';
    assert.match(text(missing), new RegExp(`DB\\.S\\.NOSUCH does not exist.*DB\\.("?)${fallback}\\1\\.NOSUCH.*qualify it fully`), kind);
    if (kind === 'duckdb') {
      // DuckDB's binder ignores the case of ASCII letters only: "ärger" is not DB.S's ÄRGER, so the engine
      // would read DB.main."ärger"; a Unicode fold took ÄRGER for it and let the statement run.
      assert.equal(codeOf(await run('SELECT * FROM "ärger"')), 'POLICY_DENIED');
      assert.equal(codeOf(await run('SELECT * FROM "Ärger"')), undefined);
      // DuckDB reads a two-part name as database.table when the database has no such schema.
      assert.equal(codeOf(await run('SELECT * FROM s.t')), undefined);
      const asDatabase = await run('SELECT * FROM s.nosuch');
      assert.equal(codeOf(asDatabase), 'POLICY_DENIED');
      assert.match(text(asDatabase), /reads the name as database\.object/);
    }
    assert.equal(codeOf(await run('SELECT * FROM db.s.nosuch')), undefined, `${kind}: a full name has nowhere else to go`);
    assert.ok(warehouse.queries.every((q) => !/nosuch/i.test(q) || /db\.s\.nosuch/i.test(q)), `${kind}: nothing refused ran: ${warehouse.queries.join(' | ')}`);
    // The catalog is read once per schema and kind: the metadata cache holds it.
    assert.equal(new Set(warehouse.listings).size, warehouse.listings.length, `${kind}: ${warehouse.listings.join(', ')}`);
    governance.close();
  }
});

test("name resolution's catalog look-up is a statement of the call: it waits for a queue slot and fails fast while the breaker is open", async () => {
  // metadata_cache_ttl 0: every call looks the name up in the catalog (on a miss, any TTL does the same).
  const { call, warehouse, governance } = setup({ kind: 'snowflake', limits: { maxConcurrentQueries: 1, metadataCacheTtlMs: 0, retryAttempts: 0 } });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const seen: { running: number; breaker: string }[] = [];
  const query = warehouse.query.bind(warehouse);
  warehouse.query = async (sql, options) => {
    if (sql.includes('HOLDS_THE_SLOT')) await gate;
    return query(sql, options);
  };
  const listObjects = warehouse.listObjects.bind(warehouse);
  warehouse.listObjects = async (database, schema, kind) => {
    seen.push({ running: governance.scheduler.snapshot().running, breaker: governance.breakerFor(warehouse).state });
    return listObjects(database, schema, kind);
  };
  const run = (identity: string, sql: string) =>
    call(identity, 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
      noteSql(sql);
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'ran' }] };
    });
  // The hub's one slot is taken: the look-up waits for it like the statement it is for.
  const holder = run('reader', 'SELECT 1 AS HOLDS_THE_SLOT');
  await new Promise<void>((resolve) => setImmediate(resolve));
  const scoped = run('scoped', 'SELECT * FROM t');
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(seen.length, 0, 'no catalog look-up ran past limits.max_concurrent_queries');
  open();
  assert.equal(codeOf(await holder), undefined);
  assert.equal(codeOf(await scoped), undefined);
  assert.ok(seen.length > 0 && seen.every((s) => s.running === 1), JSON.stringify(seen));
  // The warehouse is down and the breaker opens: the look-up is refused fast, it never reaches the warehouse.
  for (let i = 0; i < 6 && governance.breakerFor(warehouse).state !== 'open'; i++) await run('reader', 'SELECT NO_CONNECTION');
  assert.equal(governance.breakerFor(warehouse).state, 'open');
  seen.length = 0;
  assert.equal(codeOf(await run('scoped', 'SELECT * FROM t')), 'WAREHOUSE_CIRCUIT_OPEN');
  assert.equal(seen.length, 0, 'nothing reached a warehouse whose breaker is open');
  governance.close();
});

test('an editor that leaves gives back the slot kept for it: a call of the editor still there that waited for it starts at once', async () => {
  const { governance } = setup({ limits: { maxConcurrentQueries: 2 } });
  const a = new Session({ id: 's-a', identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' });
  const b = new Session({ id: 's-b', identity: { kind: 'local-user', name: 'alice' }, transport: 'stdio' });
  governance.sessionStarted(a);
  governance.sessionStarted(b);
  const running = await governance.scheduler.schedule(a.id, undefined, undefined, 'alice');
  let granted = false;
  const waiting = governance.scheduler.schedule(a.id, undefined, undefined, 'alice').then((slot) => ((granted = true), slot));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(granted, false, 'while b is there, a runs one of the two slots: the other is kept for b');
  governance.sessionEnded('alice', b.id);
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(granted, true, "b's kept slot went to a's waiting call, not after a's running query ends");
  assert.equal(governance.scheduler.snapshot().running, 2);
  (await waiting).release();
  running.release();
  governance.close();
});

test('a target that cannot resolve is reported as the call result and recorded; the body never runs', async () => {
  const { call, records, governance } = setup({ badTarget: true });
  let ran = false;
  const r = await call('reader', 'list_databases', async () => {
    ran = true;
    return { content: [] };
  });
  assert.equal(codeOf(r), 'CONFIG_INVALID');
  assert.match((r.content[0] as { text: string }).text, /nope/);
  assert.equal(ran, false);
  assert.equal(records.length, 1);
  governance.close();
});

test('an allowed call records its use: rows, profile, SQL', async () => {
  const { call, records, governance } = setup();
  await call('reader', 'list_databases', async ({ warehouse: w, ctx }) => {
    const dbs = await w.listDatabases(ctx);
    return { content: [{ type: 'text', text: dbs.map((d) => d.name).join() }] };
  });
  const [rec] = records;
  assert.equal(rec!.outcome, 'ok');
  assert.equal(rec!.rows, 1);
  assert.equal(rec!.profile, 'counting');
  assert.deepEqual(rec!.request, { q: 1 });
  governance.close();
});

test('an audit log that cannot write: under "refuse" every call is refused (recorded) before a rule or warehouse sees it; a call whose own record failed gets the error, not its result; a write whose write_started failed is never sent', async () => {
  const unavailable = new SnowmuxError('AUDIT_UNAVAILABLE', 'Audit records cannot be written to /a (ENOSPC)');
  let trouble: { refuse: boolean; error: SnowmuxError; since: string; code: string } | undefined = { refuse: true, error: unavailable, since: 'now', code: 'AUDIT_WRITE_FAILED' };
  let recordFails = false;
  let startedFails = false;
  const { call, records, warehouse, counts, governance } = setup({
    audit: {
      unavailable: () => trouble,
      record: (r: CallRecord) => {
        records.push(r);
        return recordFails ? Promise.reject(new SnowmuxError('AUDIT_UNAVAILABLE', 'the record of this call could not be written')) : undefined;
      },
      recordStarted: async () => {
        if (startedFails) throw new SnowmuxError('AUDIT_UNAVAILABLE', 'write_started could not be written; the statement was not sent');
      },
    },
  });
  const run = (identity: string, sql: string) => call(identity, 'execute_query', async ({ warehouse: w, ctx }) => {
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: 'rows' }] };
  });
  const refused = await run('reader', 'SELECT 1 FROM DB.S.T');
  assert.equal(codeOf(refused), 'AUDIT_UNAVAILABLE');
  assert.equal(counts.targets, 0, 'refused before the target (let alone a login)');
  assert.equal(warehouse.queries.length, 0);
  assert.deepEqual(records.map((r) => [r.outcome, r.errorCode]), [['refused', 'AUDIT_UNAVAILABLE']], 'the refusal is recorded: the log\'s next try');
  // "serve": the failure does not refuse calls.
  trouble = { ...trouble, refuse: false };
  assert.equal((await run('reader', 'SELECT 1 FROM DB.S.T')).isError, undefined);
  trouble = undefined;
  // The call's own record failed: its rows are withheld.
  recordFails = true;
  const withheld = await run('reader', 'SELECT 1 FROM DB.S.T');
  assert.equal(codeOf(withheld), 'AUDIT_UNAVAILABLE');
  assert.doesNotMatch(JSON.stringify(withheld.content), /rows/);
  recordFails = false;
  // A write whose write_started record failed never reaches the warehouse (whatever on_failure says).
  startedFails = true;
  const before = warehouse.queries.length;
  const write = await run('writer', 'INSERT INTO DB.S.T VALUES (1)');
  assert.equal(codeOf(write), 'AUDIT_UNAVAILABLE');
  assert.equal(warehouse.queries.length, before, 'the write was not sent');
  governance.close();
});

test('a statement that may change data is recorded before the warehouse runs it; reads, and writes a rule refuses, are not', async () => {
  const { call, records, started, warehouse, governance } = setup();
  const run = (identity: string, sql: string) => call(identity, 'execute_query', async ({ warehouse: w, ctx }) => {
    await w.query(sql, { ...ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: 'done' }] };
  });
  await run('writer', 'INSERT INTO DB.S.T VALUES (1)');
  assert.equal(started.length, 1);
  assert.equal(started[0]!.queriesBefore, 0, 'recorded before the warehouse got the statement');
  assert.equal(started[0]!.record.sql, 'INSERT INTO DB.S.T VALUES (1)');
  assert.equal(started[0]!.record.identity, 'writer');
  assert.equal(started[0]!.record.tool, 'execute_query');
  assert.equal(started[0]!.record.requestId, records[0]!.requestId, 'the same call as its tool_call record');
  assert.equal(warehouse.queries.length, 1);

  await run('writer', 'SELECT * FROM DB.S.T');
  await run('reader', 'INSERT INTO DB.S.T VALUES (2)');
  assert.equal(started.length, 1, 'a read, and a write the role may not make, leave no started record');
  assert.deepEqual(records.map((r) => r.outcome), ['ok', 'ok', 'refused']);
  governance.close();
});

test("a query call's record keeps its other arguments beside the SQL (bind values, database, schema, limit), without the SQL twice; so does a write's started record", async () => {
  const { pipeline, records, started, governance } = setup();
  const session = new Session({ id: 's-writer', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
  const run = (tool: string, args: Record<string, unknown>, sql: string) =>
    pipeline.run(session, tool, { id: tool, signal: new AbortController().signal }, args, async ({ warehouse: w, ctx, noteSql }) => {
      noteSql(sql);
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
  // A team tool: its SQL is the template, the values are what tell two calls apart.
  await run('nation_by_region', { region: 'ASIA' }, 'SELECT 1 FROM DB.S.T WHERE R = ?');
  await run('execute_query', { query: 'INSERT INTO T VALUES (1)', database: 'DB', schema: 'S', limit: 5 }, 'INSERT INTO T VALUES (1)');
  await run('execute_query', { query: 'SELECT 1' }, 'SELECT 1');
  assert.deepEqual(records.map((r) => r.outcome), ['ok', 'ok', 'ok']);
  assert.deepEqual(records[0]!.request, { region: 'ASIA' });
  assert.deepEqual(records[1]!.request, { database: 'DB', schema: 'S', limit: 5 }, 'an unqualified statement says where it was resolved');
  assert.equal(records[2]!.request, undefined, 'nothing beside the SQL: no request');
  assert.equal(started.length, 1);
  assert.deepEqual(started[0]!.record.request, { database: 'DB', schema: 'S', limit: 5 });
  governance.close();
});

test('a write cancelled while it ran is answered and recorded as possibly applied (check before running it again); a cancelled read is not', async () => {
  const { pipeline, governance, records } = setup();
  const runCancelled = async (identity: string, sql: string) => {
    const session = new Session({ id: `s-${identity}`, identity: { kind: 'local-user', name: identity }, transport: 'stdio' });
    const client = new AbortController();
    const result = pipeline.run(session, 'execute_query', { id: '1', signal: client.signal }, { query: sql }, async ({ warehouse: w, ctx }) => {
      setImmediate(() => client.abort());
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    const r = await result;
    assert.equal(r.isError, true);
    return (r.content[0] as { text: string }).text;
  };
  const write = await runCancelled('writer', 'INSERT INTO DB.S.T SELECT 1 WHERE WAITS_FOR_CANCEL = 1');
  assert.match(write, /^The client cancelled the call\. The statement may change data: a change that completed before the cancel reached the warehouse stays\. Check query_history \(query id q-waits\) before running it again\.$/);
  const read = await runCancelled('writer', 'SELECT WAITS_FOR_CANCEL FROM DB.S.T');
  assert.equal(read, 'The client cancelled the call.');
  assert.deepEqual(records.map((r) => [r.outcome, r.mayHaveRun]), [['cancelled', true], ['cancelled', undefined]], "the record says so too (audit's detail, query_history)");
  governance.close();
});

test('a write ended by its session closing or by the hub stopping is recorded as possibly applied too, and not retryable', async () => {
  const { pipeline, governance, records } = setup();
  const sql = 'INSERT INTO DB.S.T SELECT 1 WHERE WAITS_FOR_CANCEL = 1';
  const endedBy = async (end: (session: Session) => void) => {
    const session = new Session({ id: 's-writer', identity: { kind: 'local-user', name: 'writer' }, transport: 'stdio' });
    const result = pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal }, { query: sql }, async ({ warehouse: w, ctx }) => {
      setImmediate(() => end(session));
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    return result;
  };
  const gone = await endedBy((s) => s.close('the shim went away'));
  const stopped = await endedBy((s) => s.close('hub stopping', new SnowmuxError('HUB_STOPPING', 'The hub stopped while this call ran and cancelled it. Run it again.')));
  for (const r of [gone, stopped]) {
    assert.match((r.content[0] as { text: string }).text, /Check query_history \(query id q-waits\) before running it again\.$/);
    assert.equal((r._meta?.['dev.snowmux/error'] as { retryable: boolean }).retryable, false);
  }
  // Before, only a client cancel or a timeout said so: "Run it again" for a write that may have run.
  assert.deepEqual(records.map((r) => [r.errorCode, r.mayHaveRun, r.queryId]), [['QUERY_CANCELLED', true, 'q-waits'], ['HUB_STOPPING', true, 'q-waits']]);
  governance.close();
});

/** Static: the tools reach warehouses only through the pipeline's ToolCall; only one stage opens one. */
test('no tool can reach a warehouse except through the pipeline', () => {
  const dir = (p: string) => join(repoRoot, 'src', p);
  const offending: string[] = [];
  for (const file of readdirSync(dir('hub/tools'))) {
    const text = readFileSync(join(dir('hub/tools'), file), 'utf8');
    for (const m of text.matchAll(/^import (?!type )[^;]*from '\.\.\/(warehouse|governance)\/[^']+'/gm)) offending.push(`${file}: ${m[0]}`);
    if (/\.targetFor\(|\.forSession\(|\bnew GovernedWarehouse\b/.test(text)) offending.push(`${file}: builds its own warehouse`);
  }
  assert.deepEqual(offending, [], 'tools import warehouse and governance code only as types');
  const opens: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name.endsWith('.ts') && /\btarget\.open\(\)/.test(readFileSync(p, 'utf8'))) opens.push(p.slice(p.indexOf('src/')));
    }
  };
  walk(dir('hub'));
  assert.deepEqual(opens, ['src/hub/pipeline/stages/open-warehouse.ts', 'src/hub/warehouse/warehouse-registry.ts']);
});

/** Governance with one role, "shared", for the identity team-bot at 1 call/s in bursts of `burst`; on a manual clock. */
function sharedRate(burst: number): { governance: Governance; clock: ManualClock; logger: ReturnType<typeof createLogger> } {
  const clock = new ManualClock();
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText(`[roles.shared]\nidentities = ["team-bot"]\n[roles.shared.rate]\nper_second = 1\nburst = ${burst}\n`, 'test.toml'), 'test.toml');
  return { governance: new Governance({ policy, logger, clock }), clock, logger };
}

test('editors sharing an identity share its rate fairly: a greedy one cannot rate-limit the others out', async () => {
  const { governance, clock } = sharedRate(2);
  const session = (id: string) => new Session({ id, identity: { kind: 'api-key', name: 'team-bot' }, transport: 'http' });
  const greedy = session('greedy');
  const polite = session('polite');
  for (const s of [greedy, polite]) governance.sessionStarted(s);
  const role = governance.roleFor(greedy);
  let greedyOk = 0;
  let politeOk = 0;
  for (let tick = 0; tick < 20; tick++) {
    clock.advance(1000);
    for (let i = 0; i < 5; i++) if ((await governance.takeToken('team-bot', role, greedy)).ok) greedyOk++;
    if ((await governance.takeToken('team-bot', role, polite)).ok) politeOk++;
  }
  assert.ok(politeOk >= 9, `the polite editor got ${politeOk} of 20 calls through`);
  assert.ok(greedyOk <= 12, `the greedy editor got ${greedyOk} calls through`);
  governance.close();
});

test("an editor that reopens its session keeps its share of its identity's rate: a greedy client reconnecting cannot spend the other editor's", async () => {
  // Each new session started with a full share: a client that closed and reopened its session (an agent that
  // opens one per task, a shim restarted in a loop) got a fresh burst each time, drained the identity's bucket,
  // and the other editor, which had spent nothing, was refused "the others' calls spent it".
  const { governance, clock } = sharedRate(4);
  const session = (id: string, client: string) => {
    const s = new Session({ id, identity: { kind: 'api-key', name: 'team-bot' }, transport: 'stdio' });
    s.client = { name: client, version: '1' };
    return s;
  };
  const polite = session('polite', 'calm-editor');
  governance.sessionStarted(polite);
  const role = governance.roleFor(polite);
  let greedyOk = 0;
  for (let round = 0; round < 5; round++) {
    const greedy = session(`greedy-${round}`, 'greedy-agent');
    governance.sessionStarted(greedy);
    for (let i = 0; i < 4; i++) if ((await governance.takeToken('team-bot', role, greedy)).ok) greedyOk++;
    governance.sessionEnded('team-bot', greedy.id);
  }
  assert.equal(greedyOk, 2, 'one share (half of the burst of 4), not a fresh one per session it opened');
  const first = await governance.takeToken('team-bot', role, polite);
  assert.equal(first.ok, true, `the editor that spent nothing was refused: ${JSON.stringify(first)}`);
  // The share the reconnecting client carries refills with time, as any share does.
  clock.advance(4000);
  const back = session('greedy-back', 'greedy-agent');
  governance.sessionStarted(back);
  assert.equal((await governance.takeToken('team-bot', role, back)).ok, true);
  governance.sessionEnded('team-bot', back.id);
  governance.sessionEnded('team-bot', polite.id);
  governance.close();
});

test("an editor's call refused because the identity's bucket is empty costs it none of its own share", async () => {
  // The share's token was taken first and kept when the identity's bucket then refused: an editor that arrived
  // after another had spent the burst used up its own share on refusals, and was still refused ("for this
  // editor") once the identity's bucket had refilled, without one call served.
  const { governance, clock } = sharedRate(4);
  const session = (id: string) => new Session({ id, identity: { kind: 'api-key', name: 'team-bot' }, transport: 'stdio' });
  const first = session('first');
  governance.sessionStarted(first);
  const role = governance.roleFor(first);
  for (let i = 0; i < 4; i++) assert.equal((await governance.takeToken('team-bot', role, first)).ok, true, 'alone, the whole burst');
  const late = session('late');
  governance.sessionStarted(late);
  for (let i = 0; i < 3; i++) {
    const refused = await governance.takeToken('team-bot', role, late);
    assert.equal(refused.ok, false);
    assert.equal(refused.share, undefined, 'refused by the identity\'s bucket, not its own share');
  }
  clock.advance(1000); // one token back in the identity's bucket
  const take = await governance.takeToken('team-bot', role, late);
  assert.equal(take.ok, true, `the late editor, served nothing yet, was refused: ${JSON.stringify(take)}`);
  governance.sessionEnded('team-bot', late.id);
  governance.sessionEnded('team-bot', first.id);
  governance.close();
});

test('status shows the rate a reload set at once, not the one of the last call before it', async () => {
  // The bucket's limit was the one its last call's role had: after a reload that tightened a role (or the hub's
  // [limits.rate]), status showed the old burst and tokens the next call would never find, until that call.
  const clock = new ManualClock();
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policyOf = (text: string) => Policy.fromConfig(parseConfigText(text, 'test.toml'), 'test.toml');
  const governance = new Governance({ policy: policyOf('[roles.bot]\nidentities = ["bot"]\n[roles.bot.rate]\nper_second = 1\nburst = 10\n'), logger, clock });
  const rates = () => (governance.snapshot() as { rateLimits: { identity: string; role?: string; tokens: number; capacity: number; refillPerSecond: number }[] }).rateLimits;
  const bot = governance.policy.roleFor({ kind: 'api-key', name: 'bot' }, null);
  const other = governance.policy.roleFor({ kind: 'api-key', name: 'eve' }, null);
  for (let i = 0; i < 3; i++) assert.equal((await governance.takeToken('bot', bot)).ok, true);
  assert.equal((await governance.takeToken('eve', other)).ok, true);
  assert.deepEqual(rates().map((r) => [r.identity, r.capacity, r.tokens]), [['bot', 10, 7], ['eve', 200, 199]]);
  const limits = { retryAttempts: 2, retryBudgetMs: 5000 };
  governance.reconfigure(policyOf('[roles.bot]\nidentities = ["bot"]\n[roles.bot.rate]\nper_second = 0.5\nburst = 2\n'), { ...limits, defaultRate: { perSecond: 5, burst: 20 } });
  assert.deepEqual(rates().map((r) => [r.identity, r.capacity, r.refillPerSecond, r.tokens]), [['bot', 2, 0.5, 2], ['eve', 20, 5, 20]]);
  // And the next call finds what status said.
  assert.equal((await governance.takeToken('bot', governance.policy.roleFor({ kind: 'api-key', name: 'bot' }, null))).ok, true);
  assert.equal((await governance.takeToken('bot', governance.policy.roleFor({ kind: 'api-key', name: 'bot' }, null))).ok, true);
  assert.equal((await governance.takeToken('bot', governance.policy.roleFor({ kind: 'api-key', name: 'bot' }, null))).ok, false);
  // A role the reload removed: its bucket is no one's (bot's calls now take from the default role's), and goes.
  governance.reconfigure(policyOf(''), { ...limits, defaultRate: { perSecond: 5, burst: 20 } });
  assert.equal(rates().find((r) => r.identity === 'bot'), undefined);
  governance.close();
});

test("status on a team hub shows the team-wide rate bucket an identity is refused by, not nothing", async () => {
  // While Redis answers, a team replica takes every token from Redis and never touches its local bucket, and
  // status listed the local buckets only: an identity the team's limit was refusing showed no bucket at all.
  const clock = new ManualClock();
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText('[roles.bot]\nidentities = ["bot"]\n[roles.bot.rate]\nper_second = 1\nburst = 10\n', 'test.toml'), 'test.toml');
  const governance = new Governance({ policy, logger, clock });
  let answer: Awaited<ReturnType<TeamRateLimits['take']>> = { ok: true, remaining: 3 };
  governance.useTeam({ ...fakeTeam().team, take: async () => answer });
  type Rate = { identity: string; role?: string; tokens: number; capacity: number; refillPerSecond: number; team?: { seenAt: string } };
  const rates = () => (governance.snapshot() as { rateLimits: Rate[] }).rateLimits;
  const bot = governance.policy.roleFor({ kind: 'api-key', name: 'bot' }, null);
  assert.equal((await governance.takeToken('bot', bot)).ok, true);
  assert.deepEqual(rates().map((r) => [r.identity, r.role, r.tokens, r.capacity, r.refillPerSecond, typeof r.team?.seenAt]), [['bot', 'bot', 3, 10, 1, 'string']]);
  // Refused team-wide: one token is 600 ms away, so the bucket holds 0.4.
  answer = { ok: false, retryAfterMs: 600 };
  assert.equal((await governance.takeToken('bot', bot)).ok, false);
  assert.deepEqual(rates().map((r) => [r.identity, r.tokens]), [['bot', 0.4]]);
  clock.advance(5_000);
  assert.deepEqual(rates().map((r) => [r.identity, r.tokens]), [['bot', 5.4]], 'refilled since, at the role\'s rate');
  clock.advance(10_000);
  assert.deepEqual(rates(), [], 'a full bucket is not listed');
  // Redis away: the local bucket applies, and status shows it, as such.
  answer = undefined;
  assert.equal((await governance.takeToken('bot', bot)).ok, true);
  assert.deepEqual(rates().map((r) => [r.identity, r.tokens, r.team]), [['bot', 9, undefined]]);
  governance.close();
});

test('a closed session stops counting among its identity\'s editors: the one left gets the whole rate back at once', async () => {
  // Closed sessions used to count as "active editors" for a minute after their last call: after three editor
  // restarts the one open editor got a quarter of the rate, and its refusal said 4 editors shared it.
  const { governance, clock, logger } = sharedRate(8);
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const hooks = { drain: () => {}, outstanding: () => 0, close: () => {} };
  const attach = () => core.attachSession({ identity: { kind: 'api-key', name: 'team-bot' }, transport: 'http' }, hooks);
  const gone = [attach(), attach(), attach()];
  const open = attach();
  const role = governance.roleFor(open.session);
  for (const a of [...gone, open]) assert.equal((await governance.takeToken('team-bot', role, a.session)).ok, true);
  for (const a of gone) a.detach('editor restarted');
  clock.advance(10_000); // the identity's bucket refills; only the sharing could still refuse
  let ok = 0;
  let refusal: Awaited<ReturnType<Governance['takeToken']>> | undefined;
  for (let i = 0; i < 8; i++) {
    const take = await governance.takeToken('team-bot', role, open.session);
    if (take.ok) ok++;
    else refusal ??= take;
  }
  assert.equal(ok, 8, `the one open editor got ${ok} of its identity's burst of 8 (refused: ${JSON.stringify(refusal)})`);
  open.detach('test over');
  governance.close();
});

test('an editor shares its identity\'s rate from when it attaches: another editor\'s burst does not refuse its first call, and a refusal says the rate is shared', async () => {
  // Only sessions that had called in the last minute counted: an editor attached but not yet calling got no
  // share, the other editor spent the whole burst, and its first call was refused for a budget it never used.
  const { governance, logger } = sharedRate(10);
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const hooks = { drain: () => {}, outstanding: () => 0, close: () => {} };
  const attach = () => core.attachSession({ identity: { kind: 'api-key', name: 'team-bot' }, transport: 'http' }, hooks);
  const [busy, fresh, third] = [attach(), attach(), attach()];
  const role = governance.roleFor(busy.session);
  const takes = [];
  for (let i = 0; i < 14; i++) takes.push(await governance.takeToken('team-bot', role, busy.session));
  assert.equal(takes.filter((t) => t.ok).length, 3, 'a third of the burst of 10, rounded down');
  const last = takes.at(-1)!;
  assert.deepEqual([last.ok, last.sessions, last.share], [false, 3, { capacity: 3, refillPerSecond: 1 / 3 }], 'refused by its own share, of 3 editors');
  for (const editor of [fresh, third]) {
    for (let i = 0; i < 3; i++) assert.equal((await governance.takeToken('team-bot', role, editor.session)).ok, true, 'each editor\'s share is there for it');
  }
  third.detach('editor closed');
  busy.detach('editor closed');
  fresh.detach('editor closed');
  governance.close();
});

test('an HTTP session idle for long stops counting among its identity\'s editors; a link counts until it closes', async () => {
  // HTTP sessions counted from attach until they expired (a 2025 one after 30 idle minutes): a client that
  // initialized and went away kept a share of the rate, and the editors still calling got less.
  const { governance, clock, logger } = sharedRate(12);
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const hooks = { drain: () => {}, outstanding: () => 0, close: () => {} };
  const attach = (transport: 'http' | 'stdio') => core.attachSession({ identity: { kind: 'api-key', name: 'team-bot' }, transport }, hooks);
  const [busy, quiet, link] = [attach('http'), attach('http'), attach('stdio')];
  const role = governance.roleFor(busy.session);
  const take = (s: Session) => governance.takeToken('team-bot', role, s);
  assert.equal((await take(busy.session)).sessions, 3, 'a session that just opened counts (its first call keeps its share)');
  clock.advance(ACTIVE_HTTP_SESSION_MS);
  assert.equal((await take(busy.session)).sessions, 2, 'the quiet HTTP session no longer counts; the quiet link still does');
  assert.equal((await take(quiet.session)).sessions, 3, 'calling again, it counts again');
  assert.equal((await take(busy.session)).sessions, 3);
  clock.advance(ACTIVE_HTTP_SESSION_MS);
  link.detach('editor closed');
  quiet.detach('editor closed');
  assert.equal((await take(busy.session)).sessions, 1, 'alone now: the whole rate');
  busy.detach('editor closed');
  governance.close();
});

/** One identity with an editor on a link (session s-editor) and an HTTP session that just opened, on a 2-slot warehouse. */
function linkAndHttpSession() {
  const { governance, clock, logger } = sharedRate(12);
  const warehouse = new CountingWarehouse();
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const hooks = { drain: () => {}, outstanding: () => 0, close: () => {} };
  const editor = core.attachSession({ identity: { kind: 'api-key', name: 'team-bot' }, transport: 'stdio' }, hooks);
  const idle = core.attachSession({ identity: { kind: 'api-key', name: 'team-bot' }, transport: 'http' }, hooks);
  return { governance, clock, editor, idle, scheduler: governance.scheduler, pool: governance.poolFor(warehouse) };
}

test('a warehouse queue keeps a slot for others only while another session is present: an idle HTTP session is not', async () => {
  const { governance, clock, editor, idle, scheduler, pool } = linkAndHttpSession();
  /** How many of the 2 slots the editor gets at once (the rest of its calls wait for the others' kept slot). */
  const running = async () => {
    const cancel = new AbortController();
    const calls = [scheduler.schedule('s-editor', cancel.signal, pool), scheduler.schedule('s-editor', cancel.signal, pool)];
    const { running: n } = scheduler.snapshot();
    cancel.abort();
    for (const settled of await Promise.allSettled(calls)) if (settled.status === 'fulfilled') settled.value.release();
    return n;
  };
  assert.equal(await running(), 1, 'another session just opened: one of the 2 slots is kept for it');
  clock.advance(ACTIVE_HTTP_SESSION_MS);
  assert.equal(await running(), 2, 'the other session went quiet: the editor may use every slot');
  idle.detach('closed');
  editor.detach('closed');
  governance.close();
});

test('a call held back for an HTTP session starts when that session goes quiet, with no other call ending', async () => {
  const { governance, clock, editor, idle, scheduler, pool } = linkAndHttpSession();
  const first = await scheduler.schedule('s-editor', undefined, pool);
  let started = false;
  const second = scheduler.schedule('s-editor', undefined, pool).then((slot) => {
    started = true;
    return slot;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started, false, 'the second slot is kept for the HTTP session that just opened');
  clock.advance(ACTIVE_HTTP_SESSION_MS - 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started, false, 'still present a moment before it counts as quiet');
  clock.advance(1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started, true, 'the HTTP session went quiet: the held call starts while the first still runs');
  assert.equal(first.released, false);
  first.release();
  (await second).release();
  idle.detach('closed');
  editor.detach('closed');
  governance.close();
});

test("a warehouse queue keeps a slot for another user while one is present, however many sessions the first opens", async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const policy = Policy.fromConfig(parseConfigText('', 'test.toml'), 'test.toml');
  const governance = new Governance({ policy, logger, clock: new ManualClock(), limits: { maxConcurrentQueries: 3 } });
  const session = (id: string, name: string) => new Session({ id, identity: { kind: 'api-key', name }, transport: 'stdio' });
  const flooders = [session('f-1', 'f1'), session('f-2', 'f1')];
  const carol = session('c-1', 'carol');
  for (const s of [...flooders, carol]) governance.sessionStarted(s);
  const scheduler = governance.scheduler;
  const held = [await scheduler.schedule('f-1', undefined, undefined, 'f1'), await scheduler.schedule('f-2', undefined, undefined, 'f1')];
  const third = scheduler.schedule('f-2', undefined, undefined, 'f1');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(scheduler.snapshot().running, 2, "f1's second session does not take the slot kept for carol");
  governance.sessionEnded('carol', carol.id);
  // Only f1's editors are left: its call that waited for the slot kept for carol takes it at once (not once one
  // of f1's running queries ends), and a later call waits for a slot to free.
  assert.equal(scheduler.snapshot().running, 3, 'with carol gone, f1 runs the last slot');
  const fourth = scheduler.schedule('f-1', undefined, undefined, 'f1');
  assert.equal(scheduler.snapshot().queued, 1);
  (await third).release();
  for (const r of [...held, await fourth]) r.release();
  governance.close();
});

test('a failed tool result says, machine-readably, whether and when to retry, and nothing else of the error', async () => {
  const { call, governance } = setup();
  const meta = (r: { _meta?: Record<string, unknown> | undefined }) => r._meta?.['dev.snowmux/error'] as Record<string, unknown>;
  assert.equal(codeOf(await call('slow', 'list_databases', async () => ({ content: [] }))), undefined);
  const limited = meta(await call('slow', 'list_databases', async () => ({ content: [] })));
  assert.deepEqual(Object.keys(limited).sort(), ['code', 'retryAfterMs', 'retryable']);
  assert.equal(limited['code'], 'RATE_LIMITED');
  assert.equal(limited['retryable'], true);
  assert.ok(typeof limited['retryAfterMs'] === 'number' && Number.isInteger(limited['retryAfterMs']) && limited['retryAfterMs'] > 0);
  const refused = meta(await call('budget', 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('DELETE FROM T');
    await w.query('DELETE FROM T', { ...ctx, maxRows: 1 });
    return { content: [] };
  }));
  assert.deepEqual(refused, { code: 'SQL_REFUSED', retryable: false });
  // A transient warehouse failure may be retried as it is; one whose details quote SQL shows none of them.
  const transient = toolError(new SnowmuxError('CONNECTION_LOST', 'lost', { details: { sql: 'SELECT secret' } }));
  assert.deepEqual(transient._meta, { 'dev.snowmux/error': { code: 'CONNECTION_LOST', retryable: true } });
  // Never a statement that may have changed data, whatever the code.
  const write = toolError(new SnowmuxError('CONNECTION_LOST', 'lost', { details: { mayHaveRun: true } }));
  assert.deepEqual(write._meta, { 'dev.snowmux/error': { code: 'CONNECTION_LOST', retryable: false } });
  assert.deepEqual(toolError(new Error('boom'))._meta, { 'dev.snowmux/error': { code: 'INTERNAL_ERROR', retryable: false } });
  // Codes whose message says to retry are retryable, though not warehouse failures (the registry's retry flag).
  for (const code of ['HUB_STOPPING', 'HUB_SHUTTING_DOWN', 'POOL_EXHAUSTED'] as const) {
    assert.deepEqual(toolError(new SnowmuxError(code, 'retry'))._meta, { 'dev.snowmux/error': { code, retryable: true } }, code);
  }
  assert.deepEqual(toolError(new SnowmuxError('QUERY_TIMEOUT', 'slow'))._meta, { 'dev.snowmux/error': { code: 'QUERY_TIMEOUT', retryable: false } });
  governance.close();
});

test('a rate or quota refusal names the rule that refused (its config.toml key), when it frees, and what to do', async () => {
  const { call, governance } = setup();
  const textOf = (r: { content: unknown[] }) => (r.content as { text?: string }[]).map((c) => c.text ?? '').join('');
  const running: ToolBody = async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT 1 FROM T');
    await w.query('SELECT 1 FROM T', { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  // A role's own rate.
  assert.equal(codeOf(await call('slow', 'list_databases', async () => ({ content: [] }))), undefined);
  const slow = await call('slow', 'list_databases', async () => ({ content: [] }));
  assert.equal(codeOf(slow), 'RATE_LIMITED');
  assert.match(textOf(slow), /Retry after ~\d+ min\. The limit is \[roles\.slow\.rate\] \(role "slow"\); to call more often, ask the hub's operator to raise it\.$/);
  // A role without one: the hub's default, [limits.rate].
  const tight = setup({ limits: { defaultRate: { perSecond: 0.001, burst: 1 } } });
  assert.equal(codeOf(await tight.call('lister', 'list_databases', async () => ({ content: [] }))), undefined);
  const lister = await tight.call('lister', 'list_databases', async () => ({ content: [] }));
  assert.equal(codeOf(lister), 'RATE_LIMITED');
  assert.match(textOf(lister), /The limit is \[limits\.rate\] \(role "lister"\); to call more often, ask the hub's operator to raise it\.$/);
  tight.governance.close();
  // Quotas: the key of [roles.<role>.quota] that is spent, when the window frees (from now too), and what to do.
  for (let i = 0; i < 3; i++) assert.equal(codeOf(await call('budget', 'execute_query', running)), undefined);
  const spent = await call('budget', 'execute_query', running);
  assert.equal(codeOf(spent), 'QUOTA_EXCEEDED');
  assert.match(
    textOf(spent),
    /^Quota exceeded for "budget" under role "budget": 3 queries per hour\. The window resets at \S+Z\. Wait until then \(in [^)]+\), or ask the hub's operator to raise queries in \[roles\.budget\.quota\] \(rule of role "budget"; `snowmux status` shows what is left\)\.$/,
  );
  // A rows budget spent by the call's own earlier statements (quota-charge) says the same.
  const rows = await call('rowq', 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT MANY_ROWS FROM T');
    await w.query('SELECT MANY_ROWS FROM T', { ...ctx, maxRows: 1000 });
    await w.query('SELECT MANY_ROWS FROM T', { ...ctx, maxRows: 1000 });
    return { content: [] };
  });
  assert.equal(codeOf(rows), 'QUOTA_EXCEEDED');
  assert.match(textOf(rows), /ask the hub's operator to raise rows in \[roles\.rowq\.quota\]/);
  governance.close();
});

test('a rate refusal says when the budget is shared, by how many editors and under which role', async () => {
  const { call, governance } = setup();
  const refusal = rateLimitedError('team-bot', { capacity: 10, refillPerSecond: 0.5 }, 1962, { role: 'default', sessions: 2 });
  assert.match(refusal.message, /^Rate limit reached for "team-bot" \(bursts of 10 calls, then 30 per minute\)\. This budget \(role "default"\) is shared by 2 open editors of "team-bot"; the others' calls spent it\. Retry after ~1962 ms\.$/);
  assert.doesNotMatch(rateLimitedError('team-bot', { capacity: 10, refillPerSecond: 0.5 }, 5, { role: 'default', sessions: 1 }).message, /shared/);
  // Through the stage, one editor alone on the slow role's bucket (burst 1): no word of sharing.
  assert.equal(codeOf(await call('slow', 'list_databases', async () => ({ content: [] }))), undefined);
  const refused = await call('slow', 'list_databases', async () => ({ content: [] }));
  assert.equal(codeOf(refused), 'RATE_LIMITED');
  assert.doesNotMatch(JSON.stringify(refused.content), /shared/);
  governance.close();
});

test('closing a session cancels every call it runs, even calls sent under the same request id', async () => {
  // Request ids are the client's: two HTTP clients sharing a 2026-07-28 session (same key, same client
  // name) both start at 1, and a client may reuse one. A call keyed by its id was overwritten by the next
  // and kept running (and holding a warehouse slot) after its session closed.
  const { governance } = setup();
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => ({ kind: 'duckdb', name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() }) }, governance, limits: DEFAULT_LIMITS, logger, sink: { record: () => {} } });
  const session = new Session({ id: 's-shared', identity: { kind: 'api-key', name: 'shared' }, transport: 'http' });
  const started: (() => void)[] = [];
  const body: ToolBody = ({ ctx }) =>
    new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
      started.shift()?.();
    });
  const running = (n: number) => new Promise<void>((resolve) => {
    let left = n;
    for (let i = 0; i < n; i++) started.push(() => --left === 0 && resolve());
  });
  const both = running(2);
  const calls = [1, 2].map(() => pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal }, {}, body));
  await both;
  assert.equal(session.snapshot().running, 2, 'both calls are counted');
  session.close('client disconnected');
  const results = await Promise.all(calls);
  assert.deepEqual(results.map((r) => r.isError), [true, true], 'both calls were cancelled');
  assert.equal(session.snapshot().running, 0);
  governance.close();
});

test("a client's request id is kept bounded wherever the hub keeps or shows it: record, log lines, span, QUERY_TAG, /events", async () => {
  const logged = new PassThrough();
  const logText: string[] = [];
  logged.on('data', (chunk: Buffer) => logText.push(chunk.toString('utf8')));
  const logger = createLogger({ destination: logged, level: 'debug' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger });
  const target: WarehouseTarget = { kind: 'duckdb', name: 'counting', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() };
  const records: CallRecord[] = [];
  const started: string[] = [];
  const spanIds: unknown[] = [];
  const tracer = {
    startCall: (_name: string, _carrier: unknown, attributes: Record<string, unknown>) => {
      spanIds.push(attributes['jsonrpc.request.id']);
      return { traceId: '0'.repeat(32), child: () => ({ end: () => {} }), end: () => {} };
    },
    snapshot: () => ({}),
    shutdown: async () => {},
  };
  const pipeline = new CallPipeline({
    warehouses: { targetFor: () => target },
    governance,
    limits: DEFAULT_LIMITS,
    logger,
    sink: { record: (r) => void records.push(r) },
    onCallStart: (c) => started.push(c.requestId),
    tracer,
  });
  const session = new Session({ id: 's-reader', identity: { kind: 'local-user', name: 'reader' }, transport: 'stdio' });
  const huge = `\u001b[2J${'x'.repeat(4_000_000)}`;
  const tags: string[] = [];
  await pipeline.run(session, 'execute_query', { id: huge, signal: new AbortController().signal }, {}, async (c) => {
    tags.push(c.ctx.tag.requestId);
    c.logger.info('in the body');
    throw new SnowmuxError('WAREHOUSE_ERROR', 'the warehouse said no');
  });
  await pipeline.recordRefused(session, 'no_such_tool', huge, 'UNKNOWN_TOOL', {});
  await new Promise((r) => setImmediate(r));
  const shown = `\\u001b[2J${'x'.repeat(60)}…`;
  assert.deepEqual(records.map((r) => r.requestId), [shown, shown]);
  assert.deepEqual(started, [shown]);
  assert.deepEqual(spanIds, [shown]);
  assert.deepEqual(tags, [shown]);
  const lines = logText.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.filter((l) => 'request' in l).length >= 2, 'the call logged under its request');
  for (const line of lines) if ('request' in line) assert.equal(line.request, shown);
  assert.ok(logText.join('').length < 10_000, 'no log line carries the whole id');
  // An ordinary id is kept as it is.
  await pipeline.run(session, 'execute_query', { id: '42', signal: new AbortController().signal }, {}, async () => ({ content: [] }));
  assert.equal(records.at(-1)!.requestId, '42');
  governance.close();
});

test("a hello's version, parent command and resumed session are kept cut and escaped: in status and in the session's log line", async () => {
  const logged = new PassThrough();
  const logText: string[] = [];
  logged.on('data', (chunk: Buffer) => logText.push(chunk.toString('utf8')));
  const logger = createLogger({ destination: logged, level: 'info' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger });
  const warehouses = { targetFor: () => ({ kind: 'duckdb' as const, name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => new CountingWarehouse() }), describe: () => [], close: async () => {} };
  const core = new HubCore({ home: '/nonexistent', logger, warehouses, governance });
  const big = `\u001b[2K${'v'.repeat(64 * 1024 - 4)}`;
  const attached = core.attachSession(
    { identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', shimVersion: big, resumeOf: big, parent: { pid: 7, command: big } },
    { drain: () => {}, outstanding: () => 0, close: () => {} },
  );
  await new Promise((r) => setImmediate(r));
  const snapshot = attached.session.snapshot();
  assert.equal(snapshot.shimVersion, `\\u001b[2K${'v'.repeat(60)}…`);
  assert.equal(snapshot.resumeOf, snapshot.shimVersion);
  assert.equal(snapshot.parent!.command, `\\u001b[2K${'v'.repeat(252)}…`);
  assert.equal(snapshot.parent!.pid, 7);
  assert.ok(logText.join('').length < 4_000, 'the session opened line holds the cut text');
  attached.detach('test over');
  governance.close();
});

test("a call's database and schema are judged as a place the role may use before anything is sent; LAST_QUERY_ID() is refused on Snowflake", async () => {
  for (const kind of ['snowflake', 'duckdb'] as const) {
    const { call, warehouse, governance } = setup({ kind });
    const run = (identity: string, sql: string, context: { database?: string; schema?: string } = {}) =>
      call(identity, 'execute_query', async ({ warehouse: w, ctx, noteSql }) => {
        noteSql(sql);
        await w.query(sql, { ...ctx, maxRows: 1, ...context });
        return { content: [{ type: 'text', text: 'ran' }] };
      });
    const text = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;
    // An unqualified UDF names no table: with schema HR it resolves in HR, which the role may not touch.
    const udf = await run('reader', 'SELECT get_salary(42)', { schema: 'HR' });
    assert.equal(codeOf(udf), 'POLICY_DENIED', kind);
    assert.match(text(udf), /role "reader" may not switch to DB\.HR \(rule: deny "\*\.HR\.\*"\)\. Pass database and schema/, kind);
    assert.equal(codeOf(await run('reader', 'SELECT 1', { database: 'OTHER', schema: 'HR' })), 'POLICY_DENIED', kind);
    // A role allowed only "*.S.*" may not start in a database's default schema it sees nothing of, but may
    // name a database it sees something in.
    assert.equal(codeOf(await run('scoped', 'SELECT 1', { schema: 'T' })), 'POLICY_DENIED', kind);
    assert.equal(codeOf(await run('scoped', 'SELECT 1', { database: 'OTHER', schema: 'S' })), undefined, kind);
    assert.equal(codeOf(await run('reader', 'SELECT get_salary(42)', { schema: 'S' })), undefined, kind);
    assert.equal(warehouse.queries.length, 2, `${kind}: nothing refused was sent`);
    // The pooled connection's previous statement was another call's: its id is not this caller's to use.
    for (const sql of ['SELECT LAST_QUERY_ID()', 'SELECT LAST_QUERY_ID(-2)', 'SELECT "LAST_QUERY_ID"()', "SELECT SYSTEM$ESTIMATE_QUERY_ACCELERATION(last_query_id())"]) {
      const refused = await run('reader', sql);
      if (kind === 'snowflake') {
        assert.equal(codeOf(refused), 'POLICY_DENIED', sql);
        assert.match(text(refused), /LAST_QUERY_ID\(\) names the previous statement of the pooled connection.*\(rule: result-owner\)/, sql);
      }
    }
    governance.close();
  }
});

test('a statement timeout is named by the setting it came from: the role\'s statement_timeout when lower, else hub.call_timeout_ms', async () => {
  const { call } = setup();
  const seen: Record<string, unknown> = {};
  const body = (who: string): ToolBody => async (c) => {
    seen[who] = { ms: c.ctx.timeoutMs, setting: c.ctx.timeoutSetting };
    return { content: [] };
  };
  await call('brief', 'execute_query', body('brief'));
  await call('reader', 'execute_query', body('reader'));
  assert.deepEqual(seen, {
    brief: { ms: 2000, setting: 'roles.brief.statement_timeout' },
    reader: { ms: DEFAULT_LIMITS.callTimeoutMs, setting: 'hub.call_timeout_ms' },
  });
});

test("the breaker's half-open probe does not take the first call's time: a slow probe, then the call's own work, within its call timeout", async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger, breaker: { volumeThreshold: 2, resetTimeoutMs: 5 } });
  // Generous: under a loaded machine a tight timeout ends the first calls before their own refusal.
  const callTimeoutMs = 1500;
  let probeRan = false;
  // A slow warehouse: its probe answers after longer than the whole call timeout, the call's own query at once.
  const warehouse = new (class extends CountingWarehouse {
    override async query(sql: string, o: QueryOptions): Promise<QueryResult> {
      if (o.tag.tool === 'breaker-probe') {
        await new Promise((resolve) => setTimeout(resolve, callTimeoutMs + 200));
        probeRan = true;
      }
      return super.query(sql, o);
    }
  })();
  const target: WarehouseTarget = { kind: 'duckdb', name: 'counting', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs }, logger, sink: { record: () => undefined } });
  let n = 0;
  const run = (sql: string) => {
    const session = new Session({ id: `s-probe-${++n}`, identity: { kind: 'local-user', name: 'reader' }, transport: 'stdio' });
    return pipeline.run(session, 'execute_query', { id: String(n), signal: new AbortController().signal }, { q: 1 }, async (c) => {
      await c.warehouse.query(sql, { ...c.ctx, maxRows: 1 });
      return { content: [] };
    });
  };
  const breaker = governance.breakerFor(warehouse);
  // Opossum's reset timer is unref'd: the watchdog keeps the event loop alive until half-open (and fails the test if it never comes).
  let watchdog: NodeJS.Timeout | undefined;
  const halfOpen = new Promise<void>((resolve, reject) => {
    watchdog = setTimeout(() => reject(new Error('the breaker never went half-open')), 5000);
    breaker.on('transition', (tr) => tr.to === 'half-open' && resolve());
  }).finally(() => clearTimeout(watchdog));
  for (let i = 0; i < 2; i++) assert.equal(codeOf(await run('SELECT NO_CONNECTION FROM T')), 'WAREHOUSE_UNAVAILABLE');
  assert.equal(breaker.state, 'open');
  await halfOpen;
  const answer = await run('SELECT X FROM T');
  assert.equal(codeOf(answer), undefined, JSON.stringify(answer));
  assert.ok(probeRan);
  assert.equal(breaker.state, 'closed');
  governance.close();
});

test('a call is marked as queued only when it asked the fair queue for a slot: refusals and warehouse-free answers are not', async () => {
  const { call, governance, records } = setup();
  const runs: ToolBody = async ({ warehouse: w, ctx, noteSql }) => {
    noteSql('SELECT 1 FROM T');
    await w.query('SELECT 1 FROM T', { ...ctx, maxRows: 1 });
    return { content: [] };
  };
  await call('reader', 'execute_query', runs);
  await call('lister', 'execute_query', runs); // refused by its role before any queue
  await call('reader', 'execute_query', async () => ({ content: [] })); // answered without the warehouse
  assert.deepEqual(records.map((r) => [r.outcome, r.queued ?? false]), [['ok', true], ['refused', false], ['ok', false]]);
  governance.close();
});

test("a call whose time went to opening the warehouse (a slow login, the embedded open) times out saying so, not 'ask for less'", async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger });
  const callTimeoutMs = 1000;
  const warehouse = new CountingWarehouse();
  let openMs = 0;
  // The open is what is slow here (a Snowflake login that takes its time): the timer is the login, not a wait for the test.
  const target: WarehouseTarget = { kind: 'duckdb', name: 'counting', defaultDatabase: 'DB', defaultSchema: 'S', open: () => new Promise((resolve) => setTimeout(() => resolve(warehouse), openMs)) };
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs }, logger, sink: { record: () => undefined } });
  let n = 0;
  const run = async () => {
    const session = new Session({ id: `s-open-${++n}`, identity: { kind: 'local-user', name: 'reader' }, transport: 'stdio' });
    const r = await pipeline.run(session, 'execute_query', { id: String(n), signal: new AbortController().signal }, { q: 1 }, async (c) => {
      await c.warehouse.query('SELECT X FROM T', { ...c.ctx, maxRows: 1 });
      return { content: [] };
    });
    return { code: codeOf(r), text: (r.content as { text: string }[]).map((c) => c.text).join('\n'), meta: r._meta };
  };
  // Past the whole call timeout (the deadline ends it while it opens), and most of it (too little left to run).
  for (const slow of [callTimeoutMs + 300, Math.round(callTimeoutMs * 0.95)]) {
    openMs = slow;
    const r = await run();
    assert.equal(r.code, 'QUERY_TIMEOUT', `${slow} ms: ${r.text}`);
    assert.match(r.text, /opening the warehouse \(the embedded database's open, or a Snowflake login\)/, `${slow} ms`);
    assert.match(r.text, /doctor --login/);
    assert.doesNotMatch(r.text, /narrow the query|Ask for less/, `${slow} ms: the query is not why`);
  }
  assert.deepEqual(warehouse.queries, [], 'nothing ran');
  governance.close();
});

test("a cancelled call's hub.log line says why: its client's own reason, or why its session ended", async () => {
  const { pipeline, governance, logLines } = setup({ logLevel: 'info' });
  let n = 0;
  const reasonLogged = async (cancel: (client: AbortController, session: Session) => void): Promise<{ text: string; logged: unknown }> => {
    const session = new Session({ id: `s-why-${++n}`, identity: { kind: 'local-user', name: 'why' }, transport: 'unix-socket' });
    const client = new AbortController();
    const sql = 'SELECT WAITS_FOR_CANCEL FROM DB.S.T';
    const r = await pipeline.run(session, 'execute_query', { id: String(n), signal: client.signal }, { query: sql }, async ({ warehouse: w, ctx }) => {
      setImmediate(() => cancel(client, session));
      await w.query(sql, { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    assert.equal(codeOf(r), 'QUERY_CANCELLED');
    const line = logLines.filter((l) => l['msg'] === 'tool call failed' && l['session'] === session.id).at(-1);
    return { text: (r.content[0] as { text: string }).text, logged: line?.['reason'] };
  };
  // The shim's own cancel when its editor went away (stdout EPIPE) gives its reason: the log is where it is told.
  const epipe = await reasonLogged((client) => client.abort("snowmux: the editor stopped reading the shim's answers (stdout: EPIPE); it is gone"));
  assert.equal(epipe.logged, `The client cancelled the call (its reason: "snowmux: the editor stopped reading the shim's answers (stdout: EPIPE); it is gone").`);
  // A session that ended (the shim killed, its socket closed, the hub cutting a silent link) says how.
  const cut = await reasonLogged((_client, session) => session.close("cut: the shim's link was silent for 30000 ms"));
  assert.equal(cut.logged, "The call was cancelled: its session ended (cut: the shim's link was silent for 30000 ms).");
  const gone = await reasonLogged((_client, session) => session.close('client disconnected'));
  assert.equal(gone.logged, 'The call was cancelled: its session ended (client disconnected).');
  // The SDK aborting a request because its connection closed.
  const closed = await reasonLogged((client) => client.abort(Object.assign(new Error('Connection closed'), { code: 'CONNECTION_CLOSED' })));
  assert.equal(closed.logged, "The call was cancelled: its client's connection closed.");
  // No reason given: as before.
  const plain = await reasonLogged((client) => client.abort());
  assert.equal(plain.logged, 'The client cancelled the call.');
  // A client's reason is its own text: escaped and cut short, never a line break or a terminal control in the log.
  const hostile = await reasonLogged((client) => client.abort(`\u001b[2J${'x'.repeat(1000)}`));
  assert.match(String(hostile.logged), /^The client cancelled the call \(its reason: "\\u001b\[2Jx+…"\)\.$/);
  assert.ok(String(hostile.logged).length < 300, String(hostile.logged).length.toString());
  governance.close();
});

test('a call whose warehouse is still opening (a login, the embedded database) is answered at its timeout and ends at its cancel, not when the open ends', { timeout: 20_000 }, async () => {
  // The hub's sockets keep its process alive; here nothing would while the open waits (the call timer is unref'd).
  const alive = setInterval(() => {}, 1000);
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: Policy.fromConfig(config, 'test.toml'), logger });
  const records: CallRecord[] = [];
  let opens = 0;
  let finishOpen: (w: Warehouse) => void = () => {};
  const opening = new Promise<Warehouse>((resolve) => (finishOpen = resolve));
  // A login that takes longer than the call may wait (an SSO waiting for a person: up to 3 minutes).
  const target: WarehouseTarget = { kind: 'snowflake', name: 'slow-login', defaultDatabase: 'DB', defaultSchema: 'S', open: () => (opens++, opening) };
  const pipeline = new CallPipeline({ warehouses: { targetFor: () => target }, governance, limits: { ...DEFAULT_LIMITS, callTimeoutMs: 200 }, logger, sink: { record: (r: CallRecord) => void records.push(r) } });
  const session = new Session({ id: 's-open', identity: { kind: 'local-user', name: 'opener' }, transport: 'unix-socket' });
  const body: ToolBody = async ({ warehouse, ctx }) => {
    await warehouse.query('SELECT 1 FROM DB.S.T', { ...ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: 'ran' }] };
  };
  // The hub's call timeout: answered then, saying the time went to opening the warehouse.
  const timedOut = await pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal }, { query: 'SELECT 1 FROM DB.S.T' }, body);
  assert.equal(codeOf(timedOut), 'QUERY_TIMEOUT');
  assert.match((timedOut.content[0] as { text: string }).text, /went to opening the warehouse/);
  // A client's cancel ends the call at once, while the open goes on for the calls after it.
  const client = new AbortController();
  const cancelled = pipeline.run(session, 'execute_query', { id: '2', signal: client.signal }, { query: 'SELECT 1 FROM DB.S.T' }, body);
  while (opens < 2) await new Promise((r) => setImmediate(r));
  client.abort('user');
  assert.equal(codeOf(await cancelled), 'QUERY_CANCELLED');
  assert.deepEqual(records.map((r) => r.outcome), ['error', 'cancelled']);
  assert.equal(session.running.size, 0, 'no call of the session is left running');
  finishOpen(new CountingWarehouse());
  clearInterval(alive);
  governance.close();
});

test('a call that begins on a session already closed (the hub past its grace, a link being closed) never reaches the warehouse and says why', async () => {
  const { pipeline, governance, warehouse, records } = setup();
  const run = (session: Session) =>
    pipeline.run(session, 'execute_query', { id: '1', signal: new AbortController().signal }, { query: 'SELECT WAITS_FOR_CANCEL FROM DB.S.T' }, async ({ warehouse: w, ctx }) => {
      await w.query('SELECT WAITS_FOR_CANCEL FROM DB.S.T', { ...ctx, maxRows: 1 });
      return { content: [{ type: 'text', text: 'ran' }] };
    });
  // The hub stopping: the grace period is over and its sessions are closed with HUB_STOPPING.
  const stopping = new Session({ id: 's-late-1', identity: { kind: 'local-user', name: 'late' }, transport: 'unix-socket' });
  stopping.close('hub stopping: stop', new SnowmuxError('HUB_STOPPING', 'The hub stopped while this call ran and cancelled it. Run it again.'));
  const r1 = await run(stopping);
  assert.equal(codeOf(r1), 'HUB_STOPPING');
  const gone = new Session({ id: 's-late-2', identity: { kind: 'local-user', name: 'late' }, transport: 'unix-socket' });
  gone.close('client disconnected');
  const r2 = await run(gone);
  assert.equal(codeOf(r2), 'QUERY_CANCELLED');
  assert.equal((r2.content[0] as { text: string }).text, 'The call was cancelled: its session ended (client disconnected).');
  assert.deepEqual(warehouse.queries, [], 'no statement was sent');
  assert.equal(stopping.running.size + gone.running.size, 0);
  assert.deepEqual(records.map((r) => r.outcome), ['error', 'cancelled']);
  governance.close();
});
