/**
 * Run as a child process by test/unit/tracing.test.ts: builds a runtime and core from `<home>` (as the hub
 * and `snowmux stdio` do), runs one `execute_query`-like call with a W3C traceparent through the call
 * pipeline on the embedded warehouse, and prints which @opentelemetry modules this process loaded and
 * the call's trace id. A fresh process, so nothing a test runner imported is counted.
 *
 *   node dist/test/helpers/otel-load-probe.js <home>
 */
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { HubCore } from '../../src/hub/core/hub-core.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { createRuntime } from '../../src/hub/runtime.js';

const home = process.argv[2]!;
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
const runtime = await createRuntime({ home, logger, audit: false, env: {} });
const core = new HubCore({ home, logger, warehouses: runtime.warehouses, governance: runtime.governance, limits: runtime.limits, sinks: runtime.sinks, scrubCall: runtime.scrubCall, tracer: runtime.tracer });
const attached = core.attachSession({ identity: { kind: 'local-user', name: 'probe' }, transport: 'stdio' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
const result = await attached.env.pipeline.run(
  attached.session,
  'execute_query',
  { id: '1', signal: new AbortController().signal, trace: { traceparent } },
  { query: 'SELECT 1' },
  async (call) => {
    const r = await call.warehouse.query('SELECT 1 AS ONE', { ...call.ctx, maxRows: 1 });
    return { content: [{ type: 'text', text: String(r.rows[0]?.[0]) }] };
  },
);
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes(`${'/node_modules/'}@opentelemetry/`));
const recent = core.status().recent[0];
process.stdout.write(`${JSON.stringify({ opentelemetryModules: loaded.length, traceId: recent?.traceId ?? null, outcome: recent?.outcome, text: result.content[0] })}\n`);
// A probe: no graceful stop (an exporter would try to reach its collector); the process just ends.
process.exit(0);
