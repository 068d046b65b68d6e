import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positiveNumberArg } from '../../bench/args.js';

test('a bench argument that is not a positive number is an error naming it, absent ones take the default', () => {
  assert.equal(positiveNumberArg(['node', 'x'], 2, 3), 3);
  assert.equal(positiveNumberArg(['node', 'x', '0.5'], 2, 3), 0.5);
  for (const bad of ['--help', 'abc', '0', '-2', 'Infinity']) {
    const got = positiveNumberArg(['node', 'x', bad], 2, 3);
    assert.ok(got instanceof Error, bad);
    assert.match(got.message, new RegExp(`argument 1 is "${bad.replace(/[-+]/g, '\\$&')}", not a positive number`));
  }
});
