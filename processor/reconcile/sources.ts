import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Kafka, logLevel } from "kafkajs";
import { partitionField } from "../../common/keys.ts";
import { INPUT_TOPICS } from "../../common/topics.ts";
import type { SourceRecord } from "./recompute.ts";

/** Stored offsets of a link, "<topic>:<partition>" -> next offset: a recompute stops exactly there. */
export type UpTo = ReadonlyMap<string, number>;

/** The input a recompute needs is no longer in the link's Kafka. */
export class InputGone extends Error {
  constructor(readonly partitions: { partition: string; logStart: number; needed: number }[]) {
    super(
      `the link's Kafka no longer has the start of ${partitions
        .map((p) => `${p.partition} (log starts at ${p.logStart}, records from 0 to ${p.needed} are needed)`)
        .join(", ")}: give an archive of the input (--from-truth FILE)`,
    );
  }
}

/**
 * The generator's ground-truth file: one JSON record per line, in per-partition production order (so a
 * record's offset is its position in its partition). With `upTo`, only the records below those offsets.
 */
export async function* truthFile(path: string, upTo?: UpTo): AsyncIterable<SourceRecord> {
  const lines = createInterface({
    input: createReadStream(path, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  const seen = new Map<string, number>();
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    const r = JSON.parse(line) as Partial<SourceRecord>;
    if (typeof r.topic !== "string" || typeof r.partition !== "number") {
      throw new Error(`${path}:${n}: not a truth record (needs topic, partition, key, value)`);
    }
    const tp = partitionField(r.topic, r.partition);
    const offset = seen.get(tp) ?? 0;
    seen.set(tp, offset + 1);
    if (upTo && offset >= (upTo.get(tp) ?? 0)) continue;
    yield { topic: r.topic, partition: r.partition, offset, key: r.key ?? null, value: r.value ?? null };
  }
}

/**
 * Every input record a link's Kafka holds, from each partition's start up to its end when the read began, or
 * with `upTo` exactly up to those offsets. Throws InputGone, naming the partitions, when a start is gone.
 */
export async function* kafkaTopics(brokers: string[], upTo?: UpTo): AsyncIterable<SourceRecord> {
  const kafka = new Kafka({ clientId: "oneservice-reconcile", brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  const gone: InputGone["partitions"] = [];
  try {
    for (const topic of INPUT_TOPICS) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const tp = partitionField(topic, p.partition);
        const end = upTo ? (upTo.get(tp) ?? 0) : Number(p.high);
        if (end > Number(p.high))
          throw new Error(
            `${tp}: the link holds ${end} records, its Kafka only ${p.high}: is this its Kafka?`,
          );
        if (Number(p.low) > 0 && end > 0) gone.push({ partition: tp, logStart: Number(p.low), needed: end });
        if (end > 0) ends.set(tp, end);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (gone.length > 0) throw new InputGone(gone);
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
