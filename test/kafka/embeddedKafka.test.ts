import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import { ALL_TOPICS, TOPICS } from "../../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";

const PARTITIONS = 3;
const MOCK_PARTITION_MAX_BYTES = 5 * 1024 * 1024;

describe("embedded kafka with kafkajs", () => {
  let kafka: EmbeddedKafka;
  let client: Kafka;
  let admin: Admin;
  let producer: Producer;

  before(async () => {
    kafka = await startEmbeddedKafka({ linkId: "t", partitions: PARTITIONS, brokers: 1 });
    client = new Kafka({
      clientId: "embedded-test",
      brokers: kafka.bootstrap.split(","),
      logLevel: logLevel.NOTHING,
    });
    admin = client.admin();
    producer = client.producer({ allowAutoTopicCreation: false });
    await Promise.all([admin.connect(), producer.connect()]);
  });

  after(async () => {
    await Promise.all([admin?.disconnect(), producer?.disconnect()]);
    await kafka?.stop();
  });

  it("creates every catalog topic with the configured partition count", async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [...ALL_TOPICS] });
    assert.deepEqual(
      topics.map((t) => [t.name, t.partitions.length]).sort(),
      ALL_TOPICS.map((name) => [name, PARTITIONS]).sort(),
    );
  });

  it("delivers produced messages to a consumer group, keys and order per partition intact", async () => {
    const messages = Array.from({ length: 300 }, (_, i) => ({ key: `order-${i % 17}`, value: `v${i}` }));
    await producer.send({ topic: TOPICS.orders, messages });

    const consumer = client.consumer({ groupId: "embedded-test", maxWaitTimeInMs: 100 });
    const received: { key: string; value: string }[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.orders, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`received ${received.length} of ${messages.length}`)),
          30_000,
        );
        void consumer.run({
          eachMessage: async ({ message }) => {
            received.push({ key: String(message.key), value: String(message.value) });
            if (received.length === messages.length) resolve();
          },
        });
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    const byKey = (list: { key: string; value: string }[], key: string) =>
      list.filter((m) => m.key === key).map((m) => m.value);
    for (const key of new Set(messages.map((m) => m.key)))
      assert.deepEqual(byKey(received, key), byKey(messages, key));
  });

  // The producer's record encoding is patched (patches/kafkajs+2.2.4.patch): a large batch per partition,
  // timestamp deltas (from the batch's earliest) on both sides of the 30-bit fast path, and headers must
  // come back exactly as sent.
  it("round-trips one large batch with keys, timestamps and headers intact, in order", async () => {
    const earliest = 1_763_000_000_000;
    const deltas = [0, 1, 63, 64, 8191, 8192, 2 ** 30 - 1, 2 ** 30, 2 ** 31 + 5, 5e10];
    const messages = Array.from({ length: 2000 }, (_, i) => ({
      partition: 2,
      key: `k${i}`,
      value: `ts-${i}`,
      timestamp: String(earliest + (deltas[i % deltas.length] as number)),
      headers: i % 3 === 0 ? { trace: `t${i}`, many: [`a${i}`, `b${i}`] } : undefined,
    }));
    await producer.send({ topic: TOPICS.deadLetter, messages });

    const consumer = client.consumer({ groupId: "embedded-roundtrip", maxWaitTimeInMs: 100 });
    const received: (typeof messages)[number][] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.deadLetter, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`received ${received.length} of 2000`)), 30_000);
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            const headers =
              message.headers && Object.keys(message.headers).length > 0
                ? Object.fromEntries(
                    Object.entries(message.headers).map(([k, v]) => [
                      k,
                      Array.isArray(v) ? v.map(String) : String(v),
                    ]),
                  )
                : undefined;
            received.push({
              partition,
              key: String(message.key),
              value: String(message.value),
              timestamp: message.timestamp,
              headers: headers as (typeof messages)[number]["headers"],
            });
            if (received.length === messages.length) resolve();
          },
        });
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    assert.deepEqual(received, messages);
  });

  it("answers ListOffsets for earliest and latest; by timestamp it gives latest", async () => {
    await producer.send({
      topic: TOPICS.payments,
      messages: Array.from({ length: 5 }, (_, i) => ({ partition: 1, value: `p${i}` })),
    });
    const offsets = await admin.fetchTopicOffsets(TOPICS.payments);
    assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [
      [0, "0", "0"],
      [1, "0", "5"],
      [2, "0", "0"],
    ]);
    // The mock answers -1 to a ListOffsets by timestamp, which kafkajs turns into the latest offset.
    const byTime = await admin.fetchTopicOffsetsByTimestamp(TOPICS.payments, Date.now() - 3_600_000);
    assert.deepEqual(byTime.map((o) => [o.partition, o.offset]).sort(), [
      [0, "0"],
      [1, "5"],
      [2, "0"],
    ]);
  });

  it("keeps about 5 MiB per partition: writing more moves the log start offset", async () => {
    const value = "x".repeat(10_000);
    const perBatch = 10;
    const batches = 70; // 7 MB into one partition
    for (let i = 0; i < batches; i++) {
      await producer.send({
        topic: TOPICS.ads,
        messages: Array.from({ length: perBatch }, () => ({ partition: 0, value })),
      });
    }
    const p0 = (await admin.fetchTopicOffsets(TOPICS.ads)).find((o) => o.partition === 0);
    assert.ok(p0);
    assert.equal(p0.high, String(batches * perBatch));
    assert.ok(Number(p0.low) > 0, `log start offset moved (low=${p0.low})`);
    // Whole batches are deleted, oldest first, until the partition is back under 5 MiB before each append.
    const keptBytes = (Number(p0.high) - Number(p0.low)) * value.length;
    const batchBytes = perBatch * value.length;
    assert.ok(keptBytes <= MOCK_PARTITION_MAX_BYTES + batchBytes, `kept ${keptBytes} bytes`);
    assert.ok(keptBytes >= MOCK_PARTITION_MAX_BYTES - 2 * batchBytes, `kept ${keptBytes} bytes`);
  });
});
