import type { OrderStatus } from "../../common/sources/trade.ts";
import { type InputTopic, TOPICS } from "../../common/topics.ts";
import { MinHeap } from "./heap.ts";
import { poisonRecord } from "./poison.ts";
import { DEFAULT_POPULATION, Population, type PopulationSizes } from "./population.ts";
import { intervalAt, type RateProfile, validateProfile } from "./profile.ts";
import { Rng } from "./random.ts";

// The event model of the collection layer: a pure, seeded function from (seed, start time, rate profile,
// fractions) to an endless sequence of Kafka records. No I/O and no wall clock, so the same options give
// byte-identical records on any machine at any speed, and every link can be fed the same sequence.
//
// Time is a virtual clock that starts at `startTime` and advances by 1/rate after every record. Each step
// either delivers something that is due (a version or payment of an order planned earlier) or starts new
// activity: a new order (30%; its whole life is planned at once and queued by delivery time) or an ad
// event (3% of them clicks, the rest impressions). In steady state that makes about 48% order versions,
// 14% payments and 38% ad events (each with the user it reached), plus refunds.
//
// The order life cycle (probabilities per order):
//   v1 created -> [20%: v2 amount changed 1-10 s later] -> then one of
//     88% paid: payment after 1-20 s (amount = the order's amount then), a "paid" version 50-1500 ms after
//         the payment, 85% of them a "shipped" version 2-20 s later;
//      8% cancelled after 5-30 s, never paid;
//      4% abandoned: stays "created".
//   3% of paid orders pay within 3 s and their first version reaches Kafka after the payment.
//   8% of orders deliver one version after the next one, when the two are at most 10 s apart.
//   2% of order versions and 1% of payments are sent twice (an identical copy up to 3 s later).
//   `refundFraction` of paid orders get a refund 2-40 s after the payment: 70% of the paid amount in full,
//     25% part of it, 5% more than was paid (the processor counts it up to the paid amount); 15% of refunds
//     reach Kafka before their payment, and 10% are sent twice.
// An order's buyer, seller and category never change across its versions; amount and status may.
// Lives are short (well under a minute) because every planned record waits in memory until it is due: at a
// 40k events/s peak that queue holds a few hundred thousand records.
//
// Bad input, on purpose: `malformedFraction` of all records are extra records that fail the schema
// (unparseable, a missing field, a negative amount, an id with forbidden characters), and `lateFraction` of
// the good ones carry an event time `lateByMs` earlier than when they happened. `poisonFraction` of all
// records are the worst kinds of bad input (poison.ts); at 0 (the default) the rest of the stream is
// byte-identical to a run without the option.

export interface GenRecord {
  topic: InputTopic;
  partition: number;
  key: string;
  /** The exact value bytes, as a UTF-8 string. */
  value: string;
}

export interface ModelOptions {
  seed: string;
  /** Event time of the first record, epoch ms. */
  startTime: number;
  /** Partitions of every input topic. */
  partitions: number;
  profile: RateProfile;
  malformedFraction: number;
  poisonFraction: number;
  lateFraction: number;
  lateByMs: number;
  /** Share of paid orders that get a refund. */
  refundFraction: number;
  population?: PopulationSizes;
}

export interface ModelCounts {
  records: number;
  orders: number;
  payments: number;
  refunds: number;
  ads: number;
  malformed: number;
  poison: number;
  late: number;
  duplicates: number;
  outOfOrder: number;
  paymentFirst: number;
  refundFirst: number;
}

const ORDER_SHARE = 0.3;
const CLICK_SHARE = 0.03;
const HOME_CATEGORY_SHARE = 0.8;
const P_CANCEL = 0.08;
const P_ABANDON = 0.04;
const P_AMEND = 0.2;
const P_PAY_FIRST = 0.03;
const P_SHIP = 0.85;
const P_OUT_OF_ORDER = 0.08;
const OUT_OF_ORDER_WINDOW_MS = 10_000;
const P_DUP_VERSION = 0.02;
const P_DUP_PAYMENT = 0.01;
const P_REFUND_FULL = 0.7;
const P_REFUND_OVER = 0.05;
const P_REFUND_FIRST = 0.15;
const P_DUP_REFUND = 0.1;
const DUP_DELAY_MS = 3000;
const AMOUNT_MEDIAN_CENTS = 8000;
const AMOUNT_SIGMA = 1;
const MIN_AMOUNT_CENTS = 100;
const MAX_AMOUNT_CENTS = 2_000_000;

const LATE = 1;
const DUPLICATE = 2;
const OUT_OF_ORDER = 4;
const PAYMENT_FIRST = 8;

const BAD_ID_CHARS = [" ", "/", "#", "*", "'", "é", "\\"];

/** FNV-1a over the key: the partitioner of every topic, so orders and payments of one order meet. */
export function partitionOf(key: string, partitions: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % partitions;
}

interface Order {
  id: string;
  partition: number;
  buyerId: string;
  sellerId: string;
  categoryId: string;
  /** Empty for an order that is never paid. */
  paymentId: string;
  /** Empty for an order that is never refunded. */
  refundId: string;
}

/** An order version (status set), a payment or a refund, rendered when it is delivered. */
class Delivery implements GenRecord {
  value = "";

  constructor(
    readonly due: number,
    readonly tie: number,
    readonly topic: InputTopic,
    readonly order: Order,
    readonly version: number,
    readonly status: OrderStatus | null,
    readonly amount: number,
    readonly eventTime: number,
    readonly flags: number,
  ) {}

  get partition(): number {
    return this.order.partition;
  }

  get key(): string {
    return this.order.id;
  }

  render(): string {
    const o = this.order;
    if (this.topic === TOPICS.refunds)
      return JSON.stringify({
        refundId: o.refundId,
        orderId: o.id,
        amount: this.amount,
        eventTime: this.eventTime,
      });
    return this.status === null
      ? JSON.stringify({
          paymentId: o.paymentId,
          orderId: o.id,
          buyerId: o.buyerId,
          amount: this.amount,
          eventTime: this.eventTime,
        })
      : JSON.stringify({
          orderId: o.id,
          version: this.version,
          buyerId: o.buyerId,
          sellerId: o.sellerId,
          categoryId: o.categoryId,
          amount: this.amount,
          status: this.status,
          eventTime: this.eventTime,
        });
  }
}

interface PlannedRefund {
  amount: number;
  time: number;
  /** Reaches Kafka before its payment. */
  first: boolean;
}

interface Step {
  status: OrderStatus;
  amount: number;
  time: number;
}

export class TrafficModel {
  readonly counts: ModelCounts = {
    records: 0,
    orders: 0,
    payments: 0,
    refunds: 0,
    ads: 0,
    malformed: 0,
    poison: 0,
    late: 0,
    duplicates: 0,
    outOfOrder: 0,
    paymentFirst: 0,
    refundFirst: 0,
  };
  readonly population: Population;
  private readonly rng: Rng;
  private readonly pending = new MinHeap<Delivery>();
  private tie = 0;
  private orderSeq = 0;
  private paymentSeq = 0;
  private refundSeq = 0;
  private adSeq = 0;
  // Kept relative to the start: at epoch magnitudes (1e12 ms) a float cannot add 0.025 ms steps accurately.
  private elapsed = 0;

  constructor(private readonly opts: ModelOptions) {
    validateProfile(opts.profile);
    if (!Number.isSafeInteger(opts.startTime)) throw new RangeError("startTime must be an integer epoch ms");
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1)
      throw new RangeError("partitions must be a positive integer");
    for (const f of ["malformedFraction", "poisonFraction", "lateFraction", "refundFraction"] as const)
      if (!(opts[f] >= 0 && opts[f] <= 1)) throw new RangeError(`${f} must be within [0, 1]`);
    this.rng = new Rng(opts.seed);
    this.population = new Population(opts.seed, opts.population ?? DEFAULT_POPULATION);
  }

  /** The virtual clock, epoch ms (fractional): when the next record happens. */
  get now(): number {
    return this.opts.startTime + this.elapsed;
  }

  next(): GenRecord {
    const record = this.produce();
    this.counts.records++;
    this.elapsed += intervalAt(this.opts.profile, this.elapsed);
    return record;
  }

  private produce(): GenRecord {
    if (this.rng.next() < this.opts.malformedFraction) return this.malformed(Math.floor(this.now));
    // Drawn only when asked for, so that streams without poison stay what they were.
    if (this.opts.poisonFraction > 0 && this.rng.next() < this.opts.poisonFraction) {
      this.counts.poison++;
      const p = poisonRecord(this.rng, Math.floor(this.now));
      return {
        topic: p.topic,
        partition: partitionOf(p.key, this.opts.partitions),
        key: p.key,
        value: p.value,
      };
    }
    for (;;) {
      const top = this.pending.peek();
      if (top !== undefined && top.due <= this.now) {
        this.pending.pop();
        return this.deliver(top);
      }
      if (this.rng.next() < ORDER_SHARE) this.planOrder(Math.floor(this.now));
      else return this.ad(Math.floor(this.now));
    }
  }

  private deliver(d: Delivery): GenRecord {
    d.value = d.render();
    const c = this.counts;
    if (d.topic === TOPICS.refunds) c.refunds++;
    else if (d.status === null) c.payments++;
    else c.orders++;
    if (d.flags & LATE) c.late++;
    if (d.flags & DUPLICATE) c.duplicates++;
    if (d.flags & OUT_OF_ORDER) c.outOfOrder++;
    if (d.flags & PAYMENT_FIRST) c.paymentFirst++;
    return d;
  }

  private planOrder(t0: number): void {
    const { rng, population: pop } = this;
    const id = `o-${++this.orderSeq}`;
    const seller = pop.sellers.sample(rng);
    const category = rng.chance(HOME_CATEGORY_SHARE)
      ? (pop.sellerHomeCategory[seller] as number)
      : pop.categories.sample(rng);
    const fate = rng.next();
    const paid = fate >= P_CANCEL + P_ABANDON;
    const payFirst = paid && rng.chance(P_PAY_FIRST);
    const order: Order = {
      id,
      partition: partitionOf(id, this.opts.partitions),
      buyerId: pop.buyerId(pop.buyers.sample(rng)),
      sellerId: pop.sellerIds[seller] as string,
      categoryId: pop.categoryIds[category] as string,
      paymentId: paid ? `p-${++this.paymentSeq}` : "",
      refundId: "",
    };
    let amount = this.drawAmount();
    let t = t0;
    const steps: Step[] = [{ status: "created", amount, time: t }];
    if (!payFirst && rng.chance(P_AMEND)) {
      t += rng.range(1000, 10_000);
      amount = this.amend(amount);
      steps.push({ status: "created", amount, time: t });
    }
    let payTime = -1;
    const paidAmount = amount;
    if (paid) {
      payTime = t + (payFirst ? rng.range(200, 3000) : rng.range(1000, 20_000));
      t = payTime + rng.range(50, 1500);
      steps.push({ status: "paid", amount, time: t });
      if (rng.chance(P_SHIP)) steps.push({ status: "shipped", amount, time: t + rng.range(2000, 20_000) });
    } else if (fate < P_CANCEL) {
      steps.push({ status: "cancelled", amount, time: t + rng.range(5000, 30_000) });
    }

    const due = steps.map((s) => s.time);
    const flags = steps.map(() => 0);
    if (payFirst) {
      due[0] = payTime + rng.range(100, 2000);
      flags[0] = PAYMENT_FIRST;
    } else if (steps.length >= 2 && rng.chance(P_OUT_OF_ORDER)) {
      const n = rng.int(steps.length - 1);
      const gap = (steps[n + 1] as Step).time - (steps[n] as Step).time;
      if (gap <= OUT_OF_ORDER_WINDOW_MS) {
        due[n] = (steps[n + 1] as Step).time + rng.range(20, 1000);
        flags[n] = OUT_OF_ORDER;
      }
    }
    steps.forEach((s, i) => {
      this.schedule(
        due[i] as number,
        TOPICS.orders,
        order,
        i + 1,
        s.status,
        s.amount,
        s.time,
        flags[i] as number,
        P_DUP_VERSION,
      );
    });
    if (!paid) return;
    const refund = rng.chance(this.opts.refundFraction) ? this.planRefund(order, paidAmount, payTime) : null;
    // A refund that reaches Kafka before its payment (the payment held up on the way): it waits in join state.
    const payDue = refund?.first ? refund.time + rng.range(100, 2000) : payTime;
    this.schedule(payDue, TOPICS.payments, order, 0, null, paidAmount, payTime, 0, P_DUP_PAYMENT);
    if (refund)
      this.schedule(refund.time, TOPICS.refunds, order, 0, null, refund.amount, refund.time, 0, P_DUP_REFUND);
  }

  private planRefund(order: Order, paidAmount: number, payTime: number): PlannedRefund {
    const { rng } = this;
    order.refundId = `r-${++this.refundSeq}`;
    const share = rng.next();
    const amount =
      share < P_REFUND_FULL
        ? paidAmount
        : share < P_REFUND_FULL + P_REFUND_OVER
          ? paidAmount + rng.range(100, 10_000)
          : Math.max(1, Math.round(paidAmount * (0.1 + 0.8 * rng.next())));
    const first = rng.chance(P_REFUND_FIRST);
    if (first) this.counts.refundFirst++;
    return { amount, first, time: payTime + (first ? rng.range(50, 500) : rng.range(2000, 40_000)) };
  }

  private schedule(
    due: number,
    topic: InputTopic,
    order: Order,
    version: number,
    status: OrderStatus | null,
    amount: number,
    time: number,
    flags: number,
    pDuplicate: number,
  ): void {
    const { rng } = this;
    let eventTime = time;
    let f = flags;
    if (rng.next() < this.opts.lateFraction) {
      eventTime -= this.opts.lateByMs;
      f |= LATE;
    }
    this.pending.push(new Delivery(due, this.tie++, topic, order, version, status, amount, eventTime, f));
    if (rng.chance(pDuplicate)) {
      const copyDue = due + rng.range(0, DUP_DELAY_MS);
      const copy = new Delivery(
        copyDue,
        this.tie++,
        topic,
        order,
        version,
        status,
        amount,
        eventTime,
        f | DUPLICATE,
      );
      this.pending.push(copy);
    }
  }

  private drawAmount(): number {
    const cents = Math.round(AMOUNT_MEDIAN_CENTS * Math.exp(AMOUNT_SIGMA * this.rng.normal()));
    return Math.min(Math.max(cents, MIN_AMOUNT_CENTS), MAX_AMOUNT_CENTS);
  }

  /** A changed amount (a coupon applied, a quantity changed): 70%-130% of the old one, never the same. */
  private amend(amount: number): number {
    const changed = Math.max(MIN_AMOUNT_CENTS, Math.round(amount * (0.7 + 0.6 * this.rng.next())));
    return changed === amount ? amount + 100 : changed;
  }

  private ad(t: number): GenRecord {
    const { rng, population: pop } = this;
    const eventId = `ad-${++this.adSeq}`;
    const advertiser = pop.advertisers.sample(rng);
    const click = rng.chance(CLICK_SHARE);
    const price = click ? pop.clickCostMicros[advertiser] : pop.impressionCostMicros[advertiser];
    const costMicros = Math.max(1, Math.round((price as number) * (0.8 + 0.4 * rng.next())));
    let eventTime = t;
    if (rng.next() < this.opts.lateFraction) {
      eventTime -= this.opts.lateByMs;
      this.counts.late++;
    }
    this.counts.ads++;
    const value = JSON.stringify({
      eventId,
      kind: click ? "click" : "impression",
      advertiserId: pop.advertiserIds[advertiser],
      costMicros,
      userId: pop.buyerId(pop.buyers.sample(rng)),
      eventTime,
    });
    return { topic: TOPICS.ads, partition: partitionOf(eventId, this.opts.partitions), key: eventId, value };
  }

  /** A record that fails the schema, shaped like a real one of a random topic. */
  private malformed(t: number): GenRecord {
    const { rng, population: pop } = this;
    this.counts.malformed++;
    const r = rng.next();
    const topic: InputTopic =
      r < 0.45 ? TOPICS.orders : r < 0.6 ? TOPICS.payments : r < 0.65 ? TOPICS.refunds : TOPICS.ads;
    const orderId = `o-${Math.max(this.orderSeq, 1)}`;
    let keyField: string;
    let amountField: string;
    let obj: Record<string, unknown>;
    if (topic === TOPICS.ads) {
      keyField = "eventId";
      amountField = "costMicros";
      obj = {
        eventId: `ad-${Math.max(this.adSeq, 1)}`,
        kind: "impression",
        advertiserId: pop.advertiserIds[0],
        costMicros: pop.impressionCostMicros[0],
        eventTime: t,
      };
    } else if (topic === TOPICS.refunds) {
      keyField = "orderId";
      amountField = "amount";
      obj = {
        refundId: `r-${Math.max(this.refundSeq, 1)}`,
        orderId,
        amount: AMOUNT_MEDIAN_CENTS,
        eventTime: t,
      };
    } else {
      keyField = "orderId";
      amountField = "amount";
      obj =
        topic === TOPICS.orders
          ? {
              orderId,
              version: 1,
              buyerId: pop.buyerId(0),
              sellerId: pop.sellerIds[0],
              categoryId: pop.categoryIds[0],
              amount: AMOUNT_MEDIAN_CENTS,
              status: "created",
              eventTime: t,
            }
          : {
              paymentId: `p-${Math.max(this.paymentSeq, 1)}`,
              orderId,
              buyerId: pop.buyerId(0),
              amount: AMOUNT_MEDIAN_CENTS,
              eventTime: t,
            };
    }
    // The collector keys a record by the id it read.
    let key = String(obj[keyField]);
    let value: string;
    switch (rng.int(4)) {
      case 0: {
        const json = JSON.stringify(obj);
        value = json.slice(0, json.length >> 1);
        break;
      }
      case 1: {
        const fields = Object.keys(obj);
        delete obj[fields[rng.int(fields.length)] as string];
        value = JSON.stringify(obj);
        break;
      }
      case 2:
        obj[amountField] = -(obj[amountField] as number);
        value = JSON.stringify(obj);
        break;
      default:
        key = `${key}${BAD_ID_CHARS[rng.int(BAD_ID_CHARS.length)]}`;
        obj[keyField] = key;
        value = JSON.stringify(obj);
    }
    const partition = partitionOf(key, this.opts.partitions);
    if (topic === TOPICS.orders) this.counts.orders++;
    else if (topic === TOPICS.payments) this.counts.payments++;
    else if (topic === TOPICS.refunds) this.counts.refunds++;
    else this.counts.ads++;
    return { topic, partition, key, value };
  }
}
