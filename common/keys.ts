// The Redis key layout of a link: written by the processor, read by the gateway and the comparator.
// Everything a link knows lives in its own Redis, including the Kafka offsets each value reflects, which is
// what makes a replay harmless (see processor/applyBatch.lua).

/** Bumped when the layout changes incompatibly; a processor refuses to run on state of another version. */
export const SCHEMA_VERSION = 2;

const P = "os";

export const keys = {
  /**
   * HASH: schemaVersion, catalog (fingerprint of the metrics computed), timeZone, lateness, expectedPartitions,
   * lateSince (epoch ms from which `late` is kept; 0 = from the link's start).
   */
  meta: `${P}:meta`,
  /** HASH metric name -> JSON StoredMetric: its definition and since when it is computed (common/metricState.ts). */
  metricStates: `${P}:metrics`,
  /** HASH "<topic>:<partition>" -> next offset to process (the last applied offset + 1). */
  offsets: `${P}:offsets`,
  /** HASH "<topic>:<partition>" -> highest event time seen in that partition (epoch ms). */
  maxEventTime: `${P}:maxet`,
  /** STRING epoch ms: every minute that ends at or before it is closed on this link (digest written). */
  closedThrough: `${P}:closed`,
  /**
   * STRING JSON {by, reason, at}, with a TTL the holder keeps refreshing: while it exists no batch is applied
   * and no minute closed (the seeds' external stop flag). A repair holds it; if the repair dies it expires.
   */
  pause: `${P}:pause`,
  /** HASH member id -> JSON heartbeat {ts, link, partitions: {"topic:p": {offset, maxEventTime}}}. */
  heartbeats: `${P}:hb`,
  /** HASH counter name -> integer: late events, dead letters by reason, data loss incidents. */
  counters: `${P}:counters`,
  /** HASH seller id -> tier: the large dimension table, read through an LRU cache. */
  sellerTier: `${P}:dim:seller_tier`,

  /** ZSET member = dimension key, score = value of the business day so far (all metric kinds). */
  day: (date: string, metric: string, dim: string) => `${P}:d:${date}:${metric}:${dim}`,
  /** HASH field = "<metric>|<dim>|<key>" -> value within the minute. */
  minute: (date: string, minute: string) => `${P}:m:${date}:${minute}`,
  /** HyperLogLog behind a distinct metric's day value; its count is mirrored into the day ZSET. */
  dayHll: (date: string, metric: string, dim: string, key: string) =>
    `${P}:hll:d:${date}:${metric}:${dim}:${key}`,
  /** HyperLogLog behind a distinct metric's minute value; its count is mirrored into the minute HASH. */
  minuteHll: (date: string, minute: string, metric: string, dim: string, key: string) =>
    `${P}:hll:m:${date}:${minute}:${metric}:${dim}:${key}`,
  /**
   * HASH field = "<metric>|<dim>|<key>" -> the day's contributions of a sum or count metric that came too late
   * for their minute (counted in the day value only), for each minute dimension: so the scrub can check that a
   * day value equals its minutes plus these.
   */
  late: (date: string) => `${P}:late:${date}`,
  /** HASH "<HHMM>|<metric>" -> sha1 of that metric's sorted values in that closed minute (digestField). */
  digests: (date: string) => `${P}:digest:${date}`,
  // Join state keys belong to their source (common/sources/), which owns their layout.
} as const;

export function minuteField(metric: string, dim: string, key: string): string {
  return `${metric}|${dim}|${key}`;
}

/** A closed minute's digest of one metric: compared per metric, so a metric one link lacks is left out. */
export function digestField(minute: string, metric: string): string {
  return `${minute}|${metric}`;
}

export function partitionField(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
