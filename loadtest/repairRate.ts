// Repair benchmark: how fast a repair recomputes a link against how fast the link's own processor computed the
// same input, in the same run on the same data, and how long the link's processors stay paused. Not a test:
// it prints figures.
//
//   npx tsx loadtest/repairRate.ts [--events 200000] [--partitions 8] [--profile]
//
// With --profile it prints where this process spent its CPU while the link was paused (a V8 profile of the
// repair alone, not of the warm-up or the input's production).
//
// The processor first catches up over the pre-produced input (a warm-up run on a link of its own, then the
// measured one), then a repair of that link recomputes all of it, up to its stored offsets, into a scratch
// database of the link's Redis server, with a corrupted value to rewrite.

import { mkdtemp, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { BusinessClock } from "../common/businessTime.ts";
import { keys } from "../common/keys.ts";
import { createLogger } from "../common/logger.ts";
import { prepareDimensions } from "../harness/feed.ts";
import { startTestLink, stopProcessor, type TestLink } from "../harness/links.ts";
import { CategoryIndustry, SellerTiers } from "../processor/dimensions.ts";
import { type RepairStage, repairLink } from "../processor/reconcile/repair.ts";
import { kafkaTopics } from "../processor/reconcile/sources.ts";
import {
  type CommandStats,
  commandsBetween,
  processorRate,
  produceBacklog,
  redisCommandStats,
  redisCpuSeconds,
  status,
} from "./catchUp.ts";
import { printProfileTop } from "./cpuProfile.ts";
import { cpuMicros } from "./processCpu.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    partitions: { type: "string", default: "8" },
    profile: { type: "boolean", default: false },
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

interface Usage {
  at: number;
  repairCpu: number;
  redisCpu: number;
  kafkaCpu: number;
  /** The link's processor, paused: what it spends waiting is taken from the repair on a shared machine. */
  processorCpu: number;
  commands: CommandStats;
}

/** What `to` used more than `from`, in seconds (and Redis commands: calls and microseconds). */
function between(from: Usage, to: Usage): Usage {
  const commands = commandsBetween(from.commands, to.commands);
  return {
    at: (to.at - from.at) / 1000,
    repairCpu: to.repairCpu - from.repairCpu,
    redisCpu: to.redisCpu - from.redisCpu,
    kafkaCpu: to.kafkaCpu - from.kafkaCpu,
    processorCpu: to.processorCpu - from.processorCpu,
    commands,
  };
}

async function startProfile(session: Session | null): Promise<void> {
  if (!session) return;
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
}

async function stopProfile(session: Session | null, dir: string): Promise<void> {
  if (!session) return;
  const { profile } = await session.post("Profiler.stop");
  await writeFile(join(dir, "repair.cpuprofile"), JSON.stringify(profile));
  session.disconnect();
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
  // At each stage's start: the time, and the CPU so far of this process (the repair), Redis, Kafka and the paused
  // processor; with the commands Redis ran, they say what bounds each stage.
  const stages = new Map<RepairStage, Usage>();
  const usage = async (): Promise<Usage> => {
    const cpu = process.cpuUsage();
    return {
      at: performance.now(),
      repairCpu: (cpu.user + cpu.system) / 1e6,
      redisCpu: await redisCpuSeconds(link),
      kafkaCpu: (await cpuMicros(link.kafka.pid)) / 1e6,
      processorCpu: (await cpuMicros(processed.processor.child.pid as number)) / 1e6,
      commands: await redisCommandStats(link),
    };
  };
  const profiler = args.profile ? new Session() : null;
  const profileDir = await mkdtemp(join(tmpdir(), "repair-profile-"));
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
      onStage: async (s) => {
        if (s === "done") await stopProfile(profiler, profileDir);
        stages.set(s, await usage());
        if (s === "recomputing") await startProfile(profiler);
      },
    });
    status("");
    const order: RepairStage[] = ["recomputing", "comparing", "rewriting", "verifying", "done"];
    const spent = order.slice(0, -1).map((from, i) => {
      const to = order[i + 1] as RepairStage;
      return { stage: from, used: between(stages.get(from) as Usage, stages.get(to) as Usage) };
    });
    const recomputing = (spent[0] as (typeof spent)[number]).used;
    console.log(`\nrepair benchmark: ${total.toLocaleString()} events, ${PARTITIONS} partitions per topic`);
    console.log("| what | events/s | ratio to the processor | CPU µs per event (its own process) |");
    console.log("|---|---|---|---|");
    console.log(
      `| processor catch-up (1 process) | ${processed.rate.toFixed(0)} | 1.00 | ${processed.cpuMicrosPerEvent.toFixed(1)} |`,
    );
    console.log(
      `| repair recompute (same input, up to the stored offsets) | ${recomputeRate.toFixed(0)} | ${(recomputeRate / processed.rate).toFixed(2)} | ${((recomputing.repairCpu * 1e6) / total).toFixed(1)} |`,
    );
    console.log(
      `\nthe link's processor stayed paused ${(summary.pausedMs / 1000).toFixed(1)} s; ${summary.changed} values rewritten`,
    );
    console.log("| stage | wall s | repair CPU s | Redis CPU s | Kafka CPU s | paused processor CPU s |");
    console.log("|---|---|---|---|---|---|");
    for (const { stage, used } of spent)
      console.log(
        `| ${stage} | ${[used.at, used.repairCpu, used.redisCpu, used.kafkaCpu, used.processorCpu].map((x) => x.toFixed(2)).join(" | ")} |`,
      );
    console.log("\nRedis commands during the recompute (top by time):");
    for (const [name, c] of [...recomputing.commands].sort((x, y) => y[1].usec - x[1].usec).slice(0, 8))
      console.log(`  ${name}: ${c.calls} calls, ${(c.usec / 1e6).toFixed(2)} s`);
    if (profiler) printProfileTop(profileDir, "repair (from the recompute's start to the end of the verify)");
  } finally {
    categories.close();
    scratch.disconnect();
    await stopProcessor(processed.processor);
  }
} finally {
  await link.stop();
}
