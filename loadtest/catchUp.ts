import { runGenerator } from "../devstack/generator/run.ts";
import type { TestLink } from "../test/support/links.ts";
import { appliedRecords, caughtUp, spawnProcessor, waitFor } from "../test/support/links.ts";
import { cpuMicros } from "./processCpu.ts";

// What the benchmarks that time a processor's catch-up share: its rate and CPU, Redis's CPU and commands.

let lastStatusLine = 0;
/** A progress line: redrawn in place on a terminal, else written at most once a second (a log stays readable). */
export function status(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (line !== "" && performance.now() - lastStatusLine >= 1000) {
    lastStatusLine = performance.now();
    process.stderr.write(`${line}\n`);
  }
}

/** Redis's own CPU seconds so far: with the processor's profile, says which side bounds the pipeline. */
export async function redisCpuSeconds(link: TestLink): Promise<number> {
  const info = await link.client.info("cpu");
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field("used_cpu_sys") + field("used_cpu_user");
}

/** Per-command call counts and microseconds so far (INFO commandstats): what the Redis time is spent on. */
export async function redisCommandStats(
  link: TestLink,
): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of (await link.client.info("commandstats")).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g))
    stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

export async function processorRate(
  link: TestLink,
  categoryFile: string,
  total: number,
  profileDir: string | null,
) {
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const p = spawnProcessor(link, { DIM_CATEGORY_FILE: categoryFile }, nodeArgs);
  await waitFor(
    "the processor to apply its first batch",
    async () => (await appliedRecords(link)) > 0,
    60_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; processor output:\n${p.output()}`);
  });
  const pid = p.child.pid as number;
  const cpuBefore = await cpuMicros(pid);
  const startedAt = performance.now();
  const startCount = await appliedRecords(link);
  await waitFor(
    "the processor to catch up",
    async () => {
      status(`processor: ${(await appliedRecords(link)).toLocaleString()} / ${total.toLocaleString()}`);
      return caughtUp(link);
    },
    600_000,
  );
  const elapsedMs = performance.now() - startedAt;
  const rate = ((total - startCount) / elapsedMs) * 1000;
  const cpuMicrosPerEvent = ((await cpuMicros(pid)) - cpuBefore) / (total - startCount);
  status("");
  return { rate, elapsedMs, cpuMicrosPerEvent, processor: p };
}

/** Pre-produces `events` of the generator's model into a link, as fast as it takes them; returns how many. */
export async function produceBacklog(
  target: TestLink,
  events: number,
  partitions: number,
  refundFraction?: number,
): Promise<number> {
  status(
    `producing ${events.toLocaleString()} events into ${partitions} partitions per topic of link ${target.id}`,
  );
  const produced = await runGenerator({
    links: [{ id: target.id, brokers: [target.kafka.bootstrap] }],
    partitions,
    seed: "bench",
    startTime: Date.now() - 3_600_000,
    rate: 0,
    count: events,
    peakMultiplier: 1,
    ...(refundFraction === undefined ? {} : { refundFraction }),
    progress: false,
  });
  return produced.links[0]?.sent ?? events;
}
