import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import type { Admin } from "kafkajs";
import { readProgress } from "../common/linkReader.ts";
import { createLogger } from "../common/logger.ts";
import { type GeneratorResult, runGenerator } from "../devstack/generator/run.ts";
import { prepareDimensions, SEED } from "../harness/feed.ts";
import { caughtUp, type TestLink, waitFor } from "../harness/links.ts";
import { formatDifferences } from "../processor/reconcile/diff.ts";
import { openFloodLink } from "./flood/link.ts";
import { type FloodSample, memoryMiB, produced, sample } from "./flood/observe.ts";
import { ProcessorGroup } from "./flood/processors.ts";
import { reconcileWithTruth } from "./flood/reconcile.ts";
import { PARTITION_BYTES, sizeFlood } from "./flood/sizing.ts";
import { resultPath } from "./runner/results.ts";

// Flood test, the backlog release: the generator sends a steady peak rate to one link while its processors
// are stopped for minutes, then they are started again with the generator still running. Reports how fast
// they eat the backlog, when the data is fresh again (watermark within 2 s of now, the comparator's lag
// bound), the processors' peak memory, and whether the link then equals the offline recompute of
// everything sent (processor/reconcile). A benchmark: it prints figures and fails only on a wrong result.
//
//   npx tsx loadtest/flood.ts [--rate 3000] [--backlog 120] [--processors 1]
//
// The embedded Kafka keeps 5 MiB per partition, so the partitions are sized from the generator's record
// sizes to hold the whole flood (8 at least). KAFKA_BROKERS=host:port runs it on a real cluster instead, for
// floods larger than memory allows.

const { values: args } = parseArgs({
  options: {
    rate: { type: "string", default: "3000" },
    backlog: { type: "string", default: "120" },
    processors: { type: "string", default: "1" },
  },
});
const RATE = Number(args.rate);
const BACKLOG_S = Number(args.backlog);
const WARMUP_S = 10;
const PROCESSORS = Number(args.processors);
const MIN_PARTITIONS = 8;
const FRESH_MS = 2_000;
// The mock Kafka answers a fetch with one record batch per partition, so a backlog is eaten a producer
// batch at a time: a collector that batches a second per partition lets the processors catch up several
// times faster than the generator's default 100 ms.
const LINGER_MS = 1_000;
const SAMPLE_MS = 500;
const PROGRESS_MS = 10_000;
const CATCH_UP_LIMIT_MS = Math.max(120, 3 * BACKLOG_S) * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);
const mib = (n: number) => `${n.toFixed(0)} MiB`;

// The whole flood must fit: the warm-up, the backlog, and twice as long again for the catch-up (new records
// keep coming while the backlog is eaten).
const sizing = sizeFlood(SEED, RATE * (WARMUP_S + 3 * BACKLOG_S + 10), MIN_PARTITIONS);
log(
  `flood: ${RATE} events/s, processors stopped for ${BACKLOG_S} s after ${WARMUP_S} s; ` +
    `${sizing.partitions} partitions (${sizing.bytesPerRecord.toFixed(0)} B a record; fullest partition ` +
    `expected at ${(100 * sizing.fullest).toFixed(0)}% of ${mib(PARTITION_BYTES / 1048576)})` +
    (process.env.KAFKA_BROKERS ? `, Kafka at ${process.env.KAFKA_BROKERS}` : ", embedded Kafka"),
);

function fail(err: unknown): never {
  log(`flood: ${(err as Error).message}`);
  process.exit(1);
}

const link: TestLink = await openFloodLink(sizing.partitions).catch(fail);
const admin: Admin = link.kafkaClient.admin();
const truthDir = await mkdtemp(join(tmpdir(), "oneservice-flood-truth-"));
const truth = join(truthDir, "truth.ndjson");
const stopGenerator = new AbortController();
let categoryFile = "";
let processors: ProcessorGroup | null = null;
const pids = () => processors?.pids() ?? [];

/**
 * Samples until `done` holds for a sample, the limit passes, or the Kafka's retention drops records (the
 * error is returned: the flood was too large for it); logs progress every few seconds.
 */
async function watch(
  done: (s: FloodSample) => boolean,
  limitMs: number,
): Promise<{ samples: FloodSample[]; lost: string | null }> {
  const samples: FloodSample[] = [];
  const deadline = Date.now() + limitMs;
  let logged = Date.now();
  for (;;) {
    let s: FloodSample;
    try {
      s = await sample(link, admin, pids());
    } catch (err) {
      return { samples, lost: (err as Error).message };
    }
    samples.push(s);
    if (done(s) || Date.now() > deadline) return { samples, lost: null };
    if (s.t - logged >= PROGRESS_MS) {
      logged = s.t;
      log(
        `  ${s.produced - s.applied} records to go, watermark ${((s.t - s.watermark) / 1000).toFixed(0)} s behind`,
      );
    }
    await sleep(SAMPLE_MS);
  }
}

/** The highest rate over any span of at least a second. */
function peakRate(samples: FloodSample[]): number {
  let best = 0;
  for (let i = 0, j = 0; j < samples.length; j++) {
    while (i < j && (samples[j] as FloodSample).t - (samples[i + 1] as FloodSample).t >= 1000) i++;
    const a = samples[i] as FloodSample;
    const b = samples[j] as FloodSample;
    if (b.t - a.t >= 1000) best = Math.max(best, ((b.applied - a.applied) * 1000) / (b.t - a.t));
  }
  return best;
}

/** Why the flood outgrew Kafka, with what would make it fit. */
function catchUpAdvice(samples: FloodSample[], released: FloodSample): string {
  const last = samples.at(-1) ?? released;
  const rate = ((last.applied - released.applied) * 1000) / Math.max(1, last.t - released.t);
  return (
    `the processors ate ${rate.toFixed(0)} records/s against ${RATE} coming in, too slow to catch up before ` +
    "retention: run fewer events/s (--rate), a shorter backlog (--backlog), more partitions, or KAFKA_BROKERS"
  );
}

let generated: Promise<GeneratorResult> | null = null;
try {
  await admin.connect();
  const dims = await prepareDimensions([link]);
  categoryFile = dims.categoryIndustry;
  processors = new ProcessorGroup(link, PROCESSORS, categoryFile);
  processors.start();
  await waitFor(
    "the processors' first heartbeat",
    async () => (await readProgress(link.client)).heartbeat > 0,
  );
  generated = runGenerator({
    links: [{ id: link.id, brokers: [link.kafka.bootstrap] }],
    partitions: sizing.partitions,
    seed: SEED,
    startTime: Date.now(),
    rate: RATE,
    peakMultiplier: 1,
    lingerMs: LINGER_MS,
    truthFile: truth,
    dimsDir: null,
    progress: false,
    signal: stopGenerator.signal,
    logger: createLogger("generator").child({}, { level: "warn" }),
  });

  await sleep(WARMUP_S * 1000);
  const warm = await sample(link, admin, pids());
  log(`warm-up: ${warm.applied} of ${warm.produced} records applied; stopping the processors`);
  await processors.stop();
  const stoppedAt = Date.now();
  while (Date.now() - stoppedAt < BACKLOG_S * 1000) {
    await sleep(Math.min(10_000, stoppedAt + BACKLOG_S * 1000 - Date.now()));
    log(`  backlog: ${(await produced(admin)) - warm.applied} records waiting`);
  }

  const released = await sample(link, admin, pids());
  const backlog = released.produced - released.applied;
  log(`releasing ${backlog} records (${((Date.now() - released.watermark) / 1000).toFixed(0)} s behind)`);
  processors.start();
  const { samples: catchUp, lost } = await watch((s) => s.t - s.watermark <= FRESH_MS, CATCH_UP_LIMIT_MS);
  if (lost) throw new Error(`${lost}: ${catchUpAdvice(catchUp, released)}`);
  const fresh = catchUp.at(-1) as FloodSample;
  const isFresh = fresh.t - fresh.watermark <= FRESH_MS;
  const peakRssMiB = Math.max(...catchUp.map((s) => s.rssMiB));

  await sleep(2_000);
  stopGenerator.abort();
  const result = await generated;
  await waitFor("the processors to apply every record", () => caughtUp(link), CATCH_UP_LIMIT_MS);
  const hwm = (await Promise.all(pids().map((pid) => memoryMiB(pid, "VmHWM")))).reduce((a, b) => a + b, 0);
  const redisPeak =
    Number(/used_memory_peak:(\d+)/.exec(await link.client.info("memory"))?.[1] ?? 0) / 1048576;
  // Give the processors a few heartbeats to close every minute they can, so closed minutes compare too.
  await sleep(3_000);
  await processors.stop();

  log("recomputing everything sent from the truth file…");
  const reconciled = await reconcileWithTruth(link, truth, categoryFile);
  const seconds = (fresh.t - released.t) / 1000;
  const figures = {
    rate: RATE,
    backlogSeconds: BACKLOG_S,
    partitions: sizing.partitions,
    processors: PROCESSORS,
    recordsSent: result.counts.records,
    recordsDropped: result.links.reduce((n, l) => n + l.dropped, 0),
    backlogRecords: backlog,
    freshAfterSeconds: isFresh ? seconds : null,
    catchUpRecordsPerSecond: (fresh.applied - released.applied) / seconds,
    peakRecordsPerSecond: peakRate(catchUp),
    processorPeakRssMiB: Math.max(hwm, peakRssMiB),
    redisPeakMiB: redisPeak,
    recomputed: reconciled.records,
    recomputeSeconds: reconciled.seconds,
    differences: reconciled.differences.length,
  };
  const lines = [
    `flood: ${RATE} events/s; processors (${PROCESSORS}) stopped ${BACKLOG_S} s: ${backlog} records of backlog on ${sizing.partitions} partitions`,
    isFresh
      ? `  fresh again (watermark within ${FRESH_MS / 1000} s of now) ${seconds.toFixed(1)} s after the release`
      : `  NOT fresh ${seconds.toFixed(0)} s after the release (watermark ${((fresh.t - fresh.watermark) / 1000).toFixed(0)} s behind)`,
    `  catch-up: ${figures.catchUpRecordsPerSecond.toFixed(0)} records/s on average (${(figures.catchUpRecordsPerSecond / RATE).toFixed(1)}× the input rate), ${figures.peakRecordsPerSecond.toFixed(0)} records/s at best`,
    `  peak memory: processors ${mib(figures.processorPeakRssMiB)} resident, Redis ${mib(redisPeak)}`,
    `  ${result.counts.records} records sent (${figures.recordsDropped} dropped); ${reconciled.records} recomputed in ${reconciled.seconds.toFixed(0)} s: ` +
      (reconciled.differences.length === 0
        ? "the link equals the offline recompute exactly"
        : `${reconciled.differences.length} differences\n${formatDifferences(reconciled.differences)}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  const file = `${await resultPath("flood")}.json`;
  await writeFile(file, `${JSON.stringify({ ...figures, samples: catchUp }, null, 2)}\n`);
  log(`figures saved to ${file}`);
  process.exitCode = reconciled.differences.length === 0 && figures.recordsDropped === 0 ? 0 : 1;
} catch (err) {
  log(`flood: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  stopGenerator.abort();
  await generated?.catch(() => {});
  await processors?.stop("SIGKILL");
  await admin.disconnect();
  await link.stop();
  // The link's Redis kept an append-only file of the whole flood: tens of MiB.
  await rm(dirname(link.redis.logFile), { recursive: true, force: true });
  await rm(truthDir, { recursive: true, force: true });
  if (categoryFile) await rm(dirname(categoryFile), { recursive: true, force: true });
}
