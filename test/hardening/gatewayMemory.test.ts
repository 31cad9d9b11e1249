import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type StartedGateway, useHarness } from "../gateway/helpers.ts";

// Memory a caller could fill: reads of keys that do not exist and of days links do not keep add nothing to
// the micro-cache, the last-known values or the no-dip guard, so they cannot evict what the screens read.

describe("hardening: guard and cache memory", () => {
  const h = useHarness(["a"]);
  let gw: StartedGateway;

  const sizes = async () => {
    const json = (await gw.admin("/admin/cache")).json();
    return { cache: json.microCache.entries, lastKnown: json.lastKnown.entries, noDip: json.noDip.entries };
  };

  before(async () => {
    await h.setDay("a", "gmv", "all", "all", 1_000);
    await h.setDay("a", "gmv", "seller", "s1", 400);
    gw = await h.gateway({ CACHE_TTL: "1h" });
  });

  test("300 reads of absent keys and old dates add no entry anywhere", async () => {
    assert.equal((await gw.get("/v1/metrics/gmv?dim=seller&key=s1")).json().value, 400);
    const before = await sizes();
    assert.deepEqual(before, { cache: 1, lastKnown: 1, noDip: 1 });
    for (let i = 0; i < 300; i++) {
      const absent = await gw.get(`/v1/metrics/gmv?dim=seller&key=nobody-${i}`);
      assert.equal(absent.statusCode, 200);
      assert.equal(absent.json().value, 0);
      assert.equal(absent.json().stale, false);
    }
    for (let i = 0; i < 30; i++) {
      const year = String(1990 + i);
      assert.equal((await gw.get(`/v1/metrics/gmv?date=${year}-01-01`)).statusCode, 400);
    }
    assert.deepEqual(await sizes(), before);
    // A key that gains data afterwards is served and remembered as any other.
    await h.setDay("a", "gmv", "seller", "nobody-7", 5);
    assert.equal((await gw.get("/v1/metrics/gmv?dim=seller&key=nobody-7")).json().value, 5);
    assert.deepEqual(await sizes(), { cache: 2, lastKnown: 2, noDip: 2 });
  });
});
