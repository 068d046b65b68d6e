import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions } from '../../src/version-order.js';

test('versions compare by number, part by part; a pre-release comes before its release', () => {
  const ascending = ['0.0.9', '0.1.0-rc.1', '0.1.0-rc.2', '0.1.0-rc.10', '0.1.0', '0.1.1', '0.2.0', '0.10.0', '1.0.0'];
  for (let i = 0; i < ascending.length; i++) {
    for (let j = 0; j < ascending.length; j++) {
      const order = Math.sign(compareVersions(ascending[i]!, ascending[j]!));
      assert.equal(order, Math.sign(i - j), `${ascending[i]} vs ${ascending[j]}`);
    }
  }
  assert.equal(compareVersions('1.0', '1.0.0'), 0);
});
