import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from '../../bench/lib.js';

test('a bench script asked for --help prints its usage and runs nothing; a bad number exits 2 with the usage', () => {
  const script = join(root, 'dist', 'bench', 'hot-path.js');
  const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: node dist\/bench\/hot-path\.js \[seconds=3\]/);
  assert.doesNotMatch(help.stdout, /\| workload \|/);
  const bad = spawnSync(process.execPath, [script, 'three'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /argument 1 is "three", not a positive number\nusage: /);
});
