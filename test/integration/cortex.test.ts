/**
 * Cortex Analyst and Cortex Search against the Snowflake double's Cortex REST endpoints: both use the
 * hub's existing Snowflake session (no second login, no credential to the client); the SQL Analyst
 * generates runs as one read-only query through every statement rule, whatever the role may write; the
 * role's object rules decide which semantic views, stages and services a caller may use, before anything
 * reaches Snowflake; an expired session token is renewed the driver's way; the embedded warehouse says
 * Cortex needs Snowflake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble, type DoubleCortexOptions } from '../doubles/snowflake/index.js';
import { connectClient, defer, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;
const PASSWORD = 'cortex-pw';
const SAMPLE_ENV = (d: { url: string; account: string }) => profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' });
const codeOf = (r: { _meta?: Record<string, unknown> }) => (r._meta?.['dev.snowmux/error'] as { code?: string } | undefined)?.code;

const CORTEX: DoubleCortexOptions = {
  analyst: {
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SALES_SV': [
      {
        when: 'customers per nation',
        text: 'This counts customers per nation and shows the three largest.',
        sql: 'SELECT NATION, CUSTOMERS FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER_BY_NATION ORDER BY CUSTOMERS DESC, NATION LIMIT 3',
        verifiedQuery: 'customers_by_nation',
      },
      // A model can be made to answer anything: the hub must judge its SQL like anyone else's.
      { when: 'tidy up', text: 'This removes old customers.', sql: 'DELETE FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER WHERE C_CUSTKEY < 10' },
      { when: 'weather', text: 'Temperatures by city.', sql: 'SELECT CITY, TEMP_MAX FROM SNOWFLAKE_SAMPLE_DATA.WEATHER.DAILY_14_TOTAL' },
      { when: 'no sql', text: 'The model has no measure for that.' },
      // A follow-up: means something only after the question it follows.
      { when: 'only the top one', after: 'customers per nation', text: 'The nation with the most customers.', sql: 'SELECT NATION, CUSTOMERS FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER_BY_NATION ORDER BY CUSTOMERS DESC, NATION LIMIT 1' },
    ],
    '@SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.MODELS/sales.yaml': [
      { when: 'regions', text: 'All regions.', sql: 'SELECT R_NAME FROM SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION ORDER BY R_REGIONKEY' },
    ],
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SECRET_SV': [{ when: '', text: 'secret', sql: 'SELECT 1' }],
  },
  searchServices: {
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT', attributes: ['R_NAME'] },
    'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SECRET_SEARCH': { table: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION', searchColumn: 'R_COMMENT' },
  },
};

async function cortexHub(t: Parameters<typeof tempHome>[0]) {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }], cortex: CORTEX });
  defer(t, () => d.close());
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[policy]
default_role = "open"
[roles.writer]
identities = ["${me}"]
clients = ["writer-*"]
write = true
[roles.restricted]
identities = ["${me}"]
clients = ["restricted-*"]
deny = ["*.WEATHER.*", "*.*.SECRET_*"]
[roles.open]
`);
  await startHub(t, home, [], SAMPLE_ENV(d));
  return { d, home };
}

test('cortex_analyst: the generated SQL runs read-only through every rule, with the hub\'s own session', async (t) => {
  const { d, home } = await cortexHub(t);
  const open = await connectClient(t, { home, kind: 'v2-legacy', name: 'open-editor' });
  const writer = await connectClient(t, { home, kind: 'v2-legacy', name: 'writer-editor' });
  const restricted = await connectClient(t, { home, kind: 'v2-modern', name: 'restricted-editor' });

  const answered = await open.callTool('cortex_analyst', { question: 'How many customers per nation?', semantic_view: 'sales_sv' });
  assert.ok(!answered.isError, textOf(answered));
  const a = answered.structuredContent as { answer: string; sql: string; verified_query: string; result: { rows: unknown[][]; columns: { name: string }[] } };
  assert.match(a.answer, /customers per nation/);
  assert.equal(a.verified_query, 'customers_by_nation');
  assert.deepEqual(a.result.columns.map((c) => c.name), ['NATION', 'CUSTOMERS']);
  assert.deepEqual(a.result.rows, [['ALGERIA', 100], ['ARGENTINA', 100], ['BRAZIL', 100]]);
  assert.match(textOf(answered), /ALGERIA/);
  // One Analyst request, made as the profile's user on an existing session; the SQL ran tagged as this tool.
  assert.equal(d.cortexLog.length, 1);
  assert.deepEqual([d.cortexLog[0]!.endpoint, d.cortexLog[0]!.target, d.cortexLog[0]!.user], ['analyst', 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SALES_SV', 'ALICE']);
  assert.ok(!JSON.stringify(d.cortexLog[0]!.body).includes(PASSWORD));
  const ran = d.queries.find((q) => q.sql.includes('CUSTOMER_BY_NATION'));
  assert.ok(ran, 'the generated SQL reached Snowflake');
  assert.match(ran.queryTag, /"t":"cortex_analyst"/);
  const logins = d.counters.logins;

  // A qualified semantic view is read as DATABASE.SCHEMA.VIEW (it was one literal name in the default schema).
  const qualified = await open.callTool('cortex_analyst', { question: 'customers per nation', semantic_view: 'snowflake_sample_data.tpch_sf1.sales_sv', run: false });
  assert.ok(!qualified.isError, textOf(qualified));
  assert.equal(d.cortexLog.at(-1)!.target, 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SALES_SV');

  // run=false: the SQL, nothing run.
  const before = d.queries.length;
  const notRun = await open.callTool('cortex_analyst', { question: 'customers per nation', semantic_view: 'SALES_SV', run: false });
  assert.ok(!notRun.isError, textOf(notRun));
  assert.equal((notRun.structuredContent as { result: unknown }).result, null);
  assert.match((notRun.structuredContent as { sql: string }).sql, /CUSTOMER_BY_NATION/);
  assert.equal(d.queries.length, before, 'run=false runs nothing');

  // Generated writes are refused even for a role that may write; nothing reaches Snowflake.
  const write = await writer.callTool('cortex_analyst', { question: 'Please tidy up the customers', semantic_view: 'SALES_SV' });
  assert.equal(codeOf(write), 'SQL_REFUSED', textOf(write));
  assert.match(textOf(write), /Cortex Analyst answered with SQL that did not run here[\s\S]*DELETE FROM SNOWFLAKE_SAMPLE_DATA/);
  assert.ok(!d.queries.some((q) => q.sql.includes('DELETE')), 'the DELETE never reached Snowflake');

  // The generated SQL passes the caller's object rules: a denied schema is refused.
  const denied = await restricted.callTool('cortex_analyst', { question: 'weather by city', semantic_view: 'SALES_SV' });
  assert.equal(codeOf(denied), 'POLICY_DENIED', textOf(denied));
  assert.ok(!d.queries.some((q) => q.sql.includes('DAILY_14_TOTAL')));

  // A denied semantic view is refused before Snowflake hears of it.
  const asked = d.cortexLog.length;
  const secret = await restricted.callTool('cortex_analyst', { question: 'anything', semantic_view: 'SECRET_SV' });
  assert.equal(codeOf(secret), 'POLICY_DENIED', textOf(secret));
  assert.equal(d.cortexLog.length, asked, 'the denied view never reached Cortex');
  const secretQualified = await restricted.callTool('cortex_analyst', { question: 'anything', semantic_view: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SECRET_SV' });
  assert.equal(codeOf(secretQualified), 'POLICY_DENIED', textOf(secretQualified));
  assert.equal(d.cortexLog.length, asked, 'the denied view, named in full, never reached Cortex');

  // No SQL: the explanation, no result. An unknown view: Snowflake's message with what to check.
  const none = await open.callTool('cortex_analyst', { question: 'no sql please', semantic_view: 'SALES_SV' });
  assert.ok(!none.isError, textOf(none));
  assert.equal((none.structuredContent as { sql: unknown }).sql, null);
  const unknown = await open.callTool('cortex_analyst', { question: 'x', semantic_view: 'NO_SUCH_SV' });
  assert.equal(codeOf(unknown), 'OBJECT_NOT_FOUND', textOf(unknown));
  assert.match(textOf(unknown), /NO_SUCH_SV.*does not exist/);

  // A semantic model file on a stage works the same way.
  const file = await open.callTool('cortex_analyst', { question: 'all regions', semantic_model_file: '@snowflake_sample_data.tpch_sf1.models/sales.yaml' });
  assert.ok(!file.isError, textOf(file));
  assert.deepEqual((file.structuredContent as { result: { rows: unknown[][] } }).result.rows.map((r) => r[0]), ['AFRICA', 'AMERICA', 'ASIA', 'EUROPE', 'MIDDLE EAST']);
  const badFile = await open.callTool('cortex_analyst', { question: 'x', semantic_model_file: '@DB.SCH.STAGE/../../etc/passwd' });
  assert.equal(codeOf(badFile), 'INVALID_ARGUMENT', textOf(badFile));

  // A follow-up question carries the conversation so far: Cortex Analyst reads it in context.
  const first = answered.structuredContent as { answer: string; sql: string };
  const followUp = await open.callTool('cortex_analyst', {
    question: 'Only the top one, please',
    semantic_view: 'SALES_SV',
    history: [{ role: 'user', text: 'How many customers per nation?' }, { role: 'analyst', text: first.answer, sql: first.sql }],
  });
  assert.ok(!followUp.isError, textOf(followUp));
  assert.deepEqual((followUp.structuredContent as { result: { rows: unknown[][] } }).result.rows, [['ALGERIA', 100]]);
  const sent = d.cortexLog.at(-1)!.body as { messages: { role: string; content: { type: string; statement?: string }[] }[] };
  assert.deepEqual(sent.messages.map((m) => m.role), ['user', 'analyst', 'user']);
  assert.equal(sent.messages[1]!.content.find((c) => c.type === 'sql')?.statement, first.sql);
  const alone = await open.callTool('cortex_analyst', { question: 'Only the top one, please', semantic_view: 'SALES_SV' });
  assert.equal((alone.structuredContent as { sql: string | null }).sql, null, 'without the conversation the follow-up is ambiguous');
  const badTurns = await open.callTool('cortex_analyst', { question: 'x', semantic_view: 'SALES_SV', history: [{ role: 'analyst', text: 'hi' }] });
  assert.equal(codeOf(badTurns), 'INVALID_ARGUMENT', textOf(badTurns));

  // An expired session token is renewed by the driver and the call goes through on the same login.
  const renewals = d.counters.renewals;
  d.expireSessionTokens();
  const renewed = await open.callTool('cortex_analyst', { question: 'customers per nation', semantic_view: 'SALES_SV', run: false });
  assert.ok(!renewed.isError, textOf(renewed));
  assert.ok(d.counters.renewals > renewals, 'the session token was renewed');
  assert.equal(d.counters.logins, logins, 'no second login for Cortex');
});

test('cortex_search: ranked rows from the service, filters bound as values, services allowed per role', async (t) => {
  const { d, home } = await cortexHub(t);
  const open = await connectClient(t, { home, kind: 'v2-legacy', name: 'open-editor' });
  const restricted = await connectClient(t, { home, kind: 'v2-legacy', name: 'restricted-editor' });

  const found = await open.callTool('cortex_search', { service: 'region_search', query: 'final courts', columns: ['R_NAME', 'R_COMMENT'], limit: 2 });
  assert.ok(!found.isError, textOf(found));
  const s = found.structuredContent as { service: string; results: Record<string, unknown>[] };
  assert.equal(s.service, 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH');
  assert.equal(s.results.length, 2);
  assert.equal(s.results[0]!['R_NAME'], 'EUROPE');
  assert.match(textOf(found), /EUROPE/);
  assert.deepEqual(d.cortexLog.at(-1)!.body, { query: 'final courts', limit: 2, columns: ['R_NAME', 'R_COMMENT'] });

  const filtered = await open.callTool('cortex_search', { service: 'REGION_SEARCH', query: 'deposits', columns: ['R_NAME'], filter: { '@eq': { R_NAME: 'ASIA' } } });
  assert.ok(!filtered.isError, textOf(filtered));
  assert.deepEqual((filtered.structuredContent as { results: Record<string, unknown>[] }).results.map((r) => r['R_NAME']), ['ASIA']);

  // A hostile filter value is a value, never SQL.
  const hostile = await open.callTool('cortex_search', { service: 'REGION_SEARCH', query: 'x', columns: ['R_NAME'], filter: { '@eq': { R_NAME: "x' OR '1'='1" } } });
  assert.ok(!hostile.isError, textOf(hostile));
  assert.deepEqual((hostile.structuredContent as { results: unknown[] }).results, []);
  const badFilter = await open.callTool('cortex_search', { service: 'REGION_SEARCH', query: 'x', filter: { '@drop': {} } });
  assert.equal(codeOf(badFilter), 'INVALID_ARGUMENT', textOf(badFilter));

  const asked = d.cortexLog.length;
  const denied = await restricted.callTool('cortex_search', { service: 'SECRET_SEARCH', query: 'x' });
  assert.equal(codeOf(denied), 'POLICY_DENIED', textOf(denied));
  assert.equal(d.cortexLog.length, asked, 'the denied service never reached Cortex');

  const missing = await open.callTool('cortex_search', { service: 'NO_SUCH_SEARCH', query: 'x' });
  assert.equal(codeOf(missing), 'OBJECT_NOT_FOUND', textOf(missing));

  // A qualified service name is read as DATABASE.SCHEMA.SERVICE, as describe_table reads a table's, and
  // judged as that object (it was one literal name "….REGION_SEARCH" in the default schema, never found).
  const qualified = await open.callTool('cortex_search', { service: 'snowflake_sample_data.tpch_sf1.region_search', query: 'final courts', columns: ['R_NAME'], limit: 1 });
  assert.ok(!qualified.isError, textOf(qualified));
  assert.equal((qualified.structuredContent as { service: string }).service, 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.REGION_SEARCH');
  const before = d.cortexLog.length;
  const deniedQualified = await restricted.callTool('cortex_search', { service: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.SECRET_SEARCH', query: 'x' });
  assert.equal(codeOf(deniedQualified), 'POLICY_DENIED', textOf(deniedQualified));
  assert.equal(d.cortexLog.length, before, 'the denied service never reached Cortex');
  const disagree = await open.callTool('cortex_search', { service: 'OTHER.TPCH_SF1.REGION_SEARCH', database: 'SNOWFLAKE_SAMPLE_DATA', query: 'x' });
  assert.equal(codeOf(disagree), 'INVALID_ARGUMENT', textOf(disagree));
});

test('Cortex tools on the embedded warehouse say they need Snowflake', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'embedded-editor' });
  for (const [tool, args] of [
    ['cortex_search', { service: 'S', query: 'x' }],
    ['cortex_analyst', { question: 'x', semantic_view: 'V' }],
  ] as const) {
    const r = await c.callTool(tool, args);
    assert.equal(codeOf(r), 'UNSUPPORTED', textOf(r));
    assert.match(textOf(r), /Snowflake/);
  }
  // Snowflake's own query history is not there either: query_history says so and still answers.
  assert.ok(!(await c.callTool('execute_query', { query: 'SELECT 1' })).isError);
  const history = await c.callTool('query_history', { include_snowflake: true });
  assert.ok(!history.isError, textOf(history));
  assert.match((history.structuredContent as { snowflake_note: string }).snowflake_note, /embedded warehouse keeps no query history/);
});
