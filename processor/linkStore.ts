import type { Redis } from "ioredis";
import type { BusinessClock } from "../common/businessTime.ts";
import { METRICS, metricFingerprint, sourceOfTopic } from "../common/catalog.ts";
import { keys, partitionField, SCHEMA_VERSION } from "../common/keys.ts";
import { catalogFingerprint } from "../common/metricState.ts";
import { LuaScript } from "./luaScript.ts";
import type { JoinSnapshot, Plan } from "./planner.ts";

const applyBatchScript = new LuaScript(new URL("./applyBatch.lua", import.meta.url));
const closeMinutesScript = new LuaScript(
  new URL("./closeMinutes.lua", import.meta.url),
  new URL("./minuteDigests.lua", import.meta.url),
);
const claimMetricsScript = new LuaScript(new URL("./claimMetrics.lua", import.meta.url));

/** The one most minutes a single close call digests, to keep each script call short. */
const MAX_MINUTES_PER_CLOSE = 720;

export class StateVersionError extends Error {}

export interface Snapshot {
  expectedOffset: number | null;
  maxEventTime: number;
  /** The stored offsets of the same partition of the source's other topics, fenced so a zombie cannot interleave. */
  siblingOffsets: [string, string][];
  join: JoinSnapshot;
}

export interface SemanticSettings {
  timeZone: string;
  latenessMs: number;
}

/** What registering this process's catalog changed in the link. */
export interface CatalogClaim {
  /** Metrics that start (or resume) computing now: incomplete for the days before (common/metricState.ts). */
  started: string[];
  /** Metrics the link computed that this release does not: left alone, no longer updated. */
  paused: string[];
}

/** Everything the processor reads from and writes to its link's Redis. */
export class LinkStore {
  /** The fingerprint of this process's catalog, checked by every batch (applyBatch.lua). */
  readonly catalog = catalogFingerprint();

  constructor(readonly redis: Redis) {}

  /**
   * Refuses state written by an incompatible release or with other semantics (time zone, lateness), and a
   * metric stored under another definition: adding to it would make this link silently disagree with the
   * others. Registers the metrics this process computes; a new one starts from the offsets stored now.
   */
  async claimMeta(settings: SemanticSettings, expectedPartitions: number): Promise<CatalogClaim> {
    const wanted: Record<string, string> = {
      schemaVersion: String(SCHEMA_VERSION),
      timeZone: settings.timeZone,
      latenessMs: String(settings.latenessMs),
    };
    for (const [field, value] of Object.entries(wanted)) await this.redis.hsetnx(keys.meta, field, value);
    const stored = await this.redis.hgetall(keys.meta);
    for (const [field, value] of Object.entries(wanted)) {
      if (stored[field] !== value) {
        throw new StateVersionError(
          `the link's Redis holds state with ${field}=${JSON.stringify(stored[field])}, this release needs ` +
            `${JSON.stringify(value)}: refusing to add to it (migrate or empty the link first)`,
        );
      }
    }
    // Late contributions (keys.late) are kept from the first release that writes them: the scrub checks day
    // values against them only for business days that began after (0: this link has kept them from its start).
    const computing = await this.redis.hexists(keys.meta, "firstMinuteTime");
    await this.redis.hsetnx(keys.meta, "lateSince", computing ? String(Date.now()) : "0");
    const claim = await this.claimMetrics();
    await this.redis.hset(keys.meta, "expectedPartitions", String(expectedPartitions));
    return claim;
  }

  private async claimMetrics(): Promise<CatalogClaim> {
    const definitions = METRICS.map((m) => [m.name, JSON.stringify(metricFingerprint(m))]);
    const result = (await claimMetricsScript.run(
      this.redis,
      [keys.metricStates, keys.offsets, keys.maxEventTime, keys.meta],
      [JSON.stringify(definitions), this.catalog],
    )) as [number, string, string];
    if (result[0] === 0) {
      const name = result[1];
      const storedDef = JSON.parse(result[2]) as Record<string, string>;
      const def = metricFingerprint(METRICS.find((m) => m.name === name) as (typeof METRICS)[number]);
      const changed = Object.keys({ ...storedDef, ...def })
        .filter((k) => storedDef[k] !== def[k])
        .map((k) => `${k} ${JSON.stringify(storedDef[k] ?? null)} -> ${JSON.stringify(def[k] ?? null)}`);
      throw new StateVersionError(
        `metric ${name} is stored in this link under another definition (${changed.join(", ")}): refusing to ` +
          `add to it; give the changed metric a new name or bump its version in the catalog`,
      );
    }
    const names = (list: string) => (list === "" ? [] : list.split(","));
    return { started: names(result[1]), paused: names(result[2]) };
  }

  /** Who holds the link paused (a repair's token), or null when nothing does. */
  async pausedBy(): Promise<string | null> {
    return this.redis.get(keys.pause);
  }

  async storedOffset(topic: string, partition: number): Promise<number | null> {
    const v = await this.redis.hget(keys.offsets, partitionField(topic, partition));
    return v === null ? null : Number(v);
  }

  /** One consistent read (MULTI) of everything a batch is planned against. */
  async readSnapshot(topic: string, partition: number, stateIds: readonly string[]): Promise<Snapshot> {
    const source = sourceOfTopic(topic);
    const field = partitionField(topic, partition);
    const siblings = source.topics
      .filter((t) => t.name !== topic)
      .map((t) => partitionField(t.name, partition));
    const stateKeys =
      stateIds.length === 0 ? [] : source.state.flatMap((kind) => stateIds.map((id) => kind.key(id)));
    const tx = this.redis.multi();
    tx.hget(keys.offsets, field);
    tx.hget(keys.maxEventTime, field);
    if (siblings.length > 0) tx.hmget(keys.offsets, ...siblings);
    if (stateKeys.length > 0) tx.mget(stateKeys);
    const results = (await tx.exec()) ?? [];
    const value = (i: number) => {
      const r = results[i];
      if (!r) throw new Error("Redis transaction returned no result");
      if (r[0]) throw r[0];
      return r[1];
    };
    const join: JoinSnapshot = new Map();
    if (stateKeys.length > 0) {
      const packed = value(siblings.length > 0 ? 3 : 2) as (string | null)[];
      stateKeys.forEach((key, i) => {
        const v = packed[i];
        if (v !== null && v !== undefined) join.set(key, v);
      });
    }
    const siblingValues = siblings.length > 0 ? (value(2) as (string | null)[]) : [];
    const offset = value(0) as string | null;
    const maxEt = value(1) as string | null;
    return {
      expectedOffset: offset === null ? null : Number(offset),
      maxEventTime: maxEt === null ? Number.NEGATIVE_INFINITY : Number(maxEt),
      siblingOffsets: siblings.map((f, i) => [f, siblingValues[i] ?? ""]),
      join,
    };
  }

  /** Applies a plan atomically with its offsets; false when a fence failed (someone else moved the state). */
  async apply(
    topic: string,
    partition: number,
    plan: Plan,
    snapshot: Snapshot,
    ttlSeconds: number,
  ): Promise<{ applied: true } | { applied: false; field: string; current: string }> {
    const field = partitionField(topic, partition);
    const fences: [string, string][] = [
      [field, snapshot.expectedOffset === null ? "" : String(snapshot.expectedOffset)],
      ...snapshot.siblingOffsets,
    ];
    const maxEt = Number.isFinite(plan.maxEventTime) ? String(plan.maxEventTime) : "";
    const result = (await applyBatchScript.run(
      this.redis,
      [keys.offsets, keys.maxEventTime, keys.counters, keys.meta, keys.pause],
      [
        plan.effect.toScriptArgument(),
        JSON.stringify(fences),
        field,
        String(plan.nextOffset),
        maxEt,
        ttlSeconds,
        this.catalog,
      ],
    )) as [number, string?, string?];
    if (result[0] === 1) return { applied: true };
    return { applied: false, field: result[1] ?? field, current: result[2] ?? "" };
  }

  /** Closes every minute that can be closed and digests it; returns the closed-through instant. */
  async closeMinutes(
    clock: BusinessClock,
    latenessMs: number,
    ttlSeconds: number,
  ): Promise<{ closedThrough: number; closedNow: number; waitingFor: number }> {
    const [closed, first, expected, maxEts] = await Promise.all([
      this.redis.get(keys.closedThrough),
      this.redis.hget(keys.meta, "firstMinuteTime"),
      this.redis.hget(keys.meta, "expectedPartitions"),
      this.redis.hvals(keys.maxEventTime),
    ]);
    const closedThrough = closed === null ? 0 : Number(closed);
    const start = closed !== null ? closedThrough : first !== null ? Number(first) : null;
    const waitingFor = expected === null ? 0 : Math.max(0, Number(expected) - maxEts.length);
    if (start === null || expected === null || waitingFor > 0)
      return { closedThrough, closedNow: 0, waitingFor };
    const closeTo = Math.min(...maxEts.map(Number)) - latenessMs;
    const candidates: [string, string, string, string][] = [];
    for (let t = start; t + 60_000 <= closeTo && candidates.length < MAX_MINUTES_PER_CLOSE; t += 60_000) {
      const b = clock.bucket(t);
      candidates.push([String(t), keys.minute(b.date, b.minute), keys.digests(b.date), b.minute]);
    }
    if (candidates.length === 0) return { closedThrough, closedNow: 0, waitingFor };
    const [through, count] = (await closeMinutesScript.run(
      this.redis,
      [keys.maxEventTime, keys.closedThrough, keys.meta, keys.pause],
      [latenessMs, Number(expected), ttlSeconds, JSON.stringify(candidates)],
    )) as [number, number];
    return { closedThrough: Number(through), closedNow: Number(count), waitingFor };
  }

  async heartbeat(memberId: string, body: object): Promise<void> {
    await this.redis.hset(keys.heartbeats, memberId, JSON.stringify({ ts: Date.now(), ...body }));
  }

  async leave(memberId: string): Promise<void> {
    await this.redis.hdel(keys.heartbeats, memberId);
  }

  async countDataLoss(topic: string, partition: number, lost: number): Promise<void> {
    await this.redis.hincrby(keys.counters, `data_loss:${partitionField(topic, partition)}`, lost);
  }
}
