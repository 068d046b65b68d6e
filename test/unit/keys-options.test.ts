/**
 * `snowmux keys` takes its options once for every subcommand, and an option that does not apply to the one
 * named was ignored: `keys revoke ID --expires 30d` (meant: end it in 30 days) revoked the key at once, and
 * `keys create --overlap 1h` said nothing of an overlap it never set. Such an option is a usage error now,
 * naming the subcommands it applies to, and nothing is done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keysCommand } from '../../src/cli/commands/keys-command.js';
import { isSnowmuxError } from '../../src/errors.js';

function capture(): { io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }; out: () => string } {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  return { io: { stdout: sink, stderr: { write: () => true } as unknown as NodeJS.WritableStream }, out: () => out };
}

test('an option that does not apply to the keys subcommand named is refused, and nothing is done', async (t) => {
  const home = join(mkdtempSync(join(tmpdir(), 'snowmux-keys-')), 'home');
  t.after(() => rmSync(join(home, '..'), { recursive: true, force: true }));
  const made = capture();
  assert.equal(await keysCommand(['create', '--identity', 'ci', '--home', home, '--local'], made.io), 0);
  const id = /^smx_([0-9a-f]{12})_/.exec(made.out())![1]!;

  for (const [argv, flag, appliesTo] of [
    [['revoke', id, '--expires', '30d'], '--expires', 'create, rotate'],
    [['create', '--identity', 'ci', '--overlap', '1h'], '--overlap', 'rotate'],
    [['list', '--identity', 'ci'], '--identity', 'create'],
    [['rotate', id, '--json'], '--json', 'list'],
  ] as const) {
    await assert.rejects(
      keysCommand([...argv, '--home', home, '--local'], capture().io),
      (err: unknown) => isSnowmuxError(err, 'USAGE') && err.message.includes(`${flag} does not apply to \`snowmux keys ${argv[0]}\``) && err.message.includes(`(only to ${appliesTo})`),
      argv.join(' '),
    );
  }
  const listed = capture();
  assert.equal(await keysCommand(['list', '--json', '--home', home, '--local'], listed.io), 0);
  const keys = JSON.parse(listed.out()) as { id: string; revokedAt?: string | null }[];
  assert.equal(keys.length, 1, 'no key made or rotated');
  assert.equal(keys[0]!.id, id);
  assert.ok(!keys[0]!.revokedAt, 'not revoked');
});
