import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownClaimWatch } from '../../src/wire/audit-claim.js';

test('the audit writer\'s claim check sees every change of the claim: taken by another pid (in place or by rename), back, removed', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'smx-claim-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const claim = join(home, 'audit-writer.pid');
  const holds = ownClaimWatch(home);
  assert.equal(holds(), true, 'no claim: nobody else writes');
  writeFileSync(claim, `${process.pid} 123\n`);
  assert.equal(holds(), true);
  assert.equal(holds(), true, 'unchanged: same answer');
  // Written an hour ago: from now on only a change of the file makes the check read it again.
  const anHourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(claim, anHourAgo, anHourAgo);
  assert.equal(holds(), true);
  // Another hub rewrites it in place with a pid of the same length, its time then set back to the old one:
  // size and modification time alike, the change time is not.
  const other = String(process.pid === 1 ? 2 : process.pid - 1).padStart(String(process.pid).length, '9');
  writeFileSync(claim, `${other} 123\n`);
  utimesSync(claim, anHourAgo, anHourAgo);
  assert.equal(holds(), false, 'taken over in place');
  // A rewrite just now of the same size is read whatever the file times say (they move in coarse ticks).
  writeFileSync(claim, `${process.pid} 123\n`);
  assert.equal(holds(), true);
  writeFileSync(join(home, 'next'), `${process.pid} 123\n`);
  renameSync(join(home, 'next'), claim);
  assert.equal(holds(), true, 'a new file put in its place is read');
  writeFileSync(join(home, 'next'), `${other} 456\n`);
  renameSync(join(home, 'next'), claim);
  assert.equal(holds(), false);
  rmSync(claim);
  assert.equal(holds(), true, 'removed: nobody else writes');
});
