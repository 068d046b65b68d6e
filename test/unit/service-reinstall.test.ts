/**
 * `snowmux service install` over a definition already there (documented: re-run it after raising the
 * shutdown grace; or to add --http): it replaced the file silently, losing the user's own edits, and printed
 * `systemctl --user enable --now`, which leaves a running hub on the old command line. Now an unchanged file
 * is left alone, a changed one is kept as .bak, and the command printed restarts the service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceCommand } from '../../src/cli/commands/service-command.js';
import { tempHome } from '../helpers/harness.js';

async function install(home: string, ...extra: string[]): Promise<string> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  assert.equal(await serviceCommand(['install', 'systemd', '--home', home, ...extra], { stdout: sink, stderr: { write: () => true } as unknown as NodeJS.WritableStream }), 0);
  return out;
}

test('installing over an existing unit keeps the old one as .bak and prints the restart; the same unit again writes nothing', async (t) => {
  const home = tempHome(t);
  const xdg = tempHome(t, 'smx-xdg-');
  const saved = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = xdg;
  t.after(() => {
    if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = saved;
  });
  const unit = join(xdg, 'systemd', 'user', 'snowmux-hub.service');

  const first = await install(home);
  assert.match(first, /enable --now snowmux-hub/);
  const written = readFileSync(unit, 'utf8');
  const edited = written.replace('[Service]\n', '[Service]\nEnvironment=HTTPS_PROXY=http://proxy:3128\n');
  writeFileSync(unit, edited);

  const again = await install(home, '--http', '127.0.0.1:8080');
  assert.equal(readFileSync(`${unit}.bak`, 'utf8'), edited, 'the user\'s edited unit is kept');
  assert.match(readFileSync(unit, 'utf8'), /--http 127\.0\.0\.1:8080/);
  assert.match(again, /Replaced .*snowmux-hub\.service \(the previous definition is saved as .*snowmux-hub\.service\.bak\)/);
  assert.match(again, /systemctl --user daemon-reload && systemctl --user enable snowmux-hub && systemctl --user restart snowmux-hub/, 'a running hub gets the new command line');

  const same = await install(home, '--http', '127.0.0.1:8080');
  assert.match(same, /is already this definition; nothing written/);
  assert.throws(() => readFileSync(`${unit}.bak.2`), { code: 'ENOENT' }, 'no backup that only repeats the file');
});
