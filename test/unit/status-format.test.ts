/**
 * Plain `snowmux status` (not --watch) fits 80 columns when it is not printing to a terminal: wide tables
 * narrow their flexible columns, long lines (a warehouse's details, a long home, a breaker's last failure)
 * wrap without losing a word, and the recent calls' SQL gets a line of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubStatus } from '../../src/hub/hub.js';
import { formatStatus, wrapLine } from '../../src/cli/commands/status-command.js';
import { VERSION } from '../../src/version.js';

const NOW = Date.now();
const LONG_HOME = '/home/someone-with-a-long-name/projects/analytics-team/state/a-deeply/nested/snowmux-home-directory';
const FAILURE = 'Request to Snowflake failed: connect ETIMEDOUT 10.20.30.40:443 after 3 attempts while logging in as SVC_READER';

function busyHub(): HubStatus {
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: new Date(NOW - 3_723_000).toISOString(),
    uptimeMs: 3_723_000,
    home: LONG_HOME,
    socket: `${LONG_HOME}/hub.sock`,
    state: 'running',
    warehouses: [
      {
        kind: 'duckdb',
        name: 'embedded',
        detail: { file: `${LONG_HOME}/warehouse/SNOWMUX_SAMPLE.duckdb`, duckdbVersion: 'v1.5.6', readOnly: true, threads: 1, memoryLimit: '1GB', resultCacheBytes: 33554432, maxConcurrentStatements: 6, activeCalls: 0, connectionsOpened: 1 },
        defaultDatabase: 'SNOWMUX_SAMPLE',
        defaultSchema: 'TPCH',
        concurrency: 6,
      },
      { kind: 'snowflake', name: 'analytics-production-reader-with-a-long-name', detail: { account: 'myorg-myaccount-with-a-long-locator', user: 'SVC_READER', pool: { size: 4 } }, defaultDatabase: 'ANALYTICS_WAREHOUSE_DB', defaultSchema: 'REPORTING_PUBLIC', concurrency: 4 },
    ] as unknown as HubStatus['warehouses'],
    sessions: Array.from({ length: 3 }, (_, i) => ({
      id: `${String(i).padStart(8, '0')}-aaaa-bbbb-cccc-dddddddddddd`,
      identity: { kind: 'unix-user', name: 'someone' },
      transport: 'unix-socket',
      client: { name: `Visual Studio Code - Insiders Edition ${i}`, version: '1.105.0-insider' },
      protocolVersion: '2025-11-25',
      shimPid: 1_234_560 + i,
      parent: { pid: 4_194_300 + i, command: 'code-insiders-helper-process' },
      shimVersion: '0.1.0',
      profile: null,
      connectedAt: new Date(NOW - i * 3_700_000).toISOString(),
      calls: 12_345,
      errors: 678,
      running: 2,
      lastTool: 'describe_table_with_a_long_team_tool_name',
      lastCallAt: null,
      resumeOf: null,
    })) as unknown as HubStatus['sessions'],
    totals: { sessionsOpened: 1234, calls: 123_456, errors: 789, refused: 12, cancelled: 3 },
    recent: Array.from({ length: 4 }, (_, i) => ({
      at: new Date(NOW - i * 1000).toISOString(),
      sessionId: `${String(i).padStart(8, '0')}-aaaa`,
      tool: 'a_team_tool_with_a_long_name',
      outcome: i % 2 ? 'ok' : 'refused',
      errorCode: i % 2 ? null : 'SQL_MULTI_STATEMENT',
      ms: 12_345.678,
      rows: 1_000_000,
      sql: `SELECT L_ORDERKEY, L_PARTKEY, L_SUPPKEY, L_COMMENT FROM SNOWMUX_SAMPLE.TPCH.LINEITEM WHERE L_QUANTITY > ${i}`,
      ...(i === 2 ? { scanEstimate: { bytes: 1_610_612_736, partitions: 12, partitionsTotal: 400 } } : {}),
      ...(i === 3 ? { scanEstimate: { rows: 6_001_215.4 } } : {}),
    })) as unknown as HubStatus['recent'],
    governance: {
      policy: { roles: ['analyst', 'data-engineering-readers', 'finance-restricted', 'marketing-analytics', 'support'], defaultRole: 'analyst' },
      queue: { maxConcurrent: 8, maxQueued: 256, running: 3, queued: 5, totals: { refused: 17 }, pools: [{ name: 'embedded', maxConcurrent: 6, running: 1, queued: 0 }, { name: 'analytics-production-reader-with-a-long-name', maxConcurrent: 8, running: 2, queued: 5 }] },
      breakers: [{ profile: 'analytics-production-reader-with-a-long-name', state: 'open', failures: 5, opensCount: 2, nextAttemptAt: NOW + 30_000, lastFailure: { message: FAILURE } }],
      rateLimits: [{ identity: 'api-key:a-very-long-identity-name-for-the-ci-pipeline', tokens: 199.5, capacity: 200, refillPerSecond: 50 }],
      quotas: [{ identity: 'api-key:a-very-long-identity-name-for-the-ci-pipeline', windows: [{ windowMs: 3_600_000, remaining: { queries: 10, rows: 1_000_000, scan_bytes: 10_000_000_000 }, resetsAt: new Date(NOW + 60_000).toISOString() }] }],
    },
    team: {
      mode: 'connected',
      namespace: 'snowmux-analytics-team',
      replicaId: 'replica-host-one.internal.example.com:123456',
      replicas: ['one', 'two'].map((n) => ({ id: `replica-host-${n}.internal.example.com:123456`, pid: 123456, version: '0.1.0', state: 'running', sessions: 120, running: 8, queued: 30, breakers: [{ profile: 'analytics', state: 'closed' }, { profile: 'finance', state: 'half-open' }] })),
      slotWaits: { waiting: 3, total: 1200 },
      auditStream: { key: 'snowmux-analytics-team:audit', shipped: 123_456, dropped: 2, pending: 0, lastError: 'OOM command not allowed when used memory > maxmemory' },
    },
    http: { url: 'http://127.0.0.1:8765', engine: 'uws', auth: true },
    metrics: { url: 'http://127.0.0.1:9464/metrics' },
    traces: { url: 'https://otel-collector.observability.internal.example.com:4318/v1/traces', spansExported: 123_456, spansDropped: 12, failing: true, lastError: 'connect ECONNREFUSED 10.0.0.1:4318' },
    audit: { enabled: true, dir: `${LONG_HOME}/audit`, file: 'audit-000001.jsonl', lastSeq: 123_456, durableSeq: 123_450, failedAppends: 1 },
    config: { path: `${LONG_HOME}/config.toml`, exists: true },
  } as unknown as HubStatus;
}

test('plain status of a busy hub: no line wider than 80 columns, and nothing is lost to the width', () => {
  const text = formatStatus(busyHub());
  const lines = text.trimEnd().split('\n');
  for (const line of lines) assert.ok(line.length <= 80, `wider than 80: ${JSON.stringify(line)} (${line.length})`);
  const joined = lines.map((l) => l.trim()).join('');
  // A wrapped line loses no word: every long value is still there once the lines are joined.
  for (const whole of [LONG_HOME, `${LONG_HOME}/warehouse/SNOWMUX_SAMPLE.duckdb`, `${LONG_HOME}/audit/audit-000001.jsonl`, `${LONG_HOME}/config.toml`]) {
    assert.ok(joined.includes(whole), `${whole} survives wrapping`);
  }
  assert.ok(lines.map((l) => l.trim()).join(' ').includes(FAILURE.slice(0, 80)), "the breaker's last failure (its first 80 characters) is whole");
  assert.match(text, /^warehouse snowflake:analytics-production-reader-with-a-long-name/m);
  assert.match(text, /^ {2,12}\S/m, 'continuation lines are indented under the value');
  assert.match(text, /^SESSION +CLIENT +SHIM PID +PARENT +UP +CALLS +ERR +RUN +LAST TOOL$/m);
  assert.match(text, /^00000001 +Visual.* +1234561 +/m, 'each session is one row, its pid whole');
  assert.match(text, /^AT +SESSION +TOOL +OUTCOME +MS +ROWS$/m);
  assert.match(text, /^ {10}SELECT L_ORDERKEY, L_PARTKEY/m, "a call's SQL on its own line");
  assert.match(text, /^ {10}scan 1\.5 GB in 12 of 400 partitions \| SELECT L_ORDERKEY/m, "a call's scan estimate leads its SQL line (issue 12)");
  assert.match(text, /^ {10}scan about 6001215 rows \| SELECT/m, "DuckDB's estimate is rows");
  assert.match(text, /^REPLICA +VERSION +STATE +SESS +RUN +QUEUED +BREAKERS$/m);
  assert.match(text, /^replica-host-one:123456 \(this\) +0\.1\.0 +running/m, "a replica's row keeps its id whole");
});

test('a terminal wider than 80 gets longer lines; a narrow one is still respected', () => {
  const wide = formatStatus(busyHub(), 160).trimEnd().split('\n');
  assert.ok(wide.some((l) => l.length > 80), 'the width is used');
  assert.ok(wide.every((l) => l.length <= 160));
  const narrow = formatStatus(busyHub(), 60).trimEnd().split('\n');
  for (const line of narrow) assert.ok(line.length <= 60, `wider than 60: ${JSON.stringify(line)}`);
});

test('wrapLine: breaks at spaces, indents under the value, breaks a word only when it cannot fit a line', () => {
  assert.deepEqual(wrapLine('short', 80), ['short']);
  assert.deepEqual(wrapLine('label  aaaa bbbb cccc dddd eeee ffff', 30), ['label  aaaa bbbb cccc dddd', '       eeee ffff']);
  const path = `home ${'/x'.repeat(50)}`;
  const lines = wrapLine(path, 40);
  assert.ok(lines.every((l) => l.length <= 40));
  assert.equal(lines.map((l) => l.trim()).join('').replace(/^home /, ''), '/x'.repeat(50));
});

test("clients' text (names, parent command, tool, SQL) cannot act on the operator's terminal: control and format characters are shown escaped", () => {
  const s = busyHub();
  const session = s.sessions[0] as unknown as { client: { name: string; version: string }; parent: { pid: number; command: string }; lastTool: string };
  session.client = { name: 'cl\u001b[41mient', version: '1\u0007' };
  session.parent = { pid: 1, command: '\u001b]0;PWNED\u0007\u001b[2J' };
  session.lastTool = 'execute_query\u009b2J';
  (s.recent[0] as unknown as { sql: string }).sql = 'SELECT 1 /* \u001b]0;SQLPWN\u0007 \u202e */';
  const text = formatStatus(s, 200);
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/u, 'no raw control or format character');
  assert.match(text, /cl\\u001b\[41mient/);
  assert.match(text, /\\u001b\]0;PWNED\\u0007/);
  assert.match(text, /SQLPWN\\u0007/);
});

test('an audit log waiting for the previous hub (a take-over) shows the wait and what it holds, not "disabled"', () => {
  const status = { ...busyHub(), audit: { enabled: true, open: false, dir: '/h/audit', waitingForPid: 4242, waitingSince: '2026-12-05T10:11:12.000Z', waitingUntil: '2026-12-05T10:16:42.000Z', heldRecords: 3 } } as unknown as HubStatus;
  const text = formatStatus(status, 400);
  // The bound said is the one the hub keeps (max(2 min, call timeout + 30 s)), as a time, not "2 minutes".
  assert.match(text, /^audit {2}\/h\/audit {2}WAITING since 10:11:12 UTC for the previous hub \(pid 4242\) to finish its records \(one writer at a time; it is taken over at 10:16:42 UTC at the latest\); 3 record\(s\) held in this hub's side file, written into the chain in order once it has$/m);
  assert.doesNotMatch(text, /audit {2}disabled/);
});

test('a line break in a client\'s tool, client or parent name cannot split a row: each session and call stays one row', () => {
  const s = busyHub();
  // A clock time no real row can show: a forged '22:00:01' row failed CI once when the genuine rows of a run
  // at 22:00:01 started with it.
  const forged = '\n25:61:61  0badc0de  execute_query  ok  1.0  1';
  const session = s.sessions[0] as unknown as { client: { name: string; version: string }; parent: { pid: number; command: string }; lastTool: string };
  session.client = { name: `Editor${forged}`, version: '1\r2' };
  session.parent = { pid: 1, command: `code\u2028x\u2029y\u0085z${forged}` };
  session.lastTool = `list_databases${forged}`;
  (s.recent[0] as unknown as { tool: string }).tool = `list_databases${forged}`;
  const plain = formatStatus(busyHub(), 400).split('\n').length;
  const lines = formatStatus(s, 400).split('\n');
  assert.equal(lines.length, plain, 'no line more than the same status with plain names');
  assert.ok(!lines.some((l) => l.startsWith('25:61:61')), 'nothing the client wrote starts a line');
  assert.ok(lines.some((l) => l.includes('list_databases\\u000a25:61:61')), 'the break is shown escaped, in its cell');
  assert.doesNotMatch(lines.join('\n'), /[\r\u2028\u2029\u0085]/u);
});

test('a message of several lines (a config error) keeps its lines, indented under the one that starts it', () => {
  const s = { ...busyHub(), config: { path: '/h/config.toml', exists: true, warnings: ['first line\nsecond line'] } } as unknown as HubStatus;
  const lines = formatStatus(s, 200).split('\n');
  const at = lines.indexOf('warning first line');
  assert.ok(at >= 0, lines.join('\n'));
  assert.equal(lines[at + 1], '    second line');
});

test("a team hub's quota line is the team's count (what refuses calls), says so, and gives this replica's part", () => {
  // Each replica showed its own usage as the budget left: 10 calls here and 5 on another replica read as
  // "15 left" here and "20 left" there, while the team had 10 left.
  const hub = busyHub();
  const seenAt = new Date(NOW).toISOString();
  (hub.governance as { quotas: unknown[] }).quotas = [
    { identity: 'gina', role: 'capped', windows: [{ windowMs: 3_600_000, remaining: { queries: 10, rows: null, bytes: null }, resetsAt: new Date(NOW + 60_000).toISOString(), team: { seenAt, own: { queries: 10, rows: 0, bytes: 0 } } }] },
  ];
  const text = formatStatus(hub, 200);
  assert.match(text, new RegExp(`^quota  gina \\(capped\\): queries 10 left until \\S+ \\(team-wide as of ${seenAt.slice(11, 19)}; 10 queries on this replica\\)$`, 'm'));
});

test("the queue line shows the hub-wide cap as configured, and a pools line each warehouse pool's own use", () => {
  const lines = formatStatus(busyHub(), 400).split('\n');
  assert.ok(lines.includes('queue  running 3/8  waiting 5/256  refused busy 17'), lines.join('\n'));
  assert.ok(lines.includes('pools  embedded running 1/6, analytics-production-reader-with-a-long-name running 2/8 waiting 5'), lines.join('\n'));
});

test('a warehouse whose profile names no default database or schema says whose defaults apply, never "default ."', () => {
  const hub = busyHub();
  const [embedded, snowflake] = hub.warehouses as unknown as { defaultDatabase: string; defaultSchema: string }[];
  for (const [database, schema, expected] of [
    ['', '', "default: the Snowflake user's own"],
    ['ANALYTICS', '', "default ANALYTICS (the user's default schema)"],
    ['', 'PUBLIC', "default schema PUBLIC (the user's default database)"],
  ] as const) {
    Object.assign(snowflake!, { defaultDatabase: database, defaultSchema: schema });
    const text = formatStatus(hub, 400);
    assert.ok(text.includes(expected), text);
    assert.doesNotMatch(text, /default \.|default [A-Z_]+\.( |$)/m);
  }
  assert.match(formatStatus(hub, 400), new RegExp(`default ${embedded!.defaultDatabase}\\.${embedded!.defaultSchema}`));
});

test('pools sharing a profile name: each warehouse line and each breaker carries its warehouse number, so an open breaker names its pool', () => {
  const s = busyHub();
  const shared = { kind: 'snowflake', name: 'analytics', defaultDatabase: 'DB', defaultSchema: 'PUBLIC', concurrency: 4 };
  s.warehouses = [
    { ...shared, id: 7, detail: { user: 'ALICE', role: 'READER' } },
    { ...shared, id: 9, detail: { user: 'BOB', role: 'READER' } },
    { kind: 'duckdb', name: 'embedded', id: 3, detail: {}, defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', concurrency: 6 },
  ] as unknown as HubStatus['warehouses'];
  const g = s.governance as { breakers: unknown[] };
  g.breakers = [
    { profile: 'analytics', warehouseId: 7, state: 'closed', failures: 0, opensCount: 0, nextAttemptAt: null, lastFailure: null },
    { profile: 'analytics', warehouseId: 9, state: 'open', failures: 5, opensCount: 1, nextAttemptAt: NOW + 30_000, lastFailure: { message: 'login failed' } },
    { profile: 'embedded', warehouseId: 3, state: 'closed', failures: 0, opensCount: 0, nextAttemptAt: null, lastFailure: null },
  ];
  const text = formatStatus(s, 200);
  assert.match(text, /^warehouse snowflake:analytics #7 .*user=ALICE/m);
  assert.match(text, /^warehouse snowflake:analytics #9 .*user=BOB/m);
  assert.match(text, /^breaker analytics #9: OPEN /m);
  assert.match(text, /^breaker analytics #7: CLOSED /m);
  // A name only one pool has stays as it was.
  assert.match(text, /^warehouse duckdb:embedded {2}/m);
  assert.match(text, /^breaker embedded: CLOSED /m);
});

test('a hub of another snowmux version than this CLI is named with what to do (nothing refuses it: one link version)', () => {
  const shown = (s: HubStatus, reached?: 'local' | 'remote') => formatStatus(s, 400, reached);
  const same = busyHub();
  same.version = VERSION;
  for (const x of same.sessions) x.shimVersion = VERSION;
  assert.doesNotMatch(shown(same), /^version:/m);

  // After an upgrade, the hub that was running goes on serving editors that launch the new snowmux.
  const older = busyHub();
  older.version = '0.0.9';
  older.home = '/tmp/elsewhere/.snowmux';
  older.config = { path: '/tmp/elsewhere/team.toml', exists: true };
  for (const x of older.sessions) x.shimVersion = VERSION;
  const text = shown(older);
  assert.match(text, new RegExp(`^version: this hub runs snowmux 0\\.0\\.9, older than this snowmux \\(${VERSION.replace(/\./g, '\\.')}\\): .*; move it to this version \\(editors stay connected\\): snowmux hub --replace --home /tmp/elsewhere/\\.snowmux --config /tmp/elsewhere/team\\.toml$`, 'm'));
  // Sessions through shims of another version are the hub's health warnings (test/e2e/chaos-version-skew), not version: lines.
  assert.equal(text.match(/^version:/gm)?.length, 1);
  // Run by a service manager: restarted through it; over --url: not this machine's to replace.
  older.service = { manager: 'systemd', unit: 'snowmux-hub.service', restart: 'systemctl --user restart snowmux-hub.service' } as HubStatus['service'];
  assert.match(shown(older), /older than this snowmux .*restart it on this version through its service manager: systemctl --user restart snowmux-hub\.service$/m);
  assert.match(shown(older, 'remote'), /older than this snowmux .*; ask the hub's operator to upgrade it$/m);

  // A stale CLI (an old install first on PATH) must not advise moving a newer hub back.
  const newer = busyHub();
  newer.version = '99.0.0';
  newer.sessions[0]!.shimVersion = '0.0.9';
  for (const x of newer.sessions.slice(1)) x.shimVersion = '99.0.0';
  const fromStale = shown(newer);
  assert.match(fromStale, /^version: this snowmux \(.*\) is older than the hub \(99\.0\.0\): use the newer snowmux \(the one your editors launch\); `hub --replace` from this one would downgrade the hub\.$/m);
});

test('replicas applying different rules (policy drift) are named in status, each with the rules it applies', () => {
  const s = busyHub();
  (s.team as { policyDrift?: unknown }).policyDrift = [
    { policy: 'aaaaaaaaaaaa', replicas: ['replica-host-one.internal.example.com:123456'] },
    { policy: 'bbbbbbbbbbbb', replicas: ['replica-host-two.internal.example.com:123456'] },
  ];
  const text = formatStatus(s, 400);
  assert.match(text, /^POLICY DRIFT .*replica-host-one\.internal\.example\.com:123456 \(this\) apply rules aaaaaaaaaaaa; replica-host-two\.internal\.example\.com:123456 apply rules bbbbbbbbbbbb\. Make config\.toml the same on every replica and reload each$/m);
  assert.doesNotMatch(formatStatus(busyHub(), 400), /POLICY DRIFT/, 'said only while the rules differ');
});
