import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSnowmuxError } from '../../src/errors.js';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { checkSql } from '../../src/hub/guard/sql/policy.js';
import { enforceObject, enforceTool } from '../../src/hub/policy/enforce.js';
import { globMatch } from '../../src/hub/names/glob.js';
import { Policy, objectRefFrom, type EffectiveRole, type ObjectRef } from '../../src/hub/policy/policy.js';
import type { ClientInfo, Identity } from '../../src/hub/session/session.js';

const FILE = '/home/u/.snowmux/config.toml';

function policyOf(toml: string): Policy {
  return Policy.fromConfig(parseConfigText(toml, FILE), FILE);
}

function local(name: string): Identity {
  return { kind: 'local-user', name };
}

function client(name: string): ClientInfo {
  return { name, version: '1.0' };
}

/** A role whose only interesting part is its object patterns. */
function roleWith(allow: string[] | undefined, deny: string[] = []): EffectiveRole {
  const allowLine = allow === undefined ? '' : `allow = ${JSON.stringify(allow)}\n`;
  const policy = policyOf(`[roles.r]\nidentities = ["*"]\n${allowLine}deny = ${JSON.stringify(deny)}\n`);
  return policy.roleFor(local('anyone'), null);
}

function denial(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isSnowmuxError(err, 'POLICY_DENIED'), `expected POLICY_DENIED, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a POLICY_DENIED refusal');
}

const MATRIX_CONFIG = `
[policy]
default_role = "viewer"

[roles.claude_reader]
identities = ["alice"]
clients = ["Claude*"]

[roles.analyst]
identities = ["alice", "bob"]

[roles.contractors]
identities = ["contractor-*"]

[roles.cursor_users]
clients = ["cursor"]

[roles.viewer]
tools = ["list_*", "describe_*"]
`;

test('roles are matched in file order on identity and client, then the default role applies', () => {
  const policy = policyOf(MATRIX_CONFIG);
  const cases: Array<[string, string | null, string]> = [
    ['alice', 'Claude Desktop', 'claude_reader'],
    ['alice', 'claude-code', 'claude_reader'], // client globs ignore case
    ['alice', 'cursor', 'analyst'],
    ['alice', null, 'analyst'], // a role with clients needs a known client
    ['bob', 'Claude Desktop', 'analyst'],
    ['contractor-7', 'Claude Desktop', 'contractors'],
    ['contractor-', 'vscode', 'contractors'], // * also matches nothing
    ['carol', 'cursor', 'cursor_users'],
    ['carol', 'CURSOR', 'cursor_users'],
    ['carol', 'cursor-nightly', 'viewer'], // globs match the whole name
    ['carol', null, 'viewer'],
    ['Alice', 'cursor', 'cursor_users'], // identity names are case-sensitive
    ['Alice', 'zed', 'viewer'],
  ];
  for (const [identity, clientName, expected] of cases) {
    const role = policy.roleFor(local(identity), clientName === null ? null : client(clientName));
    assert.equal(role.name, expected, `${identity} via ${clientName ?? 'unknown client'}`);
  }
  assert.deepEqual(policy.describe(), { roles: ['claude_reader', 'analyst', 'contractors', 'cursor_users', 'viewer'], defaultRole: 'viewer' });
});

test('how an identity was proven does not matter, only its name', () => {
  const policy = policyOf(MATRIX_CONFIG);
  assert.equal(policy.roleFor({ kind: 'api-key', name: 'bob' }, client('remote')).name, 'analyst');
  assert.equal(policy.roleFor({ kind: 'api-key', name: 'robot' }, null).name, 'viewer');
});

test('a role without identities or clients never matches on its own', () => {
  const policy = policyOf('[roles.viewer]\ntools = ["list_*"]\n\n[roles.everyone]\nidentities = ["*"]\n');
  assert.equal(policy.roleFor(local('x'), client('cursor')).name, 'everyone');
  const onlyViewer = policyOf('[roles.viewer]\ntools = ["list_*"]\n');
  assert.equal(onlyViewer.roleFor(local('x'), client('cursor')).name, 'default');
});

test('the first matching role wins, so file order decides between overlapping roles', () => {
  const generalFirst = policyOf('[roles.general]\nidentities = ["*"]\n\n[roles.special]\nidentities = ["alice"]\nwrite = true\n');
  assert.equal(generalFirst.roleFor(local('alice'), null).name, 'general');
  const specialFirst = policyOf('[roles.special]\nidentities = ["alice"]\nwrite = true\n\n[roles.general]\nidentities = ["*"]\n');
  assert.equal(specialFirst.roleFor(local('alice'), null).name, 'special');
  assert.equal(specialFirst.roleFor(local('bob'), null).name, 'general');
});

test('without roles or a default_role, everyone gets the built-in read-only default', () => {
  for (const policy of [policyOf(''), Policy.permissive()]) {
    const role = policy.roleFor(local('anyone'), client('cursor'));
    assert.equal(role.name, 'default');
    assert.equal(role.write, false);
    assert.equal(role.stageListing, false);
    assert.equal(role.toolAllowed('execute_query'), true);
    assert.equal(role.canSee({ database: 'ANY', schema: 'THING', name: 'AT_ALL' }), true);
    assert.deepEqual(role.sqlPolicy(), { allowWrite: false, allowStageListing: false });
    assert.deepEqual(policy.describe(), { roles: [], defaultRole: 'default' });
  }
});

test('a role named "default" replaces the built-in default', () => {
  const policy = policyOf('[roles.default]\ntools = ["list_*"]\n');
  const role = policy.roleFor(local('x'), null);
  assert.equal(role.name, 'default');
  assert.equal(role.toolAllowed('execute_query'), false);
});

test('role settings reach the effective role', () => {
  const policy = policyOf(`
[roles.analyst]
identities = ["alice"]
write = true
stage_listing = true
profile = "dev"
snowflake_role = "ANALYST"
warehouse = "ANALYTICS_WH"
max_rows = 500
[roles.analyst.rate]
per_second = 5
burst = 20
[roles.analyst.quota]
window = "15m"
queries = 1000
bytes = 500000000
`);
  const role = policy.roleFor(local('alice'), null);
  assert.equal(role.write, true);
  assert.equal(role.stageListing, true);
  assert.equal(role.profile, 'dev');
  assert.equal(role.snowflakeRole, 'ANALYST');
  assert.equal(role.warehouse, 'ANALYTICS_WH');
  assert.equal(role.maxRows, 500);
  assert.deepEqual(role.rate, { perSecond: 5, burst: 20 });
  assert.deepEqual(role.quota, { windowMs: 900_000, queries: 1000, bytes: 500_000_000 });
  assert.equal(policy.role('analyst'), role);
});

test('tool lists: globs, "!" denials win, denials alone mean "everything else", empty means nothing', () => {
  const cases: Array<[string[], Record<string, boolean>]> = [
    [['*', '!fetch_results'], { execute_query: true, list_tables: true, fetch_results: false }],
    [['list_*', 'describe_*'], { list_tables: true, describe_view: true, execute_query: false, LIST_TABLES: false }],
    [['!execute_query'], { list_tables: true, execute_query: false }],
    [['list_?ables'], { list_tables: true, list_views: false }],
    [[], { list_tables: false, execute_query: false }],
    [['*', '!*'], { list_tables: false }],
  ];
  for (const [tools, expected] of cases) {
    const role = policyOf(`[roles.r]\nidentities = ["*"]\ntools = ${JSON.stringify(tools)}\n`).roleFor(local('u'), null);
    for (const [tool, allowed] of Object.entries(expected)) {
      assert.equal(role.toolAllowed(tool), allowed, `${JSON.stringify(tools)} → ${tool}`);
    }
  }
});

test('tool refusals say what, why and what to do', () => {
  const viewer = policyOf('[roles.viewer]\nidentities = ["*"]\ntools = ["list_*", "describe_*"]\n').roleFor(local('u'), null);
  assert.equal(
    denial(() => enforceTool(viewer, 'execute_query')),
    'Tool "execute_query" is not allowed for role "viewer" (rule: tools). Use list_tables/describe_table, or ask an admin.',
  );
  enforceTool(viewer, 'list_tables');
  const noFetch = policyOf('[roles.analyst]\nidentities = ["*"]\ntools = ["*", "!fetch_results"]\n').roleFor(local('u'), null);
  assert.equal(
    denial(() => enforceTool(noFetch, 'fetch_results')),
    'Tool "fetch_results" is not allowed for role "analyst" (rule: tools "!fetch_results"). Use list_tables/describe_table, or ask an admin.',
  );
  const listOnly = policyOf('[roles.lister]\nidentities = ["*"]\ntools = ["list_*"]\n').roleFor(local('u'), null);
  assert.match(denial(() => enforceTool(listOnly, 'describe_table')), /\(rule: tools\)\. Ask an admin to change the role in config\.toml to allow it\.$/);
});

const ANALYST_PATTERNS = { allow: ['SNOWMUX_SAMPLE.TPCH.*', 'ANALYTICS.*.*'], deny: ['*.HR.*', '*.*.SALARIES'] };

test('object patterns: allow lists, deny wins over allow', () => {
  const role = roleWith(ANALYST_PATTERNS.allow, ANALYST_PATTERNS.deny);
  const cases: Array<[string, boolean]> = [
    ['SNOWMUX_SAMPLE.TPCH.ORDERS', true],
    ['ANALYTICS.PUBLIC.EVENTS', true],
    ['ANALYTICS.HR.PEOPLE', false],
    ['ANALYTICS.PUBLIC.SALARIES', false],
    ['SNOWMUX_SAMPLE.TPCH.SALARIES', false],
    ['SNOWMUX_SAMPLE.OTHER.T', false],
    ['OTHER.TPCH.ORDERS', false],
  ];
  for (const [name, expected] of cases) {
    const [database, schema, object] = name.split('.') as [string, string, string];
    assert.equal(role.canSee({ database, schema, name: object }), expected, name);
  }
});

test('canSee for databases and schemas: visible if an allow pattern could match inside and it is not entirely denied', () => {
  const role = roleWith(ANALYST_PATTERNS.allow, ANALYST_PATTERNS.deny);
  const cases: Array<[ObjectRef, boolean]> = [
    [{ database: 'SNOWMUX_SAMPLE' }, true],
    [{ database: 'ANALYTICS' }, true],
    [{ database: 'OTHER' }, false],
    [{ database: 'SNOWMUX_SAMPLE', schema: 'TPCH' }, true],
    [{ database: 'SNOWMUX_SAMPLE', schema: 'HR' }, false],
    [{ database: 'ANALYTICS', schema: 'PUBLIC' }, true], // only SALARIES is denied there
    [{ database: 'ANALYTICS', schema: 'HR' }, false], // denied as a whole
  ];
  for (const [ref, expected] of cases) assert.equal(role.canSee(ref), expected, JSON.stringify(ref));

  const noSecret = roleWith(undefined, ['SECRET']);
  assert.equal(noSecret.canSee({ database: 'SECRET' }), false);
  assert.equal(noSecret.canSee({ database: 'SECRET', schema: 'S' }), false);
  assert.equal(noSecret.canSee({ database: 'OTHER' }), true);

  const allowedThenDenied = roleWith(['DB.PUBLIC.*'], ['DB.PUBLIC.*']);
  assert.equal(allowedThenDenied.canSee({ database: 'DB' }), false);

  const oneTableDeniedByGlob = roleWith(['DB.S.T1'], ['DB.S.T?']);
  assert.equal(oneTableDeniedByGlob.canSee({ database: 'DB' }), false);
  assert.equal(oneTableDeniedByGlob.canSee({ database: 'DB', schema: 'S' }), false);

  const someTablesLeft = roleWith(['DB.S.T*'], ['DB.S.T1']);
  assert.equal(someTablesLeft.canSee({ database: 'DB', schema: 'S' }), true);
  assert.equal(someTablesLeft.canSee({ database: 'DB', schema: 'S', name: 'T2' }), true);
  assert.equal(someTablesLeft.canSee({ database: 'DB', schema: 'S', name: 'T1' }), false);
});

test('globs: * is any run within one part, ? is one character, missing parts mean anything', () => {
  const role = roleWith(['SALES_*.*.*', 'DB.S.T?', 'WIDE']);
  assert.equal(role.canSee({ database: 'SALES_2024', schema: 'X', name: 'Y' }), true);
  assert.equal(role.canSee({ database: 'SALES', schema: 'X', name: 'Y' }), false);
  assert.equal(role.canSee({ database: 'DB', schema: 'S', name: 'T1' }), true);
  assert.equal(role.canSee({ database: 'DB', schema: 'S', name: 'T12' }), false);
  assert.equal(role.canSee({ database: 'WIDE', schema: 'ANY', name: 'THING' }), true);
  // The matcher stays linear on hostile input.
  const started = process.hrtime.bigint();
  assert.equal(globMatch('*A*A*A*A*A*A*B', 'A'.repeat(20_000)), false);
  assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
});

test('case rules: unquoted parts upper-case, quoted parts exact; deny patterns ignore case', () => {
  const exact = roleWith(['analytics.public.events', '"Mixed"."Case".t']);
  assert.equal(exact.canSee({ database: 'ANALYTICS', schema: 'PUBLIC', name: 'EVENTS' }), true);
  assert.equal(exact.canSee({ database: 'analytics', schema: 'public', name: 'events' }), false);
  assert.equal(exact.canSee({ database: 'Mixed', schema: 'Case', name: 'T' }), true);
  assert.equal(exact.canSee({ database: 'MIXED', schema: 'CASE', name: 'T' }), false);
  assert.equal(exact.canSee({ database: 'Mixed', schema: 'Case', name: 't' }), false);

  // The embedded DuckDB resolves "salaries" to SALARIES, so a deny must not be dodged by quoting.
  const denied = roleWith(undefined, ['*.*.SALARIES', '"Secret"']);
  assert.equal(denied.canSee({ database: 'DB', schema: 'S', name: 'salaries' }), false);
  assert.equal(denied.canSee({ database: 'DB', schema: 'S', name: 'Salaries' }), false);
  assert.equal(denied.canSee({ database: 'SECRET' }), false);
  assert.equal(denied.canSee({ database: 'DB', schema: 'S', name: 'ORDERS' }), true);
});

test('a deny glob matches a name whose upper case is longer than it: ? is still one character of the name', () => {
  // Folded whole, "STRAßE" is STRASSE, which STRA?E does not match; DuckDB compares ß as itself.
  const denied = roleWith(['*.*.*'], ['*.*.STRA?E', '*.*.A?C', '*.*.STRASSE_*']);
  for (const name of ['STRAßE', 'straße', 'Straße', 'AﬀC', 'aﬀc', 'STRAßE_2']) {
    assert.equal(denied.canSee({ database: 'DB', schema: 'S', name }), false, name);
  }
  assert.equal(denied.canSee({ database: 'DB', schema: 'S', name: 'STRASSE' }), true, 'no ? of STRA?E is two characters of the name');
  assert.equal(denied.canSee({ database: 'DB', schema: 'S', name: 'ORDERS' }), true);
  // A literal deny keeps matching the whole-string fold (Snowflake upper-cases an unquoted straße as STRASSE).
  assert.equal(roleWith(['*.*.*'], ['*.*.STRASSE']).canSee({ database: 'DB', schema: 'S', name: 'straße' }), false);
});

test('quoted identifiers with dots and quotes in patterns', () => {
  const role = roleWith(['"my.db"."odd""schema".*', '"*"."?".T']);
  assert.equal(role.canSee({ database: 'my.db', schema: 'odd"schema', name: 'ANYTHING' }), true);
  assert.equal(role.canSee({ database: 'my', schema: 'db', name: 'X' }), false);
  // Inside quotes * and ? are ordinary characters.
  assert.equal(role.canSee({ database: '*', schema: '?', name: 'T' }), true);
  assert.equal(role.canSee({ database: 'X', schema: 'Y', name: 'T' }), false);
});

test('enforceObject refusals name the object and the rule', () => {
  const role = policyOf(
    `[roles.analyst]\nidentities = ["*"]\nallow = ${JSON.stringify(ANALYST_PATTERNS.allow)}\ndeny = ${JSON.stringify(ANALYST_PATTERNS.deny)}\n`,
  ).roleFor(local('u'), null);
  assert.equal(
    denial(() => enforceObject(role, { database: 'SNOWMUX_SAMPLE', schema: 'HR', name: 'SALARIES' }, 'table')),
    'Access denied: role "analyst" may not access the table SNOWMUX_SAMPLE.HR.SALARIES (rule: deny "*.HR.*"). Ask an admin to change the role in config.toml, or use an object you can access.',
  );
  assert.match(
    denial(() => enforceObject(role, { database: 'OTHER' }, 'database')),
    /may not access the database OTHER \(rule: allow \["SNOWMUX_SAMPLE\.TPCH\.\*", "ANALYTICS\.\*\.\*"\] — no pattern matches\)/,
  );
  assert.match(denial(() => enforceObject(role, { database: 'ANALYTICS', schema: 'HR' }, 'schema')), /the schema ANALYTICS\.HR \(rule: deny "\*\.HR\.\*"\)/);
  assert.match(denial(() => enforceObject(role, { database: 'DB', schema: 'S', name: 'odd name' }, 'view')), /the view DB\.S\."odd name"/);
  enforceObject(role, { database: 'ANALYTICS' }, 'database');
  enforceObject(role, { database: 'ANALYTICS', schema: 'PUBLIC' }, 'schema');
  enforceObject(role, { database: 'ANALYTICS', schema: 'PUBLIC', name: 'EVENTS' }, 'table');
});

test('a role that grants no objects refuses everything and says so', () => {
  const role = policyOf('[roles.none]\nidentities = ["*"]\nallow = []\n').roleFor(local('u'), null);
  assert.equal(role.canSee({ database: 'X' }), false);
  assert.match(denial(() => enforceObject(role, { database: 'X' }, 'database')), /\(rule: allow \[\] — the role grants no objects\)/);
});

test('objectRefFrom normalizes names the way the tools do', () => {
  assert.deepEqual(objectRefFrom({ database: 'analytics', schema: '"Mixed"', name: 'events' }), { database: 'ANALYTICS', schema: 'Mixed', name: 'EVENTS' });
  assert.deepEqual(objectRefFrom({ database: 'db' }), { database: 'DB' });
});

test('read-only and write roles give checkSql the matching policy', () => {
  const readOnly = roleWith(undefined);
  assert.equal(checkSql('SELECT 1', readOnly.sqlPolicy()).allowed, true);
  const refused = checkSql('DELETE FROM t', readOnly.sqlPolicy());
  assert.equal(refused.allowed, false);
  assert.equal(checkSql('LIST @my_stage', readOnly.sqlPolicy()).allowed, false);

  const writer = policyOf('[roles.w]\nidentities = ["*"]\nwrite = true\n').roleFor(local('u'), null);
  assert.deepEqual(writer.sqlPolicy(), { allowWrite: true, allowStageListing: false });
  assert.equal(checkSql('DELETE FROM t', writer.sqlPolicy()).allowed, true);

  const stages = policyOf('[roles.s]\nidentities = ["*"]\nstage_listing = true\n').roleFor(local('u'), null);
  assert.equal(checkSql('LIST @my_stage', { ...stages.sqlPolicy(), dialect: 'snowflake' }).allowed, true);
  assert.equal(checkSql('DELETE FROM t', stages.sqlPolicy()).allowed, false);
  // The policy object handed out is a copy: a caller cannot widen the role.
  const copy = readOnly.sqlPolicy();
  copy.allowWrite = true;
  assert.equal(readOnly.sqlPolicy().allowWrite, false);
});

test('effective roles can be passed around as plain functions and are immutable', () => {
  const role = roleWith(['DB.*.*']);
  const refs: ObjectRef[] = [{ database: 'DB' }, { database: 'OTHER' }];
  assert.deepEqual(refs.filter(role.canSee), [{ database: 'DB' }]);
  const check = role.toolAllowed;
  assert.equal(check('list_tables'), true);
  assert.throws(() => {
    (role as { write: boolean }).write = true;
  }, TypeError);
});
