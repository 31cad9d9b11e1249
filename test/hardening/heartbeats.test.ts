import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keys } from "../../common/keys.ts";
import { buildTestComparator, http, metricsText, probe, useFreshComparator } from "../comparator/harness.ts";

// Heartbeat entries a crashed processor, an old release or a stray tool leaves in a link's Redis: each is
// judged on its own (a malformed one no longer makes the whole link down), and the leader prunes the ones
// that are not heartbeats or are long stale, keeping the live processor's.

describe("hardening: heartbeat entries", () => {
  const h = useFreshComparator(["a", "b"], { HEARTBEAT_PRUNE_AFTER: "5s" });

  it("judges a link by its valid heartbeats, skipping malformed entries and offsets", async () => {
    const redis = h.stack.redis.get("a")?.client;
    assert.ok(redis);
    await redis.hset(keys.heartbeats, {
      "not-json": "{",
      "no-ts": JSON.stringify({ link: "a" }),
      "ts-string": JSON.stringify({ ts: "soon" }),
      "ts-huge": '{"ts":1e400}',
      "old-member": JSON.stringify({ ts: Date.now() - 60_000 }),
      nulled: "null",
    });
    await redis.hset(keys.offsets, "trade.orders:9", "garbage");
    await redis.hset(keys.maxEventTime, "trade.orders:9", "NaN");
    await probe(h.stack, h.c, 4, (link) => (link === "a" ? { heartbeatAgeMs: 0 } : {}));
    const { json } = await http(h.c, "GET", "/v1/links");
    const a = json.links.find((l: { id: string }) => l.id === "a");
    assert.equal(a.state, "healthy");
    assert.ok(Number.isFinite(a.watermark) && a.watermark > 0);

    // A fresh comparator leads, so its first probe round prunes (once a minute after that).
    const fresh = await buildTestComparator(h.stack, {
      links: ["a", "b"],
      env: { HEARTBEAT_PRUNE_AFTER: "5s", COMPARATOR_ID: "cmp-2" },
    });
    try {
      await h.c.comparator.leader.stop();
      await fresh.comparator.leader.start();
      await fresh.comparator.tick();
      assert.deepEqual(Object.keys(await redis.hgetall(keys.heartbeats)), ["member-1"]);
      assert.match(
        await metricsText(fresh),
        /oneservice_comparator_heartbeats_pruned_total\{[^}]*link="a"[^}]*\} 6\n/,
      );
    } finally {
      await fresh.close();
    }
  });
});
