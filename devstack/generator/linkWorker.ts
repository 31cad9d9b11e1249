import { parentPort, workerData } from "node:worker_threads";
import { Kafka, logLevel, type Message, Partitioners, type Producer, type TopicMessages } from "kafkajs";
import { INPUT_TOPICS } from "../../common/topics.ts";
import type { Chunk } from "./batcher.ts";

// One link's Kafka producer, in a worker thread of its own so that encoding produce requests (the costly
// part of kafkajs) runs beside the model instead of taking turns with it. It sends the chunks it is given
// strictly one after the other: one request in flight (maxInFlightRequests: 1), acks from all replicas, and
// a chunk that failed is sent again before any later one, so each partition receives its records in the
// order they were generated. The producer is not idempotent (the librdkafka mock cannot serve kafkajs's
// idempotent handshake): a send that failed after Kafka stored part of it is stored twice on retry, the
// at-least-once of any plain collector.

export interface LinkWorkerData {
  id: string;
  brokers: string[];
}

export type ToWorker = { type: "chunk"; chunk: Chunk } | { type: "close"; deadline: number };
export type FromWorker =
  | { type: "sent"; records: number }
  | { type: "failed"; error: string }
  | { type: "closed" };

const RETRY_PAUSE_MS = 500;

const port = parentPort;
if (!port) throw new Error("linkWorker.ts runs as a worker thread (see linkWriter.ts)");
const { id, brokers } = workerData as LinkWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

const producer: Producer = new Kafka({
  clientId: `generator-${id}`,
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

const queue: Chunk[] = [];
let deadline = Number.POSITIVE_INFINITY;
let closing = false;
let wake: (() => void) | undefined;

port.on("message", (m: ToWorker) => {
  if (m.type === "chunk") queue.push(m.chunk);
  else {
    closing = true;
    deadline = m.deadline;
    if (Number.isFinite(deadline)) setTimeout(() => wake?.(), Math.max(0, deadline - Date.now())).unref();
  }
  wake?.();
});

/** kafkajs messages viewing the chunk's shared bytes: no copy, whichever link reads them. */
function decode(chunk: Chunk): TopicMessages[] {
  const bytes = Buffer.from(chunk.data);
  const perTopic: Message[][] = INPUT_TOPICS.map(() => []);
  let offset = 0;
  let r = 0;
  for (let b = 0; b < chunk.batches.length; b += 3) {
    const into = perTopic[chunk.batches[b] as number] as Message[];
    const partition = chunk.batches[b + 1] as number;
    const count = chunk.batches[b + 2] as number;
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
    const chunk = queue[0];
    if (closing && (chunk === undefined || Date.now() >= deadline)) break;
    if (chunk === undefined) {
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
      await producer.sendBatch({ topicMessages: decode(chunk), acks: -1 });
      queue.shift();
      post({ type: "sent", records: chunk.records });
    } catch (err) {
      post({ type: "failed", error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  await producer.disconnect().catch(() => {});
  post({ type: "closed" });
}

void run();
