/** verifyShippedRecords: a team's audit stream checked per replica — trimmed starts and declared gaps pass; edits, removals, reordering and broken links fail. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeRecordHash, GENESIS_HASH } from '../../src/hub/audit/audit-record.js';
import { verifyShippedRecords, type ShippedEntry } from '../../src/hub/audit/stream-chain.js';

function chain(replica: string, n: number): ShippedEntry[] {
  let prev = GENESIS_HASH;
  const out: ShippedEntry[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const body = { seq, ts: new Date(0).toISOString(), kind: 'tool_call', replica, tool: 'execute_query', prev };
    const record = { ...body, hash: computeRecordHash(body) };
    prev = record.hash;
    out.push({ id: `${seq}-${replica}`, fields: { replica, seq: String(seq), record: JSON.stringify(record) } });
  }
  return out;
}
const kinds = (entries: ShippedEntry[]) => verifyShippedRecords(entries).replicas.flatMap((r) => r.problems.map((p) => p.kind));

test('intact chains of two replicas, interleaved, pass; so does a stream trimmed at its start', () => {
  const a = chain('a', 5);
  const b = chain('b', 4);
  const mixed = [a[0]!, b[0]!, a[1]!, a[2]!, b[1]!, b[2]!, a[3]!, b[3]!, a[4]!];
  const result = verifyShippedRecords(mixed);
  assert.equal(result.ok, true);
  assert.deepEqual(result.replicas.map((r) => [r.replica, r.records, r.firstSeq, r.lastSeq]), [['a', 5, 1, 5], ['b', 4, 1, 4]]);
  assert.equal(verifyShippedRecords(a.slice(2)).ok, true, 'trimmed start');
});

test('a declared gap passes; a silent one, an edit, a reorder and a broken link fail', () => {
  const a = chain('a', 6);
  const gap: ShippedEntry = { id: 'g', fields: { replica: 'a', gap: '3-4', reason: 'Redis unreachable' } };
  const declared = verifyShippedRecords([a[0]!, a[1]!, gap, a[4]!, a[5]!]);
  assert.equal(declared.ok, true);
  assert.deepEqual(declared.replicas[0]!.gaps, [{ from: 3, to: 4, reason: 'Redis unreachable' }]);

  assert.deepEqual(kinds([a[0]!, a[1]!, a[3]!, a[4]!]), ['removed']);
  const edited = JSON.parse(a[2]!.fields['record']!) as Record<string, unknown>;
  edited['tool'] = 'list_databases';
  assert.deepEqual(kinds([a[0]!, a[1]!, { id: 'x', fields: { ...a[2]!.fields, record: JSON.stringify(edited) } }, a[3]!]), ['edited']);
  // A member given twice: the hash covers the last (JSON.parse), a reader keeping the first sees another tool.
  const twice = { ...a[2]!.fields, record: a[2]!.fields['record']!.replace('{', '{"tool":"drop_table",') };
  assert.deepEqual(kinds([a[0]!, a[1]!, { id: 'd', fields: twice }, a[3]!]), ['edited']);
  assert.deepEqual(kinds([a[0]!, a[2]!, a[1]!]), ['removed', 'reordered']);
  // A record from another chain with the right seq: its link does not match.
  const other = chain('a2', 3)[2]!;
  assert.deepEqual(kinds([a[0]!, a[1]!, { id: 'y', fields: { ...other.fields, replica: 'a' } }]), ['chain_break']);
  assert.equal(verifyShippedRecords([{ id: 'z', fields: { record: '{}' } }]).ok, false, 'an entry without a replica');
});

test('an empty stream is not an intact chain: --json fails as the text form does, as an empty audit directory does', () => {
  // `audit verify --redis … --stream KEY --json` on a key nothing was shipped to (a misspelt stream, shipping
  // not turned on) printed ok: true and exited 0, while the same command without --json said "holds no
  // entries" and exited 1: a monitor reading the JSON was told the team's audit copy was intact.
  const empty = verifyShippedRecords([]);
  assert.equal(empty.ok, false);
  assert.equal(empty.entries, 0);
  assert.deepEqual(empty.problems.map((p) => p.kind), ['removed']);
  assert.match(empty.problems[0]!.message, /no entries[\s\S]*redis_stream/);
});
