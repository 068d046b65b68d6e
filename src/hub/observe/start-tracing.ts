/**
 * The one door to the OpenTelemetry SDK: imported lazily, so a hub without an OTLP endpoint never loads it
 * (its start-up and memory stay as they are).
 */
import type { Logger } from './logger.js';
import type { CallTracer, TracingSettings } from './tracing.js';

/** Loads the OpenTelemetry SDK and starts exporting; only called when an endpoint is configured. */
export async function startTracing(settings: TracingSettings, logger: Logger): Promise<CallTracer> {
  const { OtelTracer } = await import('./otel-tracer.js');
  return new OtelTracer(settings, logger);
}
