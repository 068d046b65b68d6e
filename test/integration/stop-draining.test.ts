/**
 * `snowmux stop` while a hub drains (stopped or replaced already, still finishing editors' calls): it said
 * "no hub is running; nothing to stop", so a script stopping the hub before an uninstall or upgrade went on
 * while the hub still ran queries. It now names the draining hub's pid and how to end it sooner (exit 0:
 * the hub is stopping already). The hub is stood in for by a live process named in the audit-writer claim,
 * as a draining hub names itself (see status-draining.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plantDrainingHub, runCli, tempHome } from '../helpers/harness.js';

test('stop while a hub drains names its pid and how to end it sooner; with the claim naming a dead process there is nothing to stop', async (t) => {
  const home = tempHome(t);
  const draining = await plantDrainingHub(t, home);
  const { pid } = draining;

  const stop = await runCli(['stop', '--home', home]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`the hub pid ${pid} is still draining: it finishes its running calls, then exits by itself`));
  assert.match(stop.stdout, new RegExp(`\`kill -TERM ${pid}\` gives its running calls hub\\.shutdown_grace_ms from now`));
  assert.doesNotMatch(stop.stdout, /nothing to stop/);

  await draining.exit();
  const gone = await runCli(['stop', '--home', home]);
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stdout, /no hub is running at .*; nothing to stop/);
});
