// Kafka topic names: the same on every link. Orders and payments are co-partitioned by order id (same
// partition count, same key), which is what lets one processor join them without a shuffle.
export const TOPICS = {
  orders: "trade.orders",
  payments: "trade.payments",
  ads: "ads.events",
  deadLetter: "oneservice.deadletter",
} as const;

export const INPUT_TOPICS = [TOPICS.orders, TOPICS.payments, TOPICS.ads] as const;
export const ALL_TOPICS = [...INPUT_TOPICS, TOPICS.deadLetter] as const;
export type InputTopic = (typeof INPUT_TOPICS)[number];
