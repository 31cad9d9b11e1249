import { badEventTime, badId, badInt, type Json, MAX_CENTS, parserOf } from "../events.ts";
import { type Fact, type RecordContext, type SourceDef, type StateKind, topic } from "./source.ts";

// Trade: the order change log, its payments and its refunds, co-partitioned by order id. What it computes,
// as a pure function of each partition's ordered input (so every healthy link computes identical closed
// minutes, whatever the interleaving of the three topics):
//
// - A paid order counts once, when both its payment and its first order record have arrived, at
//   t = max(first order record's time, payment time), and goes into t's minute only if neither record was
//   late. Whichever of the two arrives second is not late, so t is at or after its own partition's watermark
//   minus the lateness, which is at or after the link's closing point: it never lands in a closed minute.
// - A refund counts against the paid order's seller and category (and through them industry and tier) at
//   t = max(refund time, paid time), in t's minute only if neither the refund nor the paid order was late;
//   the same argument keeps it out of closed minutes. A refund that arrives before its order is paid waits
//   in join state, as an early payment does. A refund id seen before is a duplicate; a refund beyond what
//   is left of the paid amount counts only up to it (both counted).
// - Seller and category come from the order's latest version; the generator's contract (and real orders)
//   keep them constant across versions, which keeps the result independent of topic interleaving.

export const ORDER_STATUSES = ["created", "paid", "shipped", "cancelled"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** One version of an order (topic trade.orders, key = orderId). */
export interface OrderEvent {
  orderId: string;
  version: number;
  buyerId: string;
  sellerId: string;
  categoryId: string;
  /** Order total in integer cents. */
  amount: number;
  status: OrderStatus;
  /** Event time, epoch milliseconds. */
  eventTime: number;
}

/** A payment of an order (topic trade.payments, key = orderId). */
export interface PaymentEvent {
  paymentId: string;
  orderId: string;
  buyerId: string;
  /** Amount paid in integer cents. */
  amount: number;
  eventTime: number;
}

/** A refund of (part of) a paid order (topic trade.refunds, key = orderId). */
export interface RefundEvent {
  refundId: string;
  orderId: string;
  /** Amount refunded in integer cents. */
  amount: number;
  eventTime: number;
}

export const TRADE_TOPICS = {
  orders: "trade.orders",
  payments: "trade.payments",
  refunds: "trade.refunds",
} as const;

function orderProblem(o: Json): string | null {
  if (badId(o, "orderId")) return "invalid_orderId";
  if (badInt(o, "version", 1, 1_000_000)) return "invalid_version";
  if (badId(o, "buyerId")) return "invalid_buyerId";
  if (badId(o, "sellerId")) return "invalid_sellerId";
  if (badId(o, "categoryId")) return "invalid_categoryId";
  if (badInt(o, "amount", 0, MAX_CENTS)) return "invalid_amount";
  if (!(ORDER_STATUSES as readonly unknown[]).includes(o.status)) return "invalid_status";
  if (badEventTime(o)) return "invalid_eventTime";
  return null;
}

function paymentProblem(o: Json): string | null {
  if (badId(o, "paymentId")) return "invalid_paymentId";
  if (badId(o, "orderId")) return "invalid_orderId";
  if (badId(o, "buyerId")) return "invalid_buyerId";
  if (badInt(o, "amount", 1, MAX_CENTS)) return "invalid_amount";
  if (badEventTime(o)) return "invalid_eventTime";
  return null;
}

function refundProblem(o: Json): string | null {
  if (badId(o, "refundId")) return "invalid_refundId";
  if (badId(o, "orderId")) return "invalid_orderId";
  if (badInt(o, "amount", 1, MAX_CENTS)) return "invalid_amount";
  if (badEventTime(o)) return "invalid_eventTime";
  return null;
}

export const parseOrder = parserOf<OrderEvent>(orderProblem);
export const parsePayment = parserOf<PaymentEvent>(paymentProblem);
export const parseRefund = parserOf<RefundEvent>(refundProblem);

/** A paid order: the output of the orders x payments join. */
export interface PaidOrderFact extends Fact {
  kind: "paid_order";
  amount: number;
  buyerId: string;
  dims: { all: "all"; seller: string; category: string; industry: string; tier: string };
}

/** A refund counted against its paid order's dimensions. */
export interface RefundFact extends Fact {
  kind: "refund";
  amount: number;
  dims: { all: "all"; seller: string; category: string; industry: string; tier: string };
}

/** The merged state of one order: the latest version's attributes, the first record's time, the payment. */
export interface OrderState {
  version: number;
  sellerId: string;
  categoryId: string;
  buyerId: string;
  amount: number;
  status: string;
  /** Event time of the first record of this order to arrive; the join's time uses it. */
  firstTime: number;
  /** Whether that first record was late in its partition. */
  firstLate: boolean;
  /** Counted as paid already: later payments and versions change nothing. */
  paid: boolean;
  /** With paid: the amount paid, the paid fact's time and whether it went into a minute. */
  paidAmount: number;
  paidTime: number;
  paidInMinute: boolean;
  /** Cents refunded so far and the refund ids counted (a refund id seen again is a duplicate). */
  refunded: number;
  refundIds: string[];
}

/** A payment that arrived before its order. */
export interface PaymentState {
  amount: number;
  buyerId: string;
  time: number;
  late: boolean;
}

/** A refund that arrived before its order was paid. */
interface WaitingRefund {
  id: string;
  amount: number;
  time: number;
  late: boolean;
}

// Each state is one Redis string, fields joined by "|" (ids cannot contain it, nor ","), so a batch reads all
// its orders with one MGET. Fields are only ever appended: a state written by an older release decodes with
// the new fields' defaults (an order paid before refunds existed: paid amount = its amount, time = first).
const SEP = "|";

const ORDER: StateKind<OrderState> = {
  name: "order",
  key: (orderId) => `os:o:${orderId}`,
  encode: (s) =>
    [
      s.version,
      s.sellerId,
      s.categoryId,
      s.buyerId,
      s.amount,
      s.status,
      s.firstTime,
      s.firstLate ? 1 : 0,
      s.paid ? 1 : 0,
      s.paidAmount,
      s.paidTime,
      s.paidInMinute ? 1 : 0,
      s.refunded,
      s.refundIds.join(","),
    ].join(SEP),
  decode: (packed) => {
    const f = packed.split(SEP);
    const amount = Number(f[4]);
    const firstTime = Number(f[6]);
    return {
      version: Number(f[0]),
      sellerId: f[1] ?? "",
      categoryId: f[2] ?? "",
      buyerId: f[3] ?? "",
      amount,
      status: f[5] ?? "",
      firstTime,
      firstLate: f[7] === "1",
      paid: f[8] === "1",
      paidAmount: f[9] === undefined ? amount : Number(f[9]),
      paidTime: f[10] === undefined ? firstTime : Number(f[10]),
      paidInMinute: f[11] === "1",
      refunded: f[12] === undefined ? 0 : Number(f[12]),
      refundIds: f[13] ? f[13].split(",") : [],
    };
  },
};

const PAYMENT: StateKind<PaymentState> = {
  name: "payment",
  key: (orderId) => `os:p:${orderId}`,
  encode: (s) => [s.amount, s.buyerId, s.time, s.late ? 1 : 0].join(SEP),
  decode: (packed) => {
    const f = packed.split(SEP);
    return { amount: Number(f[0]), buyerId: f[1] ?? "", time: Number(f[2]), late: f[3] === "1" };
  },
};

const REFUNDS: StateKind<WaitingRefund[]> = {
  name: "refunds",
  key: (orderId) => `os:r:${orderId}`,
  encode: (list) => list.map((r) => [r.id, r.amount, r.time, r.late ? 1 : 0].join(",")).join(SEP),
  decode: (packed) =>
    packed.split(SEP).map((entry) => {
      const f = entry.split(",");
      return { id: f[0] ?? "", amount: Number(f[1]), time: Number(f[2]), late: f[3] === "1" };
    }),
};

/** The join state kinds, for tests and tools that read a link's join state. */
export const TRADE_STATE = { order: ORDER, payment: PAYMENT, refunds: REFUNDS } as const;

function onOrder(ctx: RecordContext, e: OrderEvent, late: boolean): void {
  const existing = ctx.get(ORDER, e.orderId);
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
      paidAmount: 0,
      paidTime: 0,
      paidInMinute: false,
      refunded: 0,
      refundIds: [],
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
    ctx.count("order_version_ignored");
    return;
  }
  const waiting = ctx.get(PAYMENT, e.orderId);
  if (!state.paid && waiting) {
    paid(ctx, e.orderId, state, waiting);
    ctx.delete(PAYMENT, e.orderId);
  }
  ctx.set(ORDER, e.orderId, state);
}

function onPayment(ctx: RecordContext, e: PaymentEvent, late: boolean): void {
  const order = ctx.get(ORDER, e.orderId);
  if (order?.paid || ctx.get(PAYMENT, e.orderId)) {
    ctx.count("payment_duplicate");
    return;
  }
  const payment: PaymentState = { amount: e.amount, buyerId: e.buyerId, time: e.eventTime, late };
  if (!order) {
    ctx.set(PAYMENT, e.orderId, payment);
    return;
  }
  const state = { ...order };
  paid(ctx, e.orderId, state, payment);
  ctx.set(ORDER, e.orderId, state);
}

/** Marks `order` paid, emits its fact, and counts the refunds that were waiting for it. */
function paid(ctx: RecordContext, orderId: string, order: OrderState, payment: PaymentState): void {
  order.paid = true;
  order.paidAmount = payment.amount;
  order.paidTime = Math.max(order.firstTime, payment.time);
  order.paidInMinute = !order.firstLate && !payment.late;
  const fact: PaidOrderFact = {
    kind: "paid_order",
    time: order.paidTime,
    amount: payment.amount,
    buyerId: payment.buyerId,
    dims: dimsOf(order),
  };
  ctx.emit(fact, order.paidInMinute);
  const waiting = ctx.get(REFUNDS, orderId);
  if (!waiting) return;
  for (const r of waiting) refund(ctx, order, r);
  ctx.delete(REFUNDS, orderId);
}

function onRefund(ctx: RecordContext, e: RefundEvent, late: boolean): void {
  const order = ctx.get(ORDER, e.orderId);
  const waiting = ctx.get(REFUNDS, e.orderId) ?? [];
  if (order?.refundIds.includes(e.refundId) || waiting.some((r) => r.id === e.refundId)) {
    ctx.count("refund_duplicate");
    return;
  }
  const r: WaitingRefund = { id: e.refundId, amount: e.amount, time: e.eventTime, late };
  if (!order?.paid) {
    ctx.set(REFUNDS, e.orderId, [...waiting, r]);
    return;
  }
  const state = { ...order };
  refund(ctx, state, r);
  ctx.set(ORDER, e.orderId, state);
}

/** Counts one refund of a paid order, up to what is left of its paid amount. */
function refund(ctx: RecordContext, order: OrderState, r: WaitingRefund): void {
  const amount = Math.min(r.amount, order.paidAmount - order.refunded);
  if (amount < r.amount) ctx.count("refund_capped");
  order.refundIds = [...order.refundIds, r.id];
  if (amount <= 0) return;
  order.refunded += amount;
  const fact: RefundFact = {
    kind: "refund",
    time: Math.max(r.time, order.paidTime),
    amount,
    dims: dimsOf(order),
  };
  ctx.emit(fact, !r.late && order.paidInMinute);
}

/** Seller and category from the order; industry and tier are looked up after planning (`lookups`). */
function dimsOf(order: OrderState): PaidOrderFact["dims"] {
  return { all: "all", seller: order.sellerId, category: order.categoryId, industry: "", tier: "" };
}

export const trade: SourceDef = {
  name: "trade",
  title: "Orders, their payments and refunds (co-partitioned by order id)",
  topics: [
    topic<OrderEvent>({
      name: TRADE_TOPICS.orders,
      parse: parseOrder,
      stateId: (e) => e.orderId,
      onRecord: onOrder,
    }),
    topic<PaymentEvent>({
      name: TRADE_TOPICS.payments,
      parse: parsePayment,
      stateId: (e) => e.orderId,
      onRecord: onPayment,
    }),
    topic<RefundEvent>({
      name: TRADE_TOPICS.refunds,
      parse: parseRefund,
      stateId: (e) => e.orderId,
      onRecord: onRefund,
    }),
  ],
  state: [ORDER, PAYMENT, REFUNDS],
  facts: ["paid_order", "refund"],
  dims: {
    all: "Everything (the key is `all`)",
    seller: "Seller id",
    category: "Product category id",
    industry: "Industry, from the category -> industry table",
    tier: "Seller tier, from the seller -> tier table",
  },
  lookups: [
    { dim: "industry", from: "category", table: "category_industry" },
    { dim: "tier", from: "seller", table: "seller_tier" },
  ],
  maxRatePerPartition: 0,
};
