import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { API_KEY, OTHER_KEY, useHarness } from "../gateway/helpers.ts";

// A series read of a day costs 1440 minute reads: it is charged to the caller's rate limit by what it reads
// (one token per hour of minutes, twice for a ratio), not as one request, and only the caller pays.

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
