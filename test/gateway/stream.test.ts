import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { API_KEY, type StartedGateway, useHarness, waitFor } from "./helpers.ts";

// GET /v1/stream over a real socket: a first snapshot with everything subscribed, then only what changed,
// including a routing switch; refusals are ordinary JSON errors before any stream starts.

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Reads SSE events from a fetch response; next() waits for the first event `accept` takes. */
function sseReader(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const queued: SseEvent[] = [];
  return {
    async next(accept: (e: SseEvent) => boolean = () => true): Promise<SseEvent> {
      for (;;) {
        const found = queued.shift();
        if (found) {
          if (accept(found)) return found;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += value;
        const blocks = buffer.split("\n\n");
        buffer = blocks.pop() ?? "";
        for (const block of blocks) {
          const lines = block.split("\n");
          const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
          const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
          if (event && data) queued.push({ event, data: JSON.parse(data) });
        }
      }
    },
    cancel: () => reader.cancel(),
  };
}

describe("gateway stream", () => {
  const h = useHarness(["a", "b"]);
  let gw: StartedGateway;
  let base: string;

  before(async () => {
    for (const [id, gmv] of [
      ["a", 5000],
      ["b", 5000],
    ] as const) {
      await h.setDay(id, "gmv", "all", "all", gmv);
      await h.setDay(id, "paid_orders", "all", "all", 50);
      await h.setDay(id, "gmv", "seller", "s1", 4000);
    }
    await h.publishRouting({ version: 1, active: "a", standby: ["b"] });
    gw = await h.gateway({ STREAM_INTERVAL: "20ms", CACHE_TTL: "0" });
    base = await gw.app.listen({ port: 0, host: "127.0.0.1" });
  });

  const open = (query: string, key = API_KEY) =>
    fetch(`${base}/v1/stream?${query}`, { headers: { "x-api-key": key } });
  const refusal = async (query: string) => {
    const res = await open(query);
    return [res.status, ((await res.json()) as { field?: string }).field];
  };

  test("a snapshot first, then only the values that changed, and the link after a switch", async () => {
    const res = await open("metrics=gmv,paid_orders&top=gmv:seller&series=gmv&n=3");
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get("content-type")), /text\/event-stream/);
    assert.equal(res.headers.get("x-oneservice-link"), "a");
    assert.equal(res.headers.get("x-oneservice-routing-version"), "1");
    const events = sseReader(res);
    try {
      const first = await events.next();
      assert.equal(first.event, "snapshot");
      assert.deepEqual(first.data.values, {
        gmv: { value: 5000, stale: false },
        paid_orders: { value: 50, stale: false },
      });
      assert.deepEqual((first.data.top as Record<string, unknown>)["gmv:seller"], {
        entries: [{ key: "s1", value: 4000 }],
        stale: false,
      });
      const series = (first.data.series as Record<string, { points: unknown[] }>).gmv;
      assert.equal(series?.points.length, 60);
      assert.equal(await gw.metric("oneservice_gateway_stream_clients"), 1);

      await h.setDay("a", "gmv", "all", "all", 6000);
      const update = await events.next((e) => e.event === "update");
      assert.deepEqual(update.data.values, { gmv: { value: 6000, stale: false } });
      assert.equal(update.data.top, undefined);
      assert.equal(update.data.link, "a");

      await h.publishRouting({ version: 2, active: "b", standby: ["a"] });
      const switched = await events.next((e) => e.data.link === "b");
      assert.equal(switched.data.routingVersion, 2);
      // b is behind a: the counter holds at what the screen already showed.
      assert.deepEqual((switched.data.values as Record<string, unknown>).gmv, { value: 6000, stale: true });
      assert.equal(switched.data.stale, true);
    } finally {
      await events.cancel();
    }
    await waitFor("the stream to be closed", async () => {
      return (await gw.metric("oneservice_gateway_stream_clients")) === 0;
    });
  });

  test("refusals come before the stream, as JSON", async () => {
    const noKey = await fetch(`${base}/v1/stream?metrics=gmv`);
    assert.equal(noKey.status, 401);
    assert.deepEqual(await refusal("metrics=gmv,nope"), [404, "metrics"]);
    assert.deepEqual(await refusal("top=ctr:advertiser"), [400, "top"]);
    assert.deepEqual(await refusal("n=3"), [400, "metrics"]);
    assert.deepEqual(await refusal("metrics=gmv;DEL"), [400, "metrics"]);
  });
});
