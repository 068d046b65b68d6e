import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuotaShare } from '../../src/hub/team/quota-share.js';

test('a replica\'s quota share adds up per window (refunds included) and drops windows that ended', () => {
  const share = new QuotaShare();
  share.add('k', [10_000], 1_000, { queries: 1, rows: 5, bytes: 100 }, 1_000);
  share.add('k', [10_000], 2_000, { queries: 1, rows: 0, bytes: 0, scanBytes: 7.6 }, 2_000);
  share.add('k', [10_000], 1_000, { queries: -1, rows: 0, bytes: 0 }, 3_000);
  share.add('k', [4_000], 3_000, { queries: 1, rows: 1, bytes: 1 }, 3_000);
  assert.deepEqual(share.open(3_500), [
    { key: 'k:10000:0', prefix: 'k', windowMs: 10_000 },
    { key: 'k:4000:0', prefix: 'k', windowMs: 4_000 },
  ]);
  assert.deepEqual(share.of('k:10000:0', 3_500), { leftMs: 6_500, usage: { queries: 1, rows: 5, bytes: 100, scanBytes: 8 } });
  assert.deepEqual(share.open(4_000).map((s) => s.key), ['k:10000:0'], 'a window that ended is not written again');
  share.add('k', [5_000], 1_000, { queries: 1, rows: 0, bytes: 0 }, 6_000);
  assert.deepEqual(share.open(6_000).map((s) => s.key), ['k:10000:0'], 'usage of a window already over is not kept');
});

test('a window length new to a holder starts from the most the replica counted in the windows within it, as Redis does', () => {
  const share = new QuotaShare();
  share.add('k', [1_000], 2_500, { queries: 3, rows: 30, bytes: 0 }, 2_500);
  share.add('other', [1_000], 2_500, { queries: 9, rows: 0, bytes: 0 }, 2_500);
  share.add('k', [4_000], 2_600, { queries: 1, rows: 0, bytes: 0 }, 2_600);
  assert.deepEqual(share.of('k:4000:0', 2_600)?.usage, { queries: 4, rows: 30, bytes: 0, scanBytes: 0 }, 'the second within it, plus the call; not another holder\'s');
  share.add('k', [500], 2_700, { queries: 1, rows: 0, bytes: 0 }, 2_700);
  assert.deepEqual(share.of('k:500:2500', 2_700)?.usage.queries, 1, 'a shorter window starts from zero');
  assert.deepEqual(share.lengthsOf('k', [1_000]), [1_000]);
  share.noteLengths('k', [4_000, 1_000]);
  assert.deepEqual(share.lengthsOf('k', [1_000]), [1_000, 4_000]);
});
