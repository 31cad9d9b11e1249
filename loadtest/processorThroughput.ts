// Processor benchmark: Kafka -> values visible in Redis, on the embedded Kafka, beside references measured in
// the same run on the same pre-produced data: a kafkajs consumer that does nothing with the messages, one that
// only JSON-parses them (the least work any processor must do), and one that also reads and writes the join
// state of each batch's orders in Redis and nothing else (the least an exactly-once join in Redis must add).
// Then the event-to-visible latency at a fixed rate. Not a test: it prints figures.
//
//   npx tsx loadtest/processorThroughput.ts [--events 250000] [--partitions 12] [--rate 10000] [--seconds 20]
//                                           [--warmup 50000] (events applied before the steady window starts)
//                                           [--pair]    (also: a link of its own caught up by 2 processors)
//                                           [--profile]   (a CPU profile of the processor's catch-up, its top printed)
// A fresh process is slower while it compiles and warms its code: the catch-up is reported cold (from the
// first batch) and steady (after the warm-up). The modelled per-link ceiling is the rate at which the link's
// Redis (one thread, shared by every processor of the link) would be saturated at the steady Redis CPU/event.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as hdr from "hdr-histogram-js";
import type { Redis } from "ioredis";
import type { Kafka, KafkaMessage } from "kafkajs";
import { sourceOfTopic } from "../common/catalog.ts";
import { keys } from "../common/keys.ts";
import { INPUT_TOPICS } from "../common/topics.ts";
import { generatorDefaults } from "../devstack/generator/config.ts";
import { runGenerator } from "../devstack/generator/run.ts";
import { prepareDimensions } from "../harness/feed.ts";
import { spawnProcessor, startTestLink, stopProcessor, type TestLink, waitFor } from "../harness/links.ts";
import { type CatchUpWindow, processorRate, produceBacklog, status } from "./catchUp.ts";
import { printProfileTop } from "./cpuProfile.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "250000" },
    partitions: { type: "string", default: "12" },
    rate: { type: "string", default: "10000" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "50000" },
    pair: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
  },
});
const EVENTS = Number(args.events);
const PARTITIONS = Number(args.partitions);
const WARMUP = Number(args.warmup);

type ReferenceBatch = { topic: string; partition: number; messages: KafkaMessage[] };

/**
 * Consumes every input record once with a fresh group; returns records/s from the first batch to the last.
 * `work` runs per record, then `afterBatch`, if given, per batch.
 */
async function referenceConsumer(
  kafka: Kafka,
  total: number,
  work: (value: Buffer | null) => void,
  afterBatch?: (batch: ReferenceBatch) => Promise<void>,
): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  for (const topic of INPUT_TOPICS) await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  let last = 0;
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      for (const m of batch.messages) work(m.value);
      await afterBatch?.(batch);
      seen += batch.messages.length;
      last = performance.now();
    },
  });
  await waitFor("the reference consumer to read everything", () => seen >= total, 300_000);
  await consumer.disconnect();
  return (seen / (last - first)) * 1000;
}

function parseJson(value: Buffer | null): void {
  try {
    JSON.parse(String(value));
  } catch {
    // the generator's malformed records: counted by the processor, ignored here
  }
}

/**
 * The least Redis work an exactly-once join needs per batch, and nothing else: read the join state of the
 * batch's order ids (the record keys of the two trade topics) in one MULTI, then write it back with the
 * batch's offset in another. No merge, no metrics, no script. Its own keys, so the processor's run after it
 * starts from an empty state as before.
 */
function joinStateFloor(redis: Redis): (batch: ReferenceBatch) => Promise<void> {
  return async ({ topic, partition, messages }) => {
    const write = redis.multi();
    if (sourceOfTopic(topic).state.length > 0) {
      const ids = messages.map((m) => `bench:floor:${String(m.key)}`);
      await redis.multi().mget(ids).exec();
      write.mset(ids.flatMap((id) => [id, "state"]));
    }
    await write.hset("bench:floor:offsets", `${topic}:${partition}`, String(messages.at(-1)?.offset)).exec();
  };
}

/** Age of the newest applied event per partition, sampled while the generator runs paced at `rate`. */
async function latencyAtRate(link: TestLink, rate: number, seconds: number) {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000,
    numberOfSignificantValueDigits: 3,
  });
  const abort = new AbortController();
  const generating = runGenerator({
    links: [{ id: link.id, brokers: [link.kafka.bootstrap] }],
    partitions: PARTITIONS,
    seed: "latency",
    startTime: Date.now(),
    rate,
    peakMultiplier: 1,
    count: 0,
    signal: abort.signal,
    progress: false,
  });
  const startedAt = Date.now();
  const until = startedAt + seconds * 1000;
  await new Promise((r) => setTimeout(r, 2_000));
  const seen = new Map<string, string>();
  while (Date.now() < until) {
    const now = Date.now();
    // Only partitions whose newest event moved since the last sample: the age of a sparse topic's newest
    // event (refunds) is the time since its last record, not how late the pipeline is.
    for (const [tp, t] of Object.entries(await link.client.hgetall(keys.maxEventTime))) {
      if (seen.get(tp) !== t && Number(t) >= startedAt) histogram.recordValue(Math.max(1, now - Number(t)));
      seen.set(tp, t);
    }
    status(
      `latency at ${rate}/s: p50 ${histogram.getValueAtPercentile(50)} ms, p99 ${histogram.getValueAtPercentile(99)} ms`,
    );
    await new Promise((r) => setTimeout(r, 20));
  }
  abort.abort();
  await generating;
  status("");
  return {
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    samples: histogram.totalCount,
  };
}

/**
 * The same catch-up on a link of its own by `processors` members: without refunds it says what the refunds
 * source costs; with 2 members, what a second process of the link adds.
 */
async function separateLink(id: string, refundFraction: number, processors: number) {
  const other = await startTestLink(id, PARTITIONS);
  try {
    const dims = await prepareDimensions([other]);
    const total = await produceBacklog(other, EVENTS, PARTITIONS, refundFraction);
    const measured = await processorRate(other, dims.categoryIndustry, total, {
      processors,
      warmupEvents: WARMUP,
    });
    for (const p of measured.processors) await stopProcessor(p);
    return measured;
  } finally {
    await other.stop();
  }
}

function windowLine(name: string, w: CatchUpWindow, parseOnly: number): string {
  return (
    `| ${name} | ${w.events.toLocaleString()} in ${(w.elapsedMs / 1000).toFixed(1)} s | ${w.rate.toFixed(0)} | ` +
    `${(w.rate / parseOnly).toFixed(2)} | ${w.cpuMicrosPerEvent.toFixed(1)} | ${w.redisMicrosPerEvent.toFixed(2)} | ` +
    `${(1e6 / w.redisMicrosPerEvent).toFixed(0)} |`
  );
}

const link = await startTestLink("bench", PARTITIONS);
try {
  const dims = await prepareDimensions([link]);
  const total = await produceBacklog(link, EVENTS, PARTITIONS, generatorDefaults().refundFraction);
  const bare = await referenceConsumer(link.kafkaClient, total, () => {});
  status("bare consumer done; parse-only consumer");
  const parseOnly = await referenceConsumer(link.kafkaClient, total, parseJson);
  status("parse-only consumer done; parse and join-state IO");
  const joinFloor = await referenceConsumer(link.kafkaClient, total, parseJson, joinStateFloor(link.client));
  status("parse and join-state IO done; processor");
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), "processor-profile-")) : null;
  const measured = await processorRate(link, dims.categoryIndustry, total, {
    profileDir,
    warmupEvents: WARMUP,
  });
  // A profile ends when its process does: the latency run gets a processor of its own, so that the profile
  // is of the catch-up alone.
  const latencyProcessor = profileDir
    ? await stopProcessor(measured.processor).then(() =>
        spawnProcessor(link, { DIM_CATEGORY_FILE: dims.categoryIndustry }),
      )
    : measured.processor;
  const latency = await latencyAtRate(link, Number(args.rate), Number(args.seconds));
  await stopProcessor(latencyProcessor);
  const plain = await separateLink("plain", 0, 1);
  const pair = args.pair ? await separateLink("pair", generatorDefaults().refundFraction, 2) : null;

  console.log(
    `\nprocessor benchmark: ${total.toLocaleString()} pre-produced events, ${PARTITIONS} partitions per topic`,
  );
  console.log("| consumer | events/s | ratio to parse-only |");
  console.log("|---|---|---|");
  console.log(`| bare kafkajs (no work) | ${bare.toFixed(0)} | ${(bare / parseOnly).toFixed(2)} |`);
  console.log(`| kafkajs + JSON.parse | ${parseOnly.toFixed(0)} | 1.00 |`);
  console.log(
    `| kafkajs + JSON.parse + join-state read and write in Redis, nothing else | ${joinFloor.toFixed(0)} | ${(joinFloor / parseOnly).toFixed(2)} |`,
  );
  console.log(
    `\nthe processor's catch-up, cold (from its first batch) and steady (after ${WARMUP.toLocaleString()} events); ` +
      "CPU per event is steadier than events/s on a shared machine; the ceiling is the rate at which the " +
      "link's Redis would be busy 100% at that Redis CPU per event (every processor of a link shares it):",
  );
  console.log(
    "| run | events | events/s | ratio to parse-only | processor CPU µs/event | Redis CPU µs/event | modelled per-link ceiling, events/s |",
  );
  console.log("|---|---|---|---|---|---|---|");
  const runs: [string, CatchUpWindow | null][] = [
    ["1 process, cold", measured.cold],
    ["1 process, steady", measured.steady],
    ["1 process, no refunds (a link of its own), cold", plain.cold],
    ["1 process, no refunds (a link of its own), steady", plain.steady],
    ["2 processes (a link of its own), cold", pair?.cold ?? null],
    ["2 processes (a link of its own), steady", pair?.steady ?? null],
  ];
  for (const [name, w] of runs) if (w && w.events > 0) console.log(windowLine(name, w, parseOnly));
  const window = measured.steady ?? measured.cold;
  const commands = [...window.commands].sort((x, y) => y[1].usec - x[1].usec).slice(0, 10);
  console.log(
    "time inside Redis commands during the steady catch-up (INFO commandstats; a script's time includes its calls):",
  );
  for (const [name, c] of commands)
    console.log(
      `  ${name.padEnd(10)} ${(c.calls / window.events).toFixed(3).padStart(7)} calls/event ${(c.usec / window.events).toFixed(2).padStart(6)} µs/event`,
    );
  console.log(
    `\nevent-to-visible latency at ${args.rate} events/s (age of the newest applied event per partition, ` +
      `${latency.samples} samples): p50 ${latency.p50} ms, p99 ${latency.p99} ms`,
  );
  if (profileDir) printProfileTop(profileDir, "processor (from its start to the end of the catch-up)");
} finally {
  await link.stop();
}
