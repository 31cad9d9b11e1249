import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Kafka, logLevel, type Producer } from "kafkajs";
import { TOPICS } from "../../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { fixturePath, type JsonChild, killChild, spawnJsonChild } from "./helpers.ts";

const PARTITIONS = 4;
const ALL = Array.from({ length: PARTITIONS }, (_, p) => p);

type Line = Record<string, unknown>;
const assigned = (line: Line) => (line.event === "assigned" ? (line.partitions as number[]) : null);
const lastAssignment = (child: JsonChild) =>
  child.lines
    .map(assigned)
    .filter((p) => p !== null)
    .at(-1) ?? [];

describe("consumer group of two processes", () => {
  let kafka: EmbeddedKafka;
  let producer: Producer;
  const members: JsonChild[] = [];

  before(async () => {
    kafka = await startEmbeddedKafka({ linkId: "g", partitions: PARTITIONS, brokers: 1 });
    const client = new Kafka({
      clientId: "group-test",
      brokers: kafka.bootstrap.split(","),
      logLevel: logLevel.NOTHING,
    });
    producer = client.producer();
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect();
    await Promise.all(members.map((m) => killChild(m)));
    await kafka?.stop();
  });

  const member = (name: string) => {
    const child = spawnJsonChild(fixturePath("groupMember.ts"), {
      BOOTSTRAP: kafka.bootstrap,
      GROUP_ID: "group-test",
      TOPIC: TOPICS.orders,
      MEMBER_NAME: name,
    });
    members.push(child);
    return child;
  };

  const sendToEveryPartition = (tag: string) =>
    producer.send({
      topic: TOPICS.orders,
      messages: ALL.map((partition) => ({ partition, value: `${tag}-${partition}` })),
    });

  const seenBy = (child: JsonChild, tag: string, partition: number) =>
    child.waitFor(
      (l) => l.event === "message" && l.value === `${tag}-${partition}`,
      20_000,
      `${child.lines[0]?.member ?? "member"} receives ${tag} on partition ${partition}`,
    );

  it("splits the partitions, and a killed member's partitions go to the survivor", async () => {
    const a = member("a");
    await a.waitFor((l) => assigned(l)?.length === PARTITIONS, 30_000, "a owns every partition");

    const b = member("b");
    await b.waitFor((l) => (assigned(l)?.length ?? 0) > 0, 30_000, "b gets partitions");
    await a.waitFor((l) => (assigned(l)?.length ?? PARTITIONS) < PARTITIONS, 30_000, "a gives some up");
    const ofA = lastAssignment(a);
    const ofB = lastAssignment(b);
    assert.deepEqual([...ofA, ...ofB].sort(), ALL, `a=${ofA} b=${ofB} must split the partitions`);

    await sendToEveryPartition("before");
    await Promise.all([...ofA.map((p) => seenBy(a, "before", p)), ...ofB.map((p) => seenBy(b, "before", p))]);

    await killChild(a, "SIGKILL");
    // The coordinator notices only when a's session (6 s) expires; then b rejoins and takes everything.
    await b.waitFor((l) => assigned(l)?.length === PARTITIONS, 40_000, "b takes over every partition");

    await sendToEveryPartition("after");
    await Promise.all(ofA.map((p) => seenBy(b, "after", p)));
    assert.deepEqual(
      members.flatMap((m) => m.lines.filter((l) => l.event === "crash")),
      [],
      "no member crashed",
    );
  });
});
