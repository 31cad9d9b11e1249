import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { keys, partitionField } from "../../common/keys.ts";
import { INPUT_TOPICS } from "../../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { scanKeys } from "../../processor/reconcile/diff.ts";

// Real links for tests: an embedded Kafka and a redis-server per link, and processors as child processes.

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

const ROOT = new URL("../../", import.meta.url).pathname;

export function spawnProcessor(
  link: TestLink,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): ProcessorChild {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(ROOT, "processor/main.ts")], {
    cwd: ROOT,
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
