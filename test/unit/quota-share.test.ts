import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuotaShare } from '../../src/hub/team/quota-share.js';

test('a replica\'s quota share adds up per window key (refunds included) and drops windows that ended', () => {
  const share = new QuotaShare();
  share.add('k:hour', 10_000, { queries: 1, rows: 5, bytes: 100 }, 1_000);
  share.add('k:hour', 10_000, { queries: 1, rows: 0, bytes: 0, scanBytes: 7.6 }, 2_000);
  share.add('k:hour', 10_000, { queries: -1, rows: 0, bytes: 0 }, 3_000);
  share.add('k:minute', 4_000, { queries: 1, rows: 1, bytes: 1 }, 3_000);
  assert.deepEqual(share.open(3_500), [
    { key: 'k:hour', leftMs: 6_500, usage: { queries: 1, rows: 5, bytes: 100, scanBytes: 8 } },
    { key: 'k:minute', leftMs: 500, usage: { queries: 1, rows: 1, bytes: 1, scanBytes: 0 } },
  ]);
  assert.deepEqual(share.open(4_000).map((s) => s.key), ['k:hour'], 'a window that ended is not written again');
  share.add('k:old', 5_000, { queries: 1, rows: 0, bytes: 0 }, 6_000);
  assert.deepEqual(share.open(6_000).map((s) => s.key), ['k:hour'], 'usage of a window already over is not kept');
});
