import type { Bucket, BusinessClock } from "../common/businessTime.ts";
import { METRICS, type MetricDef, SOURCES } from "../common/catalog.ts";
import { keys, minuteField } from "../common/keys.ts";
import type { Fact, StateKind } from "../common/sources/source.ts";

// Everything one batch changes in the link's Redis, aggregated in memory first: at 100k events/s the Redis
// work must scale with the number of distinct keys a batch touches, not with the number of events.
// `toScriptArgument` serializes it for applyBatch.lua, which applies it atomically with the batch's offsets.

/** A distinct metric's HyperLogLog and where its count is mirrored for readers. */
interface HllDelta {
  key: string;
  members: Set<string>;
  mirrorType: "z" | "h";
  mirrorKey: string;
  mirrorMember: string;
}

/** Join state a batch changed: the latest value and its kind, encoded once per key when the batch is sent. */
interface StateChange {
  kind: StateKind<unknown>;
  state: unknown;
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
  /**
   * The same deltas by mirror key then mirror member, both strings the fact already has: a HyperLogLog's own
   * key is built once per batch, when its delta is created, not once per fact.
   */
  private readonly hllByMirror = new Map<string, Map<string, HllDelta>>();
  /** Join state written by the batch: key -> its latest state (written with SET EX) or null (deleted). */
  private readonly state = new Map<string, StateChange | null>();
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

  setState<S>(key: string, kind: StateKind<S>, state: S): void {
    this.state.set(key, { kind: kind as StateKind<unknown>, state });
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
          this.addHll(String(measured), "z", dayKey, key, () => keys.dayHll(bucket.date, m.name, dim, key));
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
        if (m.kind === "distinct")
          this.addHll(String(measured), "h", minuteKey, field, () =>
            keys.minuteHll(bucket.date, bucket.minute, m.name, dim, key),
          );
        else add(this.hincr, minuteKey, field, measured as number);
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
    member: string,
    mirrorType: "z" | "h",
    mirrorKey: string,
    mirrorMember: string,
    hllKey: () => string,
  ): void {
    let byMember = this.hllByMirror.get(mirrorKey);
    if (!byMember) {
      byMember = new Map();
      this.hllByMirror.set(mirrorKey, byMember);
    }
    let d = byMember.get(mirrorMember);
    if (!d) {
      d = { key: hllKey(), members: new Set(), mirrorType, mirrorKey, mirrorMember };
      byMember.set(mirrorMember, d);
      this.hll.set(d.key, d);
    }
    d.members.add(member);
  }

  /** Join state as applyBatch.lua writes it: key -> packed value, or null for a deleted key. */
  packedState(): Map<string, string | null> {
    const packed = new Map<string, string | null>();
    for (const [key, change] of this.state) packed.set(key, change ? change.kind.encode(change.state) : null);
    return packed;
  }

  /** The argument of applyBatch.lua: values as strings so no integer passes through Lua's doubles. */
  toScriptArgument(): string {
    const hll: string[][] = [];
    for (const d of this.hll.values()) {
      const entry = [d.key, d.mirrorType, d.mirrorKey, d.mirrorMember];
      for (const member of d.members) entry.push(member);
      hll.push(entry);
    }
    const stateSet: string[][] = [];
    const stateDeleted: string[] = [];
    for (const [key, change] of this.state) {
      if (change) stateSet.push([key, change.kind.encode(change.state)]);
      else stateDeleted.push(key);
    }
    const counters: string[][] = [];
    for (const [name, by] of this.counters) counters.push([name, String(by)]);
    return JSON.stringify({
      zincr: grouped(this.zincr),
      hincr: grouped(this.hincr),
      hll,
      stateSet,
      stateDeleted,
      counters,
      firstMinuteTime: Number.isFinite(this.firstMinuteTime) ? String(this.firstMinuteTime) : "",
    });
  }
}

/** One entry per key, [key, field, by, field, by, ...]: a key's name travels once, not once per field. */
function grouped(m: Map<string, Map<string, number>>): string[][] {
  const out: string[][] = [];
  for (const [key, fields] of m) {
    const entry = [key];
    for (const [f, v] of fields) if (v !== 0) entry.push(f, String(v));
    if (entry.length > 1) out.push(entry);
  }
  return out;
}

function add(m: Map<string, Map<string, number>>, key: string, field: string, by: number): void {
  let fields = m.get(key);
  if (!fields) {
    fields = new Map();
    m.set(key, fields);
  }
  fields.set(field, (fields.get(field) ?? 0) + by);
}
