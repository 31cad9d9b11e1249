import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { ALL_TOPICS, INPUT_TOPICS } from "../../common/topics.ts";
import { startRedis } from "../../devstack/redis/launcher.ts";
import { startTestLink, type TestLink } from "../../harness/links.ts";

// The one link a flood runs on: an embedded Kafka with the partitions the flood needs and a redis-server,
// or, with KAFKA_BROKERS set, a real Kafka cluster (for floods beyond what the embedded one keeps) and a
// local redis-server. A real cluster's input topics must be empty or absent: they are created with the
// partitions asked for, and nothing is deleted from a cluster that is not ours.

export async function openFloodLink(partitions: number): Promise<TestLink> {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) return startTestLink("flood", partitions);
  const list = brokers.split(",");
  const kafkaClient = new Kafka({ clientId: "flood", brokers: list, logLevel: logLevel.NOTHING });
  const admin = kafkaClient.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of INPUT_TOPICS.filter((t) => existing.has(t))) {
      const offsets = await admin.fetchTopicOffsets(topic);
      if (offsets.some((p) => Number(p.high) > 0))
        throw new Error(`${topic} on ${brokers} is not empty: a flood needs empty input topics`);
      if (offsets.length < partitions)
        throw new Error(
          `${topic} on ${brokers} has ${offsets.length} partitions, the flood needs ${partitions}`,
        );
    }
    const missing = ALL_TOPICS.filter((t) => !existing.has(t));
    if (missing.length > 0)
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions })) });
  } finally {
    await admin.disconnect();
  }
  const redis = await startRedis({
    linkId: "flood",
    dataDir: mkdtempSync(join(tmpdir(), "oneservice-flood-")),
  });
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  return {
    id: "flood",
    // A cluster that is not ours: nothing to stop, and its process is not ours to watch.
    kafka: {
      linkId: "flood",
      bootstrap: brokers,
      adminUrl: "",
      pid: 0,
      partitions,
      exited: new Promise(() => {}),
      stop: async () => {},
    },
    redis,
    client,
    kafkaClient,
    async stop() {
      client.disconnect();
      await redis.stop();
    },
  };
}
