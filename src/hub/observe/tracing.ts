/**
 * Traces of calls, as the pipeline sees them: a root span per call and a child per stage that takes
 * time (queue wait, pre-flight, warehouse, shaping, audit). This module holds only the shape the
 * pipeline uses and the W3C `traceparent` reading; the OpenTelemetry SDK lives in otel-tracer.ts, which
 * start-tracing.ts imports only when an OTLP endpoint is configured, so a hub without one never loads it.
 */
import { SnowmuxError } from '../../errors.js';

/** Values a span attribute may take here; undefined members are left out. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** W3C trace context as a request carries it (MCP: in `params._meta`). */
export interface TraceCarrier {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** A stage's span: ended once, with what the stage found out. */
export interface StageSpan {
  end(attributes?: SpanAttributes, failure?: string): void;
}

/** The root span of one call. */
export interface CallSpan {
  /** 32 lowercase hex digits: the incoming trace's id when the request carried one. */
  readonly traceId: string;
  /** A child of this call's span, started now or at `startMs` (epoch ms, as `epochMs()` gives). */
  child(name: string, attributes?: SpanAttributes, startMs?: number): StageSpan;
  end(attributes: SpanAttributes, failure?: string): void;
}

export interface CallTracer {
  /** Opens a call's root span: a child of the incoming context when the carrier has a valid one, else a new trace. */
  startCall(name: string, carrier: TraceCarrier | undefined, attributes: SpanAttributes): CallSpan;
  /** For status: where spans go and how the export is doing. */
  snapshot(): Record<string, unknown>;
  /** Exports what is still buffered (bounded in time), then stops. */
  shutdown(): Promise<void>;
}

export interface TracingSettings {
  /** OTLP/HTTP base URL (`/v1/traces` is added) or the full traces URL. */
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
}

/** Wall-clock milliseconds with sub-millisecond precision (the clock span times use). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The trace id of a W3C `traceparent` (version 00, or a later version read as 00 allows), or undefined
 * when it is missing or invalid (an all-zero id, version ff, wrong length or case). Used when no
 * exporter is configured, so an editor's trace id still reaches QUERY_TAG and the audit record.
 */
export function traceIdOf(carrier: TraceCarrier | undefined): string | undefined {
  const value = carrier?.traceparent;
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, , rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return traceId;
}

/** What a failed stage's span says: the error's stable code (never its message, which may quote data). */
export function failureCode(err: unknown): string {
  return err instanceof SnowmuxError ? err.code : 'INTERNAL_ERROR';
}

/** `traceparent` and `tracestate` from a request's `_meta`, when they are strings. */
export function traceCarrierOf(meta: Record<string, unknown> | undefined): TraceCarrier | undefined {
  const traceparent = meta?.traceparent;
  if (typeof traceparent !== 'string') return undefined;
  const tracestate = meta?.tracestate;
  return { traceparent, tracestate: typeof tracestate === 'string' ? tracestate : undefined };
}
