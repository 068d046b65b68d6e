import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unhealthy } from '../../src/cli/commands/status-command.js';
import type { HubStatus } from '../../src/hub/hub.js';

const base = { state: 'running', governance: { breakers: [] } } as unknown as HubStatus;
const withBreakers = (states: string[], state = 'running') =>
  ({ ...base, state, governance: { breakers: states.map((s, i) => ({ profile: `p${i}`, state: s })) } }) as unknown as HubStatus;

test('healthy: running, no breaker open (or only some)', () => {
  assert.deepEqual(unhealthy(base), []);
  assert.deepEqual(unhealthy(withBreakers(['closed', 'half-open'])), []);
  assert.deepEqual(unhealthy(withBreakers(['open', 'closed'])), [], 'another warehouse still serves');
});

test('unhealthy: draining, or every warehouse behind an open breaker', () => {
  assert.deepEqual(unhealthy(withBreakers([], 'draining')), ['the hub is draining']);
  assert.deepEqual(unhealthy(withBreakers(['open', 'open'])), ['circuit breaker open for p0, p1']);
});
