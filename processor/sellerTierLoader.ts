import { readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import { keys } from "../common/keys.ts";

// Loads seller_tier.json ({sellerId: tier}) into a link's Redis HASH keys.sellerTier, where the processor
// reads it through an LRU cache. The table is written under a temporary key in pipelined chunks and then
// renamed over the live one, so a processor never sees a half-loaded table or a stale seller left over from
// an older file. The chart's seller-tiers hook Job runs it in the service image after every install and
// upgrade (helm/oneservice/templates/sellertiers.yaml); the dev stack and the test harness run it too.

// One HSET carries FIELDS_PER_COMMAND fields; one round trip carries COMMANDS_PER_PIPELINE of them.
const FIELDS_PER_COMMAND = 1000;
const COMMANDS_PER_PIPELINE = 20;

export async function loadSellerTiers(redisUrl: string, file: string): Promise<number> {
  const table = JSON.parse(await readFile(file, "utf8")) as unknown;
  if (typeof table !== "object" || table === null || Array.isArray(table))
    throw new Error(`${file}: expected a JSON object {sellerId: tier}`);
  const entries = Object.entries(table);
  for (const [seller, tier] of entries)
    if (typeof tier !== "string") throw new Error(`${file}: tier of ${seller} is not a string`);

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  // Failures surface through the commands themselves; the error event would only repeat them.
  redis.on("error", () => {});
  try {
    await redis.connect();
    const staging = `${keys.sellerTier}:loading`;
    await redis.del(staging);
    const perPipeline = FIELDS_PER_COMMAND * COMMANDS_PER_PIPELINE;
    for (let i = 0; i < entries.length; i += perPipeline) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(i + perPipeline, entries.length); j += FIELDS_PER_COMMAND)
        pipeline.hset(staging, Object.fromEntries(entries.slice(j, j + FIELDS_PER_COMMAND)));
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    }
    if (entries.length === 0) await redis.del(keys.sellerTier);
    else await redis.rename(staging, keys.sellerTier);
    return entries.length;
  } finally {
    redis.disconnect();
  }
}
