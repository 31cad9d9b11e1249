// The orders x payments join state, kept in the link's Redis so a restart loses nothing. Only the owner of a
// partition number touches the state of the orders keyed to it (orders and payments are co-partitioned).

/** The merged state of one order: the latest version's attributes plus the first record's time and lateness. */
export interface OrderState {
  version: number;
  sellerId: string;
  categoryId: string;
  buyerId: string;
  amount: number;
  status: string;
  /** Event time of the first record of this order to arrive; the join's time uses it (see planner.ts). */
  firstTime: number;
  /** Whether that first record was late in its partition. */
  firstLate: boolean;
  /** Counted as paid already: later payments and versions change nothing. */
  paid: boolean;
}

/** A payment that arrived before its order. */
export interface PaymentState {
  amount: number;
  buyerId: string;
  time: number;
  late: boolean;
}

export function encodeOrder(s: OrderState): string[] {
  return [
    "v",
    String(s.version),
    "s",
    s.sellerId,
    "c",
    s.categoryId,
    "b",
    s.buyerId,
    "a",
    String(s.amount),
    "st",
    s.status,
    "t",
    String(s.firstTime),
    "l",
    s.firstLate ? "1" : "0",
    "p",
    s.paid ? "1" : "0",
  ];
}

export function decodeOrder(h: Record<string, string>): OrderState | null {
  if (h.v === undefined) return null;
  return {
    version: Number(h.v),
    sellerId: h.s ?? "",
    categoryId: h.c ?? "",
    buyerId: h.b ?? "",
    amount: Number(h.a),
    status: h.st ?? "",
    firstTime: Number(h.t),
    firstLate: h.l === "1",
    paid: h.p === "1",
  };
}

export function encodePayment(s: PaymentState): string[] {
  return ["a", String(s.amount), "b", s.buyerId, "t", String(s.time), "l", s.late ? "1" : "0"];
}

export function decodePayment(h: Record<string, string>): PaymentState | null {
  if (h.a === undefined) return null;
  return { amount: Number(h.a), buyerId: h.b ?? "", time: Number(h.t), late: h.l === "1" };
}
