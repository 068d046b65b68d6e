/**
 * The remote shim's and `status --url`'s API key file (`--key-file`) is read as snowmux reads every
 * credential file: a regular file, small, that no other user could change; one others may read is used
 * with a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSnowmuxError } from '../../src/errors.js';
import { apiKeyFrom } from '../../src/shim/remote-link.js';

const KEY = 'smx_abcd1234_SECRETPART0123456789';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'smx-keyfile-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a private key file is read; one others may read is used with a warning that says how to fix it', (t) => {
  const d = dir(t);
  const file = join(d, 'key');
  writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
  const warnings: string[] = [];
  assert.equal(apiKeyFrom(file, {}, (m) => warnings.push(m)), KEY);
  assert.equal(warnings.length, 0);
  chmodSync(file, 0o644);
  assert.equal(apiKeyFrom(file, {}, (m) => warnings.push(m)), KEY);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /may be read by every user of this machine \(mode 644\).*chmod 600/);
  assert.ok(!warnings[0]!.includes(KEY));
});

test('a key file another user could change is refused: they could have this editor taken for them', (t) => {
  const d = dir(t);
  const file = join(d, 'key');
  writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
  chmodSync(file, 0o666);
  const unsafe = (e: unknown) => isSnowmuxError(e, 'CONFIG_UNSAFE') && !(e as Error).message.includes(KEY);
  assert.throws(() => apiKeyFrom(file, {}, () => {}), (e) => unsafe(e) && /every user may write it \(mode 666\)/.test((e as Error).message));
  chmodSync(file, 0o600);
  const open = join(d, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  writeFileSync(join(open, 'key'), `${KEY}\n`, { mode: 0o600 });
  const link = join(d, 'link');
  symlinkSync(join(open, 'key'), link);
  assert.throws(() => apiKeyFrom(link, {}, () => {}), (e) => unsafe(e) && /writable by others without the sticky bit/.test((e as Error).message));
});

test('a FIFO or device is refused at once, not waited on or read without end', (t) => {
  const d = dir(t);
  const fifo = join(d, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => apiKeyFrom(fifo, {}, () => {}), (e) => isSnowmuxError(e, 'USAGE') && /not a regular file/.test((e as Error).message));
  assert.throws(() => apiKeyFrom('/dev/zero', {}, () => {}), (e) => isSnowmuxError(e, 'USAGE') && /not a regular file/.test((e as Error).message));
  const big = join(d, 'big');
  writeFileSync(big, 'x'.repeat(70 * 1024), { mode: 0o600 });
  assert.throws(() => apiKeyFrom(big, {}, () => {}), (e) => isSnowmuxError(e, 'USAGE') && /larger than 64 KiB/.test((e as Error).message));
});

test('a group-readable key file is used with a warning that names the group and its members; one another user owns is refused', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to give the file to another group and user');
    return;
  }
  const d = dir(t);
  const file = join(d, 'key');
  writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
  // A group of the local database other than the user's: its name is what the warning gives.
  const group = readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] && Number(f[2]) > 0)!;
  chownSync(file, 0, Number(group[2]));
  chmodSync(file, 0o640);
  const warnings: string[] = [];
  assert.equal(apiKeyFrom(file, {}, (m) => warnings.push(m)), KEY);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.ok(warnings[0]!.includes(`may be read by its group ${group[0]} (gid ${group[2]};`), warnings[0]);
  assert.match(warnings[0]!, /\(mode 640\): every member can read the key and call the hub as you\. Unless that group is you alone, run: chmod 600/);
  assert.doesNotMatch(warnings[0]!, /other users|every user/);
  // Owned by another user (not root): refused, naming the owner, whatever the mode.
  chmodSync(file, 0o600);
  chownSync(file, 4242, 0);
  const refused = (e: unknown) => isSnowmuxError(e, 'CONFIG_UNSAFE') && !(e as Error).message.includes(KEY);
  assert.throws(() => apiKeyFrom(file, {}, () => {}), (e) => refused(e) && /belongs to another user, uid 4242, who could change it at any time\. Save the key in a file of your own/.test((e as Error).message));
});
