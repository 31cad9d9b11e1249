import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useHarness, waitFor } from "../gateway/helpers.ts";

// Frozen numbers must not be served as fresh: when the serving link's data stops advancing beyond
// STALE_AFTER, or the comparator judges the link down, every answer says stale: true with since when, on the
// API and on the stream alike, and /readyz names it; once the data moves again, the mark goes.

describe("hardening: data that stopped is stale", () => {
  const h = useHarness(["a"]);

  test("a watermark that stops moving, and a link the comparator judges down, make answers stale", async () => {
    await h.setDay("a", "gmv", "all", "all", 1_000);
    await h.setWatermark("a", Date.now());
    const gw = await h.gateway({ STALE_AFTER: "1s", CACHE_TTL: "0" });
    const read = async () => (await gw.get("/v1/metrics/gmv")).json();
    // While events are processed (the watermark moves), answers are fresh.
    let moved = Date.now();
    const freshWhileMoving = async () => {
      moved += 1_000;
      await h.setWatermark("a", moved);
      const answer = await read();
      return answer.stale === false && answer.staleSince === null;
    };
    await waitFor("fresh answers while the data moves", freshWhileMoving);

    // No event processed any more: the watermark stays where it is.
    await waitFor("the stop to be noticed", async () => (await read()).stale === true);
    const frozen = await read();
    assert.equal(frozen.value, 1_000);
    assert.ok(Date.parse(frozen.staleSince) <= Date.now());
    const batch = (
      await gw.app.inject({
        method: "POST",
        url: "/v1/query",
        headers: { "x-api-key": "test-screen-key", "content-type": "application/json" },
        payload: '{"reads":[{"metric":"gmv"}]}',
      })
    ).json();
    assert.deepEqual([batch.stale, batch.staleSince], [true, frozen.staleSince]);
    assert.ok((await gw.metric("oneservice_gateway_stale_served_total", { reason: "stopped" })) > 0);
    // Still ready (every gateway serves the same data), and saying why its answers are stale.
    const ready = await gw.app.inject({ method: "GET", url: "/readyz" });
    assert.equal(ready.statusCode, 200);
    assert.match(
      ready.json().checks.data,
      /the serving link a's data stopped at .*: answers are marked stale/,
    );

    // The data moves again: fresh.
    await waitFor("fresh answers again", freshWhileMoving);
    assert.equal((await gw.app.inject({ method: "GET", url: "/readyz" })).json().checks.data, "ok");

    // The comparator judges the link down: stale at once, since the comparator's time.
    await h.publishHealth({ a: "down" });
    await waitFor("the health document", async () => (await read()).stale === true);
    assert.ok((await read()).staleSince);
  });
});
