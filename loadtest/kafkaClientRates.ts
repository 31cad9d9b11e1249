import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { CompressionTypes, Kafka, logLevel, type Message } from "kafkajs";
import { type EmbeddedKafka, startEmbeddedKafka } from "../devstack/kafka/launcher.ts";

// The raw kafkajs limit against the embedded Kafka: how fast one producer can write and one consumer can
// read, in messages/s and MB/s, for a few batch sizes and compressions. The pipeline benchmark is compared
// with these figures. Each scenario gets a fresh cluster so that no scenario reads another's data, and must
// stay under the mock's 5 MiB per partition so that nothing is deleted before it is read (checked). Reading
// is fast enough that one pass is over in a fraction of a second, so the consumer reads the data several
// times, each pass a new group from the beginning, timed from its first batch (the ~3 s join is not reading).
//
//   tsx loadtest/kafkaClientRates.ts [--messages 120000] [--batches 1000,5000] [--compression none,gzip]
//                                    [--brokers 1,3] [--partitions 8] [--inflight 1] [--passes 3]

const { values: opts } = parseArgs({
  options: {
    messages: { type: "string", default: "120000" },
    batches: { type: "string", default: "1000,5000" },
    compression: { type: "string", default: "none,gzip" },
    brokers: { type: "string", default: "1,3" },
    partitions: { type: "string", default: "8" },
    inflight: { type: "string", default: "1" },
    passes: { type: "string", default: "3" },
    "message-bytes": { type: "string", default: "200" },
  },
});

const numbers = (raw: string) => raw.split(",").map((x) => Number.parseInt(x, 10));
const TOTAL = Number(opts.messages);
const PARTITIONS = Number(opts.partitions);
const INFLIGHT = Number(opts.inflight);
const PASSES = Number(opts.passes);
const MESSAGE_BYTES = Number(opts["message-bytes"]);
const TOPIC = "trade.orders";
const COMPRESSIONS = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP } as const;
type CompressionName = keyof typeof COMPRESSIONS;

interface Scenario {
  brokers: number;
  batch: number;
  compression: CompressionName;
}

interface Result extends Scenario {
  produceMsgs: number;
  produceMB: number;
  consumeMsgs: number;
  consumeMB: number;
  messagesPerFetchedBatch: number;
}

/**
 * A JSON order event padded to exactly `bytes` bytes, so MB/s counts payload bytes. The pad is random so that
 * gzip gains only from the repeated field names, not from a run of one character.
 */
function orderEvent(i: number, bytes: number): string {
  const base = {
    type: "order",
    orderId: `o-${i}`,
    version: 1,
    sellerId: `s-${i % 977}`,
    amountCents: 1999,
    pad: "",
  };
  const padLength = Math.max(0, bytes - JSON.stringify(base).length);
  return JSON.stringify({ ...base, pad: randomBytes(padLength).toString("base64url").slice(0, padLength) });
}

function progress(label: string, done: number, startedAt: number): void {
  const seconds = (performance.now() - startedAt) / 1000;
  console.error(`  ${label}: ${done}/${TOTAL} messages, ${Math.round(done / seconds)} msg/s`);
}

async function produce(kafka: Kafka, s: Scenario): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages: Message[] = Array.from({ length: TOTAL }, (_, i) => ({
    key: `o-${i}`,
    value: orderEvent(i, MESSAGE_BYTES),
  }));
  let next = 0;
  let sent = 0;
  let lastReport = performance.now();
  const started = performance.now();
  const worker = async () => {
    while (next < TOTAL) {
      const batch = messages.slice(next, next + s.batch);
      next += batch.length;
      await producer.send({ topic: TOPIC, messages: batch, compression: COMPRESSIONS[s.compression] });
      sent += batch.length;
      if (performance.now() - lastReport > 1000) {
        lastReport = performance.now();
        progress("produce", sent, started);
      }
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return seconds;
}

async function assertNothingDeleted(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(TOPIC);
  await admin.disconnect();
  const moved = offsets.filter((o) => o.low !== "0");
  if (moved.length > 0)
    throw new Error(
      `the mock deleted data of partitions ${moved.map((o) => o.partition)} (over 5 MiB): use fewer --messages or more --partitions`,
    );
}

async function consume(kafka: Kafka, pass: number): Promise<{ seconds: number; batches: number }> {
  const consumer = kafka.consumer({ groupId: `rates-${pass}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  let received = 0;
  let batches = 0;
  let started = 0;
  let lastReport = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise((resolve, reject) => {
      // The group join (about 3 s on the mock) is not consumption: the clock starts at the first batch.
      timer = setTimeout(() => reject(new Error(`consumed only ${received} of ${TOTAL} in 120 s`)), 120_000);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          if (started === 0) started = lastReport = performance.now();
          received += batch.messages.length;
          batches++;
          if (performance.now() - lastReport > 1000) {
            lastReport = performance.now();
            progress("consume", received, started);
          }
          if (received >= TOTAL) resolve({ seconds: (performance.now() - started) / 1000, batches });
        },
      });
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

async function runScenario(s: Scenario): Promise<Result> {
  console.error(`brokers=${s.brokers} batch=${s.batch} compression=${s.compression}`);
  let embedded: EmbeddedKafka | undefined;
  try {
    embedded = await startEmbeddedKafka({ linkId: "bench", partitions: PARTITIONS, brokers: s.brokers });
    const kafka = new Kafka({
      clientId: "rates",
      brokers: embedded.bootstrap.split(","),
      logLevel: logLevel.WARN,
    });
    const produceSeconds = await produce(kafka, s);
    await assertNothingDeleted(kafka);
    let consumeSeconds = 0;
    let batches = 0;
    for (let pass = 1; pass <= PASSES; pass++) {
      const consumed = await consume(kafka, pass);
      consumeSeconds += consumed.seconds;
      batches += consumed.batches;
    }
    const mb = (TOTAL * MESSAGE_BYTES) / 1e6;
    return {
      ...s,
      produceMsgs: TOTAL / produceSeconds,
      produceMB: mb / produceSeconds,
      consumeMsgs: (TOTAL * PASSES) / consumeSeconds,
      consumeMB: (mb * PASSES) / consumeSeconds,
      messagesPerFetchedBatch: (TOTAL * PASSES) / batches,
    };
  } finally {
    await embedded?.stop();
  }
}

function table(results: Result[]): string {
  const header =
    "| brokers | batch | compression | produce msg/s | produce MB/s | consume msg/s | consume MB/s | msgs/fetched batch |";
  const rows = results.map((r) =>
    [
      r.brokers,
      r.batch,
      r.compression,
      Math.round(r.produceMsgs),
      r.produceMB.toFixed(1),
      Math.round(r.consumeMsgs),
      r.consumeMB.toFixed(1),
      Math.round(r.messagesPerFetchedBatch),
    ].join(" | "),
  );
  return [header, "|---|---|---|---|---|---|---|---|", ...rows.map((r) => `| ${r} |`)].join("\n");
}

const compressions = opts.compression.split(",") as CompressionName[];
for (const c of compressions)
  if (!(c in COMPRESSIONS)) throw new Error(`unknown compression ${c} (none, gzip)`);

async function main(): Promise<void> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  const results: Result[] = [];
  for (const brokers of numbers(opts.brokers))
    for (const batch of numbers(opts.batches))
      for (const compression of compressions)
        results.push(await runScenario({ brokers, batch, compression }));

  console.log(
    `\nkafkajs against the embedded Kafka: ${TOTAL} messages of ${MESSAGE_BYTES} bytes, ${PARTITIONS} partitions, ` +
      `${INFLIGHT} send(s) in flight, one producer, one consumer (eachBatch, ${PASSES} passes)\n`,
  );
  console.log(table(results));
}

main().catch((err: unknown) => {
  console.error(`kafkaClientRates: ${(err as Error).message}`);
  process.exit(1);
});
