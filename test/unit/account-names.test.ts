/** Who a uid or gid is, from the local user database, for messages about who could read or change a file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeGroup, describeUser, groupAccount } from '../../src/wire/account-names.js';

test('a group is named with its listed members and the users whose primary group it is; unknown ids stay numbers', (t) => {
  const d = mkdtempSync(join(tmpdir(), 'smx-accounts-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const group = join(d, 'group');
  const passwd = join(d, 'passwd');
  writeFileSync(group, '# comment\nroot:x:0:\nstaff:x:50:alice,bob\nempty:x:60:\n');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\ncarol:x:1003:50::/home/carol:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n');
  assert.deepEqual(groupAccount(50, { group, passwd }), { name: 'staff', members: ['alice', 'bob', 'carol'] });
  assert.equal(describeGroup(50, { group, passwd }), 'group staff (gid 50; its members: alice, bob, carol)');
  assert.equal(describeGroup(50, { group, passwd }, 1), 'group staff (gid 50; its members: alice and 2 more)');
  assert.equal(describeGroup(60, { group, passwd }), 'group empty (gid 60; no member listed in /etc/group or /etc/passwd)');
  assert.equal(describeGroup(77, { group, passwd }), 'group gid 77');
  assert.equal(describeGroup(77, { group: join(d, 'missing'), passwd }), 'group gid 77');
  assert.equal(describeUser(1001, passwd), 'alice (uid 1001)');
  assert.equal(describeUser(4242, passwd), 'uid 4242');
});
