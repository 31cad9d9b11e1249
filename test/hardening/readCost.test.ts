import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { API_KEY, type Harness, OTHER_KEY, useHarness, waitFor } from "../gateway/helpers.ts";

// A series read of a day costs 1440 minute reads: it is charged to the caller's rate limit by what it reads
// (one token per hour of minutes, twice for a ratio), not as one request, and only the caller pays. Such
// expensive reads are also capped per application in flight, and one that times out is not retried on the
// standbys, so one caller's overload does not spread to every link.

/** Keeps a link's Redis busy (one script, which nothing else can interleave with) for ARGV[1] ms. */
const BUSY = `local t = redis.call('TIME')
local stop = t[1] * 1000 + t[2] / 1000 + tonumber(ARGV[1])
repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 >= stop
return 1`;

/** Starts `ms` of busy Redis on the link; resolves once it has begun, with the promise of its end. */
async function busyFor(h: Harness, link: string, ms: number): Promise<{ over: Promise<unknown> }> {
  const blocker = new Redis(h.link(link).redis.url);
  const over = blocker.eval(BUSY, 0, String(ms)).finally(() => blocker.disconnect());
  await sleep(50);
  return { over };
}

function daySeriesUrl(h: Harness, metric = "gmv"): string {
  const to = new Date(h.clock.now).toISOString();
  const from = new Date(h.clock.now - 23 * 3_600_000).toISOString();
  return `/v1/metrics/${metric}/series?from=${from}&to=${to}`;
}

describe("hardening: reads charged by their cost", () => {
  const h = useHarness(["a"]);

  test("day-long series empty the caller's bucket; other applications are not touched", async () => {
    const gw = await h.gateway({ RATE_LIMIT_PER_SECOND: "50" });
    const to = new Date(h.clock.now).toISOString();
    const from = new Date(h.clock.now - 23 * 3_600_000).toISOString();
    const daySeries = (key: string) => gw.get(`/v1/metrics/gmv/series?from=${from}&to=${to}`, key);
    // 24 hours of minutes: 24 tokens each; 50 a second.
    assert.equal((await daySeries(API_KEY)).statusCode, 200);
    assert.equal((await daySeries(API_KEY)).statusCode, 200);
    const refused = await daySeries(API_KEY);
    assert.equal(refused.statusCode, 429);
    assert.ok(Number(refused.headers["retry-after"]) >= 1);
    assert.equal(refused.json().statusCode, 429);
    // The other application's bucket is its own.
    assert.equal((await daySeries(OTHER_KEY)).statusCode, 200);
    // A ratio reads two series: 48 tokens.
    const ratio = await gw.get(`/v1/metrics/ctr/series?from=${from}&to=${to}`, OTHER_KEY);
    assert.equal(ratio.statusCode, 429);
  });
});

describe("hardening: expensive reads capped per application in flight", () => {
  const h = useHarness(["a"]);

  test("a burst of day-long series gets the cap; cheap reads and other applications are not touched", async () => {
    const gw = await h.gateway({ RATE_LIMIT_PER_SECOND: "0", EXPENSIVE_READS_PER_APP: "2", CACHE_TTL: "0" });
    // With the link's Redis busy, every read sent now is still in flight when the next one arrives.
    const busy = await busyFor(h, "a", 500);
    const [burst, cheap, other] = await Promise.all([
      Promise.all([1, 2, 3, 4, 5].map(() => gw.get(daySeriesUrl(h)))),
      gw.get("/v1/metrics/gmv/series"),
      gw.get(daySeriesUrl(h), OTHER_KEY),
    ]);
    await busy.over;
    assert.deepEqual(burst.map((r) => r.statusCode).sort(), [200, 200, 429, 429, 429]);
    const refused = burst.find((r) => r.statusCode === 429);
    assert.equal(refused?.json().code, "expensive_reads_busy");
    assert.match(refused?.json().message, /application screen has 2 expensive reads/);
    assert.equal(refused?.headers["retry-after"], "1");
    assert.equal(cheap.statusCode, 200, "an hour's series is cheap: not capped");
    assert.equal(other.statusCode, 200, "the other application has slots of its own");
    // The slots are given back.
    assert.equal((await gw.get(daySeriesUrl(h))).statusCode, 200);
  });
});

describe("hardening: an expensive read that times out stays on its link", () => {
  const h = useHarness(["a", "b"]);

  test("a day-long series timing out on the active link is not retried on the standby; a cheap read is", async () => {
    await h.setDay("a", "gmv", "all", "all", 100);
    await h.setDay("b", "gmv", "all", "all", 100);
    await h.publishRouting({ version: 2, active: "a", standby: ["b"] });
    const gw = await h.gateway({ READ_TIMEOUT: "100ms", RATE_LIMIT_PER_SECOND: "0", CACHE_TTL: "0" });
    await waitFor(
      "the routing with a standby",
      async () => (await gw.get("/v1/metrics/gmv")).headers["x-oneservice-routing-version"] === "2",
    );
    const busy = await busyFor(h, "a", 1_000);
    // A read not made before, so that no answer kept from the wait above can serve it.
    const [series, value] = await Promise.all([gw.get(daySeriesUrl(h)), gw.get("/v1/metrics/paid_orders")]);
    await busy.over;
    assert.equal(value.statusCode, 200);
    assert.equal(value.headers["x-oneservice-link"], "b", "the cheap read fell back to the standby");
    assert.equal(series.statusCode, 503);
    assert.equal(series.json().code, "no_link_available");
    assert.match(series.json().message, /a no answer within 100ms/);
    const fallbacks = (labels: Record<string, string>) =>
      gw.metric("oneservice_gateway_fallbacks_total", labels);
    assert.equal(await fallbacks({ from: "a", to: "b", reason: "timeout" }), 1);
    assert.equal(await fallbacks({ from: "a", to: "none", reason: "timeout" }), 1);
  });
});
