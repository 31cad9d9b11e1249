import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { pino } from "pino";
import { INPUT_TOPICS } from "../../common/topics.ts";
import { runGenerator } from "../../devstack/generator/run.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { useTempDir } from "./tempDir.ts";

// The generator against real embedded Kafkas: both links hold the same records in the same order per
// partition, the truth file is exactly what was produced, a dead link does not stop the others, and the
// process flushes what it has in hand on SIGTERM.

const PARTITIONS = 4;
const START = Date.parse("2026-11-10T15:58:00Z");
const SMALL = { sellers: 2000, buyers: 50_000, categories: 300, industries: 25, advertisers: 200 };
const MAIN = fileURLToPath(new URL("../../devstack/generator/main.ts", import.meta.url));

const quiet = pino({ level: "silent" });

type Partitions = Map<string, string[]>;

/** Every record of every input partition of a link, as "key value" lines in offset order. */
async function readLink(bootstrap: string): Promise<Partitions> {
  const kafka = new Kafka({
    clientId: "generator-test",
    brokers: bootstrap.split(","),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  for (const topic of INPUT_TOPICS)
    for (const o of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${o.partition}`, Number(o.high));
  await admin.disconnect();

  const out: Partitions = new Map([...ends.keys()].map((k) => [k, []]));
  const missing = () => [...ends].filter(([k, end]) => (out.get(k) as string[]).length < end).length;
  if (missing() === 0) return out;
  const consumer = kafka.consumer({ groupId: `read-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [...INPUT_TOPICS], fromBeginning: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${missing()} partitions incomplete after 30 s`)), 30_000);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          const into = out.get(`${batch.topic}:${batch.partition}`) as string[];
          for (const m of batch.messages) into.push(`${m.key} ${m.value}`);
          if (missing() === 0) resolve();
        },
      });
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return out;
}

async function readTruth(file: string): Promise<Partitions> {
  const out: Partitions = new Map();
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as { topic: string; partition: number; key: string; value: string };
    const k = `${r.topic}:${r.partition}`;
    out.set(k, [...(out.get(k) ?? []), `${r.key} ${r.value}`]);
  }
  return out;
}

function total(p: Partitions): number {
  return [...p.values()].reduce((s, xs) => s + xs.length, 0);
}

describe("generator into embedded Kafka", () => {
  const kafkas: EmbeddedKafka[] = [];
  const tmp = useTempDir("generator-test-", () => Promise.all(kafkas.map((k) => k.stop())));

  it("writes the same records in the same per-partition order to two links, as in the truth file", async () => {
    const [a, b] = await Promise.all(
      ["a", "b"].map((linkId) => startEmbeddedKafka({ linkId, partitions: PARTITIONS })),
    );
    kafkas.push(a as EmbeddedKafka, b as EmbeddedKafka);
    const truthFile = join(tmp(), "truth.ndjson");
    const count = 30_000;
    const result = await runGenerator({
      links: [a, b].map((k) => ({
        id: (k as EmbeddedKafka).linkId,
        brokers: [(k as EmbeddedKafka).bootstrap],
      })),
      partitions: PARTITIONS,
      rate: 0,
      count,
      startTime: START,
      malformedFraction: 0.01,
      lateFraction: 0.01,
      truthFile,
      dimsDir: null,
      population: SMALL,
      // Two producer threads per link, each with half of the partitions: the order must hold all the same.
      linkThreads: 2,
      progress: false,
      logger: quiet,
    });
    assert.deepEqual(
      result.links.map((l) => [l.id, l.sent, l.dropped]),
      [
        ["a", count, 0],
        ["b", count, 0],
      ],
    );

    const [onA, onB, truth] = await Promise.all([
      readLink((a as EmbeddedKafka).bootstrap),
      readLink((b as EmbeddedKafka).bootstrap),
      readTruth(truthFile),
    ]);
    assert.equal(total(onA), count);
    assert.equal(onA.size, INPUT_TOPICS.length * PARTITIONS);
    for (const [partition, records] of onA) {
      assert.deepEqual(onB.get(partition), records, `link b differs from link a in ${partition}`);
      assert.deepEqual(
        truth.get(partition) ?? [],
        records,
        `the truth file differs from link a in ${partition}`,
      );
    }
  });

  it("keeps feeding the live link while another link's Kafka is unreachable", async () => {
    const live = await startEmbeddedKafka({ linkId: "c", partitions: PARTITIONS });
    kafkas.push(live);
    const count = 20_000;
    const result = await runGenerator({
      links: [
        { id: "c", brokers: [live.bootstrap] },
        // Nothing listens on port 1.
        { id: "dead", brokers: ["127.0.0.1:1"] },
      ],
      partitions: PARTITIONS,
      rate: 0,
      count,
      startTime: START,
      dimsDir: null,
      population: SMALL,
      linkBuffer: 2000,
      // Long enough for the live link's producer thread to start and connect on a busy machine.
      linkStallMs: 3000,
      batchSize: 200,
      progress: false,
      logger: quiet,
    });
    const [c, dead] = result.links;
    assert.deepEqual([c?.sent, c?.dropped], [count, 0]);
    assert.deepEqual([dead?.sent, dead?.dropped], [0, count]);
    assert.equal(total(await readLink(live.bootstrap)), count);
  });

  it("on SIGTERM sends what it has in hand, writes the same to the truth file and exits 0", async () => {
    const link = await startEmbeddedKafka({ linkId: "d", partitions: PARTITIONS });
    kafkas.push(link);
    const truthFile = join(tmp(), "sigterm.ndjson");
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      env: {
        ...process.env,
        LINKS: "d",
        KAFKA_BROKERS_D: link.bootstrap,
        KAFKA_PARTITIONS: String(PARTITIONS),
        GENERATOR_RATE: "5000",
        GENERATOR_TRUTH_FILE: truthFile,
        GENERATOR_DIMS_DIR: join(tmp(), "dims"),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = once(child, "exit");
    try {
      let output = "";
      for (const stream of [child.stdout, child.stderr])
        stream.on("data", (d) => {
          output += d;
        });
      // Let it run until it has logged its start and produced for a while.
      const deadline = Date.now() + 20_000;
      while (!output.includes("generator started") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(output.includes("generator started"), `no start line: ${output}`);
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(child.pid as number, "SIGTERM");
      const [code] = await exited;
      assert.equal(code, 0, output.slice(-2000));
      const [onLink, truth] = await Promise.all([readLink(link.bootstrap), readTruth(truthFile)]);
      assert.ok(total(truth) > 1000, `only ${total(truth)} records`);
      assert.equal(total(onLink), total(truth));
      for (const [partition, records] of truth) assert.deepEqual(onLink.get(partition), records, partition);
      const tiers = JSON.parse(await readFile(join(tmp(), "dims", "seller_tier.json"), "utf8")) as object;
      assert.equal(Object.keys(tiers).length, 20_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, "SIGKILL");
    }
  });
});
