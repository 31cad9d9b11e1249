import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, describe, it } from "node:test";
import { keys } from "../../common/keys.ts";
import { TOPICS } from "../../common/topics.ts";
import { freePort } from "../../devstack/supervisor/freePort.ts";
import { feed, prepareDimensions } from "../../harness/feed.ts";
import {
  caughtUp,
  type ProcessorChild,
  processorMetric,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { differencesFromRecompute } from "../support/recompute.ts";

// A member frozen after it planned a batch against a snapshot and sent the apply, while its partitions move to
// another member (a long GC pause, SIGSTOP, a partition), must not apply that batch when it wakes: the offset
// fence in applyBatch.lua refuses it. Without the fence the batch would be counted twice.

const PARTITIONS = 2;
const ADS_PARTITION = `${TOPICS.ads}:`;

/**
 * A TCP relay in front of the link's Redis for one member. Its first apply of an ads batch (a script call
 * naming the counters key, which only applyBatch.lua receives, and an ads partition) and everything after it
 * is held back until `release`: the member has read its snapshot and sent its batch, and nothing of it reaches
 * Redis yet. An ads batch always counts facts, so applying it twice shows in the values.
 */
interface HoldingRelay {
  port: number;
  held: Promise<void>;
  release(): void;
  close(): Promise<void>;
}

async function holdingRelay(redisPort: number): Promise<HoldingRelay> {
  let holding = false;
  let markHeld = () => {};
  const held = new Promise<void>((resolve) => {
    markHeld = resolve;
  });
  const waiting: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(redisPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1").toLowerCase();
      if (!holding && text.includes("eval") && text.includes(keys.counters) && text.includes(ADS_PARTITION)) {
        holding = true;
        markHeld();
      }
      if (holding) waiting.push(() => upstream.write(chunk));
      else upstream.write(chunk);
    });
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    held,
    release() {
      holding = false;
      for (const send of waiting.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("processor, offset fence", () => {
  const running: ProcessorChild[] = [];
  let link: TestLink | undefined;
  let relay: HoldingRelay | undefined;

  after(async () => {
    for (const p of running) {
      p.child.kill("SIGCONT");
      await stopProcessor(p, "SIGKILL");
    }
    await relay?.close();
    await link?.stop();
  });

  it("refuses the batch of a member frozen while its partitions moved to another member", async () => {
    link = await startTestLink("z", PARTITIONS);
    const dims = await prepareDimensions([link]);
    const { truthFile: truth } = await feed([link], { count: 3_000, partitions: PARTITIONS });

    relay = await holdingRelay(Number(new URL(link.redis.url).port));
    const metricsPort = await freePort();
    const env = { DIM_CATEGORY_FILE: dims.categoryIndustry };
    const zombie = spawnProcessor(link, {
      ...env,
      REDIS_URL: `redis://127.0.0.1:${relay.port}`,
      PROCESSOR_PORT: String(metricsPort),
    });
    running.push(zombie);
    await relay.held;
    zombie.child.kill("SIGSTOP");
    // Trade batches, consumed side by side with the ads ones, may have been applied already; no ads batch has.
    const applied = await link.client.hkeys(keys.offsets);
    assert.deepEqual(
      applied.filter((tp) => tp.startsWith(ADS_PARTITION)),
      [],
      "the frozen member applied no ads batch yet",
    );

    // The frozen member misses its Kafka heartbeats: the group hands every partition to the new member.
    const successor = spawnProcessor(link, env);
    running.push(successor);
    await waitFor("the new member to apply everything", () => caughtUp(link as TestLink), 40_000);

    relay.release();
    zombie.child.kill("SIGCONT");
    // Its held batch is either fenced off or (were the fence missing) applied on top of the new member's.
    const batches = (result: string) =>
      processorMetric(metricsPort, "oneservice_processor_batches_total", { result });
    await waitFor(
      "the frozen member's held batch to be answered",
      async () => (await batches("fenced")) + (await batches("applied")) > 0,
    );

    await waitFor("the link to hold every record", () => caughtUp(link as TestLink));
    assert.equal(
      await differencesFromRecompute(link, dims.categoryIndustry, { truth }),
      "",
      "the link differs from the recompute: the frozen member's batch was applied on top",
    );
    assert.ok((await batches("fenced")) > 0, "the fenced batch is counted");
    assert.match(zombie.output(), /batch fenced off/);
  });
});
