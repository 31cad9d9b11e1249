import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Admin, Kafka, logLevel, type Producer } from "kafkajs";
import { TOPICS } from "../../common/topics.ts";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { admin } from "./helpers.ts";

const BROKERS = 3;
const PARTITIONS = 3;
const PRODUCE_API_KEY = 0;
const INVALID_RECORD = 87;
const FAULT_CLI = fileURLToPath(new URL("../../devstack/kafka/faultCli.ts", import.meta.url));

describe("fault injection through the admin endpoint", () => {
  let kafka: EmbeddedKafka;
  let client: Kafka;
  let kafkaAdmin: Admin;
  let producer: Producer;

  const send = (partition: number) =>
    producer.send({ topic: TOPICS.orders, messages: [{ partition, value: `to-${partition}` }] });

  const leaderOf = async (partition: number) => {
    const { topics } = await kafkaAdmin.fetchTopicMetadata({ topics: [TOPICS.orders] });
    const leader = topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    assert.ok(leader !== undefined && leader > 0, `partition ${partition} has a leader`);
    return leader;
  };

  before(async () => {
    kafka = await startEmbeddedKafka({ linkId: "f", partitions: PARTITIONS, brokers: BROKERS });
    // Few, quick retries so that a refused send fails within a second or two.
    client = new Kafka({
      clientId: "fault-test",
      brokers: kafka.bootstrap.split(","),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    });
    kafkaAdmin = client.admin();
    producer = client.producer();
    await Promise.all([kafkaAdmin.connect(), producer.connect()]);
  });

  beforeEach(async () => {
    assert.equal((await admin(kafka.adminUrl, "POST", "/brokers/all/up")).status, 200);
    assert.equal((await admin(kafka.adminUrl, "POST", "/brokers/all/rtt", { ms: 0 })).status, 200);
    assert.equal((await admin(kafka.adminUrl, "DELETE", `/request-errors/${PRODUCE_API_KEY}`)).status, 200);
  });

  after(async () => {
    await Promise.all([kafkaAdmin?.disconnect(), producer?.disconnect()]);
    await kafka?.stop();
  });

  it("serves /healthz and a /status listing its brokers", async () => {
    assert.deepEqual((await admin(kafka.adminUrl, "GET", "/healthz")).body, { status: "ok" });
    const { status, body } = await admin(kafka.adminUrl, "GET", "/status");
    assert.equal(status, 200);
    assert.equal(body.link, "f");
    assert.equal(body.bootstrap, kafka.bootstrap);
    assert.equal((body.brokers as unknown[]).length, BROKERS);
  });

  it("all brokers down: sends fail; up again: sends succeed", async () => {
    await send(0);
    const down = await admin(kafka.adminUrl, "POST", "/brokers/all/down");
    assert.equal(down.status, 200);
    assert.ok((down.body.brokers as { up: boolean }[]).every((b) => !b.up));
    await assert.rejects(send(0), /ECONNREFUSED|Connection/);

    await admin(kafka.adminUrl, "POST", "/brokers/all/up");
    await send(0);
  });

  it("one broker down: only its partitions fail, until their leadership moves", async () => {
    const setLeader = (partition: number, brokerId: number) =>
      admin(kafka.adminUrl, "POST", `/topics/${TOPICS.orders}/partitions/${partition}/leader`, { brokerId });
    assert.equal((await setLeader(0, 1)).status, 200);
    assert.equal((await setLeader(1, 2)).status, 200);
    await Promise.all([send(0), send(1)]);

    await admin(kafka.adminUrl, "POST", "/brokers/1/down");
    await assert.rejects(send(0), /ECONNREFUSED|Connection/);
    // The sends that must succeed go through a client that, like a real one, retries long enough to find
    // the live broker: a metadata request may first pick the dead seed broker, and on a loaded machine
    // the few quick retries above can all land there.
    const patient = new Kafka({
      clientId: "fault-test-patient",
      brokers: kafka.bootstrap.split(","),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 500 },
    }).producer();
    await patient.connect();
    try {
      const sendPatiently = (partition: number) =>
        patient.send({ topic: TOPICS.orders, messages: [{ partition, value: `to-${partition}` }] });
      await sendPatiently(1);
      await setLeader(0, 2);
      await sendPatiently(0);
    } finally {
      await patient.disconnect();
    }
    assert.equal(await leaderOf(0), 2);
  });

  it("rtt delays every answer", async () => {
    const rttMs = 400;
    await admin(kafka.adminUrl, "POST", "/brokers/all/rtt", { ms: rttMs });
    const started = performance.now();
    await send(1);
    const took = performance.now() - started;
    // A lower bound only: a loaded machine can make it slower, never faster.
    assert.ok(took >= rttMs * 0.9, `send took ${Math.round(took)} ms with rtt ${rttMs} ms`);
  });

  it("pushed request errors reach the client with their code", async () => {
    const pushed = await admin(kafka.adminUrl, "POST", "/request-errors", {
      apiKey: PRODUCE_API_KEY,
      errors: [INVALID_RECORD],
    });
    assert.equal(pushed.status, 200);
    assert.deepEqual(pushed.body.errors, [{ code: INVALID_RECORD, name: "INVALID_RECORD" }]);
    await assert.rejects(send(2), (err: Error & { type?: string }) => {
      assert.equal(err.type, "INVALID_RECORD");
      return true;
    });
    await send(2);
  });

  it("rejects bad input with a 4xx JSON error", async () => {
    const cases: [string, "POST" | "DELETE", string, unknown, number][] = [
      ["unknown broker", "POST", "/brokers/9/down", undefined, 404],
      ["malformed broker id", "POST", "/brokers/x/up", undefined, 400],
      ["negative rtt", "POST", "/brokers/1/rtt", { ms: -1 }, 400],
      ["missing errors", "POST", "/request-errors", { apiKey: 0 }, 400],
      ["unknown error code", "POST", "/request-errors", { apiKey: 0, errors: [12345] }, 400],
      ["unknown topic", "POST", "/topics/nope/partitions/0/leader", { brokerId: 1 }, 404],
      ["unknown partition", "POST", `/topics/${TOPICS.orders}/partitions/99/leader`, { brokerId: 1 }, 404],
    ];
    for (const [what, method, path, body, expected] of cases) {
      const res = await admin(kafka.adminUrl, method, path, body);
      assert.equal(res.status, expected, what);
      assert.equal(typeof res.body.message, "string", what);
    }
  });

  it("faultCli drives the same endpoint", () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", FAULT_CLI, kafka.adminUrl, ...args], {
        encoding: "utf8",
      });
    const rtt = run("rtt", "2", "25");
    assert.equal(rtt.status, 0, rtt.stderr);
    const brokers = (JSON.parse(rtt.stdout) as { brokers: { id: number; rttMs: number }[] }).brokers;
    assert.equal(brokers.find((b) => b.id === 2)?.rttMs, 25);
    const refused = run("down", "9");
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /unknown broker/);
    assert.equal(run("bogus").status, 2);
  });
});
