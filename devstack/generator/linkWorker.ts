import { parentPort, workerData } from "node:worker_threads";
import { Kafka, logLevel, type Message, Partitioners, type Producer, type TopicMessages } from "kafkajs";
import { INPUT_TOPICS } from "../../common/topics.ts";
import { BATCH_FIELDS, type Chunk } from "./batcher.ts";

// A Kafka producer of one link, in a worker thread of its own so that encoding produce requests (the costly
// part of kafkajs: about 6 µs per record, patched) runs beside the model instead of taking turns with it. A link
// may have several such threads, each serving the partitions p with p % shards === shard. It sends its
// part of the chunks it is given strictly one after the other: one request in flight (maxInFlightRequests: 1), acks from all replicas, and
// a chunk that failed is sent again before any later one, so each partition receives its records in the
// order they were generated. The producer is not idempotent (the librdkafka mock cannot serve kafkajs's
// idempotent handshake): a send that failed after Kafka stored part of it is stored twice on retry, the
// at-least-once of any plain collector.

export interface LinkWorkerData {
  id: string;
  brokers: string[];
  shard: number;
  shards: number;
}

/** `records`: how many of the chunk's records are this thread's. */
export type ToWorker = { type: "chunk"; chunk: Chunk; records: number } | { type: "close"; deadline: number };
export type FromWorker =
  | { type: "sent"; records: number }
  | { type: "failed"; error: string }
  | { type: "closed" };

const RETRY_PAUSE_MS = 500;

const port = parentPort;
if (!port) throw new Error("linkWorker.ts runs as a worker thread (see linkWriter.ts)");
const { id, brokers, shard, shards } = workerData as LinkWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

const producer: Producer = new Kafka({
  clientId: `generator-${id}-${shard}`,
  brokers,
  connectionTimeout: 3000,
  // Failures are reported to the main thread, which logs them; kafkajs would repeat each one many times.
  logLevel: logLevel.NOTHING,
  // Our loop retries forever; kafkajs's own retries only smooth over a blip before we hear of it.
  retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
}).producer({
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
});

const queue: { chunk: Chunk; records: number }[] = [];
let deadline = Number.POSITIVE_INFINITY;
let closing = false;
let wake: (() => void) | undefined;

port.on("message", (m: ToWorker) => {
  if (m.type === "chunk") queue.push(m);
  else {
    closing = true;
    deadline = m.deadline;
    if (Number.isFinite(deadline)) setTimeout(() => wake?.(), Math.max(0, deadline - Date.now())).unref();
  }
  wake?.();
});

/** kafkajs messages of this thread's partitions, viewing the chunk's shared bytes: no copy. */
function decode(chunk: Chunk): TopicMessages[] {
  const bytes = Buffer.from(chunk.data);
  const perTopic: Message[][] = INPUT_TOPICS.map(() => []);
  for (let b = 0; b < chunk.batches.length; b += BATCH_FIELDS) {
    const partition = chunk.batches[b + 1] as number;
    if (partition % shards !== shard) continue;
    const into = perTopic[chunk.batches[b] as number] as Message[];
    const count = chunk.batches[b + 2] as number;
    let r = 2 * (chunk.batches[b + 3] as number);
    let offset = chunk.batches[b + 4] as number;
    for (let i = 0; i < count; i++, r += 2) {
      const keyEnd = offset + (chunk.lengths[r] as number);
      const valueEnd = keyEnd + (chunk.lengths[r + 1] as number);
      into.push({ partition, key: bytes.subarray(offset, keyEnd), value: bytes.subarray(keyEnd, valueEnd) });
      offset = valueEnd;
    }
  }
  return INPUT_TOPICS.flatMap((topic, t) => {
    const messages = perTopic[t] as Message[];
    return messages.length > 0 ? [{ topic, messages }] : [];
  });
}

async function run(): Promise<void> {
  let connected = false;
  for (;;) {
    const next = queue[0];
    if (closing && (next === undefined || Date.now() >= deadline)) break;
    if (next === undefined) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      continue;
    }
    try {
      if (!connected) {
        await producer.connect();
        connected = true;
      }
      await producer.sendBatch({ topicMessages: decode(next.chunk), acks: -1 });
      queue.shift();
      post({ type: "sent", records: next.records });
    } catch (err) {
      post({ type: "failed", error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  await producer.disconnect().catch(() => {});
  post({ type: "closed" });
}

void run();
