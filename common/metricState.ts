import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { BusinessClock } from "./businessTime.ts";
import { METRICS, metricFingerprint } from "./catalog.ts";
import { keys } from "./keys.ts";

// Each metric's state in a link (HASH os:metrics, field = metric name, value = JSON StoredMetric): the
// definition its values were computed under, and since when the link has computed it without a break. The
// processor registers its catalog there when it starts (processor/claimMetrics.lua); the gateway flags answers
// and the comparator leaves out metrics that are not complete for the day asked; backfill completes them.

export interface MetricSince {
  /** Highest event time any partition had reached when computing began (epoch ms). */
  eventTime: number;
  /** The link's stored offsets when computing began: "<topic>:<partition>" -> next offset. */
  offsets: Record<string, number>;
}

export interface StoredMetric {
  /** The definition (common/catalog.ts metricFingerprint) its values were computed under. */
  def: Record<string, string>;
  /** Not computed by the release that last started on the link (removed from its catalog): left alone. */
  paused: boolean;
  /** When the current unbroken computation began; null when it began with the link's first record. */
  since: MetricSince | null;
  /** Business days up to and including this one were completed by a backfill (YYYY-MM-DD). */
  backfilledThrough?: string;
}

/** The last day of an incomplete metric that is not computed at all (absent from the link, or paused). */
export const NEVER_COMPLETE = "9999-12-31";

/** The last business day a metric cannot vouch for on a link: null when every day is complete. */
export function incompleteThrough(m: StoredMetric | undefined, clock: BusinessClock): string | null {
  if (!m || m.paused) return NEVER_COMPLETE;
  if (m.since === null) return null;
  const through = clock.dateOf(m.since.eventTime);
  return m.backfilledThrough !== undefined && m.backfilledThrough >= through ? null : through;
}

/** Whether a link's values of a metric for a business day are the whole day's. */
export function completeOn(m: StoredMetric | undefined, date: string, clock: BusinessClock): boolean {
  const through = incompleteThrough(m, clock);
  return through === null || date > through;
}

export async function readMetricStates(redis: Redis): Promise<Record<string, StoredMetric>> {
  const raw = await redis.hgetall(keys.metricStates);
  const out: Record<string, StoredMetric> = {};
  for (const [name, json] of Object.entries(raw)) out[name] = JSON.parse(json) as StoredMetric;
  return out;
}

/**
 * Identifies the set of metrics a process computes: stored in the link's meta by the last processor that
 * started, and checked with every batch, so a process of another release cannot add to values it does not
 * compute the same way (it is fenced off and exits for a restart).
 */
export function catalogFingerprint(): string {
  const lines = METRICS.map((m) => `${m.name}=${JSON.stringify(metricFingerprint(m))}`).sort();
  return createHash("sha1").update(lines.join("\n")).digest("hex");
}
