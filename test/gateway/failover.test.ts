import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { API_KEY, type StartedGateway, useHarness, waitFor } from "./helpers.ts";

// Reads keep being answered while links fail: a standby answers when the active link is slow or gone, a
// lagging link never makes a cumulative value go down, and with every link down last-known values are
// served (flagged stale) until they are too old, then 503 with Retry-After. The tests run in order on
// the same links, breaking more of them as they go.

describe("gateway failover", () => {
  const h = useHarness(["a", "b", "c"]);
  let gw: StartedGateway;
  const fallbacks = (labels: Record<string, string>) =>
    gw.metric("oneservice_gateway_fallbacks_total", labels);

  test("a link that stops answering is passed over after the read timeout", async () => {
    for (const [id, value] of [
      ["a", 1000],
      ["b", 900],
      ["c", 800],
    ] as const) {
      await h.setDay(id, "gmv", "all", "all", value);
    }
    await h.publishRouting({ version: 1, active: "a", standby: ["b", "c"] });
    gw = await h.gateway({ CACHE_TTL: "0", STALE_SERVE_MAX: "1m" });
    assert.equal((await gw.get("/v1/metrics/gmv")).headers["x-oneservice-link"], "a");

    // A stopped process keeps its connections open but answers nothing: only the timeout (2 s, the
    // harness default, generous so that a slow machine does not make the standby look stopped too) can tell.
    process.kill(h.link("a").redis.pid, "SIGSTOP");
    try {
      const res = await gw.get("/v1/metrics/gmv");
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["x-oneservice-link"], "b");
      assert.equal(await fallbacks({ from: "a", to: "b", reason: "timeout" }), 1);
    } finally {
      process.kill(h.link("a").redis.pid, "SIGCONT");
    }
  });

  test("switching to a link that is behind never serves a smaller cumulative value", async () => {
    await waitFor(
      "link a answering again",
      async () => (await gw.get("/v1/metrics/gmv")).headers["x-oneservice-link"] === "a",
    );
    await h.setDay("a", "gmv", "seller", "s1", 500);
    await h.setDay("b", "gmv", "seller", "s1", 450);
    await h.setDay("b", "gmv", "seller", "s2", 460);
    const fromA = await gw.get("/v1/metrics/gmv");
    assert.deepEqual([fromA.json().value, fromA.json().stale], [1000, false]);
    assert.deepEqual((await gw.get("/v1/metrics/gmv/top?dim=seller")).json().entries, [
      { key: "s1", value: 500 },
    ]);

    await h.publishRouting({ version: 2, active: "b", standby: ["c", "a"] });
    await waitFor(
      "reads from link b",
      async () => (await gw.get("/v1/metrics/gmv")).headers["x-oneservice-link"] === "b",
    );
    const behind = await gw.get("/v1/metrics/gmv");
    assert.deepEqual([behind.json().value, behind.json().stale, behind.json().link], [1000, true, "b"]);
    const top = (await gw.get("/v1/metrics/gmv/top?dim=seller")).json();
    assert.deepEqual(top.entries, [
      { key: "s1", value: 500 },
      { key: "s2", value: 460 },
    ]);
    assert.equal(top.stale, true);
    const query = await gw.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { "x-api-key": API_KEY },
      payload: { reads: [{ metric: "gmv" }, { metric: "gmv", dim: "seller", key: "s2" }] },
    });
    assert.deepEqual(
      query.json().results.map((r: { value: number; stale: boolean }) => [r.value, r.stale]),
      [
        [1000, true],
        [460, false],
      ],
    );
    assert.ok((await gw.metric("oneservice_gateway_stale_served_total", { reason: "no_dip" })) >= 3);

    await h.setDay("b", "gmv", "all", "all", 1100);
    const caughtUp = await gw.get("/v1/metrics/gmv");
    assert.deepEqual([caughtUp.json().value, caughtUp.json().stale], [1100, false]);
  });

  test("a standby the comparator reports down is skipped", async () => {
    await h.publishHealth({ a: "healthy", b: "healthy", c: "down" });
    await h.publishRouting({ version: 3, active: "a", standby: ["c", "b"] });
    await waitFor(
      "reads from link a",
      async () => (await gw.get("/v1/metrics/gmv")).headers["x-oneservice-link"] === "a",
    );
    await waitFor("the health document", async () => {
      return (
        (await gw.admin("/admin/links")).json().links.find((l: { id: string }) => l.id === "c")?.health ===
        "down"
      );
    });

    await h.link("a").redis.stop();
    const res = await gw.get("/v1/metrics/gmv");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["x-oneservice-link"], "b");
    // a's 1000 was served before: b's 1100 is larger, so it is served as it is.
    assert.deepEqual([res.json().value, res.json().stale], [1100, false]);
    assert.ok((await fallbacks({ from: "a", to: "b" })) >= 1);
    assert.equal(await fallbacks({ to: "c" }), 0);
    assert.equal((await gw.app.inject("/readyz")).statusCode, 200);
  });

  test("with every link down, last-known values are served stale within STALE_SERVE_MAX, then 503", async () => {
    await gw.get("/v1/metrics/gmv");
    await h.link("b").redis.stop();
    await h.link("c").redis.stop();
    const stale = await gw.get("/v1/metrics/gmv");
    assert.equal(stale.statusCode, 200);
    assert.deepEqual([stale.json().value, stale.json().stale, stale.json().link], [1100, true, "b"]);
    assert.ok((await gw.metric("oneservice_gateway_stale_served_total", { reason: "links_down" })) >= 1);

    const neverRead = await gw.get("/v1/metrics/paid_orders");
    assert.equal(neverRead.statusCode, 503);
    assert.equal(neverRead.headers["retry-after"], "2");
    assert.equal(neverRead.json().statusCode, 503);

    h.clock.now += 61_000;
    const tooOld = await gw.get("/v1/metrics/gmv");
    assert.equal(tooOld.statusCode, 503);
    assert.ok(Number(tooOld.headers["retry-after"]) > 0);
    await waitFor("readiness to fail", async () => (await gw.app.inject("/readyz")).statusCode === 503);
  });
});
