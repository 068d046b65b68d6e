/**
 * The catalog walk behind search_objects: a listing the warehouse refuses is skipped and told while the
 * rest is searched; what concerns the call (an outage, a timeout, a cancel) and the scope the caller named
 * still fail it; once the visit bound is reached nothing more is listed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SnowmuxError } from '../../src/errors.js';
import { searchCatalog, type CatalogLister, type CatalogSearch } from '../../src/hub/tools/catalog-search.js';
import type { CallContext, ObjectKind } from '../../src/hub/warehouse/types.js';

const ctx = { signal: new AbortController().signal } as CallContext;

/** Databases A and B, each with schemas S1..S3 of two tables (ORDERS_<schema>, ITEMS_<schema>); `fail` decides which listings throw. */
function catalog(fail: (what: string) => SnowmuxError | undefined = () => undefined): CatalogLister & { calls: string[] } {
  const calls: string[] = [];
  const check = (what: string) => {
    calls.push(what);
    const err = fail(what);
    if (err) throw err;
  };
  return {
    calls,
    async listDatabases() {
      check('databases');
      return [{ name: 'A' }, { name: 'B' }];
    },
    async listSchemas(database) {
      check(`schemas ${database}`);
      return ['S1', 'S2', 'S3'].map((name) => ({ database, name }));
    },
    async listObjects(database, schema, kind: ObjectKind) {
      check(`${kind}s ${database}.${schema}`);
      return kind === 'view' ? [] : [`ORDERS_${schema}`, `ITEMS_${schema}`].map((name) => ({ database, schema, name, kind }));
    },
    async describeObject(ref) {
      check(`columns ${ref.database}.${ref.schema}.${ref.name}`);
      return [{ name: 'ORDER_ID', type: 'NUMBER', nullable: false }];
    },
  };
}

const search = (extra: Partial<CatalogSearch> = {}): CatalogSearch => ({ terms: ['orders'], includeColumns: false, maxVisited: 1000, maxDescribed: 100, ...extra });
const denied = new SnowmuxError('PERMISSION_DENIED', 'Insufficient privileges to operate on schema S2.');

test('a schema the role may not list is skipped and told; every other schema is searched', async () => {
  const lister = catalog((what) => (what === 'tables A.S2' ? denied : undefined));
  const found = await searchCatalog(lister, search(), ctx);
  const tables = found.hits.filter((h) => h.kind === 'table').map((h) => `${h.database}.${h.schema}.${h.object}`);
  assert.deepEqual(tables.sort(), ['A.S1.ORDERS_S1', 'A.S3.ORDERS_S3', 'B.S1.ORDERS_S1', 'B.S2.ORDERS_S2', 'B.S3.ORDERS_S3']);
  assert.deepEqual(found.skipped, [{ where: 'A.S2', code: 'PERMISSION_DENIED', reason: denied.message }]);
  assert.equal(found.partial, false);
});

test('a schema refused for its tables is told once and its views are not asked for', async () => {
  const lister = catalog((what) => (what.endsWith(' A.S2') ? denied : undefined));
  const found = await searchCatalog(lister, search(), ctx);
  assert.deepEqual(found.skipped.map((k) => k.where), ['A.S2']);
  assert.ok(!lister.calls.includes('views A.S2'));
});

test('a whole database, or one object\'s columns, that cannot be listed is skipped the same way', async () => {
  const gone = new SnowmuxError('OBJECT_NOT_FOUND', 'Table A.S1.ORDERS_S1 does not exist.');
  const lister = catalog((what) => (what === 'schemas B' ? denied : what === 'columns A.S1.ORDERS_S1' ? gone : undefined));
  const found = await searchCatalog(lister, search({ includeColumns: true, terms: ['order'] }), ctx);
  assert.deepEqual(found.skipped.map((k) => `${k.where} ${k.code}`), ['A.S1.ORDERS_S1 OBJECT_NOT_FOUND', 'B PERMISSION_DENIED']);
  assert.ok(found.hits.some((h) => h.kind === 'column' && h.object === 'ORDERS_S2'));
});

test('what concerns the call ends the search: an outage, a timeout, a cancel, a rate refusal', async () => {
  for (const code of ['WAREHOUSE_UNAVAILABLE', 'QUERY_TIMEOUT', 'QUERY_CANCELLED', 'RATE_LIMITED', 'WAREHOUSE_CIRCUIT_OPEN'] as const) {
    const lister = catalog((what) => (what === 'tables A.S2' ? new SnowmuxError(code, 'no') : undefined));
    await assert.rejects(searchCatalog(lister, search(), ctx), (err: SnowmuxError) => err.code === code, code);
  }
  // An error that is not the hub's own (a bug) is not swallowed either.
  await assert.rejects(searchCatalog(catalog((what) => (what === 'tables A.S2' ? (new TypeError('boom') as never) : undefined)), search(), ctx), /boom/);
});

test('the scope the caller named fails the search when it cannot be listed', async () => {
  await assert.rejects(searchCatalog(catalog((what) => (what === 'schemas A' ? denied : undefined)), search({ database: 'A' }), ctx), /Insufficient privileges/);
  await assert.rejects(searchCatalog(catalog((what) => (what === 'tables A.S2' ? denied : undefined)), search({ database: 'A', schema: 'S2' }), ctx), /Insufficient privileges/);
});

test('a schema named without its database is searched in every database that has it; the others are passed over, and a schema none has is said so', async () => {
  const missing = (where: string) => new SnowmuxError('OBJECT_NOT_FOUND', `Schema '${where}' does not exist or not authorized.`);
  // S2 exists only in B: A's listing of it is "does not exist", which ended the whole search.
  const lister = catalog((what) => (what === 'tables A.S2' || what === 'views A.S2' ? missing('A.S2') : undefined));
  const found = await searchCatalog(lister, search({ schema: 'S2', terms: ['s2'] }), ctx);
  assert.deepEqual(found.hits.map((h) => `${h.kind} ${h.database}.${h.schema}${h.object ? `.${h.object}` : ''}`).sort(), ['schema B.S2', 'table B.S2.ITEMS_S2', 'table B.S2.ORDERS_S2']);
  assert.deepEqual(found.skipped, [], 'a database without that schema is no refusal to report');
  // Another refusal there is still skipped and said, as for any listing the caller did not name.
  const refused = await searchCatalog(catalog((what) => (what === 'tables A.S2' ? denied : undefined)), search({ schema: 'S2' }), ctx);
  assert.deepEqual(refused.skipped.map((x) => [x.where, x.code]), [['A.S2', 'PERMISSION_DENIED']]);
  assert.deepEqual(refused.hits.map((h) => `${h.database}.${h.object}`), ['B.ORDERS_S2']);
  // In no database at all: said, with what to do.
  await assert.rejects(searchCatalog(catalog((what) => (what.startsWith('tables ') ? missing(what) : undefined)), search({ schema: 'NOPE' }), ctx), (err: SnowmuxError) => {
    assert.equal(err.code, 'OBJECT_NOT_FOUND');
    assert.equal(err.message, 'Schema NOPE does not exist in any of the 2 databases you can see. Use list_schemas (with database) to see the schemas of a database, or search without schema.');
    return true;
  });
  // With its database named, the schema is still the caller's scope: its absence fails the search.
  await assert.rejects(searchCatalog(lister, search({ database: 'A', schema: 'S2' }), ctx), /Schema 'A\.S2' does not exist/);
});

test('once the visit bound is reached, no further schema or database is listed', async () => {
  const lister = catalog();
  const found = await searchCatalog(lister, search({ maxVisited: 3 }), ctx);
  assert.equal(found.partial, true);
  assert.deepEqual(lister.calls, ['databases', 'schemas A', 'tables A.S1', 'views A.S1', 'tables A.S2']);
});

test('skipped listings past twenty are counted, not kept', async () => {
  const many: CatalogLister = {
    ...catalog(),
    async listSchemas(database) {
      return Array.from({ length: 30 }, (_, i) => ({ database, name: `S${i}` }));
    },
    async listObjects() {
      throw denied;
    },
  };
  const found = await searchCatalog(many, search({ database: 'A' }), ctx);
  assert.equal(found.skipped.length, 20);
  assert.equal(found.moreSkipped, 10, "30 schemas refused, each told once: 20 kept, 10 counted");
});
