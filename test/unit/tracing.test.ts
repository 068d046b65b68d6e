/**
 * Traces off costs nothing: a hub without an OTLP endpoint never loads an @opentelemetry module, even
 * for a call that carries a traceparent (whose trace id it still records); with an endpoint, the same
 * call loads the SDK (the control that shows the probe can see it). The probe runs without metrics:
 * prom-client, when metrics are on, loads @opentelemetry/api (only the API) by itself. And the W3C
 * traceparent reading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { traceCarrierOf, traceIdOf } from '../../src/hub/observe/tracing.js';
import { repoRoot } from '../helpers/paths.js';
import { tempHome } from '../helpers/harness.js';

const probe = join(repoRoot, 'dist', 'test', 'helpers', 'otel-load-probe.js');

async function runProbe(home: string): Promise<{ opentelemetryModules: number; traceId: string | null; outcome: string; text: { text: string } }> {
  const { stdout } = await promisify(execFile)(process.execPath, [probe, home], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as never;
}

test('tracing off: no @opentelemetry module is loaded, and an incoming trace id is still recorded', async (t) => {
  const home = tempHome(t);
  const off = await runProbe(home);
  assert.equal(off.outcome, 'ok');
  assert.equal(off.text.text, '1');
  assert.equal(off.opentelemetryModules, 0);
  assert.equal(off.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('tracing on: the same call loads the OpenTelemetry SDK and keeps the incoming trace id', async (t) => {
  const home = tempHome(t);
  // Nothing listens there; the probe ends before any export is due.
  writeFileSync(join(home, 'config.toml'), '[hub]\notel_endpoint = "http://127.0.0.1:9"\n');
  const on = await runProbe(home);
  assert.equal(on.outcome, 'ok');
  assert.ok(on.opentelemetryModules > 0, 'the probe sees the SDK when it is loaded');
  assert.equal(on.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('traceparent: a valid W3C header gives its trace id; invalid ones give none', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736';
  assert.equal(traceIdOf({ traceparent: `00-${id}-00f067aa0ba902b7-01` }), id);
  assert.equal(traceIdOf({ traceparent: `00-${id}-00f067aa0ba902b7-00` }), id, 'not sampled: still the same trace');
  assert.equal(traceIdOf({ traceparent: `01-${id}-00f067aa0ba902b7-01-future` }), id, 'a later version may append fields');
  for (const bad of [
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-${id}-${'0'.repeat(16)}-01`,
    `ff-${id}-00f067aa0ba902b7-01`,
    `00-${id.toUpperCase()}-00f067aa0ba902b7-01`,
    `00-${id}-00f067aa0ba902b7-01-extra`,
    `00-${id.slice(1)}-00f067aa0ba902b7-01`,
    '',
  ]) {
    assert.equal(traceIdOf({ traceparent: bad }), undefined, bad);
  }
  assert.equal(traceIdOf(undefined), undefined);
  assert.deepEqual(traceCarrierOf({ traceparent: 'x', tracestate: 'a=b', progressToken: 1 }), { traceparent: 'x', tracestate: 'a=b' });
  assert.equal(traceCarrierOf({ traceparent: 42 }), undefined);
  assert.equal(traceCarrierOf(undefined), undefined);
});
