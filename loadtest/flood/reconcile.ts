import { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import { createLogger } from "../../common/logger.ts";
import type { TestLink } from "../../harness/links.ts";
import { CategoryIndustry, SellerTiers } from "../../processor/dimensions.ts";
import { type Difference, diffLinks } from "../../processor/reconcile/diff.ts";
import { expectedPartitionsOf, recompute } from "../../processor/reconcile/recompute.ts";
import { truthFile } from "../../processor/reconcile/sources.ts";

// The flood's verdict: the link recomputed offline from the generator's truth file, with the settings its
// processors recorded (time zone, lateness), into database 15 of its Redis, and compared value by value.

export interface Reconciled {
  records: number;
  seconds: number;
  differences: Difference[];
}

export async function reconcileWithTruth(
  link: TestLink,
  truth: string,
  categoryFile: string,
): Promise<Reconciled> {
  const started = Date.now();
  const meta = await link.client.hgetall(keys.meta);
  const clock = new BusinessClock(meta.timeZone ?? "Asia/Shanghai");
  const scratch = new Redis(`${link.redis.url}/15`, { maxRetriesPerRequest: 1 });
  const categories = new CategoryIndustry(categoryFile, createLogger("flood").child({}, { level: "warn" }));
  try {
    const records = await recompute(truthFile(truth), {
      scratch,
      tables: { category_industry: categories, seller_tier: new SellerTiers(link.client, 1_000_000, 0) },
      clock,
      latenessMs: Number(meta.latenessMs),
      expectedPartitions: await expectedPartitionsOf(link.client),
    });
    const differences = await diffLinks(link.client, scratch, clock);
    return { records, seconds: (Date.now() - started) / 1000, differences };
  } finally {
    categories.close();
    scratch.disconnect();
  }
}
