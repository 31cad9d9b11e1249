import type { Bucket, BusinessClock } from "../common/businessTime.ts";
import { METRICS, type MetricDef, SOURCES } from "../common/catalog.ts";
import { keys, minuteField } from "../common/keys.ts";
import type { Fact } from "../common/sources/source.ts";

// Everything one batch changes in the link's Redis, aggregated in memory first: at 100k events/s the Redis
// work must scale with the number of distinct keys a batch touches, not with the number of events.
// `toScriptArgument` serializes it for applyBatch.lua, which applies it atomically with the batch's offsets.

/** A distinct metric's HyperLogLog and where its count is mirrored for readers. */
interface HllDelta {
  members: Set<string>;
  mirrorType: "z" | "h";
  mirrorKey: string;
  mirrorMember: string;
}

/** The catalog's metrics of each fact kind, looked up per fact rather than filtered per fact. */
const METRICS_OF = new Map<string, readonly MetricDef[]>(
  SOURCES.flatMap((s) => s.facts.map((kind) => [kind, METRICS.filter((m) => m.fact === kind)] as const)),
);

/** The metrics a fact of `kind` counts for; a kind no source declares is a bug in that source. */
function metricsOf(kind: string): readonly MetricDef[] {
  const metrics = METRICS_OF.get(kind);
  if (!metrics) throw new Error(`fact kind ${kind} is not declared by any registered source`);
  return metrics;
}

/** The keys a minute's facts of one source write: day keys by metric then dimension, and the minute hash. */
interface BucketKeys {
  day: string[][];
  minute: string;
  late: string;
}

export class BatchEffect {
  readonly zincr = new Map<string, Map<string, number>>();
  readonly hincr = new Map<string, Map<string, number>>();
  readonly hll = new Map<string, HllDelta>();
  /** Join state written by the batch: key -> packed value (written with SET EX) or null (deleted). */
  readonly state = new Map<string, string | null>();
  readonly counters = new Map<string, number>();
  /** Lowest event time that reached a minute bucket: where the first digest starts. */
  firstMinuteTime = Number.POSITIVE_INFINITY;
  facts = 0;
  // Built once per minute of event time and source rather than per fact: key strings are the effect's main
  // allocation, and a string already hashed makes each map lookup below cheaper.
  private readonly bucketKeys = new Map<Bucket, Map<string, BucketKeys>>();

  constructor(private readonly clock: BusinessClock) {}

  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  setState(key: string, packed: string): void {
    this.state.set(key, packed);
  }

  deleteState(key: string): void {
    this.state.set(key, null);
  }

  /** Adds one fact's contribution to every metric that counts its kind. */
  addFact(fact: Fact, inMinute: boolean): void {
    this.facts++;
    const bucket = this.clock.bucket(fact.time);
    if (inMinute && bucket.minuteStart < this.firstMinuteTime) this.firstMinuteTime = bucket.minuteStart;
    const dims = fact.dims;
    const metrics = metricsOf(fact.kind);
    const bucketKeys = this.keysOf(bucket, fact.kind, metrics);
    for (let i = 0; i < metrics.length; i++) {
      const m = metrics[i] as MetricDef;
      const measured = m.measure(fact);
      if (measured === null) continue;
      const dayKeys = bucketKeys.day[i] as string[];
      for (let j = 0; j < m.dims.length; j++) {
        const dim = m.dims[j] as string;
        const key = dims[dim] as string;
        const dayKey = dayKeys[j] as string;
        if (m.kind === "distinct")
          this.addHll(keys.dayHll(bucket.date, m.name, dim, key), String(measured), "z", dayKey, key);
        else add(this.zincr, dayKey, key, measured as number);
      }
      if (!inMinute) {
        // Too late for its minute: in the day value only, and kept apart so the scrub can check the day.
        if (m.kind !== "distinct")
          for (const dim of m.minuteDims)
            add(
              this.hincr,
              bucketKeys.late,
              minuteField(m.name, dim, dims[dim] as string),
              measured as number,
            );
        continue;
      }
      const minuteKey = bucketKeys.minute;
      for (const dim of m.minuteDims) {
        const key = dims[dim] as string;
        const field = minuteField(m.name, dim, key);
        if (m.kind === "distinct") {
          const hllKey = keys.minuteHll(bucket.date, bucket.minute, m.name, dim, key);
          this.addHll(hllKey, String(measured), "h", minuteKey, field);
        } else add(this.hincr, minuteKey, field, measured as number);
      }
    }
  }

  private keysOf(bucket: Bucket, kind: string, metrics: readonly MetricDef[]): BucketKeys {
    let byKind = this.bucketKeys.get(bucket);
    if (!byKind) {
      byKind = new Map();
      this.bucketKeys.set(bucket, byKind);
    }
    let built = byKind.get(kind);
    if (!built) {
      built = {
        day: metrics.map((m) => m.dims.map((dim) => keys.day(bucket.date, m.name, dim))),
        minute: keys.minute(bucket.date, bucket.minute),
        late: keys.late(bucket.date),
      };
      byKind.set(kind, built);
    }
    return built;
  }

  private addHll(
    hllKey: string,
    member: string,
    mirrorType: "z" | "h",
    mirrorKey: string,
    mirrorMember: string,
  ): void {
    let d = this.hll.get(hllKey);
    if (!d) {
      d = { members: new Set(), mirrorType, mirrorKey, mirrorMember };
      this.hll.set(hllKey, d);
    }
    d.members.add(member);
  }

  /** The argument of applyBatch.lua: values as strings so no integer passes through Lua's doubles. */
  toScriptArgument(): string {
    // One entry per key, [key, field, by, field, by, ...]: a key's name travels once, not once per field.
    const grouped = (m: Map<string, Map<string, number>>) => {
      const out: string[][] = [];
      for (const [key, fields] of m) {
        const entry = [key];
        for (const [f, v] of fields) if (v !== 0) entry.push(f, String(v));
        if (entry.length > 1) out.push(entry);
      }
      return out;
    };
    return JSON.stringify({
      zincr: grouped(this.zincr),
      hincr: grouped(this.hincr),
      hll: [...this.hll].map(([k, d]) => [k, d.mirrorType, d.mirrorKey, d.mirrorMember, ...d.members]),
      stateSet: [...this.state].filter(([, v]) => v !== null),
      stateDeleted: [...this.state].filter(([, v]) => v === null).map(([k]) => k),
      counters: [...this.counters].map(([k, v]) => [k, String(v)]),
      firstMinuteTime: Number.isFinite(this.firstMinuteTime) ? String(this.firstMinuteTime) : "",
    });
  }
}

function add(m: Map<string, Map<string, number>>, key: string, field: string, by: number): void {
  let fields = m.get(key);
  if (!fields) {
    fields = new Map();
    m.set(key, fields);
  }
  fields.set(field, (fields.get(field) ?? 0) + by);
}
