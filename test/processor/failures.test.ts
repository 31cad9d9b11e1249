import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keys } from "../../common/keys.ts";
import { TOPICS } from "../../common/topics.ts";
import {
  caughtUp,
  overflowPartition,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { EXIT } from "../../processor/linkProcessor.ts";

const T0 = Date.now() - 60_000;

function ad(i: number, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    eventId: `e-${i}`,
    kind: i % 10 === 0 ? "click" : "impression",
    advertiserId: `adv-${i % 3}`,
    costMicros: 1500,
    eventTime: T0 + i * 10,
    ...extra,
  });
}

describe("processor under bad input and failures", () => {
  let link: TestLink;

  before(async () => {
    link = await startTestLink("f", 2);
  });

  after(async () => {
    await link.stop();
  });

  it("copies bad events to the dead-letter topic, counts them by reason, and keeps going", async () => {
    const producer = link.kafkaClient.producer();
    await producer.connect();
    await producer.send({
      topic: TOPICS.ads,
      messages: [
        { partition: 0, value: ad(1) },
        { partition: 0, value: "{garbage" },
        { partition: 0, value: ad(2, { costMicros: -1 }) },
        { partition: 0, value: ad(3) },
        { partition: 1, value: ad(4) },
      ],
    });
    await producer.disconnect();
    const p = spawnProcessor(link);
    await waitFor("the ads partitions to be applied", async () => {
      const stored = await link.client.hgetall(keys.offsets);
      return stored[`${TOPICS.ads}:0`] === "4" && stored[`${TOPICS.ads}:1`] === "1";
    });
    assert.equal(await stopProcessor(p), 0, "SIGTERM exits 0");

    const counters = await link.client.hgetall(keys.counters);
    assert.equal(counters["dead_letter:unparseable"], "1");
    assert.equal(counters["dead_letter:invalid_costMicros"], "1");
    const date = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(T0);
    assert.equal(await link.client.zscore(keys.day(date, "ad_impressions", "all"), "all"), "3");

    const consumer = link.kafkaClient.consumer({ groupId: "dlq-reader" });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.deadLetter, fromBeginning: true });
    const letters: { key: string; reason: string; value: string }[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push({
          key: String(message.key),
          reason: String(message.headers?.reason),
          value: String(message.value),
        });
      },
    });
    await waitFor("two dead letters", () => letters.length >= 2, 30_000);
    await consumer.disconnect();
    assert.deepEqual(letters.map((l) => [l.key, l.reason]).sort(), [
      [`${TOPICS.ads}:0:1`, "unparseable"],
      [`${TOPICS.ads}:0:2`, "invalid_costMicros"],
    ]);
    assert.equal(letters.find((l) => l.reason === "unparseable")?.value, "{garbage");
  });

  it("refuses to run on state written with other semantics (exit 3)", async () => {
    await link.client.hset(keys.meta, "timeZone", "Europe/Paris");
    const p = spawnProcessor(link);
    assert.equal(await p.exited, EXIT.incompatibleState);
    assert.match(p.output(), /timeZone/);
    await link.client.hset(keys.meta, "timeZone", "Asia/Shanghai");
  });

  it("stops with exit 2 when Kafka deleted records this link never processed", async () => {
    await overflowPartition(link, TOPICS.ads, 1, (n, pad) => ad(100 + n, { pad }));
    const admin = link.kafkaClient.admin();
    await admin.connect();
    const low = Number((await admin.fetchTopicOffsets(TOPICS.ads)).find((p) => p.partition === 1)?.low);
    await admin.disconnect();
    assert.ok(low > 1, `the log start moved past the stored offset (low=${low})`);

    const p = spawnProcessor(link);
    assert.equal(await p.exited, EXIT.dataLoss);
    assert.match(p.output(), /DATA LOSS/);
    assert.equal(await link.client.hget(keys.counters, `data_loss:${TOPICS.ads}:1`), String(low - 1));
  });

  it("skips lost data loudly when told to (ON_DATA_LOSS=skip) and catches up", async () => {
    const p = spawnProcessor(link, { ON_DATA_LOSS: "skip" });
    await waitFor("the link to catch up past the gap", () => caughtUp(link));
    assert.equal(await stopProcessor(p), 0);
    assert.match(p.output(), /DATA LOSS skipped/);
  });

  it("exits 1 soon after its Redis goes away, so the supervisor can restart it", async () => {
    const p = spawnProcessor(link, { DEPENDENCY_TIMEOUT: "1s" });
    await waitFor(
      "the processor to write a heartbeat",
      async () => (await link.client.hlen(keys.heartbeats)) > 0,
    );
    await link.redis.stop();
    assert.equal(await p.exited, EXIT.dependencyLost, p.output());
    // Either the watchdog fires, or a Redis command in flight exhausts its retries first: both exit 1.
    assert.match(p.output(), /unreachable|max retries/);
  });
});
