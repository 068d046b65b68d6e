/**
 * The command `snowmux service install` prints to start (and stop) the service is pasted into a shell: a
 * definition under a path with a space (a macOS home "/Users/Jane Doe", a project directory for pm2) must
 * come out quoted, or launchctl and pm2 get half the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceFile } from '../../src/cli/commands/service-command.js';

test('the start and stop commands quote a definition path with a space or a quote in it', () => {
  const opts = { userHome: "/Users/Jane O'Doe", cwd: '/work/my project', env: {} };
  const launchd = serviceFile('launchd', opts);
  assert.equal(launchd.start, `launchctl load -w '/Users/Jane O'\\''Doe/Library/LaunchAgents/dev.snowmux.hub.plist'`);
  assert.equal(launchd.stop, `launchctl unload -w '/Users/Jane O'\\''Doe/Library/LaunchAgents/dev.snowmux.hub.plist'`);
  assert.equal(serviceFile('pm2', opts).start, `pm2 start '/work/my project/snowmux.ecosystem.config.cjs' && pm2 save`);
  // A plain path stays as it was.
  assert.equal(serviceFile('launchd', { ...opts, userHome: '/Users/jane' }).start, 'launchctl load -w /Users/jane/Library/LaunchAgents/dev.snowmux.hub.plist');
});

test('pm2: what service install prints does not promise a start at login that `pm2 save` alone does not give', async () => {
  // "Start it now and at login: pm2 start … && pm2 save" — pm2 resurrects a saved list at boot only once
  // `pm2 startup` has made pm2 itself a boot service; a new user who ran the line got no hub after a reboot.
  const { serviceCommand } = await import('../../src/cli/commands/service-command.js');
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  assert.equal(await serviceCommand(['install', 'pm2', '--print'], { stdout: sink, stderr: sink }), 0);
  assert.match(out, /pm2 startup/, out);
  // systemd and launchd start the service at login by themselves: no such note.
  for (const manager of ['systemd', 'launchd'] as const) assert.equal(serviceFile(manager, { userHome: '/home/jane', cwd: '/tmp', env: {} }).atLogin, undefined);
  assert.match(serviceFile('pm2', { userHome: '/home/jane', cwd: '/tmp', env: {} }).atLogin ?? '', /^At login too only once pm2 itself starts then: run `pm2 startup` once/);
});
