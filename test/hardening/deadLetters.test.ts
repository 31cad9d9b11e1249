import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import pino from "pino";
import { TOPICS } from "../../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { waitFor } from "../../harness/links.ts";
import { DeadLetterSink } from "../../processor/deadLetters.ts";
import type { DeadLetter } from "../../processor/planner.ts";
import { admin } from "../kafka/helpers.ts";

// Dead-lettering never holds up a batch: letters are spooled and sent behind it in bounded chunks, values over
// the cap are cut, a topic that refuses (here: MESSAGE_TOO_LARGE for every produce, through the embedded
// Kafka's fault endpoint) only costs a counted failure and a retry, and the spool stays within its bound.

const PRODUCE = 0;
const MESSAGE_TOO_LARGE = 10;

function letters(count: number, bytes: number, from = 0): DeadLetter[] {
  return Array.from({ length: count }, (_, i) => ({
    record: { offset: String(from + i), key: null, value: Buffer.alloc(bytes, 0xff) },
    reason: "unparseable",
  }));
}

describe("hardening: dead letters", () => {
  let kafka: EmbeddedKafka;
  let producer: Producer;
  let kafkaAdmin: Admin;
  const counts = { failed: 0, dropped: 0, spooled: 0 };
  let sink: DeadLetterSink;

  const delivered = async () =>
    Number((await kafkaAdmin.fetchTopicOffsets(TOPICS.deadLetter)).reduce((n, p) => n + Number(p.high), 0));

  before(async () => {
    kafka = await startEmbeddedKafka({ linkId: "dl", partitions: 1, brokers: 1 });
    const client = new Kafka({
      clientId: "dead-letter-test",
      brokers: kafka.bootstrap.split(","),
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
    });
    producer = client.producer();
    kafkaAdmin = client.admin();
    await Promise.all([producer.connect(), kafkaAdmin.connect()]);
    sink = new DeadLetterSink(
      producer,
      {
        sendFailed: () => {
          counts.failed += 1;
        },
        dropped: (n) => {
          counts.dropped += n;
        },
        spooled: (bytes) => {
          counts.spooled = bytes;
        },
      },
      pino({ level: "silent" }),
      { maxValueBytes: 1_024, chunkMessages: 10, chunkBytes: 8_192, spoolBytes: 64 * 1_024, retryMs: 50 },
    );
  });
  after(async () => {
    await sink.close();
    await Promise.all([producer?.disconnect(), kafkaAdmin?.disconnect()]);
    await kafka?.stop();
  });

  it("returns at once while the topic refuses, keeps the spool bounded, and delivers once it accepts", async () => {
    const pushed = await admin(kafka.adminUrl, "POST", "/request-errors", {
      apiKey: PRODUCE,
      errors: [MESSAGE_TOO_LARGE],
      count: 1_000,
    });
    assert.equal(pushed.status, 200);
    const start = await delivered();
    // A burst of huge poison records: each is cut to 1 KiB; 500 of them are far over the 64 KiB spool.
    sink.enqueue(TOPICS.orders, 0, letters(500, 256 * 1_024));
    assert.ok(sink.pending > 0, "enqueue returned before anything was sent");
    await waitFor("a refused send", () => counts.failed >= 2);
    assert.ok(counts.spooled <= 64 * 1_024, `spool ${counts.spooled} bytes`);
    assert.ok(counts.dropped > 0, "the oldest letters were dropped, and counted");
    assert.equal(await delivered(), start);

    assert.equal((await admin(kafka.adminUrl, "DELETE", `/request-errors/${PRODUCE}`)).status, 200);
    await waitFor("the spool to drain", () => sink.pending === 0);
    assert.equal(counts.spooled, 0);
    assert.equal(await delivered(), start + 500 - counts.dropped);
  });
});
