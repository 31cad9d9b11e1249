// Repair benchmark: how fast a repair recomputes a link against how fast the link's own processor computed the
// same input, in the same run on the same data, and how long the link's processors stay paused. Not a test:
// it prints figures.
//
//   npx tsx loadtest/repairRate.ts [--events 200000] [--partitions 8]
//
// The processor first catches up over the pre-produced input (a warm-up run on a link of its own, then the
// measured one), then a repair of that link recomputes all of it, up to its stored offsets, into a scratch
// database of the link's Redis server, with a corrupted value to rewrite.

import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { BusinessClock } from "../common/businessTime.ts";
import { keys } from "../common/keys.ts";
import { createLogger } from "../common/logger.ts";
import { CategoryIndustry, SellerTiers } from "../processor/dimensions.ts";
import { type RepairStage, repairLink } from "../processor/reconcile/repair.ts";
import { kafkaTopics } from "../processor/reconcile/sources.ts";
import { prepareDimensions } from "../test/support/feed.ts";
import { startTestLink, stopProcessor, type TestLink } from "../test/support/links.ts";
import { processorRate, produceBacklog, status } from "./catchUp.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    partitions: { type: "string", default: "8" },
  },
});
const EVENTS = Number(args.events);
const PARTITIONS = Number(args.partitions);

async function fedLink(id: string): Promise<{ link: TestLink; categoryFile: string; total: number }> {
  const link = await startTestLink(id, PARTITIONS);
  const dims = await prepareDimensions([link]);
  return { link, categoryFile: dims.categoryIndustry, total: await produceBacklog(link, EVENTS, PARTITIONS) };
}

// Warm-up: the machine's caches, the JIT of this process's recompute code and the embedded Kafka's.
const warm = await fedLink("warmup");
try {
  const p = await processorRate(warm.link, warm.categoryFile, warm.total, null);
  await stopProcessor(p.processor);
} finally {
  await warm.link.stop();
}

const { link, categoryFile, total } = await fedLink("bench");
const log = createLogger("bench");
try {
  const processed = await processorRate(link, categoryFile, total, null);
  const closed = Number(await link.client.get(keys.closedThrough));
  const clock = new BusinessClock("Asia/Shanghai");
  const b = clock.bucket(closed - 120_000);
  await link.client.hincrby(keys.minute(b.date, b.minute), "gmv|all|all", 777);

  const scratch = new Redis(`${link.redis.url}/15`);
  const categories = new CategoryIndustry(categoryFile, log);
  const stages = new Map<RepairStage, number>();
  let recomputeRate = 0;
  try {
    const summary = await repairLink({
      mode: "repair",
      link: link.client,
      scratch,
      input: (upTo) => kafkaTopics([link.kafka.bootstrap], upTo),
      tables: { category_industry: categories, seller_tier: new SellerTiers(link.client, 1_000_000, 0) },
      holder: { by: "bench", reason: "benchmark" },
      onProgress: (p) => {
        if (p.stage === "recomputing") recomputeRate = p.recordsPerSecond;
        status(`repair ${p.stage}: ${p.recomputed.toLocaleString()} / ${p.total.toLocaleString()}`);
      },
      onStage: (s) => {
        stages.set(s, performance.now());
      },
    });
    status("");
    const stage = (from: RepairStage, to: RepairStage) =>
      (((stages.get(to) ?? 0) - (stages.get(from) ?? 0)) / 1000).toFixed(1);
    console.log(`\nrepair benchmark: ${total.toLocaleString()} events, ${PARTITIONS} partitions per topic`);
    console.log("| what | events/s | ratio to the processor |");
    console.log("|---|---|---|");
    console.log(`| processor catch-up (1 process) | ${processed.rate.toFixed(0)} | 1.00 |`);
    console.log(
      `| repair recompute (same input, up to the stored offsets) | ${recomputeRate.toFixed(0)} | ${(recomputeRate / processed.rate).toFixed(2)} |`,
    );
    console.log(
      `\nthe link's processor stayed paused ${(summary.pausedMs / 1000).toFixed(1)} s: recompute ${stage("recomputing", "comparing")} s, ` +
        `compare ${stage("comparing", "rewriting")} s, rewrite ${stage("rewriting", "verifying")} s, verify ${stage("verifying", "done")} s; ` +
        `${summary.changed} values rewritten`,
    );
  } finally {
    categories.close();
    scratch.disconnect();
    await stopProcessor(processed.processor);
  }
} finally {
  await link.stop();
}
