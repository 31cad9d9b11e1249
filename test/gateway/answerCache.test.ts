import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LINK_HEADER, ROUTING_VERSION_HEADER } from "../../gateway/routes/served.ts";
import { OTHER_KEY, type StartedGateway, useHarness, waitFor } from "./helpers.ts";

// The memories of reads are kept per calling application, and a value read's final bytes are answered again
// from the onRequest hook only while everything they were made of holds: these tests change each part in
// turn (another application's reads, the routing version, the link, the business minute, the no-dip guard,
// stopped data) and check that the answer changes as the route would have answered.

const cacheSizes = async (gw: StartedGateway) => {
  const json = (await gw.admin("/admin/cache")).json();
  return {
    microCache: json.microCache.byApp,
    answers: json.answers.byApp,
    lastKnown: json.lastKnown.byApp,
    noDip: json.noDip.byApp,
  };
};

describe("gateway: per-application memories and kept answers", () => {
  const h = useHarness(["a", "b"]);

  test("one application's flood of distinct reads evicts nothing another application reads", async () => {
    await h.publishRouting({ version: 1, active: "a", standby: ["b"] });
    await h.setDay("a", "gmv", "seller", "s1", 400);
    await h.setDay("b", "gmv", "seller", "s1", 300);
    for (let i = 0; i < 20; i++) await h.setDay("a", "gmv", "seller", `p${i}`, i + 1);
    const gw = await h.gateway({ CACHE_TTL: "1h", CACHE_MAX_ENTRIES: "5", NO_DIP_MAX_ENTRIES: "5" });
    const url = "/v1/metrics/gmv?dim=seller&key=s1";
    assert.equal((await gw.get(url)).json().value, 400);

    for (let i = 0; i < 20; i++) {
      assert.equal((await gw.get(`/v1/metrics/gmv?dim=seller&key=p${i}`, OTHER_KEY)).json().value, i + 1);
    }
    const each = { screen: 1, partner: 5 };
    assert.deepEqual(await cacheSizes(gw), { microCache: each, answers: each, lastKnown: each, noDip: each });

    // The screen's cached value is still the one served (the link holds more by now)…
    await h.setDay("a", "gmv", "seller", "s1", 450);
    assert.equal((await gw.get(url)).json().value, 400);
    // …and its guard still remembers it when a link that is behind takes over. The partner was never
    // served s1, so the same URL answers it link b's value as it is: answers differ per application.
    await h.publishRouting({ version: 2, active: "b", standby: ["a"] });
    await waitFor("reads from link b", async () => (await gw.get(url)).json().link === "b");
    const screen = (await gw.get(url)).json();
    assert.deepEqual([screen.value, screen.stale], [400, true]);
    const partner = (await gw.get(url, OTHER_KEY)).json();
    assert.deepEqual([partner.link, partner.value, partner.stale], ["b", 300, false]);
  });

  test("kept bytes follow the routing version and the link switch", async () => {
    await h.publishRouting({ version: 10, active: "a", standby: ["b"] });
    await h.setDay("a", "gmv", "seller", "s2", 70);
    await h.setDay("b", "gmv", "seller", "s2", 80);
    const gw = await h.gateway({ CACHE_TTL: "1h" });
    const read = () => gw.get("/v1/metrics/gmv?dim=seller&key=s2");
    const first = await read();
    const second = await read();
    assert.equal(second.body, first.body);
    assert.deepEqual([second.headers[LINK_HEADER], second.headers[ROUTING_VERSION_HEADER]], ["a", "10"]);
    assert.equal(second.headers["content-type"], "application/json; charset=utf-8");
    assert.deepEqual((await cacheSizes(gw)).answers, { screen: 1 });
    assert.equal(await gw.metric("oneservice_gateway_cache_hits_total"), 1);

    // A new version with the same link keeps the micro-cache but not the bytes, which name the version.
    await h.publishRouting({ version: 11, active: "a", standby: ["b"] });
    await waitFor("routing version 11", async () => (await read()).headers[ROUTING_VERSION_HEADER] === "11");
    assert.equal((await read()).json().value, 70);

    await h.publishRouting({ version: 12, active: "b", standby: ["a"] });
    await waitFor("reads from link b", async () => (await read()).headers[LINK_HEADER] === "b");
    const switched = (await read()).json();
    assert.deepEqual([switched.link, switched.value, switched.stale], ["b", 80, false]);
  });

  test("a new business minute makes new bytes: the default day moves at midnight", async () => {
    const saved = h.clock.now;
    try {
      // 23:59:30 in Asia/Shanghai (UTC+8).
      h.clock.now = Date.parse("2026-12-03T15:59:30Z");
      await h.publishRouting({ version: 20, active: "a", standby: ["b"] });
      await h.setDay("a", "gmv", "all", "all", 1_000, "2026-12-03");
      await h.setDay("a", "gmv", "all", "all", 5, "2026-12-04");
      const gw = await h.gateway({ CACHE_TTL: "1h" });
      const read = async () => (await gw.get("/v1/metrics/gmv")).json();
      const before = [await read(), await read()].map((a) => [a.date, a.value]);
      assert.deepEqual(before, [
        ["2026-12-03", 1_000],
        ["2026-12-03", 1_000],
      ]);
      h.clock.now += 60_000;
      const after = await read();
      assert.deepEqual([after.date, after.value], ["2026-12-04", 5]);
    } finally {
      h.clock.now = saved;
    }
  });

  test("on kept bytes a dip is still guarded and stopped data still marked stale", async () => {
    await h.publishRouting({ version: 30, active: "a", standby: ["b"] });
    await h.setDay("a", "gmv", "seller", "s3", 100);
    const gw = await h.gateway({ CACHE_TTL: "1h" });
    const value = async () => (await gw.get("/v1/metrics/gmv?dim=seller&key=s3")).json();
    assert.deepEqual([(await value()).value, (await value()).stale], [100, false]);
    assert.deepEqual((await cacheSizes(gw)).answers, { screen: 1 });

    // A top list read later serves more; the kept bytes (100) would be a dip.
    await h.setDay("a", "gmv", "seller", "s3", 250);
    const top = (await gw.get("/v1/metrics/gmv/top?dim=seller&n=10")).json();
    assert.deepEqual(
      top.entries.find((e: { key: string }) => e.key === "s3"),
      { key: "s3", value: 250 },
    );
    const raised = await value();
    assert.deepEqual([raised.value, raised.stale], [250, false]);

    // Kept bytes of another key, then the comparator judges the link down.
    await h.setDay("a", "gmv", "seller", "s4", 40);
    const other = async () => (await gw.get("/v1/metrics/gmv?dim=seller&key=s4")).json();
    assert.deepEqual([(await other()).stale, (await other()).stale], [false, false]);
    assert.deepEqual((await cacheSizes(gw)).answers, { screen: 1 });
    await h.publishHealth({ a: "down" });
    await waitFor("the health document", async () => (await other()).stale === true);
    assert.ok((await other()).staleSince);
  });
});
