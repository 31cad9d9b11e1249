import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys, minuteField } from "../../common/keys.ts";
import { TRADE_STATE } from "../../common/sources/trade.ts";
import { TOPICS } from "../../common/topics.ts";
import {
  countFacts,
  type JoinSnapshot,
  type KafkaRecord,
  type Plan,
  parseRecords,
  planBatch,
} from "../../processor/planner.ts";

const clock = new BusinessClock("Asia/Shanghai");
const T0 = Date.parse("2026-11-10T16:00:00Z"); // 2026-11-11 00:00 in Shanghai
const DAY = "2026-11-11";
const LATENESS = 5_000;

function rec(offset: number, value: unknown): KafkaRecord {
  return {
    offset: String(offset),
    key: null,
    value: Buffer.from(typeof value === "string" ? value : JSON.stringify(value)),
  };
}

function order(id: string, version: number, at: number, extra: Record<string, unknown> = {}) {
  return {
    orderId: id,
    version,
    buyerId: "b-1",
    sellerId: "s-1",
    categoryId: "c-1",
    amount: 1000,
    status: "created",
    eventTime: at,
    ...extra,
  };
}

function payment(id: string, at: number, amount = 1000) {
  return { paymentId: `p-${id}`, orderId: id, buyerId: "b-1", amount, eventTime: at };
}

interface PartitionState {
  offset: number;
  maxEventTime: number;
}

/** Plans batches like the processor would, keeping per-partition state and one join state between them. */
class Harness {
  readonly join: JoinSnapshot = new Map();
  readonly partitions = new Map<string, PartitionState>();

  batch(topic: string, values: unknown[], opts: { startOffset?: number } = {}): Plan {
    const state = this.partitions.get(topic) ?? { offset: 0, maxEventTime: Number.NEGATIVE_INFINITY };
    const start = opts.startOffset ?? state.offset;
    const records = parseRecords(
      topic,
      values.map((v, i) => rec(start + i, v)),
    );
    const plan = planBatch({
      topic,
      partition: 0,
      records,
      expectedOffset: state.offset,
      maxEventTime: state.maxEventTime,
      join: this.join,
      clock,
      latenessMs: LATENESS,
      futureLimit: T0 + 86_400_000,
    });
    countFacts(plan, (table) => (table === "category_industry" ? "fashion" : "gold"));
    for (const [key, packed] of plan.effect.packedState()) {
      if (packed === null) this.join.delete(key);
      else this.join.set(key, packed);
    }
    this.partitions.set(topic, { offset: plan.nextOffset, maxEventTime: plan.maxEventTime });
    return plan;
  }

  order(id: string) {
    const packed = this.join.get(TRADE_STATE.order.key(id));
    return packed === undefined ? undefined : TRADE_STATE.order.decode(packed);
  }
}

function dayValue(plans: Plan[], metric: string, dim: string, key: string): number {
  return plans.reduce((sum, p) => sum + (p.effect.zincr.get(keys.day(DAY, metric, dim))?.get(key) ?? 0), 0);
}

function minuteValue(plans: Plan[], minute: string, metric: string): number {
  const field = minuteField(metric, "all", "all");
  return plans.reduce((sum, p) => sum + (p.effect.hincr.get(keys.minute(DAY, minute))?.get(field) ?? 0), 0);
}

describe("batch planner", () => {
  it("joins an order and its payment once, whichever arrives first", () => {
    const a = new Harness();
    const orderFirst = [
      a.batch(TOPICS.orders, [order("o-1", 1, T0)]),
      a.batch(TOPICS.payments, [payment("o-1", T0 + 1000)]),
    ];
    const b = new Harness();
    const paymentFirst = [
      b.batch(TOPICS.payments, [payment("o-1", T0 + 1000)]),
      b.batch(TOPICS.orders, [order("o-1", 1, T0)]),
    ];
    for (const plans of [orderFirst, paymentFirst]) {
      assert.equal(dayValue(plans, "gmv", "all", "all"), 1000);
      assert.equal(dayValue(plans, "paid_orders", "seller", "s-1"), 1);
      assert.equal(dayValue(plans, "gmv", "industry", "fashion"), 1000);
      assert.equal(dayValue(plans, "gmv", "tier", "gold"), 1000);
      assert.equal(minuteValue(plans, "0000", "gmv"), 1000);
    }
  });

  it("ignores duplicate and older order versions and duplicate payments", () => {
    const h = new Harness();
    const plans = [
      h.batch(TOPICS.orders, [
        order("o-1", 2, T0, { amount: 900 }),
        order("o-1", 1, T0 - 10),
        order("o-1", 2, T0),
      ]),
      h.batch(TOPICS.payments, [payment("o-1", T0 + 10, 900), payment("o-1", T0 + 20, 900)]),
      h.batch(TOPICS.orders, [order("o-1", 3, T0 + 30, { status: "shipped" })]),
    ];
    assert.equal(dayValue(plans, "gmv", "all", "all"), 900);
    assert.equal(dayValue(plans, "paid_orders", "all", "all"), 1);
    assert.equal(plans[0]?.effect.counters.get("order_version_ignored"), 2);
    assert.equal(plans[1]?.effect.counters.get("payment_duplicate"), 1);
    assert.equal(h.order("o-1")?.version, 3);
  });

  it("counts a late event for its day but keeps it out of its minute", () => {
    const h = new Harness();
    const plans = [
      h.batch(TOPICS.ads, [
        { eventId: "e-1", kind: "click", advertiserId: "adv-1", costMicros: 5, eventTime: T0 + 120_000 },
        { eventId: "e-2", kind: "click", advertiserId: "adv-1", costMicros: 5, eventTime: T0 + 30_000 },
        { eventId: "e-3", kind: "click", advertiserId: "adv-1", costMicros: 5, eventTime: T0 + 118_000 },
      ]),
    ];
    assert.equal(dayValue(plans, "ad_clicks", "all", "all"), 3);
    assert.equal(minuteValue(plans, "0000", "ad_clicks"), 0, "e-2 is 90 s behind its partition: late");
    assert.equal(
      minuteValue(plans, "0001", "ad_clicks"),
      1,
      "e-3 is 2 s behind: within the allowed lateness",
    );
    assert.equal(minuteValue(plans, "0002", "ad_clicks"), 1);
    assert.equal(plans[0]?.effect.counters.get(`late:${TOPICS.ads}`), 1);
  });

  it("keeps a paid order out of its minute when either side was late, and times it at the later side", () => {
    const h = new Harness();
    h.batch(TOPICS.payments, [payment("o-9", T0 + 200_000)]);
    const plans = [
      h.batch(TOPICS.payments, [payment("o-1", T0 + 60_000)]), // 140 s behind the payments partition: late
      h.batch(TOPICS.orders, [order("o-1", 1, T0 + 61_000), order("o-2", 1, T0 + 62_000)]),
      h.batch(TOPICS.payments, [payment("o-2", T0 + 199_000)]),
    ];
    assert.equal(dayValue(plans, "paid_orders", "all", "all"), 2);
    assert.equal(minuteValue(plans, "0001", "paid_orders"), 0);
    assert.equal(minuteValue(plans, "0003", "paid_orders"), 1, "o-2 counts at its payment's minute");
  });

  it("skips records already applied and reports a gap as data loss", () => {
    const h = new Harness();
    const ad = (id: string) => ({
      eventId: id,
      kind: "impression",
      advertiserId: "adv-1",
      costMicros: 1,
      eventTime: T0,
    });
    h.batch(TOPICS.ads, [ad("e-0"), ad("e-1")]);
    const replay = h.batch(TOPICS.ads, [ad("e-0"), ad("e-1"), ad("e-2")], { startOffset: 0 });
    assert.equal(replay.replayed, 2);
    assert.equal(dayValue([replay], "ad_impressions", "all", "all"), 1);
    assert.equal(replay.gap, null);
    const gap = h.batch(TOPICS.ads, [ad("e-9")], { startOffset: 9 });
    assert.deepEqual(gap.gap, { topic: TOPICS.ads, partition: 0, expected: 3, got: 9 });
    assert.equal(gap.effect.counters.get(`data_loss:${TOPICS.ads}:0`), 6);
  });

  it("rejects bad records with a reason and keeps going", () => {
    const h = new Harness();
    const plan = h.batch(TOPICS.orders, [
      "{not json",
      "[1,2]",
      order("o-1", 1, T0, { amount: -5 }),
      order("o-2", 1, T0, { sellerId: "s 1; DROP" }),
      order("o-3", 1, T0 + 10 * 86_400_000),
      order("o-4", 1, T0),
    ]);
    assert.deepEqual(
      plan.deadLetters.map((d) => d.reason),
      ["unparseable", "not_an_object", "invalid_amount", "invalid_sellerId", "future_event_time"],
    );
    assert.equal(plan.nextOffset, 6);
    assert.ok(h.order("o-4"));
    assert.equal(plan.effect.counters.get("dead_letter:unparseable"), 1);
  });

  it("counts a refund against its paid order's dimensions once, whether it arrives before or after the payment", () => {
    const refund = (id: string, orderId: string, at: number, amount = 400) => ({
      refundId: id,
      orderId,
      amount,
      eventTime: at,
    });
    const a = new Harness();
    const after = [
      a.batch(TOPICS.orders, [order("o-1", 1, T0)]),
      a.batch(TOPICS.payments, [payment("o-1", T0 + 1000)]),
      a.batch(TOPICS.refunds, [refund("r-1", "o-1", T0 + 2000), refund("r-1", "o-1", T0 + 2000)]),
    ];
    const b = new Harness();
    const before = [
      b.batch(TOPICS.refunds, [refund("r-1", "o-1", T0 + 2000)]),
      b.batch(TOPICS.orders, [order("o-1", 1, T0)]),
      b.batch(TOPICS.refunds, [refund("r-1", "o-1", T0 + 2000)]),
      b.batch(TOPICS.payments, [payment("o-1", T0 + 1000)]),
    ];
    for (const plans of [after, before]) {
      assert.equal(dayValue(plans, "refund_amount", "all", "all"), 400);
      assert.equal(dayValue(plans, "refunds", "seller", "s-1"), 1);
      assert.equal(dayValue(plans, "refund_amount", "industry", "fashion"), 400);
      assert.equal(dayValue(plans, "refund_amount", "tier", "gold"), 400);
      assert.equal(minuteValue(plans, "0000", "refund_amount"), 400);
      assert.equal(dayValue(plans, "gmv", "all", "all"), 1000);
    }
    assert.equal(after[2]?.effect.counters.get("refund_duplicate"), 1);
    assert.equal(before[2]?.effect.counters.get("refund_duplicate"), 1);
    assert.equal(b.join.get(TRADE_STATE.refunds.key("o-1")), undefined, "the waiting refund was released");
  });

  it("counts refunds only up to what was paid, and never for an unpaid order", () => {
    const h = new Harness();
    const plans = [
      h.batch(TOPICS.orders, [order("o-1", 1, T0), order("o-2", 1, T0)]),
      h.batch(TOPICS.payments, [payment("o-1", T0 + 10, 1000)]),
      h.batch(TOPICS.refunds, [
        { refundId: "r-1", orderId: "o-1", amount: 700, eventTime: T0 + 20 },
        { refundId: "r-2", orderId: "o-1", amount: 700, eventTime: T0 + 30 },
        { refundId: "r-3", orderId: "o-1", amount: 5, eventTime: T0 + 40 },
        { refundId: "r-4", orderId: "o-2", amount: 5, eventTime: T0 + 40 },
      ]),
    ];
    assert.equal(dayValue(plans, "refund_amount", "all", "all"), 1000);
    assert.equal(dayValue(plans, "refunds", "all", "all"), 2);
    assert.equal(plans[2]?.effect.counters.get("refund_capped"), 2);
    assert.equal(h.order("o-1")?.refunded, 1000);
    assert.ok(h.join.get(TRADE_STATE.refunds.key("o-2")), "o-2's refund waits for its payment");
  });

  it("counts reach from ad events with a user and the other ad metrics from every ad event", () => {
    const h = new Harness();
    const ad = (id: string, userId?: string) => ({
      eventId: id,
      kind: "impression",
      advertiserId: "adv-1",
      costMicros: 3,
      eventTime: T0,
      ...(userId ? { userId } : {}),
    });
    const plan = h.batch(TOPICS.ads, [ad("e-1", "u-1"), ad("e-2", "u-1"), ad("e-3", "u-2"), ad("e-4")]);
    assert.equal(dayValue([plan], "ad_impressions", "all", "all"), 4);
    const reach = plan.effect.hll.get(keys.dayHll(DAY, "ad_reach", "advertiser", "adv-1"));
    assert.deepEqual([...(reach?.members ?? [])].sort(), ["u-1", "u-2"]);
    const bad = h.batch(TOPICS.ads, [ad("e-5", "u 1")]);
    assert.deepEqual(
      bad.deadLetters.map((d) => d.reason),
      ["invalid_userId"],
    );
  });
});
