import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { keys } from "../../common/keys.ts";
import { parseOrder } from "../../common/sources/trade.ts";
import { TOPICS } from "../../common/topics.ts";
import { writeDimensions } from "../../devstack/generator/dimensions.ts";
import { TrafficModel } from "../../devstack/generator/model.ts";
import { Population, SELLER_TIERS } from "../../devstack/generator/population.ts";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { loadSellerTiers } from "../../processor/sellerTierLoader.ts";
import { useTempDir } from "./tempDir.ts";

const SIZES = { sellers: 3000, buyers: 10_000, categories: 300, industries: 25, advertisers: 100 };

async function readJson(file: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
}

describe("generator dimensions", () => {
  let redis: RunningRedis | undefined;
  const tmp = useTempDir("generator-dims-", async () => redis?.stop());

  it("writes tables that cover every category and seller in the events, the same for the same seed", async () => {
    const files = await writeDimensions(join(tmp(), "one"), new Population("s1", SIZES));
    const again = await writeDimensions(join(tmp(), "two"), new Population("s1", SIZES));
    const other = await writeDimensions(join(tmp(), "three"), new Population("s2", SIZES));
    const industries = await readJson(files.categoryIndustry);
    const tiers = await readJson(files.sellerTier);
    assert.deepEqual(await readJson(again.categoryIndustry), industries);
    assert.deepEqual(await readJson(again.sellerTier), tiers);
    assert.notDeepEqual(await readJson(other.sellerTier), tiers);

    assert.equal(Object.keys(industries).length, 300);
    assert.equal(new Set(Object.values(industries)).size, 25);
    assert.equal(Object.keys(tiers).length, 3000);
    for (const tier of Object.values(tiers)) assert.ok((SELLER_TIERS as readonly string[]).includes(tier));
    // The most popular sellers are mostly the best tiers.
    const top = Object.entries(tiers).slice(0, 30);
    assert.ok(top.filter(([, t]) => t === "platinum").length > 15);

    const model = new TrafficModel({
      seed: "s1",
      startTime: Date.parse("2026-11-11T00:00:00Z"),
      partitions: 8,
      profile: { baseRate: 2000, peakMultiplier: 1, peakAfterMs: 0, peakDurationMs: 0 },
      malformedFraction: 0,
      poisonFraction: 0,
      lateFraction: 0,
      lateByMs: 0,
      refundFraction: 0,
      population: SIZES,
    });
    for (let i = 0; i < 20_000; i++) {
      const r = model.next();
      if (r.topic !== TOPICS.orders) continue;
      const parsed = parseOrder(r.value);
      assert.ok(parsed.ok);
      assert.ok(parsed.event.categoryId in industries, parsed.event.categoryId);
      assert.ok(parsed.event.sellerId in tiers, parsed.event.sellerId);
    }
  });

  it("loads seller tiers into a link's Redis, replacing the previous table whole", async () => {
    redis = await startRedis({ linkId: "t", dataDir: join(tmp(), "redis") });
    const files = await writeDimensions(join(tmp(), "load"), new Population("s1", SIZES));
    const tiers = await readJson(files.sellerTier);
    assert.equal(await loadSellerTiers(redis.url, files.sellerTier), 3000);

    const client = new Redis(redis.url);
    try {
      assert.equal(await client.hlen(keys.sellerTier), 3000);
      assert.equal(await client.hget(keys.sellerTier, "s-1"), tiers["s-1"]);
      assert.deepEqual(await client.hgetall(keys.sellerTier), tiers);

      const smaller = join(tmp(), "smaller.json");
      await writeFile(smaller, JSON.stringify({ "s-1": "bronze", "s-2": "gold" }));
      assert.equal(await loadSellerTiers(redis.url, smaller), 2);
      assert.deepEqual(await client.hgetall(keys.sellerTier), { "s-1": "bronze", "s-2": "gold" });
      assert.equal(await client.exists(`${keys.sellerTier}:loading`), 0);
    } finally {
      client.disconnect();
    }
  });

  it("refuses a file that is not a {sellerId: tier} object", async () => {
    const bad = join(tmp(), "bad.json");
    await writeFile(bad, JSON.stringify(["s-1", "gold"]));
    await assert.rejects(loadSellerTiers("redis://127.0.0.1:1", bad), /expected a JSON object/);
  });
});
