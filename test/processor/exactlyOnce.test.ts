import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import { createLogger } from "../../common/logger.ts";
import { parseOrder, parsePayment, parseRefund } from "../../common/sources/trade.ts";
import { TOPICS } from "../../common/topics.ts";
import { feed, prepareDimensions } from "../../harness/feed.ts";
import {
  dayTotal,
  dumpValues,
  type ProcessorChild,
  settled,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { runBatch } from "../../processor/batchRunner.ts";
import { SellerTiers } from "../../processor/dimensions.ts";
import { LinkStore } from "../../processor/linkStore.ts";
import { parseRecords } from "../../processor/planner.ts";
import { kafkaTopics } from "../../processor/reconcile/sources.ts";
import { differencesFromRecompute } from "../support/recompute.ts";

const PARTITIONS = 4;
const clock = new BusinessClock("Asia/Shanghai");
const _log = createLogger("test");
const running: ProcessorChild[] = [];
const links: TestLink[] = [];

function processor(link: TestLink, categoryFile: string): ProcessorChild {
  const p = spawnProcessor(link, { DIM_CATEGORY_FILE: categoryFile });
  running.push(p);
  return p;
}

after(async () => {
  for (const p of running) await stopProcessor(p, "SIGKILL");
  for (const l of links) await l.stop();
});

/** GMV, paid orders and refunds counted the simplest possible way, independently of the processor's code. */
async function naiveTotals(
  truth: string,
): Promise<{ gmv: number; paidOrders: number; refundAmount: number; refunds: number }> {
  const ordered = new Set<string>();
  const paid = new Map<string, number>();
  const refunds = new Map<string, Map<string, number>>();
  const lines = createInterface({
    input: createReadStream(truth, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    const r = JSON.parse(line) as { topic: string; value: string };
    if (r.topic === TOPICS.orders) {
      const o = parseOrder(r.value);
      if (o.ok) ordered.add(o.event.orderId);
    } else if (r.topic === TOPICS.payments) {
      const p = parsePayment(r.value);
      if (p.ok && !paid.has(p.event.orderId)) paid.set(p.event.orderId, p.event.amount);
    } else if (r.topic === TOPICS.refunds) {
      const f = parseRefund(r.value);
      if (!f.ok) continue;
      const byId = refunds.get(f.event.orderId) ?? new Map<string, number>();
      if (!byId.has(f.event.refundId)) byId.set(f.event.refundId, f.event.amount);
      refunds.set(f.event.orderId, byId);
    }
  }
  let gmv = 0;
  let paidOrders = 0;
  let refundAmount = 0;
  let refundCount = 0;
  for (const [orderId, amount] of paid) {
    if (!ordered.has(orderId)) continue;
    gmv += amount;
    paidOrders++;
    let left = amount;
    for (const asked of refunds.get(orderId)?.values() ?? []) {
      const counted = Math.min(asked, left);
      left -= counted;
      refundAmount += counted;
      if (counted > 0) refundCount++;
    }
  }
  return { gmv, paidOrders, refundAmount, refunds: refundCount };
}

describe("processor, exactly once", () => {
  it("equals the offline recompute after being killed -9 at random moments ten times", async () => {
    const link = await startTestLink("x", PARTITIONS);
    links.push(link);
    const dims = await prepareDimensions([link]);
    const feeding = feed([link], { count: 40_000, partitions: PARTITIONS });
    let p = processor(link, dims.categoryIndustry);
    for (let kill = 0; kill < 10; kill++) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 2_500));
      p.child.kill("SIGKILL");
      await p.exited;
      p = processor(link, dims.categoryIndustry);
    }
    const { truthFile: truth } = await feeding;
    await settled(link);
    assert.equal(
      await differencesFromRecompute(link, dims.categoryIndustry, { truth }),
      "",
      "the link differs from the recompute",
    );
    const naive = await naiveTotals(truth);
    assert.ok(naive.paidOrders > 1_000, `the feed paid enough orders (${naive.paidOrders})`);
    assert.equal(await dayTotal(link.client, "paid_orders"), naive.paidOrders);
    assert.equal(await dayTotal(link.client, "gmv"), naive.gmv);
    assert.ok(naive.refunds > 20, `the feed refunded enough orders (${naive.refunds})`);
    assert.equal(await dayTotal(link.client, "refunds"), naive.refunds);
    assert.equal(await dayTotal(link.client, "refund_amount"), naive.refundAmount);
    assert.equal(await stopProcessor(p), 0);
  });

  it("changes nothing when every record is replayed from offset 0", async () => {
    const link = links[0] as TestLink;
    const before = await dumpValues(link.client);
    const store = new LinkStore(link.client);
    const ctx = {
      store,
      tables: {
        category_industry: { resolve: async () => {}, lookup: () => "replayed" },
        seller_tier: new SellerTiers(link.client, 1_000, 60_000),
      },
      clock,
      latenessMs: 5_000,
      futureMs: 3_600_000,
      keyTtlSeconds: 3_600,
      onGap: async () => assert.fail("a replay has no gap"),
    };
    let replayed = 0;
    for await (const r of kafkaTopics([link.kafka.bootstrap])) {
      const records = parseRecords(r.topic, [
        {
          offset: String(r.offset),
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
        },
      ]);
      const outcome = await runBatch(ctx, r.topic, r.partition, records);
      assert.equal(outcome.result, "replay");
      replayed++;
    }
    assert.ok(replayed >= 40_000, `replayed ${replayed} records`);
    assert.deepEqual(await dumpValues(link.client), before);
  });

  it("shares partitions between two members and loses or doubles nothing when one is killed", async () => {
    const link = await startTestLink("y", PARTITIONS);
    links.push(link);
    const dims = await prepareDimensions([link]);
    const first = processor(link, dims.categoryIndustry);
    const second = processor(link, dims.categoryIndustry);
    const feeding = feed([link], { count: 30_000, partitions: PARTITIONS });
    await waitFor("both members to hold partitions", async () => {
      const beats = Object.values(await link.client.hgetall(keys.heartbeats)).map((hb) => JSON.parse(hb));
      const holding = beats.filter((b) =>
        Object.values(b.partitions as Record<string, number[]>).some((ps) => ps.length > 0),
      );
      return holding.length === 2;
    });
    first.child.kill("SIGKILL");
    const { truthFile: truth } = await feeding;
    await settled(link);
    assert.equal(await differencesFromRecompute(link, dims.categoryIndustry, { truth }), "");
    assert.equal(await stopProcessor(second), 0);
  });

  it("gives two links fed the same events identical values and closed-minute digests", async () => {
    const [a, b] = await Promise.all([startTestLink("p", PARTITIONS), startTestLink("q", PARTITIONS)]);
    links.push(a, b);
    const dims = await prepareDimensions([a, b]);
    const pa = processor(a, dims.categoryIndustry);
    const pb = processor(b, dims.categoryIndustry);
    await feed([a, b], { count: 30_000, partitions: PARTITIONS });
    await Promise.all([settled(a), settled(b)]);
    const [va, vb] = [await dumpValues(a.client), await dumpValues(b.client)];
    const digests = Object.keys(va).filter((k) => k.startsWith("os:digest:"));
    assert.ok(digests.length > 0, "minutes were closed and digested");
    assert.deepEqual(va, vb);
    assert.equal(await stopProcessor(pa), 0);
    assert.equal(await stopProcessor(pb), 0);
  });
});
