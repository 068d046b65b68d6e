/**
 * Call stage, outermost: the call's trace. With traces exported (hub.otel_endpoint), the call is a root
 * span — a child of the editor's span when the request's `_meta` carried a W3C `traceparent` — and the
 * stages that take time open children of it (queue wait, pre-flight, warehouse, shaping, audit). Without
 * an exporter, an incoming `traceparent` still gives the call its trace id, so QUERY_TAG and the audit
 * record join the editor's trace all the same; nothing from OpenTelemetry is loaded for that.
 */
import { traceIdOf, type CallSpan, type SpanAttributes } from '../../observe/tracing.js';
import type { TextScrubber } from '../../audit/audit-redact.js';
import type { CallStage } from '../call-state.js';

/**
 * Every string a call's spans carry, as the audit record keeps it: the hub's secrets and the session's own
 * out (a client name, an identity, a profile — each a text a client or a setting chose). The collector is
 * one more copy of the call, often kept longer and shown wider than hub.log.
 */
function scrubbed(attributes: SpanAttributes, scrubber: TextScrubber): SpanAttributes {
  const out: SpanAttributes = {};
  for (const [k, v] of Object.entries(attributes)) out[k] = typeof v === 'string' ? scrubber.scrub(v) : v;
  return out;
}

/** `span` with its attributes, its children's and their failures passed through `scrubber`. */
function scrubbedSpan(span: CallSpan, scrubber: TextScrubber): CallSpan {
  return {
    traceId: span.traceId,
    child: (name, attributes, startMs) => {
      const child = span.child(scrubber.scrub(name), attributes && scrubbed(attributes, scrubber), startMs);
      return { end: (more, failure) => child.end(more && scrubbed(more, scrubber), failure === undefined ? undefined : scrubber.scrub(failure)) };
    },
    end: (attributes, failure) => span.end(scrubbed(attributes, scrubber), failure === undefined ? undefined : scrubber.scrub(failure)),
  };
}

export const trace: CallStage = {
  name: 'trace',
  async run(call, next) {
    const tracer = call.env.tracer;
    if (!tracer) {
      if (call.request.trace) call.traceId = traceIdOf(call.request.trace);
      return next();
    }
    const { session, tool, request } = call;
    const scrubber = call.env.secrets?.forRecord(session.id);
    const attributes: SpanAttributes = {
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': tool,
      'mcp.session.id': session.id,
      'jsonrpc.request.id': request.id,
      'snowmux.identity': call.identity,
      'snowmux.client': session.clientLabel,
    };
    const opened = scrubber ? tracer.startCall(scrubber.scrub(`tools/call ${tool}`), request.trace, scrubbed(attributes, scrubber)) : tracer.startCall(`tools/call ${tool}`, request.trace, attributes);
    const span = scrubber ? scrubbedSpan(opened, scrubber) : opened;
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
