import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import {
  DEFAULT_AUDIT_SETTINGS,
  DEFAULT_BREAKER_SETTINGS,
  DEFAULT_LIMIT_SETTINGS,
  parseDurationMs,
  type HubConfig,
} from '../../src/hub/config/config-schema.js';
import { Policy } from '../../src/hub/policy/policy.js';

const FILE = '/home/u/.snowmux/config.toml';

function configError(text: string): string {
  try {
    parseConfigText(text, FILE);
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

const FULL_EXAMPLE = `
[hub]
redis_url = "redis://127.0.0.1:6379"

[policy]
default_role = "reader"

[roles.analyst]
identities = ["alice", "bob"]
clients = ["Claude*", "cursor"]
tools = ["*", "!fetch_results"]
allow = ["SNOWMUX_SAMPLE.TPCH.*", "ANALYTICS.*.*"]
deny  = ["*.HR.*", "*.*.SALARIES"]
write = false
stage_listing = false
profile = "dev"
snowflake_role = "ANALYST"
warehouse = "ANALYTICS_WH"
max_rows = 500
max_scan_bytes = 1000000000
max_scan_partitions = 500
statement_timeout = "30s"
max_cell_chars = 2000
row_cap_pushdown = true
query_history = "all"
result_form = "structured"
[roles.analyst.rate]
per_second = 5
burst = 20
[roles.analyst.quota]
window = "1h"
queries = 1000
rows = 1000000
bytes = 500000000
scan_bytes = 10000000000

[roles.reader]
tools = ["list_*", "describe_*"]

[limits]
max_concurrent_queries = 8
max_queued = 64
max_queued_per_session = 16
team_max_concurrent_queries = 6
retry_attempts = 2
retry_budget_ms = 5000
[limits.rate]
per_second = 2.5

[audit]
enabled = true
dir = "audit"
fsync = "always"
fsync_interval_ms = 100
max_file_mb = 0.5
max_files = 10

[breaker]
failure_threshold_percent = 40
volume_threshold = 10
reset_timeout_ms = 15000
`;

test('the governance sections become typed camelCase settings', () => {
  const config = parseConfigText(FULL_EXAMPLE, FILE);
  assert.deepEqual(config.policy, { defaultRole: 'reader' });
  assert.deepEqual(Object.keys(config.roles), ['analyst', 'reader']);
  assert.deepEqual(config.roles.analyst, {
    identities: ['alice', 'bob'],
    clients: ['Claude*', 'cursor'],
    tools: ['*', '!fetch_results'],
    allow: ['SNOWMUX_SAMPLE.TPCH.*', 'ANALYTICS.*.*'],
    deny: ['*.HR.*', '*.*.SALARIES'],
    write: false,
    stageListing: false,
    profile: 'dev',
    snowflakeRole: 'ANALYST',
    warehouse: 'ANALYTICS_WH',
    maxRows: 500,
    scanLimit: { bytes: 1_000_000_000, partitions: 500, rows: undefined },
    statementTimeoutMs: 30_000,
    maxCellChars: 2000,
    rowCapPushdown: true,
    queryHistory: 'all',
    resultForm: 'structured',
    rate: { perSecond: 5, burst: 20 },
    quota: { windowMs: 3_600_000, queries: 1000, rows: 1_000_000, bytes: 500_000_000, scanBytes: 10_000_000_000 },
  });
  assert.deepEqual(config.limits, {
    maxConcurrentQueries: 8,
    maxQueued: 64,
    maxQueuedPerSession: 16,
    teamMaxConcurrentQueries: 6,
    retryAttempts: 2,
    retryBudgetMs: 5000,
    defaultRate: { perSecond: 2.5, burst: 3 }, // burst defaults to one second's worth
    metadataCacheTtlMs: 60_000,
  });
  assert.deepEqual(config.audit, { enabled: true, dir: 'audit', fsync: 'always', onFailure: 'refuse', fsyncIntervalMs: 100, maxFileBytes: 524_288, maxFiles: 10, redisStreamMax: 1_000_000 });
  assert.deepEqual(config.breaker, { errorThresholdPercentage: 40, volumeThreshold: 10, resetTimeoutMs: 15_000 });

  const policy = Policy.fromConfig(config, FILE);
  assert.deepEqual(policy.describe(), { roles: ['analyst', 'reader'], defaultRole: 'reader' });
  assert.equal(policy.roleFor({ kind: 'local-user', name: 'alice' }, { name: 'cursor', version: '1' }).name, 'analyst');
  assert.equal(policy.roleFor({ kind: 'local-user', name: 'alice' }, { name: 'zed', version: '1' }).name, 'reader');
});

test('absent sections get the documented defaults', () => {
  const config = parseConfigText('', FILE);
  assert.deepEqual(config.policy, { defaultRole: undefined });
  assert.deepEqual(config.roles, {});
  assert.deepEqual(config.limits, DEFAULT_LIMIT_SETTINGS);
  assert.deepEqual(config.audit, DEFAULT_AUDIT_SETTINGS);
  assert.deepEqual(config.breaker, DEFAULT_BREAKER_SETTINGS);
  assert.deepEqual(config.audit, { enabled: true, dir: 'audit', fsync: 'interval', onFailure: 'refuse', fsyncIntervalMs: 200, maxFileBytes: 64 * 1024 * 1024, maxFiles: 0, redisStreamMax: 1_000_000 });
  const minimal = parseConfigText('[roles.r]\nidentities = ["x"]\n', FILE);
  assert.deepEqual(
    Object.fromEntries(Object.entries(minimal.roles.r!).filter(([, v]) => v !== undefined)),
    { identities: ['x'] },
    'unset role keys stay unset; the policy applies their defaults',
  );
});

test('durations: whole numbers of s, m, h, d or w, at least one second', () => {
  assert.equal(parseDurationMs('30s'), 30_000);
  assert.equal(parseDurationMs('15m'), 900_000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs(' 1d '), 86_400_000);
  assert.equal(parseDurationMs('2w'), 1_209_600_000);
  for (const bad of ['1x', '0s', '1.5h', 'h', '', '-1h', '1 hour', '500ms']) assert.equal(parseDurationMs(bad), undefined, bad);
});

test('bad governance values name the file and the key', () => {
  const cases: Array<[string, RegExp]> = [
    ['[roles.a.quota]\nwindow = "1x"\nqueries = 1\n', /^Config error in \/home\/u\/\.snowmux\/config\.toml at roles\.a\.quota\.window: expected a duration of at least one second such as "30s", "15m", "1h", "1d" or "1w", got "1x"\. Fix the value or remove the key\.$/],
    ['[roles.a.quota]\nwindow = 3600\nqueries = 1\n', /at roles\.a\.quota\.window: expected a duration .*, got 3600\./],
    ['[roles.a.quota]\nwindow = "1h"\n', /at roles\.a\.quota: expected at least one of queries, rows, bytes or scan_bytes, got a table\./],
    ['[roles.a.quota]\nwindow = "1h"\nqueries = -1\n', /at roles\.a\.quota\.queries: expected an integer of 0 or more, got -1\./],
    ['[roles.a.quota]\nqueries = 5\n', /at roles\.a\.quota\.window: expected a duration .*, got nothing\./],
    ['[roles.a.rate]\nburst = 5\n', /at roles\.a\.rate\.per_second: expected a number greater than 0, got nothing\./],
    ['[roles.a.rate]\nper_second = -2\n', /at roles\.a\.rate\.per_second: expected a number greater than 0, got -2\./],
    ['[roles.a.rate]\nper_second = 1\nburst = 0\n', /at roles\.a\.rate\.burst: expected a positive integer, got 0\./],
    ['[roles.a]\nmax_rows = -5\n', /at roles\.a\.max_rows: expected a positive integer, got -5\./],
    ['[roles.a]\nwrite = "yes"\n', /at roles\.a\.write: expected true or false, got "yes"\./],
    ['[roles.a]\nidentities = "alice"\n', /at roles\.a\.identities: expected an array of strings, got "alice"\./],
    ['[roles.a]\nidentities = ["alice", ""]\n', /at roles\.a\.identities\.1: expected a non-empty string, got ""\./],
    ['[roles.a]\ntools = ["list_*", "!"]\n', /at roles\.a\.tools\.1: expected a tool name or glob .*optionally after "!", got "!"\./],
    ['[roles.a]\nallow = ["a.b.c.d"]\n', /at roles\.a\.allow\.0: expected at most three parts \(DATABASE\.SCHEMA\.OBJECT\), found 4; quote names that contain dots, got "a\.b\.c\.d"\./],
    ['[roles.a]\ndeny = ["DB..T"]\n', /at roles\.a\.deny\.0: expected a name or \* between the dots, got "DB\.\.T"\./],
    ['[roles.a]\ndeny = ["\\"unterminated"]\n', /at roles\.a\.deny\.0: expected a closing double quote/],
    ['[roles.a]\nallow = ["DB.my-*"]\n', /at roles\.a\.allow\.0: expected a glob made of letters, digits, _, \$, \* and \? in "my-\*"; quote names with other characters/],
    ['[roles.a]\nallow = [""]\n', /at roles\.a\.allow\.0: expected an object pattern such as "ANALYTICS\.\*\.\*"/],
    ['[roles."1st"]\nidentities = ["x"]\n', /at roles\.1st: expected a role name of letters, digits, "_" and "-", starting with a letter or "_"/],
    ['[roles."bad name"]\nidentities = ["x"]\n', /at roles\."bad name": expected a role name/],
    ['[roles]\nanalyst = 1\n', /at roles\.analyst: expected a table, got 1\./],
    ['[policy]\ndefault_role = "readr"\n\n[roles.reader]\ntools = []\n', /at policy\.default_role: expected the name of a role defined under \[roles\] \(defined: reader\) or "default", got "readr"\./],
    ['[limits]\nmax_concurrent_queries = -1\n', /at limits\.max_concurrent_queries: expected a positive integer, got -1\./],
    ['[limits]\nmax_concurrent_queries = 0\n', /at limits\.max_concurrent_queries: expected a positive integer, got 0\./],
    ['[limits]\nmax_queued = -5\n', /at limits\.max_queued: expected an integer of 0 or more, got -5\./],
    ['[limits]\nretry_budget_ms = 1.5\n', /at limits\.retry_budget_ms: expected an integer of 0 or more, got 1\.5\./],
    ['[audit]\nfsync = "sometimes"\n', /at audit\.fsync: expected one of always, interval, never, got "sometimes"\./],
    ['[audit]\nmax_file_mb = 0\n', /at audit\.max_file_mb: expected a number greater than 0, got 0\./],
    ['[audit]\nmax_files = -1\n', /at audit\.max_files: expected an integer of 0 or more, got -1\./],
    ['[breaker]\nfailure_threshold_percent = 150\n', /at breaker\.failure_threshold_percent: expected a percentage greater than 0 and at most 100, got 150\./],
    ['[breaker]\nreset_timeout_ms = 0\n', /at breaker\.reset_timeout_ms: expected a positive integer, got 0\./],
  ];
  for (const [text, expected] of cases) assert.match(configError(text), expected, text);
});

test('unknown governance keys are errors, like everywhere else', () => {
  const cases: Array<[string, RegExp]> = [
    ['[roles.a]\nidentities = ["x"]\nread_only = true\n', /at roles\.a: unknown key "read_only"\. Remove it or correct its spelling\./],
    ['[roles.a.quota]\nwindow = "1h"\nqueries = 1\nminutes = 5\n', /at roles\.a\.quota: unknown key "minutes"/],
    ['[roles.a.rate]\nper_second = 1\nper_minute = 5\n', /at roles\.a\.rate: unknown key "per_minute"/],
    ['[policy]\ndefault = "x"\n', /at policy: unknown key "default"/],
    ['[limits]\nmax_concurrency = 4\n', /at limits: unknown key "max_concurrency"/],
    ['[audit]\npath = "audit.log"\n', /at audit: unknown key "path"/],
    ['[breaker]\nthreshold = 5\n', /at breaker: unknown key "threshold"/],
    ['[polcy]\ndefault_role = "x"\n', /at the top level: unknown key "polcy" \(did you mean "policy"\?\)/],
  ];
  for (const [text, expected] of cases) assert.match(configError(text), expected, text);
});

test('Policy.fromConfig re-checks a config built in code and names the file and key', () => {
  const base = parseConfigText('', FILE);
  const broken: HubConfig = {
    ...base,
    policy: { defaultRole: 'ghost' },
    roles: { a: { identities: ['x'], allow: ['ok.*.*', 'a.b.c.d'], tools: [''] }, b: { quota: { windowMs: 10 } } },
  };
  try {
    Policy.fromConfig(broken, FILE);
    assert.fail('expected CONFIG_INVALID');
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'CONFIG_INVALID'));
    const lines = err.message.split('\n');
    assert.equal(lines.length, 4, err.message);
    assert.match(lines[0]!, /^Config error in \/home\/u\/\.snowmux\/config\.toml at roles\.a\.allow\.1: expected at most three parts/);
    assert.match(lines[1]!, /at roles\.a\.tools\.0: expected a tool name/);
    assert.match(lines[2]!, /at roles\.b\.quota\.window: expected a window of at least one second, got 10 ms/);
    assert.match(lines[3]!, /at policy\.default_role: no role named "ghost" \(defined roles: a, b\)/);
  }
});
