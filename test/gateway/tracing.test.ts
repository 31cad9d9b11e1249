import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { node, tracing } from "@opentelemetry/sdk-node";
import { API_KEY, useHarness } from "./helpers.ts";

// With tracing on, a request is a server span continuing the caller's trace (W3C traceparent), and the
// link read it caused is a child span naming the link. Spans go to memory here instead of an exporter.

describe("gateway tracing", () => {
  const h = useHarness(["a"]);

  test("a request continues the caller's trace, with the link read as a child span", async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new node.NodeTracerProvider({
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
    provider.register();
    try {
      await h.setDay("a", "gmv", "all", "all", 42);
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const traced = await h.gateway({ CACHE_TTL: "0" }, provider.getTracer("test"));
      const answer = await traced.app.inject({
        url: "/v1/metrics/gmv",
        headers: { "x-api-key": API_KEY, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      });
      assert.equal(answer.statusCode, 200);
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.name === "GET /v1/metrics/:metric");
      const read = spans.find((s) => s.name === "link.read");
      assert.ok(server && read, spans.map((s) => s.name).join(", "));
      assert.equal(server.spanContext().traceId, traceId);
      assert.equal(server.attributes["http.response.status_code"], 200);
      assert.equal(server.attributes["oneservice.app"], "screen");
      assert.equal(read.spanContext().traceId, traceId);
      assert.equal(read.parentSpanContext?.spanId, server.spanContext().spanId);
      assert.equal(read.attributes.link, "a");
    } finally {
      await provider.shutdown();
    }
  });
});
