import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type EmbeddedKafka, startEmbeddedKafka } from "../../devstack/kafka/launcher.ts";
import { fixturePath, type JsonChild, killChild, spawnJsonChild } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../../devstack/kafka/main.ts", import.meta.url));

function canConnect(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(":");
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitUntilRefused(hostPort: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await canConnect(hostPort))) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

describe("embedded kafka process and launcher", () => {
  const started: EmbeddedKafka[] = [];
  const parents: JsonChild[] = [];
  const orphans: number[] = [];
  after(async () => {
    await Promise.all(started.map((k) => k.stop()));
    await Promise.all(parents.map((p) => killChild(p)));
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  });

  it("reports where it listens, and stops on SIGTERM with exit code 0", async () => {
    const kafka = await startEmbeddedKafka({ linkId: "l", partitions: 2, brokers: 2 });
    started.push(kafka);
    assert.equal(kafka.linkId, "l");
    assert.equal(kafka.partitions, 2);
    const brokers = kafka.bootstrap.split(",");
    assert.equal(brokers.length, 2);
    for (const b of brokers) assert.match(b, /^127\.0\.0\.1:\d+$/);
    assert.match(kafka.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(await canConnect(brokers[0] as string));

    await kafka.stop();
    assert.equal(await kafka.exited, 0);
    assert.equal(await canConnect(brokers[0] as string), false);
    assert.throws(() => process.kill(kafka.pid, 0), /ESRCH/);
  });

  it("goes away with its parent, even when the parent is killed with -9", async () => {
    const parent = spawnJsonChild(fixturePath("launchAndWait.ts"), {});
    parents.push(parent);
    const line = await parent.waitFor((l) => l.event === "started", 20_000, "embedded kafka started");
    orphans.push(line.pid as number);
    const bootstrap = line.bootstrap as string;
    assert.ok(await canConnect(bootstrap));
    await killChild(parent, "SIGKILL");
    assert.ok(await waitUntilRefused(bootstrap, 10_000), "the orphaned embedded kafka still listens");
  });

  it("says how to install librdkafka when it is missing", async () => {
    await assert.rejects(
      startEmbeddedKafka({ linkId: "m", env: { LIBRDKAFKA_PATH: "/nonexistent/librdkafka.so.1" } }),
      /exited \(1\) before it was ready[\s\S]*librdkafka not found \(\/nonexistent\/librdkafka\.so\.1[\s\S]*apt-get install librdkafka1/,
    );
    const direct = spawnSync(process.execPath, ["--import", "tsx", MAIN], {
      env: { ...process.env, LIBRDKAFKA_PATH: "/nonexistent/librdkafka.so.1" },
      encoding: "utf8",
    });
    assert.notEqual(direct.status, 0);
    assert.match(direct.stdout, /librdkafka not found.*apt-get install librdkafka1/);
  });

  it("refuses a bad setting, naming it", async () => {
    await assert.rejects(
      startEmbeddedKafka({ linkId: "c", partitions: 0 }),
      /KAFKA_PARTITIONS="0": must be at least 1/,
    );
  });
});
