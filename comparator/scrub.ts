import { Redis } from "ioredis";
import { type BusinessClock, MINUTE_MS } from "../common/businessTime.ts";
import { METRICS, type MetricDef } from "../common/catalog.ts";
import { keys, minuteField } from "../common/keys.ts";
import { completeOn, type StoredMetric } from "../common/metricState.ts";
import { LuaScript } from "../processor/luaScript.ts";

// The scrub: each link's stored values checked against themselves, continuously and a bounded slice per round,
// so a value corrupted after it was written (a double-applied write, a bad manual fix, a partial restore) is
// found even when the link's own digests still match the others'. Every round re-derives the digests of the
// next SCRUB_MINUTES_PER_ROUND closed minutes of the business day and the day before (cycling through all of
// them), checks one metric dimension's day values against its minutes, and checks that offsets never went back.
// What it finds stands until the same thing is checked again and found sound; the judge makes it `diverged`.

const minutesScript = new LuaScript(
  new URL("./scrubMinutes.lua", import.meta.url),
  new URL("../processor/minuteDigests.lua", import.meta.url),
);
const daySumScript = new LuaScript(new URL("./scrubDaySum.lua", import.meta.url));
const dayHllScript = new LuaScript(new URL("./scrubDayHll.lua", import.meta.url));

export const SCRUB_CHECKS = [
  "minute_digest",
  "minute_hll",
  "day_sum",
  "day_hll",
  "hll_shrank",
  "offset_back",
] as const;
/**
 * minute_digest  a closed minute's digest re-derived from its stored values differs from the stored one
 * minute_hll     a distinct metric's minute value differs from the count of its HyperLogLog
 * day_sum        a sum or count's day value differs from the sum of its minutes plus its late contributions
 * day_hll        a distinct metric's day value differs from the count of its HyperLogLog
 * hll_shrank     a day HyperLogLog counts fewer than it did at the scrub's previous look
 * offset_back    a stored offset is lower than at the scrub's previous look
 */
export type ScrubCheck = (typeof SCRUB_CHECKS)[number];

export interface ScrubMismatch {
  check: ScrubCheck;
  date: string | null;
  /** HHMM of the minute, for the minute checks. */
  minute: string | null;
  metric: string | null;
  dim: string | null;
  /** Dimension key, or "<topic>:<partition>" for offsets. */
  key: string | null;
  /** What the link stores, and what the scrub re-derived (or saw before) from the link's other values. */
  stored: string;
  derived: string;
  /** Late contributions included in `derived` (day_sum). */
  late?: string;
  foundAt: number;
}

export interface ScrubProgress {
  /** Rounds run, and full passes over every closed minute of the two business days. */
  rounds: number;
  cycles: number;
  minutesChecked: number;
  /** Duration of the last full pass (ms); null before the first one ended. */
  lastCycleMs: number | null;
  /** The last closed minute checked. */
  position: { date: string; minute: string } | null;
  /** The last day check: "<date> <metric> <dim>". */
  lastDayCheck: string | null;
  lastRoundAt: number | null;
  /** Why the last round failed; null when it ran. */
  error: string | null;
}

export interface ScrubSettings {
  minutesPerRound: number;
  timeoutMs: number;
}

/** One unit of the day checks: a metric's values in one dimension (minuteDims for sums and counts). */
interface DayUnit {
  metric: MetricDef;
  dim: string;
}

const DAY_UNITS: readonly DayUnit[] = METRICS.flatMap((metric) =>
  dayDimsOf(metric).map((dim) => ({ metric, dim })),
);

/** Dimensions whose day values can be checked: sums and counts against their minutes, distincts everywhere. */
function dayDimsOf(m: MetricDef): readonly string[] {
  switch (m.kind) {
    case "sum":
    case "count":
      return m.minuteDims;
    case "distinct":
      return m.dims;
  }
}

export class Scrubber {
  private readonly redis: Redis;
  /** Standing mismatches by what was checked: "m:<date>:<HHMM>", "d:<date>:<metric>:<dim>", "offsets". */
  private readonly findings = new Map<string, ScrubMismatch[]>();
  /** Start (epoch ms) of the last closed minute checked; the next round continues after it. */
  private position = Number.NEGATIVE_INFINITY;
  private cycleStartedAt: number | null = null;
  private dayUnit = 0;
  private offsets = new Map<string, number>();
  /** "<date>|<metric>|<dim>|<key>" -> the HyperLogLog's count at the previous look. */
  private hllCounts = new Map<string, number>();
  readonly progress: ScrubProgress = {
    rounds: 0,
    cycles: 0,
    minutesChecked: 0,
    lastCycleMs: null,
    position: null,
    lastDayCheck: null,
    lastRoundAt: null,
    error: null,
  };

  constructor(
    redisUrl: string,
    private readonly clock: BusinessClock,
    private readonly settings: ScrubSettings,
    /** Called with each mismatch the first time it is seen. */
    private readonly onFound: (m: ScrubMismatch) => void,
  ) {
    this.redis = new Redis(redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: settings.timeoutMs,
      commandTimeout: settings.timeoutMs,
      retryStrategy: () => Math.min(settings.timeoutMs, 1_000),
    });
    this.redis.on("error", () => {});
  }

  /** The mismatches standing now, the most precise first: minutes before days, in check then time order. */
  mismatches(): ScrubMismatch[] {
    const order = (m: ScrubMismatch) =>
      [SCRUB_CHECKS.indexOf(m.check), m.date, m.minute, m.metric, m.dim, m.key].join("|");
    return [...this.findings.values()].flat().sort((x, y) => order(x).localeCompare(order(y)));
  }

  /** One bounded slice of the scrub. Never throws: a failed round is reported in `progress.error`. */
  async round(): Promise<void> {
    try {
      await this.scrub();
      this.progress.error = null;
    } catch (err) {
      this.progress.error = (err as Error).message;
    }
    this.progress.rounds += 1;
    this.progress.lastRoundAt = Date.now();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async scrub(): Promise<void> {
    const [closedRaw, statesRaw, offsetsRaw, lateSince] = await Promise.all([
      this.redis.get(keys.closedThrough),
      this.redis.hgetall(keys.metricStates),
      this.redis.hgetall(keys.offsets),
      this.redis.hget(keys.meta, "lateSince"),
    ]);
    const states: Record<string, StoredMetric> = {};
    for (const [name, json] of Object.entries(statesRaw)) states[name] = JSON.parse(json) as StoredMetric;
    this.checkOffsets(offsetsRaw);
    const closedThrough = Number(closedRaw ?? 0);
    if (closedThrough <= 0) return;
    const today = this.clock.dateOf(closedThrough - 1);
    const dates = [this.clock.dateOf(this.clock.instantOf(today) - 1), today];
    for (const unit of this.findings.keys())
      if (unit !== "offsets" && !dates.some((d) => unit.includes(`:${d}:`))) this.findings.delete(unit);
    const incomplete = (date: string) =>
      new Set(Object.keys(states).filter((name) => !completeOn(states[name], date, this.clock)));
    await this.scrubMinutes(dates[0] as string, closedThrough, Object.keys(states), incomplete);
    // Days that began before the link kept its late contributions have no complete record of them.
    const lateKept = (date: string) =>
      this.clock.instantOf(date) >= Number(lateSince ?? Number.POSITIVE_INFINITY);
    await this.scrubDay(dates, incomplete, lateKept);
  }

  /** An offset lower than the highest seen stands as a mismatch until the link is past that offset again. */
  private checkOffsets(stored: Record<string, string>): void {
    const back: ScrubMismatch[] = [];
    for (const tp of new Set([...Object.keys(stored), ...this.offsets.keys()])) {
      const offset = Number(stored[tp] ?? 0);
      const highest = Math.max(offset, this.offsets.get(tp) ?? offset);
      if (offset < highest)
        back.push(this.mismatch("offset_back", null, null, null, null, String(offset), String(highest), tp));
      this.offsets.set(tp, highest);
    }
    this.setUnit("offsets", back);
  }

  /** The next closed minutes after the last one checked, from the start of the day before today. */
  private async scrubMinutes(
    firstDate: string,
    closedThrough: number,
    metrics: string[],
    incomplete: (date: string) => Set<string>,
  ): Promise<void> {
    const from = this.clock.instantOf(firstDate);
    let start = Math.max(from, this.position + MINUTE_MS);
    if (start + MINUTE_MS > closedThrough) {
      // A full pass is done: start again from the first minute.
      const now = Date.now();
      if (this.cycleStartedAt !== null) {
        this.progress.cycles += 1;
        this.progress.lastCycleMs = now - this.cycleStartedAt;
      }
      this.cycleStartedAt = now;
      start = from;
    }
    if (this.cycleStartedAt === null) this.cycleStartedAt = Date.now();
    const byDate = new Map<string, [string, string][]>();
    for (let n = 0; n < this.settings.minutesPerRound && start + MINUTE_MS <= closedThrough; n++) {
      const b = this.clock.bucket(start);
      const list = byDate.get(b.date) ?? [];
      list.push([b.minute, keys.minute(b.date, b.minute)]);
      byDate.set(b.date, list);
      this.position = start;
      this.progress.position = { date: b.date, minute: b.minute };
      start += MINUTE_MS;
    }
    const distinct = JSON.stringify(METRICS.filter((m) => m.kind === "distinct").map((m) => m.name));
    const allMetrics = JSON.stringify([...new Set([...metrics, ...METRICS.map((m) => m.name)])]);
    for (const [date, minutes] of byDate) {
      const [differences, counts] = (await minutesScript.run(
        this.redis,
        [],
        [keys.digests(date), JSON.stringify(minutes), distinct, allMetrics],
      )) as [[string, string, string, string][], [string, string, string][]];
      const pipeline = this.redis.pipeline();
      for (const [minute, field] of counts) {
        const [metric, dim, key] = field.split("|") as [string, string, string];
        pipeline.pfcount(keys.minuteHll(date, minute, metric, dim, key));
      }
      const pfcounts = (await pipeline.exec()) ?? [];
      const skip = incomplete(date);
      const found = new Map<string, ScrubMismatch[]>(minutes.map(([minute]) => [minute, []]));
      for (const [minute, metric, stored, derived] of differences) {
        if (!skip.has(metric))
          found
            .get(minute)
            ?.push(this.mismatch("minute_digest", date, minute, metric, null, stored, derived));
      }
      counts.forEach(([minute, field, stored], i) => {
        const [err, count] = pfcounts[i] ?? [new Error("no reply")];
        if (err) throw err;
        const [metric, dim, key] = field.split("|") as [string, string, string];
        if (!skip.has(metric) && Number(stored) !== Number(count))
          found
            .get(minute)
            ?.push(this.mismatch("minute_hll", date, minute, metric, dim, stored, String(count), key));
      });
      for (const [minute, list] of found) this.setUnit(`m:${date}:${minute}`, list);
      this.progress.minutesChecked += minutes.length;
    }
  }

  /** One metric dimension of one of the two days per round, in turn. */
  private async scrubDay(
    dates: string[],
    incomplete: (date: string) => Set<string>,
    lateKept: (date: string) => boolean,
  ): Promise<void> {
    const units = dates.flatMap((date) => DAY_UNITS.map((u) => ({ date, ...u })));
    const unit = units[this.dayUnit % units.length];
    this.dayUnit = (this.dayUnit + 1) % units.length;
    if (!unit) return;
    const { date, metric, dim } = unit;
    const id = `d:${date}:${metric.name}:${dim}`;
    this.progress.lastDayCheck = `${date} ${metric.name} ${dim}`;
    if (incomplete(date).has(metric.name)) {
      this.setUnit(id, []);
      return;
    }
    const dayKey = keys.day(date, metric.name, dim);
    const found: ScrubMismatch[] = [];
    switch (metric.kind) {
      case "sum":
      case "count": {
        if (!lateKept(date)) break;
        const differences = (await daySumScript.run(
          this.redis,
          [],
          [dayKey, keys.late(date), minuteField(metric.name, dim, ""), JSON.stringify(this.minuteKeys(date))],
        )) as [string, string, string, string][];
        for (const [key, day, minutes, late] of differences)
          found.push({ ...this.mismatch("day_sum", date, null, metric.name, dim, day, minutes, key), late });
        break;
      }
      case "distinct": {
        const flat = (await dayHllScript.run(
          this.redis,
          [],
          [dayKey, keys.dayHll(date, metric.name, dim, "")],
        )) as (string | number)[];
        for (let i = 0; i < flat.length; i += 3) {
          const [key, mirrored, count] = [String(flat[i]), Number(flat[i + 1]), Number(flat[i + 2])];
          if (mirrored !== count)
            found.push(
              this.mismatch("day_hll", date, null, metric.name, dim, String(mirrored), String(count), key),
            );
          const seen = `${date}|${metric.name}|${dim}|${key}`;
          const before = this.hllCounts.get(seen);
          if (before !== undefined && count < before)
            found.push(
              this.mismatch("hll_shrank", date, null, metric.name, dim, String(count), String(before), key),
            );
          this.hllCounts.set(seen, count);
        }
        break;
      }
    }
    this.setUnit(id, found);
  }

  /** Every minute key of a business day, in the zone (a day of a clock change has more or fewer). */
  private minuteKeys(date: string): string[] {
    const out: string[] = [];
    for (let t = this.clock.instantOf(date); this.clock.dateOf(t) === date; t += MINUTE_MS) {
      out.push(keys.minute(date, this.clock.bucket(t).minute));
    }
    return out;
  }

  /** Replaces what a unit found; reports each mismatch not standing there before. */
  private setUnit(unit: string, found: ScrubMismatch[]): void {
    const before = this.findings.get(unit) ?? [];
    const identity = (m: ScrubMismatch) => `${m.check}|${m.minute}|${m.metric}|${m.dim}|${m.key}|${m.stored}`;
    const known = new Set(before.map(identity));
    for (const m of found) if (!known.has(identity(m))) this.onFound(m);
    if (found.length === 0) this.findings.delete(unit);
    else this.findings.set(unit, found);
  }

  private mismatch(
    check: ScrubCheck,
    date: string | null,
    minute: string | null,
    metric: string | null,
    dim: string | null,
    stored: string,
    derived: string,
    key: string | null = null,
  ): ScrubMismatch {
    return { check, date, minute, metric, dim, key, stored, derived, foundAt: Date.now() };
  }
}
