/**
 * describe_table beyond columns, against the Snowflake double: the table's comment and clustering key
 * (SHOW … LIKE, no warehouse needed) always; its tags and its columns' tags only when asked (they need a
 * running warehouse), filtered to the tags the caller's role may see; and on the embedded warehouse, the
 * comment, with a note that it keeps no tags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { profileEnv, startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { connectClient, defer, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;
const PASSWORD = 'describe-pw';

/**
 * A hub on the double as alice, with two roles for the same identity: `sample_only` (clients named sample-*,
 * object rules allowing the sample database only) and `open` (no object rules).
 */
async function hubOnDouble(t: Parameters<typeof tempHome>[0], d: Awaited<ReturnType<typeof startSnowflakeDouble>>): Promise<string> {
  const home = tempHome(t);
  writeFileSync(join(home, 'config.toml'), `
[roles.sample_only]
identities = ["${me}"]
clients = ["sample-*"]
allow = ["SNOWFLAKE_SAMPLE_DATA.*.*"]
[roles.open]
identities = ["${me}"]
`);
  await startHub(t, home, [], profileEnv(d, { user: 'alice', password: PASSWORD }, { SNOWFLAKE_WAREHOUSE: 'COMPUTE_WH', SNOWFLAKE_DATABASE: 'SNOWFLAKE_SAMPLE_DATA', SNOWFLAKE_SCHEMA: 'TPCH_SF1' }));
  return home;
}

test('Snowflake: describe_table shows the comment and clustering key, and the tags the role may see when asked', async (t) => {
  const d = await startSnowflakeDouble({
    users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }],
    clusterBy: { 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER': 'LINEAR(C_NATIONKEY)' },
    tags: [
      { object: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER', tag: 'SNOWFLAKE_SAMPLE_DATA.PUBLIC.OWNER', value: 'sales' },
      { object: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER', column: 'C_ACCTBAL', tag: 'GOVERNANCE.TAGS.PII', value: 'financial' },
      { object: 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.ORDERS', tag: 'SNOWFLAKE_SAMPLE_DATA.PUBLIC.OWNER', value: 'ops' },
    ],
  });
  defer(t, () => d.close());
  const home = await hubOnDouble(t, d);
  const open = await connectClient(t, { home, kind: 'v2-legacy', name: 'open-editor' });
  const sample = await connectClient(t, { home, kind: 'v2-modern', name: 'sample-editor' });

  type Described = { comment: string | null; clustering_key: string | null; tags: { tag: string; value: string; column: string | null }[] | null; tags_note: string | null; columns: { name: string }[] };
  const plain = await open.callTool('describe_table', { table_name: 'customer' });
  assert.ok(!plain.isError, textOf(plain));
  const p = plain.structuredContent as Described;
  assert.equal(p.comment, 'TPC-H customers');
  assert.equal(p.clustering_key, 'LINEAR(C_NATIONKEY)');
  assert.equal(p.tags, null, 'tags only when asked');
  assert.ok(p.columns.some((c) => c.name === 'C_ACCTBAL'));
  assert.match(textOf(plain), /Clustering key: LINEAR\(C_NATIONKEY\)/);
  assert.ok(!d.queries.some((q) => q.sql.includes('TAG_REFERENCES')), 'no tag lookup (it needs a warehouse) unless asked');

  const tagged = await open.callTool('describe_table', { table_name: 'CUSTOMER', include_tags: true });
  assert.ok(!tagged.isError, textOf(tagged));
  assert.deepEqual((tagged.structuredContent as Described).tags, [
    { tag: 'SNOWFLAKE_SAMPLE_DATA.PUBLIC.OWNER', value: 'sales', column: null },
    { tag: 'GOVERNANCE.TAGS.PII', value: 'financial', column: 'C_ACCTBAL' },
  ]);
  assert.match(textOf(tagged), /GOVERNANCE\.TAGS\.PII\s*\|\s*financial\s*\|\s*C_ACCTBAL/);

  // A role that may not see the GOVERNANCE database does not see its tags either.
  const filtered = await sample.callTool('describe_table', { table_name: 'CUSTOMER', include_tags: true });
  assert.ok(!filtered.isError, textOf(filtered));
  assert.deepEqual((filtered.structuredContent as Described).tags, [{ tag: 'SNOWFLAKE_SAMPLE_DATA.PUBLIC.OWNER', value: 'sales', column: null }]);

  // A view has a comment and no clustering key.
  const view = await open.callTool('describe_view', { view_name: 'CUSTOMER_BY_NATION', include_tags: true });
  assert.ok(!view.isError, textOf(view));
  assert.equal((view.structuredContent as Described).clustering_key, null);
  assert.deepEqual((view.structuredContent as Described).tags, []);
});

test('embedded warehouse: describe_table gives the comment, and says it keeps no tags', async (t) => {
  const home = tempHome(t);
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'embedded-editor' });
  const r = await c.callTool('describe_table', { table_name: 'NATION', include_tags: true });
  assert.ok(!r.isError, textOf(r));
  const s = r.structuredContent as { comment: string | null; tags: unknown; tags_note: string };
  assert.equal(s.tags, null);
  assert.match(s.tags_note, /no object tags/);
});

// Under QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE (set for the user or account) `"customer"` is CUSTOMER: DESCRIBE
// found its columns, but the comment and clustering key were picked from SHOW TABLES by the name as written
// ("customer" is not "CUSTOMER"), and described as if the table had neither.
test('Snowflake, QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE: describe_table of a quoted lower-case name keeps the comment and clustering key', async (t) => {
  const d = await startSnowflakeDouble({
    users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'], parameters: { QUOTED_IDENTIFIERS_IGNORE_CASE: 'true' } }],
    clusterBy: { 'SNOWFLAKE_SAMPLE_DATA.TPCH_SF1.CUSTOMER': 'LINEAR(C_NATIONKEY)' },
  });
  defer(t, () => d.close());
  const home = await hubOnDouble(t, d);
  type Described = { comment: string | null; clustering_key: string | null; columns: { name: string }[] };
  const describe = async (c: Awaited<ReturnType<typeof connectClient>>) => {
    const r = await c.callTool('describe_table', { table_name: '"customer"' });
    assert.ok(!r.isError, textOf(r));
    return r.structuredContent as Described;
  };
  // A role without object rules: the hub does not read how the session resolves names.
  const open = await describe(await connectClient(t, { home, kind: 'v2-legacy', name: 'open-editor' }));
  assert.ok(open.columns.some((col) => col.name === 'C_ACCTBAL'), 'DESCRIBE found the table');
  assert.equal(open.comment, 'TPC-H customers');
  assert.equal(open.clustering_key, 'LINEAR(C_NATIONKEY)');
  // A role with object rules: its first call learns the session's settings (and is refused, session-names).
  const sample = await connectClient(t, { home, kind: 'v2-legacy', name: 'sample-editor' });
  await sample.callTool('describe_table', { table_name: '"customer"' });
  const restricted = await describe(sample);
  assert.equal(restricted.comment, 'TPC-H customers');
  assert.equal(restricted.clustering_key, 'LINEAR(C_NATIONKEY)');
});
