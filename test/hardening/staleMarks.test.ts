import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useHarness, waitFor } from "../gateway/helpers.ts";

// `stale` must mean that what is served is behind what the serving link holds. In steady state a key's value
// read and its entry in a top list are cached at different moments; the older of the two views, raised to
// the newer by the no-dip guard, is what the link holds, and is not stale. A link that is really behind
// (another link, lower) still is.

describe("hardening: no false stale marks", () => {
  const h = useHarness(["a", "b"]);

  test("an older cached view of the same link is raised without a stale mark", async () => {
    await h.publishRouting({ version: 1, active: "a", standby: ["b"] });
    await h.setDay("a", "gmv", "seller", "s1", 100);
    await h.setDay("b", "gmv", "seller", "s1", 100);
    const gw = await h.gateway({ CACHE_TTL: "1h" });
    const value = () => gw.get("/v1/metrics/gmv?dim=seller&key=s1");
    assert.deepEqual([(await value()).json().value, (await value()).json().stale], [100, false]);

    await h.setDay("a", "gmv", "seller", "s1", 250);
    const top = (await gw.get("/v1/metrics/gmv/top?dim=seller&n=5")).json();
    assert.deepEqual(top.entries, [{ key: "s1", value: 250 }]);
    assert.equal(top.stale, false);

    const again = (await value()).json();
    assert.deepEqual([again.value, again.stale], [250, false], "the cached view is raised, not stale");

    // Now the link in force is really behind: b, with 100, becomes active.
    await h.publishRouting({ version: 2, active: "b", standby: ["a"] });
    await waitFor("reads from link b", async () => (await value()).json().link === "b");
    const answer = (await value()).json();
    assert.deepEqual([answer.link, answer.value, answer.stale], ["b", 250, true]);
  });
});
