import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { keys, partitionField } from "../common/keys.ts";
import { INPUT_TOPICS } from "../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../devstack/kafka/launcher.ts";
import { type RunningRedis, startRedis } from "../devstack/redis/launcher.ts";
import { scanKeys } from "../processor/reconcile/diff.ts";

// Real links for tests and benchmarks: an embedded Kafka and a redis-server per link, and processors as child
// processes.

export interface TestLink {
  id: string;
  kafka: EmbeddedKafka;
  redis: RunningRedis;
  client: Redis;
  kafkaClient: Kafka;
  stop(): Promise<void>;
}

export async function startTestLink(id: string, partitions: number): Promise<TestLink> {
  const started = await Promise.allSettled([
    startEmbeddedKafka({ linkId: id, partitions }),
    startRedis({ linkId: id, dataDir: mkdtempSync(join(tmpdir(), `oneservice-test-${id}-`)) }),
  ]);
  const [kafkaStart, redisStart] = started;
  if (kafkaStart.status === "rejected" || redisStart.status === "rejected") {
    // Whichever half did start is stopped, or a failed start (librdkafka missing…) leaves a server behind.
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.stop() : undefined)));
    throw kafkaStart.status === "rejected" ? kafkaStart.reason : (redisStart as PromiseRejectedResult).reason;
  }
  const kafka = kafkaStart.value;
  const redis = redisStart.value;
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  client.on("error", () => {}); // tests that stop Redis on purpose read the failure from the command instead
  const kafkaClient = new Kafka({
    clientId: `test-${id}`,
    brokers: [kafka.bootstrap],
    logLevel: logLevel.NOTHING,
  });
  return {
    id,
    kafka,
    redis,
    client,
    kafkaClient,
    async stop() {
      client.disconnect();
      await Promise.all([kafka.stop(), redis.stop()]);
    },
  };
}

export interface ProcessorChild {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

const ROOT = new URL("../", import.meta.url).pathname;

/** A processor of `link` as a child process: this checkout's, or with `root` another checkout's (a benchmark's). */
export function spawnProcessor(
  link: TestLink,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  root = ROOT,
): ProcessorChild {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(root, "processor/main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      LINK_ID: link.id,
      KAFKA_BROKERS: link.kafka.bootstrap,
      REDIS_URL: link.redis.url,
      HEARTBEAT_INTERVAL: "200ms",
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  child.stderr?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

export async function stopProcessor(
  p: ProcessorChild,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill(signal);
  return p.exited;
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether the link's Redis has applied every record its Kafka holds on every input partition. */
export async function caughtUp(link: TestLink): Promise<boolean> {
  const admin = link.kafkaClient.admin();
  await admin.connect();
  try {
    const stored = await link.client.hgetall(keys.offsets);
    for (const topic of INPUT_TOPICS) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = Number(p.high);
        if (high > 0 && Number(stored[partitionField(topic, p.partition)] ?? -1) < high) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Records applied: the next offset to process is also the count processed, as every log starts at 0. */
export async function appliedRecords(link: TestLink): Promise<number> {
  const offsets = await link.client.hvals(keys.offsets);
  return offsets.reduce((sum, o) => sum + Number(o), 0);
}

/** Every metric value of a link (day sets, minutes, digests, counters) as one comparable object. */
export async function dumpValues(redis: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const found: string[] = [];
  for (const pattern of ["os:d:*", "os:m:*", "os:digest:*"]) found.push(...(await scanKeys(redis, pattern)));
  for (const key of found.sort()) {
    out[key] = key.startsWith("os:d:")
      ? await redis.zrange(key, "0", "-1", "WITHSCORES")
      : await redis.hgetall(key);
  }
  out.closed = await redis.get("os:closed");
  return out;
}

/** Waits until the link has applied everything its Kafka holds and closed every minute it can. */
export async function settled(link: TestLink): Promise<void> {
  await waitFor(`link ${link.id} to catch up`, () => caughtUp(link), 120_000);
  let previous = "";
  await waitFor(`link ${link.id} to close its minutes`, async () => {
    const now = String(await link.client.get(keys.closedThrough));
    const stable = now === previous && now !== "null";
    previous = now;
    if (!stable) await new Promise((r) => setTimeout(r, 500));
    return stable;
  });
}

/** A metric's day value at dimension all, summed over every business day the link holds. */
export async function dayTotal(redis: Redis, metric: string): Promise<number> {
  let total = 0;
  for (const key of await redis.keys(`os:d:*:${metric}:all`)) total += Number(await redis.zscore(key, "all"));
  return total;
}

/**
 * Writes 8 MB into one partition, a megabyte at a time: the embedded Kafka keeps about 5 MB per partition, so
 * this moves its log start (data loss for whoever had not read it). `recordValue(n)` is record n's value
 * (n from 0, about 100 kB each); `afterChunk` runs after each megabyte.
 */
export async function overflowPartition(
  link: TestLink,
  topic: string,
  partition: number,
  recordValue: (n: number, pad: string) => string,
  afterChunk: () => Promise<void> = async () => {},
): Promise<void> {
  const producer = link.kafkaClient.producer();
  await producer.connect();
  const pad = "x".repeat(100_000);
  try {
    for (let chunk = 0; chunk < 8; chunk++) {
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({
          partition,
          value: recordValue(chunk * 10 + i, pad),
        })),
      });
      await afterChunk();
    }
  } finally {
    await producer.disconnect();
  }
}

/** The sum of a processor's series of metric `name` whose labels include `labels`, read from its /metrics. */
export async function processorMetric(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (wanted.every((label) => line.includes(label))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
