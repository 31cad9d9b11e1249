import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import type { Parsed } from "../../common/events.ts";
import { parseAd } from "../../common/sources/ads.ts";
import {
  type OrderEvent,
  parseOrder,
  parsePayment,
  parseRefund,
  type RefundEvent,
} from "../../common/sources/trade.ts";
import { TOPICS } from "../../common/topics.ts";
import {
  type GenRecord,
  type ModelOptions,
  partitionOf,
  TrafficModel,
} from "../../devstack/generator/model.ts";
import { POISON_KINDS, type PoisonKind, poisonRecord } from "../../devstack/generator/poison.ts";
import { Rng } from "../../devstack/generator/random.ts";

const START = Date.parse("2026-11-10T15:58:00Z");
const SMALL = { sellers: 2000, buyers: 50_000, categories: 300, industries: 25, advertisers: 200 };

function options(over: Partial<ModelOptions> = {}): ModelOptions {
  return {
    seed: "test-seed",
    startTime: START,
    partitions: 8,
    profile: { baseRate: 2000, peakMultiplier: 20, peakAfterMs: 30_000, peakDurationMs: 10_000 },
    malformedFraction: 0.01,
    poisonFraction: 0,
    lateFraction: 0.02,
    lateByMs: 120_000,
    refundFraction: 0.05,
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

const parsers: Record<string, (value: string) => Parsed<unknown>> = {
  [TOPICS.orders]: parseOrder,
  [TOPICS.payments]: parsePayment,
  [TOPICS.refunds]: parseRefund,
  [TOPICS.ads]: parseAd,
};

function parse(r: GenRecord): Parsed<unknown> {
  const parser = parsers[r.topic];
  if (!parser) throw new Error(`no parser for topic ${r.topic}`);
  return parser(r.value);
}

describe("generator model", () => {
  it("gives identical records for the same seed and start time, different ones otherwise", () => {
    const a = digest(new TrafficModel(options()), 50_000);
    assert.equal(digest(new TrafficModel(options()), 50_000), a);
    assert.notEqual(digest(new TrafficModel(options({ seed: "other-seed" })), 50_000), a);
    assert.notEqual(digest(new TrafficModel(options({ startTime: START + 1000 })), 50_000), a);
  });

  it("makes poison records at about the configured fraction, every one refused by its topic's parser", () => {
    const model = new TrafficModel(options({ malformedFraction: 0, poisonFraction: 0.05 }));
    const records = take(model, 20_000);
    const refused = records.filter((r) => !parse(r).ok);
    assert.equal(refused.length, model.counts.poison);
    assert.ok(Math.abs(refused.length / records.length - 0.05) < 0.01, `poison share ${refused.length}`);

    // Every kind, on every topic, fails every source's schema without throwing.
    const rng = new Rng("poison");
    const seen = new Set<PoisonKind>();
    for (let i = 0; seen.size < POISON_KINDS.length && i < 10_000; i++) {
      const p = poisonRecord(rng, START);
      seen.add(p.kind);
      for (const parser of Object.values(parsers)) assert.equal(parser(p.value).ok, false, p.kind);
    }
    assert.deepEqual([...seen].sort(), [...POISON_KINDS].sort());
  });

  it("refunds a share of paid orders: some before their payment, some twice, a few beyond what was paid", () => {
    // 100 s of event time without a peak: refunds come up to 40 s after their payment.
    const model = new TrafficModel(
      options({ profile: { baseRate: 2000, peakMultiplier: 1, peakAfterMs: 0, peakDurationMs: 0 } }),
    );
    const records = take(model, 200_000);
    assert.equal(records.filter((r) => r.topic === TOPICS.refunds).length, model.counts.refunds);
    const good = records.flatMap((r) => {
      const parsed = parse(r);
      return parsed.ok ? [{ ...r, event: parsed.event }] : [];
    });
    const refunds = good.filter((r) => r.topic === TOPICS.refunds);
    const payments = good.filter((r) => r.topic === TOPICS.payments);
    const paidAt = new Map<string, { at: number; amount: number }>();
    for (const p of payments) {
      const e = p.event as { orderId: string; amount: number };
      if (!paidAt.has(e.orderId)) paidAt.set(e.orderId, { at: p.at, amount: e.amount });
    }
    const events = refunds.map((r) => ({ ...(r.event as RefundEvent), at: r.at, partition: r.partition }));
    const distinct = new Set(events.map((e) => e.refundId));
    // Orders paid in the last 45 s may not have had their refund yet.
    const end = (records.at(-1) as Seen).at;
    const settled = [...paidAt].filter(([, p]) => p.at < end - 45_000).map(([id]) => id);
    const refunded = new Set(events.map((e) => e.orderId));
    const share = settled.filter((id) => refunded.has(id)).length / settled.length;
    assert.ok(share > 0.03 && share < 0.07, `refunded share of paid orders ${share}`);
    assert.ok(events.length > distinct.size, "some refunds are sent twice");
    assert.ok(
      events.some((e) => (paidAt.get(e.orderId)?.at ?? Number.POSITIVE_INFINITY) > e.at),
      "some refunds reach Kafka before their payment",
    );
    assert.ok(
      events.some((e) => e.amount > (paidAt.get(e.orderId)?.amount ?? Number.POSITIVE_INFINITY)),
      "some refunds ask for more than was paid",
    );
    for (const e of events)
      assert.equal(e.partition, partitionOf(e.orderId, 8), "co-partitioned by order id");
  });

  describe("on 150k records", () => {
    const model = new TrafficModel(options());
    const records = take(model, 150_000);
    const good = records.flatMap((r) => {
      const parsed = parse(r);
      return parsed.ok ? [{ ...r, event: parsed.event }] : [];
    });
    const orders = good.filter((r) => r.topic === TOPICS.orders).map((r) => r.event as OrderEvent);
    const payments = good.filter((r) => r.topic === TOPICS.payments);

    it("makes exactly the malformed records fail the schema, at about the configured fraction", () => {
      const bad = records.length - good.length;
      assert.equal(bad, model.counts.malformed);
      assert.ok(Math.abs(bad / records.length - 0.01) < 0.002, `malformed share ${bad / records.length}`);
      const badValues = records.filter((r) => !parse(r).ok).map((r) => r.value);
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

    it("names the user an ad event reached", () => {
      const ads = good.filter((r) => r.topic === TOPICS.ads).map((r) => r.event as { userId?: string });
      assert.ok(ads.length > 1000 && ads.every((a) => typeof a.userId === "string"));
      assert.ok(new Set(ads.map((a) => a.userId)).size > 100, "many distinct users");
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
