import type { Producer } from "kafkajs";
import { TOPICS } from "../common/topics.ts";
import type { TestLink } from "./links.ts";

// A small deterministic producer that writes the same events, partition by partition, to several links'
// Kafkas: every tick, on every partition, one paid order (an order and its payment, co-partitioned) and one
// ad impression, all at the tick's event time, and every third tick a refund of part of that order (every
// input partition needs records for minutes to close). Event time starts at `startTime` and advances `speed` times
// faster than the wall clock, so tests see minutes close in seconds. One link's data can be made wrong on
// purpose (`dropOnLink`): that link then misses every other ad event of one partition.

export interface IdenticalFeedOptions {
  partitions: number;
  startTime: number;
  /** Event-time milliseconds per wall-clock millisecond. */
  speed: number;
  tickMs: number;
}

export interface IdenticalFeed {
  /** Event time of the last tick sent. */
  readonly eventTime: number;
  readonly ticks: number;
  /** From now on, `link` misses every other ad event of `partition`. */
  dropOnLink(link: string, partition: number): void;
  stop(): Promise<void>;
}

export async function startIdenticalFeed(
  links: TestLink[],
  opts: IdenticalFeedOptions,
): Promise<IdenticalFeed> {
  const producers = new Map<string, Producer>();
  for (const link of links) {
    const producer = link.kafkaClient.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    producers.set(link.id, producer);
  }
  let tick = 0;
  let eventTime = opts.startTime;
  let drop: { link: string; partition: number } | null = null;
  let stopped = false;

  const send = async () => {
    tick += 1;
    eventTime = opts.startTime + tick * opts.tickMs * opts.speed;
    await Promise.all(
      links.map((link) => {
        const ads = [];
        const orders = [];
        const payments = [];
        const refunds = [];
        for (let p = 0; p < opts.partitions; p++) {
          const orderId = `o-${tick}-${p}`;
          const buyerId = `u-${(tick * 7 + p) % 97}`;
          const amount = 1_000 + ((tick + p) % 9) * 10;
          orders.push({
            partition: p,
            key: orderId,
            value: JSON.stringify({
              orderId,
              version: 1,
              buyerId,
              sellerId: `s-${tick % 5}`,
              categoryId: `c-${p}`,
              amount,
              status: "paid",
              eventTime,
            }),
          });
          payments.push({
            partition: p,
            key: orderId,
            value: JSON.stringify({ paymentId: `pay-${tick}-${p}`, orderId, buyerId, amount, eventTime }),
          });
          if (tick % 3 === 0)
            refunds.push({
              partition: p,
              key: orderId,
              value: JSON.stringify({ refundId: `r-${tick}-${p}`, orderId, amount: 100, eventTime }),
            });
          if (drop?.link === link.id && drop.partition === p && tick % 2 === 0) continue;
          ads.push({
            partition: p,
            key: `e-${tick}-${p}`,
            value: JSON.stringify({
              eventId: `e-${tick}-${p}`,
              kind: "impression",
              advertiserId: `adv-${tick % 3}`,
              costMicros: 1_500,
              eventTime,
            }),
          });
        }
        return (producers.get(link.id) as Producer).sendBatch({
          topicMessages: [
            { topic: TOPICS.orders, messages: orders },
            { topic: TOPICS.payments, messages: payments },
            { topic: TOPICS.refunds, messages: refunds },
            { topic: TOPICS.ads, messages: ads },
          ],
        });
      }),
    );
  };

  // One tick at a time, each sent to every link before the next, so every partition gets the same order.
  const running = (async () => {
    while (!stopped) {
      const started = Date.now();
      await send();
      await new Promise((r) => setTimeout(r, Math.max(0, opts.tickMs - (Date.now() - started))));
    }
  })();

  return {
    get eventTime() {
      return eventTime;
    },
    get ticks() {
      return tick;
    },
    dropOnLink(link, partition) {
      drop = { link, partition };
    },
    async stop() {
      stopped = true;
      await running;
      await Promise.all([...producers.values()].map((p) => p.disconnect()));
    },
  };
}
