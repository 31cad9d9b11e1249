import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { type OrderEvent, parseAd, parseOrder, parsePayment } from "../../common/events.ts";
import { TOPICS } from "../../common/topics.ts";
import {
  type GenRecord,
  type ModelOptions,
  partitionOf,
  TrafficModel,
} from "../../devstack/generator/model.ts";

const START = Date.parse("2026-11-10T15:58:00Z");
const SMALL = { sellers: 2000, buyers: 50_000, categories: 300, industries: 25, advertisers: 200 };

function options(over: Partial<ModelOptions> = {}): ModelOptions {
  return {
    seed: "test-seed",
    startTime: START,
    partitions: 8,
    profile: { baseRate: 2000, peakMultiplier: 20, peakAfterMs: 30_000, peakDurationMs: 10_000 },
    malformedFraction: 0.01,
    lateFraction: 0.02,
    lateByMs: 120_000,
    population: SMALL,
    ...over,
  };
}

function digest(model: TrafficModel, n: number): string {
  const h = createHash("sha256");
  for (let i = 0; i < n; i++) {
    const r = model.next();
    h.update(`${r.topic}\t${r.partition}\t${r.key}\t${r.value}\n`);
  }
  return h.digest("hex");
}

interface Seen extends GenRecord {
  /** The virtual clock when the record was produced. */
  at: number;
}

function take(model: TrafficModel, n: number): Seen[] {
  const out: Seen[] = [];
  for (let i = 0; i < n; i++) {
    const at = model.now;
    const r = model.next();
    out.push({ topic: r.topic, partition: r.partition, key: r.key, value: r.value, at });
  }
  return out;
}

function byOrderId(orders: OrderEvent[]): Map<string, OrderEvent[]> {
  const m = new Map<string, OrderEvent[]>();
  for (const o of orders) m.set(o.orderId, [...(m.get(o.orderId) ?? []), o]);
  return m;
}

const parsers = { [TOPICS.orders]: parseOrder, [TOPICS.payments]: parsePayment, [TOPICS.ads]: parseAd };

describe("generator model", () => {
  it("gives identical records for the same seed and start time, different ones otherwise", () => {
    const a = digest(new TrafficModel(options()), 50_000);
    assert.equal(digest(new TrafficModel(options()), 50_000), a);
    assert.notEqual(digest(new TrafficModel(options({ seed: "other-seed" })), 50_000), a);
    assert.notEqual(digest(new TrafficModel(options({ startTime: START + 1000 })), 50_000), a);
  });

  describe("on 150k records", () => {
    const model = new TrafficModel(options());
    const records = take(model, 150_000);
    const good = records.flatMap((r) => {
      const parsed = parsers[r.topic](r.value);
      return parsed.ok ? [{ ...r, event: parsed.event }] : [];
    });
    const orders = good.filter((r) => r.topic === TOPICS.orders).map((r) => r.event as OrderEvent);
    const payments = good.filter((r) => r.topic === TOPICS.payments);

    it("makes exactly the malformed records fail the schema, at about the configured fraction", () => {
      const bad = records.length - good.length;
      assert.equal(bad, model.counts.malformed);
      assert.ok(Math.abs(bad / records.length - 0.01) < 0.002, `malformed share ${bad / records.length}`);
      const badValues = records.filter((r) => !parsers[r.topic](r.value).ok).map((r) => r.value);
      assert.ok(
        badValues.some((v) => !v.endsWith("}")),
        "some are unparseable",
      );
      assert.ok(
        badValues.some((v) => v.includes(":-")),
        "some have a negative amount",
      );
    });

    it("pushes the configured fraction of good records back by the lateness", () => {
      const late = good.filter((r) => r.at - (r.event as { eventTime: number }).eventTime >= 120_000);
      assert.equal(late.length, model.counts.late);
      assert.ok(
        Math.abs(late.length / good.length - 0.02) < 0.004,
        `late share ${late.length / good.length}`,
      );
    });

    it("keeps an order's buyer, seller and category across its versions", () => {
      const first = new Map<string, OrderEvent>();
      for (const o of orders) {
        const f = first.get(o.orderId) ?? o;
        first.set(o.orderId, f);
        assert.deepEqual(
          [o.buyerId, o.sellerId, o.categoryId],
          [f.buyerId, f.sellerId, f.categoryId],
          o.orderId,
        );
      }
      const amountChanged = [...byOrderId(orders).values()].filter(
        (vs) => new Set(vs.map((v) => v.amount)).size > 1,
      );
      assert.ok(amountChanged.length > 0, "some orders change their amount");
    });

    it("co-partitions orders and payments by order id", () => {
      for (const r of good.filter((g) => g.topic !== TOPICS.ads)) {
        const orderId = (r.event as { orderId: string }).orderId;
        assert.equal(r.key, orderId);
        assert.equal(r.partition, partitionOf(orderId, 8));
      }
      for (const r of good.filter((g) => g.topic === TOPICS.ads)) {
        assert.equal(r.key, (r.event as { eventId: string }).eventId);
        assert.equal(r.partition, partitionOf(r.key, 8));
      }
    });

    it("pays the order's amount at payment time, by its buyer, and never pays a cancelled order", () => {
      const byOrder = byOrderId(orders);
      let checked = 0;
      for (const p of payments) {
        const e = p.event as { orderId: string; buyerId: string; amount: number };
        const versions = byOrder.get(e.orderId) ?? [];
        const paid = versions.find((v) => v.status === "paid");
        if (paid) {
          assert.equal(e.amount, paid.amount);
          assert.equal(e.buyerId, paid.buyerId);
          checked++;
        }
        assert.ok(!versions.some((v) => v.status === "cancelled"), `${e.orderId} paid and cancelled`);
      }
      assert.ok(checked > 1000, `checked ${checked} payments`);
    });

    it("sends duplicates, versions out of order, and payments before their order", () => {
      const values = new Set<string>();
      let duplicates = 0;
      for (const r of good.filter((g) => g.topic !== TOPICS.ads)) {
        if (values.has(r.value)) duplicates++;
        values.add(r.value);
      }
      assert.ok(duplicates > 0 && duplicates === model.counts.duplicates, `duplicates ${duplicates}`);

      const highest = new Map<string, number>();
      let outOfOrder = 0;
      for (const o of orders) {
        if (o.version < (highest.get(o.orderId) ?? 0)) outOfOrder++;
        highest.set(o.orderId, Math.max(o.version, highest.get(o.orderId) ?? 0));
      }
      assert.ok(outOfOrder > 0, "a version arrives after a later one");

      const seenOrders = new Set<string>();
      let paymentFirst = 0;
      for (const r of good) {
        if (r.topic === TOPICS.orders) seenOrders.add(r.key);
        if (r.topic === TOPICS.payments && !seenOrders.has(r.key)) paymentFirst++;
      }
      assert.ok(paymentFirst > 0, "a payment arrives before any version of its order");
    });

    it("draws sellers with a skew: the top 1% take a large share of orders", () => {
      const v1 = orders.filter((o) => o.version === 1);
      const top = v1.filter((o) => Number(o.sellerId.slice(2)) <= SMALL.sellers / 100).length;
      assert.ok(top / v1.length > 0.2, `top sellers' share ${top / v1.length}`);
    });

    it("mixes impressions with a few costlier clicks", () => {
      const ads = good
        .filter((g) => g.topic === TOPICS.ads)
        .map((g) => g.event as { kind: string; costMicros: number });
      const clicks = ads.filter((a) => a.kind === "click");
      assert.ok(clicks.length > 0 && clicks.length / ads.length < 0.1);
      const mean = (xs: { costMicros: number }[]) => xs.reduce((s, x) => s + x.costMicros, 0) / xs.length;
      assert.ok(mean(clicks) > 10 * mean(ads.filter((a) => a.kind === "impression")));
    });

    it("follows the rate profile: 20x the records per second of event time during the peak", () => {
      const inSecond = (from: number) =>
        records.filter((r) => r.at >= START + from && r.at < START + from + 1000).length;
      assert.equal(inSecond(5000), 2000);
      assert.ok(Math.abs(inSecond(31_000) - 40_000) <= 2, `peak second: ${inSecond(31_000)}`);
    });
  });
});
