import { type Span, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { collectDefaultMetrics, Registry } from "prom-client";

// Prometheus: one registry per process, default Node metrics included, every series labelled with the
// service so that several services scraped into one Prometheus stay apart.
export function createMetricsRegistry(service: string, labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, ...labels });
  collectDefaultMetrics({ register: registry });
  return registry;
}

// OpenTelemetry tracing is off unless the standard variables ask for it: an exporter or an OTLP endpoint.
// Everything else (sampler, ratio, headers, resource attributes) is read by the SDK from OTEL_* itself.
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter && exporter !== "none") return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export interface Tracing {
  tracer: Tracer;
  enabled: boolean;
  shutdown(): Promise<void>;
}

export function startTracing(service: string): Tracing {
  if (!tracingRequested()) {
    return { tracer: trace.getTracer(service), enabled: false, shutdown: async () => {} };
  }
  if (!process.env.OTEL_SERVICE_NAME) process.env.OTEL_SERVICE_NAME = service;
  const sdk = new NodeSDK({});
  sdk.start();
  return { tracer: trace.getTracer(service), enabled: true, shutdown: () => sdk.shutdown() };
}

/** Runs `fn` inside a span that records errors; the span is a no-op when tracing is off. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
