/**
 * The OpenTelemetry side of call traces: spans made with the official SDK, batched and exported in the
 * background over OTLP/HTTP (JSON). Imported only by startTracing (start-tracing.ts), only when an endpoint
 * is configured. Parents are passed explicitly (no global context manager, no global provider), so
 * nothing else in the process is instrumented by accident. An unreachable collector never fails or
 * slows a call: export runs off the call path, and its failure is logged once (and again only after
 * it recovered and failed anew).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { VERSION } from '../../version.js';
import type { Logger } from './logger.js';
import type { CallSpan, CallTracer, SpanAttributes, StageSpan, TraceCarrier, TracingSettings } from './tracing.js';

/** One export request may take this long; a stop waits at most this long for the last batch. */
const EXPORT_TIMEOUT_MS = 5_000;

/** @public — loaded through `await import()` by startTracing. */
export class OtelTracer implements CallTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly exporter: WatchedExporter;
  private readonly url: string;

  constructor(settings: TracingSettings, logger: Logger) {
    this.url = tracesUrl(settings.endpoint);
    this.exporter = new WatchedExporter(
      new OTLPTraceExporter({ url: this.url, headers: settings.headers, timeoutMillis: EXPORT_TIMEOUT_MS }),
      logger.child({ otlp: shownUrl(this.url) }),
    );
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': settings.serviceName, 'service.version': VERSION }),
      spanProcessors: [new BatchSpanProcessor(this.exporter, { exportTimeoutMillis: EXPORT_TIMEOUT_MS })],
    });
    this.tracer = this.provider.getTracer('snowmux', VERSION);
    logger.info({ url: shownUrl(this.url), service: settings.serviceName }, 'exporting call traces over OTLP');
  }

  startCall(name: string, carrier: TraceCarrier | undefined, attributes: SpanAttributes): CallSpan {
    const parent = carrier ? this.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: defined(attributes) }, parent);
    return new OtelCallSpan(this.tracer, span, trace.setSpan(ROOT_CONTEXT, span));
  }

  snapshot(): Record<string, unknown> {
    return { url: shownUrl(this.url), ...this.exporter.counts() };
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, EXPORT_TIMEOUT_MS + 1_000)));
    try {
      await Promise.race([this.provider.shutdown().catch(() => {}), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

type Tracer = ReturnType<BasicTracerProvider['getTracer']>;

class OtelCallSpan implements CallSpan {
  readonly traceId: string;

  constructor(private readonly tracer: Tracer, private readonly span: Span, private readonly context: Context) {
    this.traceId = span.spanContext().traceId;
  }

  child(name: string, attributes?: SpanAttributes, startMs?: number): StageSpan {
    const span = this.tracer.startSpan(name, { attributes: attributes && defined(attributes), ...(startMs === undefined ? {} : { startTime: startMs }) }, this.context);
    return { end: (more, failure) => finish(span, more, failure) };
  }

  end(attributes: SpanAttributes, failure?: string): void {
    finish(this.span, attributes, failure);
  }
}

function finish(span: Span, attributes: SpanAttributes | undefined, failure: string | undefined): void {
  if (attributes) span.setAttributes(defined(attributes));
  if (failure !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
  span.end();
}

function defined(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The OTLP exporter, watched: counts what was exported and what failed, and says so in the log once
 * per outage (the SDK itself would only tell its diagnostic logger, which the hub does not install).
 */
class WatchedExporter implements SpanExporter {
  private exported = 0;
  private failed = 0;
  private failing = false;
  private lastError: string | undefined;

  constructor(private readonly inner: SpanExporter, private readonly logger: Logger) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        this.exported += spans.length;
        if (this.failing) this.logger.info('trace export works again');
        this.failing = false;
      } else {
        this.failed += spans.length;
        this.lastError = result.error?.message ?? 'export failed';
        if (!this.failing) {
          this.logger.warn({ err: this.lastError, spans: spans.length }, 'trace export failed; calls go on, spans are dropped until the collector answers (check hub.otel_endpoint)');
        }
        this.failing = true;
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  counts(): Record<string, unknown> {
    return { spansExported: this.exported, spansDropped: this.failed, failing: this.failing, ...(this.lastError === undefined ? {} : { lastError: this.lastError }) };
  }
}

/** An OTLP base URL gets the traces path, as OTEL_EXPORTER_OTLP_ENDPOINT does; a full traces URL stays. */
function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/** The URL without credentials or query (a token may be in either). */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
