import { findSource, SOURCES } from "../common/catalog.ts";
import { bool, duration, int, oneOf, type Setting, str, url } from "../common/config.ts";
import { categoryFileSetting } from "../common/dimensionSettings.ts";
import { LINK_ID } from "../common/links.ts";
import { timeZoneSetting } from "../common/sharedSettings.ts";

/** "source=rate,source=rate": a cap per source; a name that is not a registered source is an error. */
function rateCaps(s: { env: string; doc: string }): Setting<Record<string, number>> {
  return {
    ...s,
    default: {},
    shownDefault: "(each source's own; built in: none)",
    parse: (raw) => {
      const caps: Record<string, number> = {};
      for (const part of raw.split(",")) {
        const [name, rate] = part.split("=").map((x) => x.trim());
        if (!name || !findSource(name))
          throw new Error(
            `${name || "(empty)"} is not a source; sources: ${SOURCES.map((x) => x.name).join(", ")}`,
          );
        const n = Number(rate);
        if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}: ${rate} is not a whole number >= 0`);
        caps[name] = n;
      }
      return caps;
    },
  };
}

// Everything a processor can be told. One process is one consumer-group member of one link.
export const processorSettings = {
  linkId: str({
    env: "LINK_ID",
    default: "a",
    pattern: LINK_ID,
    doc: "Which link this processor belongs to.",
  }),
  kafkaBrokers: str({
    env: "KAFKA_BROKERS",
    default: undefined,
    pattern: /^[^:\s,]+:\d+(,[^:\s,]+:\d+)*$/,
    doc: "The link's Kafka bootstrap servers, host:port[,host:port]. The dev stack sets it.",
  }),
  redisUrl: url({
    env: "REDIS_URL",
    default: undefined,
    protocols: ["redis:", "rediss:"],
    doc: "The link's Redis, where results, join state and offsets live. The dev stack sets it.",
  }),
  groupId: str({
    env: "PROCESSOR_GROUP_ID",
    default: "",
    shownDefault: "oneservice-processor-<LINK_ID>",
    doc: "Kafka consumer group of the link's processors.",
  }),
  port: int({
    env: "PROCESSOR_PORT",
    default: 0,
    min: 0,
    max: 65535,
    doc: "Port of /healthz, /readyz and /metrics; 0 picks a free one (logged at start).",
  }),
  host: str({
    env: "PROCESSOR_HOST",
    default: "127.0.0.1",
    doc: "Address the ops endpoints listen on; 0.0.0.0 where probes and Prometheus come from other hosts.",
  }),
  timeZone: timeZoneSetting,
  latenessMs: duration({
    env: "ALLOWED_LATENESS",
    default: 5_000,
    doc: "How far behind its partition's newest event time an event may be and still count in its minute.",
  }),
  futureMs: duration({
    env: "MAX_FUTURE_SKEW",
    default: 3_600_000,
    doc: "Events timed further than this ahead of the wall clock are dead-lettered, not trusted.",
  }),
  onDataLoss: oneOf({
    env: "ON_DATA_LOSS",
    default: "fail",
    values: ["fail", "skip"] as const,
    doc: "When stored offsets fall below the log start: fail = log, count, exit 2; skip = log, count, go on.",
  }),
  categoryFile: categoryFileSetting,
  sellerTierCacheSize: int({
    env: "SELLER_TIER_CACHE_SIZE",
    default: 100_000,
    min: 1,
    doc: "Entries of the LRU cache over the seller -> tier table in Redis.",
  }),
  sellerTierCacheTtlMs: duration({
    env: "SELLER_TIER_CACHE_TTL",
    default: 600_000,
    doc: "How long a cached seller tier is trusted before it is read again.",
  }),
  keyTtlSeconds: int({
    env: "KEY_TTL_SECONDS",
    default: 3 * 86_400,
    min: 60,
    doc: "Expiry of metric values and join state, in seconds.",
  }),
  heartbeatMs: duration({
    env: "HEARTBEAT_INTERVAL",
    default: 1_000,
    min: 50,
    doc: "How often the heartbeat is written and closed minutes are digested.",
  }),
  maxRatePerPartition: int({
    env: "MAX_RATE_PER_PARTITION",
    default: 0,
    min: 0,
    doc: "Events per second per partition at most (0 = no cap) for a source with no cap of its own; smooths a backlog release.",
  }),
  sourceRateCaps: rateCaps({
    env: "SOURCE_RATE_CAPS",
    doc: "Per-source caps over MAX_RATE_PER_PARTITION, e.g. trade=5000,ads=20000 (events/s per partition, 0 = no cap): a flood of one stream must not hold the others back.",
  }),
  redisSlowMs: duration({
    env: "REDIS_SLOW_THRESHOLD",
    default: 1_000,
    doc: "A batch whose Redis write takes longer pauses its partition for as long, to let Redis recover.",
  }),
  dependencyTimeoutMs: duration({
    env: "DEPENDENCY_TIMEOUT",
    default: 5_000,
    doc: "Redis unreachable for this long ends the process (exit 1) so the supervisor restarts it.",
  }),
  shutdownTimeoutMs: duration({
    env: "SHUTDOWN_TIMEOUT",
    default: 10_000,
    doc: "Bound on finishing the batch in hand and leaving the group after SIGTERM.",
  }),
  partitionsConcurrency: int({
    env: "PARTITIONS_CONSUMED_CONCURRENTLY",
    default: 4,
    min: 1,
    max: 64,
    doc: "Partitions processed at once by one process.",
  }),
  kafkaLogs: bool({
    env: "KAFKA_CLIENT_LOGS",
    default: false,
    doc: "Forward kafkajs's own logs at warn level.",
  }),
};
