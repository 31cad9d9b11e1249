import { METRICS, type MetricKind } from "../common/catalog.ts";
import type { LinkProgress } from "../common/linkReader.ts";
import type { ScrubMismatch } from "./scrub.ts";

// What one probe of a link sees (probe.ts gathers it, judge.ts judges it): kept apart from both so that
// neither depends on the other.

/** The metrics compared live: every cumulative one, at dimension `all`, key `all`. */
export const LIVE_METRICS: readonly { name: string; kind: MetricKind }[] = METRICS.filter(
  (m) => m.cumulative,
).map((m) => ({ name: m.name, kind: m.kind }));

/** Progress of a link that could not be read, or not yet. */
export const NO_PROGRESS: LinkProgress = { watermark: 0, partitions: {}, closedThrough: 0, heartbeat: 0 };

/** What one probe saw of one link. */
export interface Observation {
  link: string;
  /** When the probe finished (comparator clock, epoch ms). */
  at: number;
  /** Why the link's Redis could not be read; null when it answered. */
  error: string | null;
  progress: LinkProgress;
  /** Records in the link's Kafka its processors have not applied yet; null when Kafka could not be asked. */
  lagRecords: number | null;
  /** Business day of `values` and `digests`. */
  date: string;
  /** Day-to-date value of every live metric (dimension `all`). */
  values: Record<string, number>;
  /** Digests of the closed minutes of `date`, one per minute and metric: "<HHMM>|<metric>" -> sha1. */
  digests: Record<string, string>;
  /** Live metrics this link's values of `date` do not cover whole (new, paused or not backfilled yet). */
  incomplete: string[];
  /** What the link's scrub finds standing now (comparator/scrub.ts). */
  scrub: ScrubMismatch[];
}
