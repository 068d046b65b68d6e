/**
 * `snowmux status` while a hub drains: the hub has given up the socket (a stop, or a take-over not yet
 * done) but still finishes editors' calls, and holds the home's audit-writer claim until it exits. Status
 * said "No snowmux hub is running … Start one" (exit 1); it says the hub is draining (exit 3, as documented).
 * The hub here is stood in for by a live process named in the claim, as a draining hub names itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plantDrainingHub, runCli, tempHome } from '../helpers/harness.js';

test('status over the socket of a draining hub says it drains and exits 3; a claim naming a dead process is no hub', async (t) => {
  const home = tempHome(t);
  const draining = await plantDrainingHub(t, home);
  const { pid } = draining;

  const plain = await runCli(['status', '--home', home]);
  assert.equal(plain.code, 3, plain.stderr);
  assert.match(plain.stdout, new RegExp(`The hub here \\(pid ${pid}\\) no longer takes connections: it is draining`));
  const json = await runCli(['status', '--home', home, '--json']);
  assert.equal(json.code, 3, json.stderr);
  assert.deepEqual((({ running, state, pid: p }) => ({ running, state, pid: p }))(JSON.parse(json.stdout) as Record<string, unknown>), { running: true, state: 'draining', pid });

  await draining.exit();
  const gone = await runCli(['status', '--home', home]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /No snowmux hub is running/);
});
