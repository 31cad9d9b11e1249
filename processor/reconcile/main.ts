import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import { createLogger } from "../../common/logger.ts";
import { CategoryIndustry, SellerTiers } from "../dimensions.ts";
import { diffLinks, formatDifferences, incompleteMetrics } from "./diff.ts";
import { expectedPartitionsOf, recompute } from "./recompute.ts";
import { kafkaTopics, truthFile } from "./sources.ts";

const USAGE = `npm run reconcile -- (--truth FILE | --kafka HOST:PORT[,...]) [--redis URL] [--scratch URL]

Recomputes every metric offline from the input (the generator's truth file, or the link's Kafka topics read
from their start) with the processor's own code into a scratch Redis database, compares it with the link's
Redis, prints the differences and exits 1 if there are any.

  --truth FILE      ground truth written by the generator (GENERATOR_TRUTH_FILE)
  --kafka BROKERS   read trade.orders, trade.payments and ads.events from offset 0 instead
  --redis URL       the link to check (default: $REDIS_URL)
  --scratch URL     an empty database the recompute may flush (default: the link's server, database 15)
  --categories FILE category -> industry table (default: $DIM_CATEGORY_FILE or .devstack/dims/category_industry.json)`;

const { values } = parseArgs({
  options: {
    truth: { type: "string" },
    kafka: { type: "string" },
    redis: { type: "string", default: process.env.REDIS_URL },
    scratch: { type: "string" },
    categories: {
      type: "string",
      default: process.env.DIM_CATEGORY_FILE || ".devstack/dims/category_industry.json",
    },
    help: { type: "boolean", short: "h" },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.truth === !values.kafka) fail("give exactly one of --truth or --kafka");
if (!values.redis) fail("no link to compare with: give --redis or set REDIS_URL");
const scratchUrl = values.scratch ?? `${values.redis.replace(/\/\d+$/, "")}/15`;
if (scratchUrl === values.redis) fail("--scratch must not be the link's own database");

const log = createLogger("reconcile");
const link = new Redis(values.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
const scratch = new Redis(scratchUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
try {
  await Promise.all([link.connect(), scratch.connect()]);
  const meta = await link.hgetall(keys.meta);
  if (!meta.timeZone)
    fail("the link's Redis has no processor metadata (os:meta): has a processor run on it?");
  const clock = new BusinessClock(meta.timeZone);
  const categories = new CategoryIndustry(values.categories, log);
  const progress = (n: number) => {
    if (process.stderr.isTTY) process.stderr.write(`\rrecomputed ${n.toLocaleString()} records`);
  };
  const started = Date.now();
  const total = await recompute(
    values.truth ? truthFile(values.truth) : kafkaTopics((values.kafka ?? "").split(",")),
    {
      scratch,
      tables: { category_industry: categories, seller_tier: new SellerTiers(link, 1_000_000, 0) },
      clock,
      latenessMs: Number(meta.latenessMs),
      expectedPartitions: await expectedPartitionsOf(link),
      onProgress: progress,
    },
  );
  categories.close();
  if (process.stderr.isTTY) process.stderr.write("\n");
  const incomplete = await incompleteMetrics(link, clock);
  const diffs = await diffLinks(link, scratch, clock, new Set(incomplete.keys()));
  for (const [metric, through] of incomplete)
    process.stdout.write(
      `reconcile: ${metric} not compared: the link does not hold it whole (through ${through}; backfill it)\n`,
    );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (diffs.length === 0) {
    process.stdout.write(`reconcile: ${total} records recomputed in ${seconds}s; the link matches exactly\n`);
  } else {
    process.stdout.write(
      `reconcile: ${total} records recomputed in ${seconds}s; ${diffs.length} differences:\n`,
    );
    process.stdout.write(`${formatDifferences(diffs)}\n`);
  }
  process.exitCode = diffs.length === 0 ? 0 : 1;
} finally {
  link.disconnect();
  scratch.disconnect();
}
