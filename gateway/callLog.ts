import {
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../common/logger.ts";
import type { GatewayMetrics } from "./metrics.ts";

// What every request leaves behind, whichever route answered it: one call-log line (application, route,
// metric, link, status, latency), the per-application request counter and latency histogram, and a server
// span (a no-op unless tracing is on). Installed on the root instance, so it sees every route and every
// refusal; the three ops routes stay quiet, as probes and scrapes would drown the log.
//
// The line also carries what a replay of the day's reads needs (loadtest/replay/): the method, the path with
// its query and the body of a POST. Never a secret: keys and tokens travel in headers, which are not logged,
// and a query parameter named like a credential is masked in case a caller put one there.

declare module "fastify" {
  interface FastifyRequest {
    /** The calling application (set by the API key check), "admin", or "" when not authenticated. */
    app: string;
    span: Span | null;
    /** Metrics a multi-metric request (query, stream) asked for, for the call log. */
    metricNames: string;
  }
}

const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);
const CREDENTIAL_PARAM =
  /([?&](?:api[-_]?key|token|access[-_]token|auth(?:orization)?|password|secret)=)[^&]*/gi;

/** The request's path and query, with any credential-like query parameter's value masked. */
export function loggablePath(url: string): string {
  return url.includes("=") ? url.replace(CREDENTIAL_PARAM, "$1***") : url;
}

export function installCallLog(
  app: FastifyInstance,
  opts: { log: Logger; metrics: GatewayMetrics; tracer?: Tracer },
): void {
  const { log, metrics, tracer } = opts;
  app.decorateRequest("app", "");
  app.decorateRequest("span", null);
  app.decorateRequest("metricNames", "");

  // Without tracing there is no hook at all: even no-op spans and contexts cost on every request.
  if (tracer)
    app.addHook("onRequest", (req, _reply, done) => {
      const route = req.routeOptions.url;
      if (route !== undefined && QUIET.has(route)) return done();
      const parent = propagation.extract(ROOT_CONTEXT, req.headers);
      const span = tracer.startSpan(
        `${req.method} ${route ?? "unmatched"}`,
        {
          kind: SpanKind.SERVER,
          attributes: { "http.request.method": req.method, "http.route": route ?? "unmatched" },
        },
        parent,
      );
      req.span = span;
      // Continue the request inside the span's context so that link reads become its children; an
      // unsampled span would only have unsampled children, so most requests are spared the context switch.
      if (span.isRecording()) context.with(trace.setSpan(parent, span), done);
      else done();
    });

  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    if (req.span) {
      req.span.setAttribute("http.response.status_code", status);
      if (req.app) req.span.setAttribute("oneservice.app", req.app);
      if (status >= 500) req.span.setStatus({ code: SpanStatusCode.ERROR });
      req.span.end();
    }
    if (QUIET.has(route)) return done();
    const app = req.app || "anonymous";
    const ms = reply.elapsedTime;
    metrics.observeRequest(app, route, status, ms / 1000);
    log.info(
      {
        app,
        method: req.method,
        route,
        path: loggablePath(req.url),
        body: req.method === "POST" && req.body !== undefined ? JSON.stringify(req.body) : undefined,
        metric: req.metricNames || (req.params as { metric?: string } | undefined)?.metric || null,
        link: reply.getHeader("x-oneservice-link") ?? null,
        status,
        ms: Math.round(ms * 1000) / 1000,
      },
      "call",
    );
    done();
  });
}
