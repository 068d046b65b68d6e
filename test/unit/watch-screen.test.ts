/** `snowmux status --watch`'s screen fits the terminal: 80×24 with many sessions, profiles and calls. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HubStatus } from '../../src/hub/hub.js';
import { watchScreen, type WatchFrame } from '../../src/cli/watch-screen.js';

const NOW = Date.parse('2026-12-04T10:00:00Z');

function busyHub(counts: { sessions: number; profiles: number; calls: number; openBreakers?: number }): HubStatus {
  const profiles = Array.from({ length: counts.profiles }, (_, i) => `analytics-${String(i).padStart(2, '0')}-a-rather-long-profile-name`);
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: new Date(NOW - 3_723_000).toISOString(),
    uptimeMs: 3_723_000,
    home: '/home/someone/.snowmux',
    socket: '/home/someone/.snowmux/hub.sock',
    state: 'running',
    warehouses: profiles.map((name) => ({ kind: 'snowflake', name, detail: { account: 'xy12345', pool: { size: 4 } }, defaultDatabase: 'DB', defaultSchema: 'PUBLIC', concurrency: 4 }) as HubStatus['warehouses'][number]),
    sessions: Array.from({ length: counts.sessions }, (_, i) => ({
      id: `${String(i).padStart(8, '0')}-aaaa-bbbb-cccc-dddddddddddd`,
      identity: { kind: 'api-key', name: `a-very-long-identity-name-${i}` },
      transport: i % 2 ? 'socket' : 'http',
      client: { name: `Some Editor With A Long Name ${i}`, version: '1.2.3-beta.4' },
      protocolVersion: '2025-11-25',
      shimPid: 1000 + i,
      parent: { pid: 900 + i, command: 'code' },
      shimVersion: '0.1.0',
      profile: profiles[i % Math.max(1, profiles.length)] ?? null,
      connectedAt: new Date(NOW - i * 61_000).toISOString(),
      calls: i * 3,
      errors: i % 4,
      running: i % 2,
      lastTool: 'describe_table_with_a_long_tool_name',
      lastCallAt: null,
      resumeOf: null,
    })) as unknown as HubStatus['sessions'],
    totals: { sessionsOpened: counts.sessions * 2, calls: 123_456, errors: 789, refused: 12, cancelled: 3 },
    recent: Array.from({ length: counts.calls }, (_, i) => ({
      at: new Date(NOW - i * 1000).toISOString(),
      sessionId: `${String(i).padStart(8, '0')}-aaaa`,
      tool: 'execute_query',
      outcome: i % 3 ? 'ok' : 'refused',
      errorCode: i % 3 ? null : 'SQL_REFUSED_BY_A_LONG_RULE_NAME',
      ms: 12.5 * i,
      rows: i,
    })) as unknown as HubStatus['recent'],
    governance: {
      queue: { maxConcurrent: 8, maxQueued: 64, running: 3, queued: 5 },
      breakers: profiles.map((profile, i) => ({ profile, state: i < (counts.openBreakers ?? 0) ? 'open' : 'closed' })),
    },
  };
}

function assertFits(lines: string[], columns: number, rows: number): void {
  assert.ok(lines.length <= rows, `${lines.length} lines for ${rows} rows:\n${lines.join('\n')}`);
  for (const line of lines) assert.ok(line.length <= columns, `wider than ${columns}: ${JSON.stringify(line)} (${line.length})`);
}

test('80×24 with 200 sessions, 30 profiles (3 breakers open) and 50 recent calls: every line fits, long lists end in "+N more"', () => {
  const frame: WatchFrame = { kind: 'status', status: busyHub({ sessions: 200, profiles: 30, calls: 50, openBreakers: 3 }), freshness: 'live: redrawn on each hub event (http://127.0.0.1:8765/events)' };
  const lines = watchScreen(frame, { columns: 80, rows: 24 }, NOW);
  assertFits(lines, 80, 24);
  const text = lines.join('\n');
  assert.match(lines[0]!, /^snowmux hub 0\.1\.0 {2}pid 4242 {2}up 1h02m {2}RUNNING$/);
  assert.match(lines[1]!, /^live: redrawn on each hub event/);
  assert.match(text, /^warehouses \(30\): snowflake:analytics-00-.* \+\d+ more$/m);
  assert.match(text, /^breakers: 27 closed, analytics-00-\S+ OPEN.* \+\d more$/m);
  assert.match(text, /^sessions \(200\)$/m);
  assert.match(text, /^\+\d+ more sessions$/m);
  assert.match(text, /^recent calls$/m);
  assert.match(text, /^\+\d+ more calls$/m);
  const sessionLines = lines.filter((l) => /^0000\d{4} {2}Some Edit/.test(l));
  assert.ok(sessionLines.length >= 4, `some sessions are listed:\n${text}`);
  const more = Number(/^\+(\d+) more sessions$/m.exec(text)![1]);
  assert.equal(sessionLines.length + more, 200, 'listed plus "+N more" is every session');
  assert.ok(lines.length >= 20, 'the screen is used, not left half empty');
});

test('a bigger terminal lists more; a small hub fits without "+N more"', () => {
  const status = busyHub({ sessions: 200, profiles: 30, calls: 50 });
  const big = watchScreen({ kind: 'status', status, freshness: 'x' }, { columns: 160, rows: 50 }, NOW);
  assertFits(big, 160, 50);
  assert.ok(big.length > 24);
  const small = watchScreen({ kind: 'status', status: busyHub({ sessions: 2, profiles: 1, calls: 3 }), freshness: 'x' }, { columns: 80, rows: 24 }, NOW);
  assertFits(small, 80, 24);
  assert.doesNotMatch(small.join('\n'), /more/);
  assert.equal(small.filter((l) => l.startsWith('0000000')).length, 2, 'both sessions');
  assert.equal(small.filter((l) => l.includes('execute_query')).length, 3, 'every call');
});

test("a warehouse that cannot serve is marked DOWN with its code, and an unhealthy hub says so in one fitted line", () => {
  const status = busyHub({ sessions: 2, profiles: 1, calls: 1 });
  status.warehouses[0]!.problem = { code: 'AUTH_FAILED', snowflakeCode: '390100', message: 'Snowflake refused the login.', at: new Date(NOW).toISOString(), failures: 1, transient: false };
  status.health = { ok: false, reasons: [`no warehouse can serve: Snowflake profile "${status.warehouses[0]!.name}" failed to log in at 10:00:00 UTC [AUTH_FAILED 390100]: Snowflake refused the login.`], warnings: [] };
  const lines = watchScreen({ kind: 'status', status, freshness: 'x' }, { columns: 80, rows: 24 }, NOW);
  assertFits(lines, 80, 24);
  assert.match(lines.join('\n'), /DOWN\(390100\)/);
  assert.match(lines.join('\n'), /^UNHEALTHY: no warehouse can serve: Snowflake profile/m);
  assert.doesNotMatch(watchScreen({ kind: 'status', status: busyHub({ sessions: 2, profiles: 1, calls: 1 }), freshness: 'x' }, { columns: 80, rows: 24 }, NOW).join('\n'), /UNHEALTHY|DOWN\(/);
});

test('the waiting screen fits too and says what it waits for', () => {
  const lines = watchScreen({ kind: 'waiting', reason: `No hub answered at /tmp/${'x'.repeat(200)}/hub.sock: connect ENOENT`, waitedMs: 5_000, last: busyHub({ sessions: 3, profiles: 1, calls: 0 }) }, { columns: 80, rows: 24 }, NOW);
  assertFits(lines, 80, 24);
  assert.match(lines[0]!, /waiting for the hub \(5s\)/);
  assert.match(lines.join('\n'), /last seen: hub 0\.1\.0 pid 4242, running, 3 sessions/);
});

test('a team hub: one line for every replica (sessions and running calls each), fitted with "+N more"', () => {
  const status = busyHub({ sessions: 10, profiles: 2, calls: 5 });
  status.team = {
    mode: 'connected',
    replicas: Array.from({ length: 40 }, (_, i) => ({ id: `snowmux-replica-${i}.example.internal:${1000 + i}`, sessions: i, running: i % 3 })),
  };
  const lines = watchScreen({ kind: 'status', status, freshness: 'live' }, { columns: 80, rows: 24 }, NOW);
  assertFits(lines, 80, 24);
  const team = lines.find((l) => l.startsWith('team '));
  assert.ok(team, lines.join('\n'));
  assert.match(team, /^team connected, 40 replicas, 780 sessions: snowmux-replica-0:1000 0s\/0r \+39 more$/);
  const wide = watchScreen({ kind: 'status', status, freshness: 'live' }, { columns: 160, rows: 40 }, NOW).find((l) => l.startsWith('team '));
  assert.match(wide!, /snowmux-replica-0:1000 0s\/0r, snowmux-replica-1:1001 1s\/1r, .* \+\d+ more$/, 'a wider terminal lists more');
  status.team = { mode: 'local', replicas: [] };
  const local = watchScreen({ kind: 'status', status, freshness: 'live' }, { columns: 80, rows: 24 }, NOW).find((l) => l.startsWith('team '));
  assert.equal(local, 'team LOCAL LIMITS, 0 replicas, 0 sessions: none seen yet');
});

test("clients' text on the watch screen cannot act on the terminal: control characters are shown escaped", () => {
  const status = busyHub({ sessions: 2, profiles: 1, calls: 3 });
  (status.sessions[0] as unknown as { client: { name: string; version: string } }).client = { name: 'Ed\u001b]0;PWNED\u0007', version: '1' };
  const lines = watchScreen({ kind: 'status', status, freshness: 'x' }, { columns: 160, rows: 50 }, NOW);
  const text = lines.join('\n');
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u);
  assert.match(text, /Ed\\u001b\]0;PWNED/);
});

test('a line break in a client\'s tool or client name cannot add a row to the frame', () => {
  const status = busyHub({ sessions: 2, profiles: 1, calls: 3 });
  // A clock time no real row can show: a forged '22:00:01' row failed CI once when the genuine rows of a run
  // at 22:00:01 started with it.
  const forged = '\n25:61:61  0badc0de  execute_query  ok  1  1';
  (status.sessions[0] as unknown as { client: { name: string; version: string } }).client = { name: `Ed${forged}`, version: '1' };
  (status.sessions[1] as unknown as { lastTool: string }).lastTool = `list_databases\r\u2028${forged}`;
  (status.recent[0] as unknown as { tool: string }).tool = `list_databases${forged}`;
  const plain = watchScreen({ kind: 'status', status: busyHub({ sessions: 2, profiles: 1, calls: 3 }), freshness: 'x' }, { columns: 200, rows: 50 }, NOW);
  const lines = watchScreen({ kind: 'status', status, freshness: 'x' }, { columns: 200, rows: 50 }, NOW);
  assert.equal(lines.length, plain.length);
  for (const line of lines) assert.doesNotMatch(line, /[\n\r\u2028]/u, JSON.stringify(line));
  assert.ok(!lines.some((l) => l.startsWith('25:61:61')));
  assert.ok(lines.some((l) => l.includes('list_databases\\u000a25:61:61')), lines.join('\n'));
});

test('pools sharing a profile name: the watch screen names the open one by its warehouse number, as plain status does', () => {
  const s = busyHub({ sessions: 1, profiles: 0, calls: 0 });
  s.warehouses = [7, 9].map((id) => ({ kind: 'snowflake', name: 'analytics', id, detail: {}, defaultDatabase: 'DB', defaultSchema: 'PUBLIC', concurrency: 4 }) as HubStatus['warehouses'][number]);
  (s.governance as { breakers: unknown[] }).breakers = [
    { profile: 'analytics', warehouseId: 7, state: 'closed' },
    { profile: 'analytics', warehouseId: 9, state: 'open' },
  ];
  const text = watchScreen({ kind: 'status', status: s, freshness: 'x' }, { columns: 100, rows: 24 }, NOW).join('\n');
  assert.match(text, /^warehouses \(2\): snowflake:analytics #7, snowflake:analytics #9/m);
  assert.match(text, /^breakers: 1 closed, analytics #9 OPEN$/m);
});
