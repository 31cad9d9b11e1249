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

// Each state is one Redis string, fields joined by "|" (ids cannot contain it: common/events.ts), so a batch
// reads all its orders with one MGET and writes each with one SET … EX: no per-field hashes to decode.
const SEP = "|";

export function encodeOrder(s: OrderState): string {
  return [
    s.version,
    s.sellerId,
    s.categoryId,
    s.buyerId,
    s.amount,
    s.status,
    s.firstTime,
    s.firstLate ? 1 : 0,
    s.paid ? 1 : 0,
  ].join(SEP);
}

export function decodeOrder(packed: string | null): OrderState | null {
  if (packed === null) return null;
  const f = packed.split(SEP);
  return {
    version: Number(f[0]),
    sellerId: f[1] ?? "",
    categoryId: f[2] ?? "",
    buyerId: f[3] ?? "",
    amount: Number(f[4]),
    status: f[5] ?? "",
    firstTime: Number(f[6]),
    firstLate: f[7] === "1",
    paid: f[8] === "1",
  };
}

export function encodePayment(s: PaymentState): string {
  return [s.amount, s.buyerId, s.time, s.late ? 1 : 0].join(SEP);
}

export function decodePayment(packed: string | null): PaymentState | null {
  if (packed === null) return null;
  const f = packed.split(SEP);
  return { amount: Number(f[0]), buyerId: f[1] ?? "", time: Number(f[2]), late: f[3] === "1" };
}
