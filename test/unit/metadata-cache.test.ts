import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnowmuxError } from '../../src/errors.js';
import { MetadataCache } from '../../src/hub/governance/metadata-cache.js';

const never = new AbortController().signal;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('ten concurrent requests for one key cause one load; later ones are hits', async () => {
  const cache = new MetadataCache({ ttlMs: 60_000 });
  let loads = 0;
  const gate = deferred<string[]>();
  const load = () => {
    loads++;
    return gate.promise;
  };
  const all = Array.from({ length: 10 }, () => cache.get('k', never, load));
  gate.resolve(['NATION']);
  assert.deepEqual(await Promise.all(all), Array(10).fill(['NATION']));
  assert.deepEqual(await cache.get('k', never, load), ['NATION']);
  assert.equal(loads, 1);
  assert.deepEqual({ ...cache.stats(), ttlMs: 0 }, { entries: 1, hits: 1, misses: 1, joined: 9, ttlMs: 0 });
});

test('failures are not cached; clear() forgets everything', async () => {
  const cache = new MetadataCache({ ttlMs: 60_000 });
  await assert.rejects(cache.get('k', never, () => Promise.reject(new SnowmuxError('WAREHOUSE_UNAVAILABLE', 'down'))), /down/);
  assert.equal(await cache.get('k', never, async () => 1), 1);
  cache.clear();
  assert.equal(await cache.get('k', never, async () => 2), 2);
});

test('clear() also forgets a load in flight: it may predate the change that cleared the cache', async () => {
  const cache = new MetadataCache({ ttlMs: 60_000 });
  const before = deferred<string[]>();
  const stale = cache.get('k', never, () => before.promise);
  cache.clear();
  // A caller after the change does not join the older load…
  const after = cache.get('k', never, async () => ['NEW']);
  before.resolve(['OLD']);
  assert.deepEqual(await after, ['NEW']);
  assert.deepEqual(await stale, ['OLD']);
  // …and the older answer, arriving late, is not kept.
  cache.clear();
  const late = deferred<string[]>();
  const pending = cache.get('k2', never, () => late.promise);
  cache.clear();
  late.resolve(['OLD']);
  await pending;
  assert.deepEqual(await cache.get('k2', never, async () => ['NEW']), ['NEW']);
});

test('the caller who started a load cancels: a joined caller loads again instead of failing', async () => {
  const cache = new MetadataCache({ ttlMs: 60_000 });
  const first = new AbortController();
  const firstLoad = deferred<number>();
  const a = cache.get('k', first.signal, () => firstLoad.promise);
  const b = cache.get('k', never, async () => 42);
  first.abort(new SnowmuxError('QUERY_CANCELLED', 'cancelled by the client'));
  firstLoad.reject(new SnowmuxError('QUERY_CANCELLED', 'cancelled by the client'));
  await assert.rejects(a, /cancelled/);
  assert.equal(await b, 42);
});

test('a caller\'s own cancel ends its wait at once, leaving the load to the others', async () => {
  const cache = new MetadataCache({ ttlMs: 60_000 });
  const gate = deferred<number>();
  const mine = new AbortController();
  const other = cache.get('k', never, () => gate.promise);
  const waiting = cache.get('k', mine.signal, () => gate.promise);
  mine.abort(new SnowmuxError('QUERY_CANCELLED', 'mine'));
  await assert.rejects(waiting, /mine/);
  gate.resolve(7);
  assert.equal(await other, 7);
});

test('metadata_cache_ttl = "0s" turns the cache off; other durations must be at least a second', async () => {
  const { parseConfigText } = await import('../../src/hub/config/config-file.js');
  assert.equal(parseConfigText('[limits]\nmetadata_cache_ttl = "0s"\n', 't.toml').limits.metadataCacheTtlMs, 0);
  assert.equal(parseConfigText('[limits]\nmetadata_cache_ttl = "2m"\n', 't.toml').limits.metadataCacheTtlMs, 120_000);
  assert.throws(() => parseConfigText('[limits]\nmetadata_cache_ttl = "0m"\n', 't.toml'), /metadata_cache_ttl/);
});
