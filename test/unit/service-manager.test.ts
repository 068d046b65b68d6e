/** Which service manager started the hub, from what each sets in the environment of the process it starts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replacedServiceOutcome, serviceManagerOf, type ProcessFacts } from '../../src/hub/service-manager.js';

const facts = (env: NodeJS.ProcessEnv, more: Partial<ProcessFacts> = {}): ProcessFacts => ({ env, pid: 4000, ppid: 3000, uid: 501, cgroup: () => undefined, ...more });
const USER_CGROUP = () => '0::/user.slice/user-1000.slice/user@1000.service/app.slice/snowmux-hub.service\n';

test('systemd: the process it started (SYSTEMD_EXEC_PID, or the manager as parent before v248), its unit from the cgroup', () => {
  assert.deepEqual(serviceManagerOf(facts({ INVOCATION_ID: 'x', SYSTEMD_EXEC_PID: '4000' }, { cgroup: USER_CGROUP })), { manager: 'systemd', unit: 'snowmux-hub.service', restart: 'systemctl --user restart snowmux-hub.service' });
  assert.deepEqual(serviceManagerOf(facts({ INVOCATION_ID: 'x', SYSTEMD_EXEC_PID: '4000' }, { cgroup: () => '0::/system.slice/my-hub.service\n' })), { manager: 'systemd', unit: 'my-hub.service', restart: 'sudo systemctl restart my-hub.service' });
  assert.equal(serviceManagerOf(facts({ INVOCATION_ID: 'x', MANAGERPID: '3000' }))?.restart, 'systemctl --user restart snowmux-hub.service');
  // cgroup v1: systemd's own hierarchy names the unit, not another controller's line.
  const v1 = () => '4:memory:/system.slice/docker.service\n1:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/snowmux-hub.service\n';
  assert.equal(serviceManagerOf(facts({ INVOCATION_ID: 'x', SYSTEMD_EXEC_PID: '4000' }, { cgroup: v1 }))?.restart, 'systemctl --user restart snowmux-hub.service');
  // A child of the started process (the editor runs as a unit, its terminal inherited the variables): not the service.
  assert.equal(serviceManagerOf(facts({ INVOCATION_ID: 'x', SYSTEMD_EXEC_PID: '17' }, { cgroup: USER_CGROUP })), null);
  assert.equal(serviceManagerOf(facts({ INVOCATION_ID: 'x', MANAGERPID: '17' })), null);
  // A hub a shim started is the shim's, whatever it inherited.
  assert.equal(serviceManagerOf(facts({ INVOCATION_ID: 'x', SYSTEMD_EXEC_PID: '4000', SNOWMUX_STARTED_BY: 'shim:12' })), null);
});

test('launchd: its job label as XPC_SERVICE_NAME and launchd as parent; a terminal\'s or an app\'s process is not one', () => {
  assert.deepEqual(serviceManagerOf(facts({ XPC_SERVICE_NAME: 'dev.snowmux.hub' }, { ppid: 1 })), { manager: 'launchd', unit: 'dev.snowmux.hub', restart: 'launchctl kickstart -k gui/501/dev.snowmux.hub' });
  assert.equal(serviceManagerOf(facts({ XPC_SERVICE_NAME: '0' }, { ppid: 1 })), null);
  assert.equal(serviceManagerOf(facts({ XPC_SERVICE_NAME: 'application.com.apple.Terminal.123' }, { ppid: 1 })), null);
  assert.equal(serviceManagerOf(facts({ XPC_SERVICE_NAME: 'dev.snowmux.hub' })), null);
});

test('pm2: pm_id and the app name; whether it restarts a clean exit, from the autorestart and stop_exit_codes it hands the process', () => {
  assert.deepEqual(serviceManagerOf(facts({ pm_id: '0', name: 'snowmux-hub' })), { manager: 'pm2', unit: 'snowmux-hub', restart: 'pm2 restart snowmux-hub', restartsAfterCleanExit: true });
  assert.equal(serviceManagerOf(facts({})), null);
  const restarts = (env: NodeJS.ProcessEnv) => serviceManagerOf(facts({ pm_id: '0', name: 'snowmux-hub', ...env }))?.restartsAfterCleanExit;
  assert.equal(restarts({ autorestart: 'true', stop_exit_codes: '0' }), false);
  assert.equal(restarts({ autorestart: 'true', stop_exit_codes: '2,0' }), false);
  assert.equal(restarts({ autorestart: 'true', stop_exit_codes: '10' }), true);
  assert.equal(restarts({ autorestart: 'false' }), false);
});

test('a replace over a pm2 hub says what pm2 will do: restart it (and how to stop that), or leave it stopped', () => {
  const info = (restartsAfterCleanExit: boolean) => ({ manager: 'pm2' as const, unit: 'snowmux-hub', restart: 'pm2 restart snowmux-hub', restartsAfterCleanExit });
  assert.match(replacedServiceOutcome(info(true)), /pm2 starts its hub again at once.*stop_exit_codes: \[0\]/);
  assert.match(replacedServiceOutcome(info(false)), /pm2 takes as the app stopping.*does not restart it/);
  assert.doesNotMatch(replacedServiceOutcome(info(false)), /starts its hub again/);
});
