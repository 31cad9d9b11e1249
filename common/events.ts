// The input events, as the collection layer writes them to every link's Kafka (JSON values).
// Validation is hand-written because it runs on every event at 100k events/s; it names the first bad field
// so a dead letter says why it was rejected. Ids become Redis keys and members, so they are restricted to a
// small alphabet and length here, at the edge, rather than trusted downstream.

export const ORDER_STATUSES = ["created", "paid", "shipped", "cancelled"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** One version of an order (the order change log, topic trade.orders, key = orderId). */
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

/** A payment of an order (topic trade.payments, key = orderId, co-partitioned with orders). */
export interface PaymentEvent {
  paymentId: string;
  orderId: string;
  buyerId: string;
  /** Amount paid in integer cents. */
  amount: number;
  eventTime: number;
}

export const AD_KINDS = ["impression", "click"] as const;
export type AdKind = (typeof AD_KINDS)[number];

/** An ad impression or click (topic ads.events, key = eventId). */
export interface AdEvent {
  eventId: string;
  kind: AdKind;
  advertiserId: string;
  /** What the advertiser pays for this event, in micro units of the currency (1e-6). */
  costMicros: number;
  eventTime: number;
}

export type Parsed<T> = { ok: true; event: T } | { ok: false; reason: string };

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
// Event times outside this window are garbage, not late data: 2000-01-01 .. 2100-01-01.
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 4_102_444_800_000;
const MAX_CENTS = 1_000_000_000_00; // one billion in cents: far above any single order

type Json = Record<string, unknown>;

function parseObject(raw: Buffer | string | null): Json | string {
  if (raw === null) return "unparseable";
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    return "unparseable";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_an_object";
  return value as Json;
}

function badId(o: Json, field: string): boolean {
  const v = o[field];
  return typeof v !== "string" || !ID.test(v);
}

function badInt(o: Json, field: string, min: number, max: number): boolean {
  const v = o[field];
  return typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max;
}

// Plain if-chains rather than a table of checks: nothing allocated per event, and the first bad field wins.
function orderProblem(o: Json): string | null {
  if (badId(o, "orderId")) return "invalid_orderId";
  if (badInt(o, "version", 1, 1_000_000)) return "invalid_version";
  if (badId(o, "buyerId")) return "invalid_buyerId";
  if (badId(o, "sellerId")) return "invalid_sellerId";
  if (badId(o, "categoryId")) return "invalid_categoryId";
  if (badInt(o, "amount", 0, MAX_CENTS)) return "invalid_amount";
  if (!(ORDER_STATUSES as readonly unknown[]).includes(o.status)) return "invalid_status";
  if (badInt(o, "eventTime", MIN_TIME, MAX_TIME)) return "invalid_eventTime";
  return null;
}

function paymentProblem(o: Json): string | null {
  if (badId(o, "paymentId")) return "invalid_paymentId";
  if (badId(o, "orderId")) return "invalid_orderId";
  if (badId(o, "buyerId")) return "invalid_buyerId";
  if (badInt(o, "amount", 1, MAX_CENTS)) return "invalid_amount";
  if (badInt(o, "eventTime", MIN_TIME, MAX_TIME)) return "invalid_eventTime";
  return null;
}

function adProblem(o: Json): string | null {
  if (badId(o, "eventId")) return "invalid_eventId";
  if (!(AD_KINDS as readonly unknown[]).includes(o.kind)) return "invalid_kind";
  if (badId(o, "advertiserId")) return "invalid_advertiserId";
  if (badInt(o, "costMicros", 0, 1_000_000_000_000)) return "invalid_costMicros";
  if (badInt(o, "eventTime", MIN_TIME, MAX_TIME)) return "invalid_eventTime";
  return null;
}

export function parseOrder(raw: Buffer | string | null): Parsed<OrderEvent> {
  const o = parseObject(raw);
  if (typeof o === "string") return { ok: false, reason: o };
  const bad = orderProblem(o);
  return bad ? { ok: false, reason: bad } : { ok: true, event: o as unknown as OrderEvent };
}

export function parsePayment(raw: Buffer | string | null): Parsed<PaymentEvent> {
  const o = parseObject(raw);
  if (typeof o === "string") return { ok: false, reason: o };
  const bad = paymentProblem(o);
  return bad ? { ok: false, reason: bad } : { ok: true, event: o as unknown as PaymentEvent };
}

export function parseAd(raw: Buffer | string | null): Parsed<AdEvent> {
  const o = parseObject(raw);
  if (typeof o === "string") return { ok: false, reason: o };
  const bad = adProblem(o);
  return bad ? { ok: false, reason: bad } : { ok: true, event: o as unknown as AdEvent };
}
