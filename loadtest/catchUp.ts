import { runGenerator } from "../devstack/generator/run.ts";
import type { TestLink } from "../harness/links.ts";
import { appliedRecords, caughtUp, type ProcessorChild, spawnProcessor, waitFor } from "../harness/links.ts";
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

export type CommandStats = Map<string, { calls: number; usec: number }>;

/** Per-command call counts and microseconds so far (INFO commandstats): what the Redis time is spent on. */
export async function redisCommandStats(link: TestLink): Promise<CommandStats> {
  const stats: CommandStats = new Map();
  for (const m of (await link.client.info("commandstats")).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g))
    stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

/** What one stretch of a catch-up cost: events applied, wall time, CPU of the processors and of Redis. */
/** The commands Redis ran between two INFO commandstats readings: calls and microseconds of each. */
export function commandsBetween(from: CommandStats, to: CommandStats): CommandStats {
  const commands: CommandStats = new Map();
  for (const [name, after] of to) {
    const before = from.get(name) ?? { calls: 0, usec: 0 };
    if (after.calls > before.calls)
      commands.set(name, { calls: after.calls - before.calls, usec: after.usec - before.usec });
  }
  return commands;
}

export interface CatchUpWindow {
  events: number;
  elapsedMs: number;
  rate: number;
  cpuMicrosPerEvent: number;
  redisMicrosPerEvent: number;
  /** INFO commandstats over the window. */
  commands: Map<string, { calls: number; usec: number }>;
}

interface Mark {
  at: number;
  applied: number;
  cpu: number;
  redisCpu: number;
  commands: Map<string, { calls: number; usec: number }>;
}

async function mark(link: TestLink, processors: readonly ProcessorChild[]): Promise<Mark> {
  let cpu = 0;
  for (const p of processors) cpu += await cpuMicros(p.child.pid as number);
  return {
    at: performance.now(),
    applied: await appliedRecords(link),
    cpu,
    redisCpu: await redisCpuSeconds(link),
    commands: await redisCommandStats(link),
  };
}

function windowBetween(a: Mark, b: Mark): CatchUpWindow {
  const events = b.applied - a.applied;
  const elapsedMs = b.at - a.at;
  const commands = commandsBetween(a.commands, b.commands);
  return {
    events,
    elapsedMs,
    rate: (events / elapsedMs) * 1000,
    cpuMicrosPerEvent: (b.cpu - a.cpu) / events,
    redisMicrosPerEvent: ((b.redisCpu - a.redisCpu) * 1e6) / events,
    commands,
  };
}

export interface CatchUpOptions {
  /** A CPU profile of the (first) processor, written here when it exits. */
  profileDir?: string | null;
  /** Processes of the link's group sharing the catch-up. */
  processors?: number;
  /**
   * Events applied before the steady window starts: a fresh process pays for compiling and warming up its
   * code, which the cold window (from the first batch) includes and the steady one does not.
   */
  warmupEvents?: number;
}

/** Times a link's catch-up of `total` events by fresh processors, cold (from the first batch) and steady. */
export async function processorRate(
  link: TestLink,
  categoryFile: string,
  total: number,
  profileDirOrOptions: string | null | CatchUpOptions,
) {
  const o: CatchUpOptions =
    profileDirOrOptions !== null && typeof profileDirOrOptions === "object"
      ? profileDirOrOptions
      : { profileDir: profileDirOrOptions };
  const processors = Array.from({ length: o.processors ?? 1 }, (_, i) =>
    spawnProcessor(
      link,
      { DIM_CATEGORY_FILE: categoryFile },
      i === 0 && o.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${o.profileDir}`] : [],
    ),
  );
  const p = processors[0] as ProcessorChild;
  await waitFor(
    "the processor to apply its first batch",
    async () => (await appliedRecords(link)) > 0,
    60_000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; processor output:\n${p.output()}`);
  });
  const first = await mark(link, processors);
  let warm: Mark | null = null;
  await waitFor(
    "the processor to catch up",
    async () => {
      const applied = await appliedRecords(link);
      status(`processor: ${applied.toLocaleString()} / ${total.toLocaleString()}`);
      if (!warm && o.warmupEvents !== undefined && applied >= o.warmupEvents)
        warm = await mark(link, processors);
      return caughtUp(link);
    },
    600_000,
  );
  const last = await mark(link, processors);
  status("");
  const cold = windowBetween(first, last);
  return {
    rate: cold.rate,
    elapsedMs: cold.elapsedMs,
    cpuMicrosPerEvent: cold.cpuMicrosPerEvent,
    cold,
    steady: warm ? windowBetween(warm, last) : null,
    processor: p,
    processors,
  };
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
