import type { BusinessClock } from "../common/businessTime.ts";
import type { PaidOrderFact } from "../common/catalog.ts";
import {
  type AdEvent,
  type OrderEvent,
  type Parsed,
  type PaymentEvent,
  parseAd,
  parseOrder,
  parsePayment,
} from "../common/events.ts";
import { TOPICS } from "../common/topics.ts";
import { BatchEffect } from "./effect.ts";
import type { OrderState, PaymentState } from "./joinState.ts";

// What one batch of one partition means, as a pure function of the partition's ordered input and the state
// stored beside it. Nothing here reads the wall clock (except the far-future guard) or depends on how the
// partitions of different topics interleave, so every healthy link computes identical closed minutes:
//
// - Lateness is decided per record against its own partition's watermark (highest event time seen so far
//   minus the allowed lateness). A late record still counts for its business day, never for a minute.
// - A paid order counts once, when both its payment and its first order record have arrived, at
//   t = max(first order record's time, payment time), and goes into t's minute only if neither record was
//   late. Whichever of the two arrives second, t is at or after that record's own watermark, which is at or
//   after the link's closing point, so a contribution can never land in a minute already closed (digested).
// - Seller and category come from the order's latest version; the generator's contract (and real orders)
//   keep them constant across versions, which keeps the result independent of topic interleaving.

export interface KafkaRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export type InputEvent = OrderEvent | PaymentEvent | AdEvent;

export interface ParsedRecord {
  offset: number;
  raw: KafkaRecord;
  parsed: Parsed<InputEvent>;
}

export function parseRecords(topic: string, records: readonly KafkaRecord[]): ParsedRecord[] {
  const parse: (v: Buffer | null) => Parsed<InputEvent> =
    topic === TOPICS.orders ? parseOrder : topic === TOPICS.payments ? parsePayment : parseAd;
  return records.map((raw) => ({ offset: Number(raw.offset), raw, parsed: parse(raw.value) }));
}

/** Order ids whose join state a batch needs. */
export function orderIdsOf(topic: string, records: readonly ParsedRecord[]): string[] {
  if (topic === TOPICS.ads) return [];
  const ids = new Set<string>();
  for (const r of records) if (r.parsed.ok) ids.add((r.parsed.event as OrderEvent | PaymentEvent).orderId);
  return [...ids];
}

export interface JoinSnapshot {
  orders: Map<string, OrderState>;
  payments: Map<string, PaymentState>;
}

export interface PlanInput {
  topic: string;
  partition: number;
  records: readonly ParsedRecord[];
  /** The next offset this partition expects (stored in Redis); records below it are already applied. */
  expectedOffset: number;
  /** Highest event time seen in this partition so far (-Infinity when none). */
  maxEventTime: number;
  join: JoinSnapshot;
  clock: BusinessClock;
  latenessMs: number;
  /** Event times beyond this instant are rejected as garbage rather than moving the watermark. */
  futureLimit: number;
}

export interface DeadLetter {
  record: KafkaRecord;
  reason: string;
}

/** A paid order waiting for its seller's tier (read asynchronously) before it becomes a fact. */
export interface PendingPaidOrder {
  fact: Omit<PaidOrderFact, "dims"> & { sellerId: string; categoryId: string };
  inMinute: boolean;
}

export interface Gap {
  topic: string;
  partition: number;
  expected: number;
  got: number;
}

export interface Plan {
  topic: string;
  partition: number;
  effect: BatchEffect;
  deadLetters: DeadLetter[];
  pendingPaid: PendingPaidOrder[];
  /** Offset after the last record applied by this plan (unchanged when everything was a replay). */
  nextOffset: number;
  maxEventTime: number;
  /** Records skipped because their offset was already applied. */
  replayed: number;
  /** Set when the batch starts after the expected offset: data the link never saw. */
  gap: Gap | null;
}

export function planBatch(input: PlanInput): Plan {
  const effect = new BatchEffect(input.clock);
  const plan: Plan = {
    topic: input.topic,
    partition: input.partition,
    effect,
    deadLetters: [],
    pendingPaid: [],
    nextOffset: input.expectedOffset,
    maxEventTime: input.maxEventTime,
    replayed: 0,
    gap: null,
  };
  const fresh = input.records.filter((r) => r.offset >= input.expectedOffset);
  plan.replayed = input.records.length - fresh.length;
  const first = fresh[0];
  if (first && first.offset > input.expectedOffset) {
    plan.gap = {
      topic: input.topic,
      partition: input.partition,
      expected: input.expectedOffset,
      got: first.offset,
    };
    effect.count(`data_loss:${input.topic}:${input.partition}`, first.offset - input.expectedOffset);
  }
  for (const r of fresh) {
    plan.nextOffset = r.offset + 1;
    if (!r.parsed.ok) {
      reject(plan, r, r.parsed.reason);
      continue;
    }
    const event = r.parsed.event;
    if (event.eventTime > input.futureLimit) {
      reject(plan, r, "future_event_time");
      continue;
    }
    const late = event.eventTime < plan.maxEventTime - input.latenessMs;
    if (late) effect.count(`late:${input.topic}`);
    if (event.eventTime > plan.maxEventTime) plan.maxEventTime = event.eventTime;
    if (input.topic === TOPICS.orders) onOrder(plan, input.join, event as OrderEvent, late);
    else if (input.topic === TOPICS.payments) onPayment(plan, input.join, event as PaymentEvent, late);
    else onAd(plan, event as AdEvent, late);
  }
  return plan;
}

function reject(plan: Plan, r: ParsedRecord, reason: string): void {
  plan.deadLetters.push({ record: r.raw, reason });
  plan.effect.count(`dead_letter:${reason}`);
}

function onOrder(plan: Plan, join: JoinSnapshot, e: OrderEvent, late: boolean): void {
  const existing = join.orders.get(e.orderId);
  let state: OrderState;
  if (!existing) {
    state = {
      version: e.version,
      sellerId: e.sellerId,
      categoryId: e.categoryId,
      buyerId: e.buyerId,
      amount: e.amount,
      status: e.status,
      firstTime: e.eventTime,
      firstLate: late,
      paid: false,
    };
  } else if (e.version > existing.version) {
    state = {
      ...existing,
      version: e.version,
      sellerId: e.sellerId,
      categoryId: e.categoryId,
      amount: e.amount,
      status: e.status,
    };
  } else {
    plan.effect.count("order_version_ignored");
    return;
  }
  const waiting = join.payments.get(e.orderId);
  if (!state.paid && waiting) {
    state.paid = true;
    paid(plan, state, waiting);
    join.payments.delete(e.orderId);
    plan.effect.paymentsSet.delete(e.orderId);
    plan.effect.paymentsDeleted.add(e.orderId);
  }
  join.orders.set(e.orderId, state);
  plan.effect.orders.set(e.orderId, state);
}

function onPayment(plan: Plan, join: JoinSnapshot, e: PaymentEvent, late: boolean): void {
  const order = join.orders.get(e.orderId);
  if (order?.paid || join.payments.has(e.orderId)) {
    plan.effect.count("payment_duplicate");
    return;
  }
  const payment: PaymentState = { amount: e.amount, buyerId: e.buyerId, time: e.eventTime, late };
  if (!order) {
    join.payments.set(e.orderId, payment);
    plan.effect.paymentsSet.set(e.orderId, payment);
    return;
  }
  const state = { ...order, paid: true };
  paid(plan, state, payment);
  join.orders.set(e.orderId, state);
  plan.effect.orders.set(e.orderId, state);
}

function paid(plan: Plan, order: OrderState, payment: PaymentState): void {
  plan.pendingPaid.push({
    fact: {
      source: "paid_order",
      time: Math.max(order.firstTime, payment.time),
      amount: payment.amount,
      buyerId: payment.buyerId,
      sellerId: order.sellerId,
      categoryId: order.categoryId,
    },
    inMinute: !order.firstLate && !payment.late,
  });
}

function onAd(plan: Plan, e: AdEvent, late: boolean): void {
  plan.effect.addFact(
    {
      source: "ad_event",
      time: e.eventTime,
      kind: e.kind,
      costMicros: e.costMicros,
      dims: { all: "all", advertiser: e.advertiserId },
    },
    !late,
  );
}

/** Turns the batch's paid orders into facts once their sellers' tiers are known. */
export function completePaidOrders(
  plan: Plan,
  industryOf: (categoryId: string) => string,
  tierOf: (sellerId: string) => string,
): void {
  for (const { fact, inMinute } of plan.pendingPaid) {
    const { sellerId, categoryId, ...rest } = fact;
    plan.effect.addFact(
      {
        ...rest,
        dims: {
          all: "all",
          seller: sellerId,
          category: categoryId,
          industry: industryOf(categoryId),
          tier: tierOf(sellerId),
        },
      },
      inMinute,
    );
  }
}

/** Sellers whose tier the batch's paid orders need. */
export function sellersOf(plan: Plan): string[] {
  return [...new Set(plan.pendingPaid.map((p) => p.fact.sellerId))];
}
