import type { MetricKind } from "../common/catalog.ts";
import type { LinkState } from "../common/routing.ts";
import { LIVE_METRICS, NO_PROGRESS, type Observation } from "./observation.ts";

// Observations over time -> link states with their evidence. No I/O and no clock of its own (the caller
// passes `now`), so every rule and the hysteresis are tested probe by probe.
//
// Raw verdict of one probe, most serious first:
//   down      the link's Redis did not answer, or its newest processor heartbeat is older than the bound;
//   diverged  a closed minute's digest differs from the one most links hold (three or more links have closed
//             it), or a live cumulative value's gap to the median of the others kept widening over the last
//             GAP_WINDOW probes while the link kept pace (see `widening` for what each of those words means),
//             or the link's scrub finds its stored values disagree with each other (comparator/scrub.ts);
//   lagging   its watermark is behind the best link's, or its Kafka lag above the smallest, by more than a bound.
// With only two links to compare a disagreement names no culprit: both are reported as suspect, not judged.
// A link's state moves only after HYSTERESIS_PROBES consecutive raw verdicts that disagree with it.

/**
 * How much a live gap must grow over the window to count, by metric kind. Sums and counts are exact
 * integers, so any steady growth counts; distinct counts are HyperLogLog estimates (about 0.8% standard
 * error) that two links fed slightly different moments of the same stream may read apart. Closed minutes
 * need no tolerance at all: their digests cover every value and must match bit for bit.
 */
export const GAP_GROWTH_TOLERANCE: Record<MetricKind, (reference: number) => number> = {
  sum: () => 0,
  count: () => 0,
  distinct: (reference) => Math.max(2, Math.ceil(reference * 0.01)),
};

/** Scrub mismatches kept whole in a finding's evidence; the rest are counted. */
const SCRUB_EVIDENCE = 20;

export interface JudgeSettings {
  heartbeatStaleMs: number;
  lagBoundMs: number;
  lagBoundRecords: number;
  hysteresisProbes: number;
  gapWindow: number;
}

export type Rule =
  | "unreachable"
  | "heartbeat_stale"
  | "watermark_behind"
  | "consumer_lag"
  | "digest_mismatch"
  | "scrub_mismatch"
  | "widening_gap";

export interface Finding {
  rule: Rule;
  /** One line for people, with the value and its bound. */
  detail: string;
  /** The values, gaps, lags and thresholds behind the finding. */
  evidence: Record<string, unknown>;
}

const STATE_OF_RULE: Record<Rule, "down" | "diverged" | "lagging"> = {
  unreachable: "down",
  heartbeat_stale: "down",
  digest_mismatch: "diverged",
  scrub_mismatch: "diverged",
  widening_gap: "diverged",
  watermark_behind: "lagging",
  consumer_lag: "lagging",
};
const SERIOUSNESS: readonly LinkState[] = ["down", "diverged", "lagging"];

export interface LinkJudgement {
  link: string;
  state: LinkState;
  /** When the link entered its state (epoch ms). */
  since: number;
  /** Why the link is in its state, refreshed at every probe that agrees with it (empty when healthy). */
  findings: Finding[];
  /** Disagreements with no majority to name the wrong link: reported, never acted on. */
  suspicions: Finding[];
  /** A state the probes point to that hysteresis has not accepted yet. */
  pending: { state: LinkState; probes: number } | null;
  /** Minutes the link has closed since it recovered from a fault; null when no fault was seen. */
  healthyClosedMinutes: number | null;
  heartbeatAgeMs: number | null;
  watermarkBehindMs: number | null;
  /** Per live metric: the median of the comparable links minus this link's value. */
  gaps: Record<string, number>;
  /** Metrics left out of the comparisons because some link does not hold them whole for the day. */
  notCompared: string[];
  observation: Observation;
}

/** A link before its first judgement: state unknown, nothing observed yet. */
export function unknownJudgement(link: string, at: number): LinkJudgement {
  return {
    link,
    state: "unknown",
    since: at,
    findings: [],
    suspicions: [],
    pending: null,
    healthyClosedMinutes: null,
    heartbeatAgeMs: null,
    watermarkBehindMs: null,
    gaps: {},
    notCompared: [],
    observation: {
      link,
      at,
      error: null,
      progress: NO_PROGRESS,
      lagRecords: null,
      date: "",
      values: {},
      digests: {},
      incomplete: [],
      scrub: [],
    },
  };
}

export interface StateChange {
  link: string;
  from: LinkState;
  to: LinkState;
  at: number;
  /** Best estimate of when the fault began: the last heartbeat, answer or watermark move before it. */
  onset: number;
  findings: Finding[];
}

interface GapSample {
  at: number;
  gap: number;
  value: number;
  reference: number;
  watermark: number;
  bestWatermark: number;
}

interface Track {
  state: LinkState;
  since: number;
  findings: Finding[];
  pending: { state: LinkState; probes: number; firstAt: number } | null;
  lastAnswerAt: number;
  watermark: number;
  watermarkMovedAt: number;
  gapSamples: Map<string, GapSample[]>;
  recoveredAtClosed: number | null;
}

interface Raw {
  findings: Finding[];
  suspicions: Finding[];
  heartbeatAgeMs: number | null;
  watermarkBehindMs: number | null;
  gaps: Record<string, number>;
}

export class Judge {
  private readonly tracks = new Map<string, Track>();

  constructor(
    private readonly links: readonly string[],
    private readonly settings: JudgeSettings,
    startedAt: number,
  ) {
    for (const link of links) {
      this.tracks.set(link, {
        state: "unknown",
        since: startedAt,
        findings: [],
        pending: null,
        lastAnswerAt: startedAt,
        watermark: 0,
        watermarkMovedAt: startedAt,
        gapSamples: new Map(),
        recoveredAtClosed: null,
      });
    }
  }

  /** One probe of every link (in `links` order) -> the judgement of each and the states that changed. */
  step(
    observations: readonly Observation[],
    now: number,
  ): { links: LinkJudgement[]; changes: StateChange[] } {
    const raws = new Map<string, Raw>();
    for (const o of observations)
      raws.set(o.link, {
        findings: [],
        suspicions: [],
        heartbeatAgeMs: null,
        watermarkBehindMs: null,
        gaps: {},
      });
    this.judgeLiveness(observations, raws, now);
    this.judgeProgress(observations, raws);
    // A metric that some link does not hold whole for the day (new there, paused, not backfilled) would look
    // like a disagreement: it is left out of every comparison, and the evidence says so.
    const notCompared = [
      ...new Set(observations.filter((o) => o.error === null).flatMap((o) => o.incomplete)),
    ].sort();
    this.judgeDigests(observations, raws, notCompared);
    this.judgeScrub(observations, raws, notCompared);
    this.judgeGaps(observations, raws, notCompared);

    const changes: StateChange[] = [];
    const links = observations.map((o) => {
      const track = this.track(o.link);
      const raw = raws.get(o.link) as Raw;
      this.remember(track, o);
      const change = this.applyHysteresis(track, o, raw.findings, now);
      if (change) changes.push(change);
      return {
        link: o.link,
        state: track.state,
        since: track.since,
        findings: track.findings,
        suspicions: raw.suspicions,
        pending: track.pending ? { state: track.pending.state, probes: track.pending.probes } : null,
        healthyClosedMinutes:
          track.state === "healthy" && track.recoveredAtClosed !== null
            ? Math.floor(Math.max(0, o.progress.closedThrough - track.recoveredAtClosed) / 60_000)
            : null,
        heartbeatAgeMs: raw.heartbeatAgeMs,
        watermarkBehindMs: raw.watermarkBehindMs,
        gaps: raw.gaps,
        notCompared,
        observation: o,
      };
    });
    return { links, changes };
  }

  private track(link: string): Track {
    const track = this.tracks.get(link);
    if (!track) throw new Error(`link ${link} is not one of ${this.links.join(", ")}`);
    return track;
  }

  private judgeLiveness(observations: readonly Observation[], raws: Map<string, Raw>, now: number): void {
    const bound = this.settings.heartbeatStaleMs;
    for (const o of observations) {
      const raw = raws.get(o.link) as Raw;
      if (o.error !== null) {
        raw.findings.push({
          rule: "unreachable",
          detail: `Redis did not answer: ${o.error}`,
          evidence: { error: o.error, lastAnswerAt: this.track(o.link).lastAnswerAt },
        });
        continue;
      }
      const heartbeat = o.progress.heartbeat;
      raw.heartbeatAgeMs = heartbeat > 0 ? now - heartbeat : null;
      if (now - heartbeat > bound) {
        raw.findings.push({
          rule: "heartbeat_stale",
          detail:
            heartbeat === 0
              ? "no processor heartbeat"
              : `newest heartbeat ${now - heartbeat} ms old (bound ${bound} ms)`,
          evidence: { heartbeat, ageMs: heartbeat === 0 ? null : now - heartbeat, boundMs: bound },
        });
      }
    }
  }

  private judgeProgress(observations: readonly Observation[], raws: Map<string, Raw>): void {
    const answered = observations.filter((o) => o.error === null);
    const best = maxBy(answered, (o) => o.progress.watermark);
    const known = answered.filter((o) => o.lagRecords !== null);
    const leastLag = maxBy(known, (o) => -(o.lagRecords as number));
    const { lagBoundMs, lagBoundRecords } = this.settings;
    for (const o of answered) {
      const raw = raws.get(o.link) as Raw;
      if (best) {
        const behind = best.progress.watermark - o.progress.watermark;
        raw.watermarkBehindMs = behind;
        if (behind > lagBoundMs) {
          raw.findings.push({
            rule: "watermark_behind",
            detail: `watermark ${behind} ms behind link ${best.link} (bound ${lagBoundMs} ms)`,
            evidence: {
              watermark: o.progress.watermark,
              bestWatermark: best.progress.watermark,
              bestLink: best.link,
              behindMs: behind,
              boundMs: lagBoundMs,
              partitions: o.progress.partitions,
            },
          });
        }
      }
      if (leastLag && o.lagRecords !== null) {
        const behind = o.lagRecords - (leastLag.lagRecords as number);
        if (behind > lagBoundRecords) {
          raw.findings.push({
            rule: "consumer_lag",
            detail: `Kafka lag ${o.lagRecords} records, ${behind} more than link ${leastLag.link} (bound ${lagBoundRecords})`,
            evidence: {
              lagRecords: o.lagRecords,
              bestLagRecords: leastLag.lagRecords,
              bestLink: leastLag.link,
              behindRecords: behind,
              boundRecords: lagBoundRecords,
            },
          });
        }
      }
    }
  }

  private judgeDigests(
    observations: readonly Observation[],
    raws: Map<string, Raw>,
    notCompared: readonly string[],
  ): void {
    const answered = observations.filter((o) => o.error === null);
    // A digest field is "<HHMM>|<metric>" (common/keys.ts digestField).
    const minutes = new Set(
      answered
        .flatMap((o) => Object.keys(o.digests))
        .filter((f) => !notCompared.includes(f.split("|")[1] ?? "")),
    );
    const mismatches = new Map<string, { minutes: string[]; first: Record<string, unknown> }>();
    const suspects = new Map<string, { minutes: string[]; first: Record<string, unknown> }>();
    const note = (
      into: typeof mismatches,
      link: string,
      minute: string,
      evidence: () => Record<string, unknown>,
    ) => {
      const entry = into.get(link);
      if (entry) entry.minutes.push(minute);
      else into.set(link, { minutes: [minute], first: evidence() });
    };
    for (const minute of [...minutes].sort()) {
      const holders = answered.filter((o) => o.digests[minute] !== undefined);
      const byDigest = groupBy(holders, (o) => o.digests[minute] as string);
      if (byDigest.size < 2) continue;
      const all = Object.fromEntries(holders.map((o) => [o.link, o.digests[minute]]));
      const [majorityDigest, majority] = [...byDigest].sort((x, y) => y[1].length - x[1].length)[0] as [
        string,
        Observation[],
      ];
      // A strict majority of the holders names the culprits; it takes at least three holders to have one.
      const decisive = majority.length * 2 > holders.length;
      for (const o of holders) {
        const digest = o.digests[minute] as string;
        if (decisive && digest === majorityDigest) continue;
        note(decisive ? mismatches : suspects, o.link, minute, () => ({
          date: o.date,
          minute: minute.split("|")[0],
          metric: minute.split("|")[1] ?? null,
          digests: all,
          notCompared,
          ...(decisive ? { majorityDigest, majorityLinks: majority.map((m) => m.link) } : {}),
        }));
      }
    }
    for (const [link, m] of mismatches) {
      (raws.get(link) as Raw).findings.push({
        rule: "digest_mismatch",
        detail: `closed minute ${m.first.date} ${m.first.minute} of ${m.first.metric} differs from the majority (${m.minutes.length} minute digest(s) differ)`,
        evidence: { ...m.first, minutesDiffering: m.minutes.length, lastMinute: m.minutes.at(-1) },
      });
    }
    for (const [link, m] of suspects) {
      (raws.get(link) as Raw).suspicions.push({
        rule: "digest_mismatch",
        detail: `closed minute ${m.first.date} ${m.first.minute} of ${m.first.metric} differs and no majority says which link is wrong`,
        evidence: { ...m.first, minutesDiffering: m.minutes.length },
      });
    }
  }

  /** A link's values that disagree with its own other values (comparator/scrub.ts), on metrics it holds whole. */
  private judgeScrub(
    observations: readonly Observation[],
    raws: Map<string, Raw>,
    notCompared: readonly string[],
  ): void {
    for (const o of observations) {
      const judged = o.scrub.filter((m) => m.metric === null || !notCompared.includes(m.metric));
      const first = judged[0];
      if (!first) continue;
      const where = [first.date, first.minute, first.metric, first.dim, first.key].filter((x) => x !== null);
      (raws.get(o.link) as Raw).findings.push({
        rule: "scrub_mismatch",
        detail: `scrub: ${first.check} at ${where.join(" ")}: stored ${first.stored}, re-derived ${first.derived} (${judged.length} mismatch(es) standing)`,
        evidence: { ...first, mismatches: judged.length, all: judged.slice(0, SCRUB_EVIDENCE), notCompared },
      });
    }
  }

  private judgeGaps(
    observations: readonly Observation[],
    raws: Map<string, Raw>,
    notCompared: readonly string[],
  ): void {
    // Only links that answered, are alive and keep up are compared: a lagging link reads smaller for a reason.
    const comparable = observations.filter(
      (o) =>
        o.error === null &&
        !(raws.get(o.link) as Raw).findings.some((f) => STATE_OF_RULE[f.rule] !== "diverged"),
    );
    for (const o of observations) {
      if (!comparable.includes(o)) this.track(o.link).gapSamples.clear();
    }
    if (comparable.length < 2) return;
    const bestWatermark = Math.max(...comparable.map((o) => o.progress.watermark));
    const window = this.settings.gapWindow;
    for (const metric of LIVE_METRICS) {
      if (notCompared.includes(metric.name)) {
        for (const o of comparable) this.track(o.link).gapSamples.delete(metric.name);
        continue;
      }
      const reference = median(comparable.map((o) => o.values[metric.name] ?? 0));
      for (const o of comparable) {
        const value = o.values[metric.name] ?? 0;
        const gap = reference - value;
        const raw = raws.get(o.link) as Raw;
        raw.gaps[metric.name] = gap;
        const samples = this.track(o.link).gapSamples.get(metric.name) ?? [];
        samples.push({ at: o.at, gap, value, reference, watermark: o.progress.watermark, bestWatermark });
        if (samples.length > window + 1) samples.shift();
        this.track(o.link).gapSamples.set(metric.name, samples);
        const tolerance = GAP_GROWTH_TOLERANCE[metric.kind](reference);
        const trend = samples.length > window ? widening(samples, tolerance) : null;
        if (trend === null) continue;
        const finding: Finding = {
          rule: "widening_gap",
          detail: `${metric.name} reads ${gap > 0 ? "smaller" : "larger"} than the others by ${Math.abs(gap)}, grown by ${trend.growth} over ${window} probes`,
          evidence: {
            metric: metric.name,
            kind: metric.kind,
            date: o.date,
            value,
            reference,
            gap,
            ...trend,
            tolerance,
            windowProbes: window,
            comparedWith: comparable.map((c) => c.link),
            notCompared,
            samples: [...samples],
          },
        };
        if (comparable.length >= 3) raw.findings.push(finding);
        else
          raw.suspicions.push({
            ...finding,
            detail: `${finding.detail}; no majority to say which link is wrong`,
          });
      }
    }
  }

  private remember(track: Track, o: Observation): void {
    if (o.error !== null) return;
    track.lastAnswerAt = o.at;
    // A link that recovered before it had closed any minute starts counting from its first closed minute.
    if (track.recoveredAtClosed === 0) track.recoveredAtClosed = o.progress.closedThrough;
    if (o.progress.watermark !== track.watermark) {
      track.watermark = o.progress.watermark;
      track.watermarkMovedAt = o.at;
    }
  }

  private applyHysteresis(
    track: Track,
    o: Observation,
    findings: Finding[],
    now: number,
  ): StateChange | null {
    const raw = SERIOUSNESS.find((s) => findings.some((f) => STATE_OF_RULE[f.rule] === s)) ?? "healthy";
    const relevant = findings.filter((f) => STATE_OF_RULE[f.rule] === raw);
    if (raw === track.state) {
      track.pending = null;
      track.findings = relevant;
      return null;
    }
    track.pending = {
      state: raw,
      probes: (track.pending?.probes ?? 0) + 1,
      firstAt: track.pending?.firstAt ?? now,
    };
    if (track.pending.probes < this.settings.hysteresisProbes) return null;
    const change: StateChange = {
      link: o.link,
      from: track.state,
      to: raw,
      at: now,
      onset: Math.min(track.pending.firstAt, ...relevant.map((f) => this.onsetOf(f, track))),
      findings: relevant,
    };
    if (raw === "healthy") {
      track.recoveredAtClosed = track.state === "unknown" ? null : o.progress.closedThrough;
    }
    track.state = raw;
    track.since = now;
    track.findings = relevant;
    track.pending = null;
    return change;
  }

  private onsetOf(f: Finding, track: Track): number {
    if (f.rule === "unreachable") return track.lastAnswerAt;
    if (f.rule === "heartbeat_stale") return Number(f.evidence.heartbeat) || Number.POSITIVE_INFINITY;
    if (f.rule === "watermark_behind" || f.rule === "consumer_lag") return track.watermarkMovedAt;
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * Whether a window of gap samples shows a link drifting away from the others, rather than being late:
 * - widening: the gap kept one sign, every sample of the later half is further out than every sample of the
 *   earlier half (one probe that caught a batch in flight does not reset the count), and it grew by more
 *   than the metric kind's tolerance;
 * - not explained by lag: the gap is more than twice what the link's watermark lag accounts for at the rate
 *   the others' value grows per millisecond of event time. A stalled link's values freeze and its gap widens,
 *   and a link a few hundred ms behind through a traffic ramp reads smaller by a growing amount: both are
 *   lag, judged by the lag bounds, not wrong data.
 */
function widening(
  samples: readonly GapSample[],
  tolerance: number,
): { growth: number; explainedByLag: number } | null {
  const first = samples[0] as GapSample;
  const last = samples.at(-1) as GapSample;
  const sign = Math.sign(first.gap);
  if (sign === 0 || samples.some((s) => Math.sign(s.gap) !== sign)) return null;
  const distance = samples.map((s) => Math.abs(s.gap));
  const half = Math.floor(samples.length / 2);
  if (Math.min(...distance.slice(samples.length - half)) <= Math.max(...distance.slice(0, half))) return null;
  const growth = Math.abs(last.gap) - Math.abs(first.gap);
  if (growth <= tolerance) return null;
  const bestProgress = last.bestWatermark - first.bestWatermark;
  const ratePerMs = bestProgress > 0 ? (last.reference - first.reference) / bestProgress : 0;
  const explainedByLag = Math.abs(ratePerMs) * Math.max(0, last.bestWatermark - last.watermark);
  if (Math.abs(last.gap) <= 2 * explainedByLag) return null;
  return { growth, explainedByLag };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function maxBy<T>(items: readonly T[], score: (item: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || score(item) > score(best)) best = item;
  return best;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}
