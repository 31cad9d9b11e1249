import { Counter, Gauge, Histogram, type Registry } from "prom-client";

// The processor's Prometheus series. Labels stay bounded: topic (3), partition (the partition count), reason
// (the fixed list in common/events.ts plus a few of the processor's own).
export function processorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    events: new Counter({
      name: "oneservice_processor_events_total",
      help: "Input records handled, by outcome: applied, dead_letter, replayed (already applied), late.",
      labelNames: ["topic", "outcome"],
      registers,
    }),
    batches: new Counter({
      name: "oneservice_processor_batches_total",
      help: "Batches by result: applied, fenced (state moved by another member), replay (nothing new).",
      labelNames: ["topic", "result"],
      registers,
    }),
    applySeconds: new Histogram({
      name: "oneservice_processor_batch_apply_seconds",
      help: "Time to plan and apply one batch atomically in Redis.",
      labelNames: ["topic"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    deadLetters: new Counter({
      name: "oneservice_processor_dead_letters_total",
      help: "Rejected input records copied to the dead-letter topic, by reason.",
      labelNames: ["topic", "reason"],
      registers,
    }),
    deadLetterSendFailures: new Counter({
      name: "oneservice_processor_dead_letter_send_failures_total",
      help: "Produce calls the dead-letter topic refused; the letters stay in the local spool and are sent again.",
      registers,
    }),
    deadLettersDropped: new Counter({
      name: "oneservice_processor_dead_letters_dropped_total",
      help: "Dead letters dropped from a full local spool (oldest first) before the topic took them.",
      registers,
    }),
    deadLetterSpoolBytes: new Gauge({
      name: "oneservice_processor_dead_letter_spool_bytes",
      help: "Bytes of dead letters waiting in the local spool.",
      registers,
    }),
    dataLoss: new Counter({
      name: "oneservice_processor_data_loss_total",
      help: "Records deleted from Kafka before this link processed them.",
      labelNames: ["topic", "partition"],
      registers,
    }),
    lag: new Gauge({
      name: "oneservice_processor_partition_lag",
      help: "High watermark minus the next offset to process, per assigned partition.",
      labelNames: ["topic", "partition"],
      registers,
    }),
    maxEventTime: new Gauge({
      name: "oneservice_processor_partition_max_event_time_ms",
      help: "Highest event time processed per assigned partition (epoch ms).",
      labelNames: ["topic", "partition"],
      registers,
    }),
    closedThrough: new Gauge({
      name: "oneservice_processor_closed_through_ms",
      help: "Every minute ending at or before this instant is closed and digested on this link.",
      registers,
    }),
    closingWaitsFor: new Gauge({
      name: "oneservice_processor_closing_waits_for_partitions",
      help: "Input partitions that have had no record yet: minutes close only once every input partition has a watermark.",
      registers,
    }),
    assigned: new Gauge({
      name: "oneservice_processor_assigned_partitions",
      help: "Partitions assigned to this member.",
      registers,
    }),
    pauses: new Counter({
      name: "oneservice_processor_backpressure_pauses_total",
      help: "Partitions paused because a Redis write was slower than REDIS_SLOW_THRESHOLD.",
      labelNames: ["topic"],
      registers,
    }),
    sellerTierLookups: new Counter({
      name: "oneservice_processor_seller_tier_lookups_total",
      help: "Seller tier lookups by result: hit (LRU cache) or miss (read from Redis).",
      labelNames: ["result"],
      registers,
    }),
  };
}

export type ProcessorMetrics = ReturnType<typeof processorMetrics>;
