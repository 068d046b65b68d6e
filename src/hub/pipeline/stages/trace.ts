/**
 * Call stage, outermost: the call's trace. With traces exported (hub.otel_endpoint), the call is a root
 * span — a child of the editor's span when the request's `_meta` carried a W3C `traceparent` — and the
 * stages that take time open children of it (queue wait, pre-flight, warehouse, shaping, audit). Without
 * an exporter, an incoming `traceparent` still gives the call its trace id, so QUERY_TAG and the audit
 * record join the editor's trace all the same; nothing from OpenTelemetry is loaded for that.
 */
import { traceIdOf } from '../../observe/tracing.js';
import type { CallStage } from '../call-state.js';

export const trace: CallStage = {
  name: 'trace',
  async run(call, next) {
    const tracer = call.env.tracer;
    if (!tracer) {
      if (call.request.trace) call.traceId = traceIdOf(call.request.trace);
      return next();
    }
    const { session, tool, request } = call;
    const span = tracer.startCall(`tools/call ${tool}`, request.trace, {
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': tool,
      'mcp.session.id': session.id,
      'jsonrpc.request.id': request.id,
      'snowmux.identity': call.identity,
      'snowmux.client': session.clientLabel,
    });
    call.traceId = span.traceId;
    call.trace = { span };
    try {
      // The audit stage inside turns every failure into a result, so this returns once the call is settled.
      return await next();
    } finally {
      const { meter } = call;
      span.end(
        {
          'snowmux.outcome': call.outcome,
          'snowmux.error_code': call.errorCode ?? undefined,
          'error.type': call.outcome === 'error' ? (call.errorCode ?? undefined) : undefined,
          'snowmux.role': call.role?.name,
          'snowmux.profile': meter.profile,
          'snowmux.query_id': meter.queryId,
          'snowmux.rows': meter.rows,
          'snowmux.bytes': meter.bytes,
          'snowmux.queue_wait_ms': meter.queueWaitMs,
          'snowmux.run_ms': meter.runMs,
        },
        call.outcome === 'error' ? (call.errorCode ?? 'INTERNAL_ERROR') : undefined,
      );
    }
  },
};
