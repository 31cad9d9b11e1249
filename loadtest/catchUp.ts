import { runGenerator } from "../devstack/generator/run.ts";
import { appliedRecords, caughtUp, spawnProcessor, type TestLink, waitFor } from "../test/support/links.ts";
import { cpuMicros } from "./processCpu.ts";

// What the pipeline benchmarks share: a progress line, and one processor's catch-up over a pre-produced backlog.

let lastStatusLine = 0;
/** A progress line: redrawn in place on a terminal, else written at most once a second (a log stays readable). */
export function status(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else if (line !== "" && performance.now() - lastStatusLine >= 1000) {
    lastStatusLine = performance.now();
    process.stderr.write(`${line}\n`);
  }
}

/** One processor over the link's whole backlog: events/s and its CPU per event, from its first batch to the end. */
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
