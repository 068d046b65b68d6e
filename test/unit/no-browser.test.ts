/**
 * Where a browser sign-in (EXTERNALBROWSER) can open a browser: without a desktop session the driver's
 * attempt failed where nobody saw it and the login waited two minutes; the hub now fails it at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noBrowserReason } from '../../src/hub/warehouse/snowflake/connection-options.js';

test('a Linux hub without DISPLAY, WAYLAND_DISPLAY or BROWSER has no browser; a desktop, $BROWSER, WSL, macOS and Windows have one', () => {
  assert.match(noBrowserReason('linux', {}) ?? '', /without a desktop session \(neither DISPLAY nor WAYLAND_DISPLAY/);
  assert.match(noBrowserReason('freebsd', { DISPLAY: '' }) ?? '', /without a desktop session/);
  assert.equal(noBrowserReason('linux', { DISPLAY: ':0' }), null);
  assert.equal(noBrowserReason('linux', { WAYLAND_DISPLAY: 'wayland-0' }), null);
  assert.equal(noBrowserReason('linux', { BROWSER: 'w3m' }), null);
  assert.equal(noBrowserReason('linux', { WSL_DISTRO_NAME: 'Ubuntu' }), null);
  assert.equal(noBrowserReason('darwin', {}), null);
  assert.equal(noBrowserReason('win32', {}), null);
});
