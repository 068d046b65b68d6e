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
