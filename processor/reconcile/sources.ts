import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Kafka, logLevel } from "kafkajs";
import { partitionField } from "../../common/keys.ts";
import { INPUT_TOPICS } from "../../common/topics.ts";
import type { SourceRecord } from "./recompute.ts";

/** The generator's ground-truth file: one JSON record per line, in per-partition production order. */
export async function* truthFile(path: string): AsyncIterable<SourceRecord> {
  const lines = createInterface({
    input: createReadStream(path, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    const r = JSON.parse(line) as Partial<SourceRecord>;
    if (typeof r.topic !== "string" || typeof r.partition !== "number") {
      throw new Error(`${path}:${n}: not a truth record (needs topic, partition, key, value)`);
    }
    yield { topic: r.topic, partition: r.partition, key: r.key ?? null, value: r.value ?? null };
  }
}

/** Every input record a link's Kafka holds, from each partition's start up to its end when the read began. */
export async function* kafkaTopics(brokers: string[]): AsyncIterable<SourceRecord> {
  const kafka = new Kafka({ clientId: "oneservice-reconcile", brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  for (const topic of INPUT_TOPICS) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (Number(p.low) > 0)
        throw new Error(`${topic}:${p.partition} starts at offset ${p.low}: data before it is gone`);
      if (Number(p.high) > 0) ends.set(partitionField(topic, p.partition), Number(p.high));
    }
  }
  await admin.disconnect();
  if (ends.size === 0) return;

  const consumer = kafka.consumer({ groupId: `oneservice-reconcile-${process.pid}-${Date.now()}` });
  const queue: SourceRecord[][] = [];
  let wake: (() => void) | null = null;
  let remaining = ends.size;
  await consumer.connect();
  for (const topic of INPUT_TOPICS) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const tp = partitionField(batch.topic, batch.partition);
      const end = ends.get(tp);
      if (end === undefined) return;
      const records = batch.messages
        .filter((m) => Number(m.offset) < end)
        .map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(m.offset),
          key: m.key?.toString() ?? null,
          value: m.value?.toString() ?? null,
        }));
      const last = records.at(-1);
      if (last && (last.offset ?? 0) + 1 >= end) {
        ends.delete(tp);
        remaining--;
      }
      queue.push(records);
      wake?.();
    },
  });
  try {
    while (remaining > 0 || queue.length > 0) {
      const next = queue.shift();
      if (next) yield* next;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    await consumer.disconnect();
  }
}
