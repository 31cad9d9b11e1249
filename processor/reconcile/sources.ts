import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { type Consumer, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { partitionField } from "../../common/keys.ts";
import { INPUT_TOPICS } from "../../common/topics.ts";

/** One input record in partition order: a line of the generator's truth file, or a record read from Kafka. */
export interface SourceRecord {
  topic: string;
  partition: number;
  /** Kafka offset; the truth file has none, so its records are numbered from 0 per partition. */
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

/**
 * A link's input. A Kafka source starts connecting when it is made, so that a repair can wait for `ready`
 * before it pauses the link: joining a consumer group takes seconds (the broker's initial rebalance delay)
 * that the link would otherwise spend paused.
 */
export interface RecordSource extends AsyncIterable<SourceRecord> {
  /** Resolves when records can be read at once; rejects when they cannot be read at all. */
  readonly ready: Promise<void>;
  /** The records a batch at a time, as they arrive: what the recompute reads (a record at a time costs a promise each). */
  batches(): AsyncIterable<readonly SourceRecord[]>;
  /** Stops reading, for a source that will not be read to its end (reading to the end closes it). */
  close(): Promise<void>;
}

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

/** Records of the truth file per batch: its lines are read one by one anyway, this only groups them. */
const TRUTH_BATCH = 1_000;
/**
 * How long a Kafka fetch waits on partitions already read to their end. The default (5 s) is how long closing
 * the consumer would take once the last record is in, with the link paused all the while.
 */
const FETCH_WAIT_MS = 50;

function recordSource(
  ready: Promise<void>,
  batches: () => AsyncIterable<readonly SourceRecord[]>,
  close: () => Promise<void>,
): RecordSource {
  return {
    ready,
    batches,
    close,
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches()) yield* batch;
    },
  };
}

/**
 * The generator's ground-truth file: one JSON record per line, in per-partition production order (so a
 * record's offset is its position in its partition). With `upTo`, only the records below those offsets.
 */
export function truthFile(path: string, upTo?: UpTo | Promise<UpTo>): RecordSource {
  async function* batches(): AsyncIterable<readonly SourceRecord[]> {
    const below = await upTo;
    const lines = createInterface({
      input: createReadStream(path, "utf8"),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let n = 0;
    const seen = new Map<string, number>();
    let batch: SourceRecord[] = [];
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      const r = JSON.parse(line) as { topic?: unknown; partition?: unknown; key?: string; value?: string };
      if (typeof r.topic !== "string" || typeof r.partition !== "number") {
        throw new Error(`${path}:${n}: not a truth record (needs topic, partition, key, value)`);
      }
      const tp = partitionField(r.topic, r.partition);
      const offset = seen.get(tp) ?? 0;
      seen.set(tp, offset + 1);
      if (below && offset >= (below.get(tp) ?? 0)) continue;
      batch.push({
        topic: r.topic,
        partition: r.partition,
        offset,
        key: typeof r.key === "string" ? Buffer.from(r.key) : null,
        value: typeof r.value === "string" ? Buffer.from(r.value) : null,
      });
      if (batch.length >= TRUTH_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
  return recordSource(Promise.resolve(), batches, async () => {});
}

/**
 * Every input record a link's Kafka holds, from each partition's start up to its end when the read began, or
 * with `upTo` exactly up to those offsets. Reading throws InputGone, naming the partitions, when a start is gone.
 */
export function kafkaTopics(brokers: string[], upTo?: UpTo | Promise<UpTo>): RecordSource {
  const kafka = new Kafka({ clientId: "oneservice-reconcile", brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `oneservice-reconcile-${process.pid}-${Date.now()}`,
    maxWaitTimeInMs: FETCH_WAIT_MS,
  });
  const ends = (async () => partitionEnds(kafka, await upTo))();
  // Settled by whoever reads (batches() awaits it); a source closed unread must not leave it unhandled.
  ends.catch(() => {});
  const queue: SourceRecord[][] = [];
  let wake: (() => void) | null = null;
  const ready = startReading(consumer, async (topic, partition, messages) => {
    const left = await ends.catch(() => null);
    const tp = partitionField(topic, partition);
    const end = left?.get(tp);
    if (!left || end === undefined) return;
    const records: SourceRecord[] = [];
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < end) records.push({ topic, partition, offset, key: m.key, value: m.value });
    }
    // A partition read to its end leaves `left`; anything fetched of it after that is dropped.
    if (records.length > 0 && (records.at(-1)?.offset ?? 0) + 1 >= end) left.delete(tp);
    if (records.length > 0) queue.push(records);
    wake?.();
  });
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= ready.catch(() => {}).then(() => consumer.disconnect());
    return closed;
  };
  async function* batches(): AsyncIterable<readonly SourceRecord[]> {
    try {
      const left = await ends;
      await ready;
      while (left.size > 0 || queue.length > 0) {
        const next = queue.shift();
        if (next) yield next;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      await close();
    }
  }
  return recordSource(ready, batches, close);
}

/** Connects, subscribes to every input topic from its start and resolves once the group assigned partitions. */
async function startReading(
  consumer: Consumer,
  onBatch: (topic: string, partition: number, messages: KafkaMessage[]) => Promise<void>,
): Promise<void> {
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  for (const topic of INPUT_TOPICS) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: ({ batch }) => onBatch(batch.topic, batch.partition, batch.messages),
  });
  await joined;
}

/** Where reading each partition stops ("<topic>:<partition>" -> next offset), only those with records to read. */
async function partitionEnds(kafka: Kafka, upTo: UpTo | undefined): Promise<Map<string, number>> {
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
  return ends;
}
