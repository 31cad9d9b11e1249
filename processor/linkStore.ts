import type { Redis } from "ioredis";
import type { BusinessClock } from "../common/businessTime.ts";
import { catalogFingerprint } from "../common/catalog.ts";
import { keys, partitionField, SCHEMA_VERSION } from "../common/keys.ts";
import { TOPICS } from "../common/topics.ts";
import { decodeOrder, decodePayment, type OrderState, type PaymentState } from "./joinState.ts";
import { LuaScript } from "./luaScript.ts";
import type { JoinSnapshot, Plan } from "./planner.ts";

const applyBatchScript = new LuaScript(new URL("./applyBatch.lua", import.meta.url));
const closeMinutesScript = new LuaScript(new URL("./closeMinutes.lua", import.meta.url));

/** The one most minutes a single close call digests, to keep each script call short. */
const MAX_MINUTES_PER_CLOSE = 720;

export class StateVersionError extends Error {}

export interface Snapshot {
  expectedOffset: number | null;
  maxEventTime: number;
  /** For trade topics: the sibling partition's stored offset, fenced so a zombie cannot interleave. */
  siblingOffset: string;
  join: JoinSnapshot;
}

export interface SemanticSettings {
  timeZone: string;
  latenessMs: number;
}

/** Everything the processor reads from and writes to its link's Redis. */
export class LinkStore {
  constructor(readonly redis: Redis) {}

  /**
   * Refuses state written by an incompatible release or with other semantics (time zone, lateness, catalog):
   * adding to it would make this link silently disagree with the others.
   */
  async claimMeta(settings: SemanticSettings, expectedPartitions: number): Promise<void> {
    const wanted: Record<string, string> = {
      schemaVersion: String(SCHEMA_VERSION),
      catalog: catalogFingerprint(),
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
    await this.redis.hset(keys.meta, "expectedPartitions", String(expectedPartitions));
  }

  async storedOffset(topic: string, partition: number): Promise<number | null> {
    const v = await this.redis.hget(keys.offsets, partitionField(topic, partition));
    return v === null ? null : Number(v);
  }

  /** One consistent read (MULTI) of everything a batch is planned against. */
  async readSnapshot(topic: string, partition: number, orderIds: readonly string[]): Promise<Snapshot> {
    const field = partitionField(topic, partition);
    const sibling = siblingOf(topic);
    const tx = this.redis.multi();
    tx.hget(keys.offsets, field);
    tx.hget(keys.maxEventTime, field);
    tx.hget(keys.offsets, sibling ? partitionField(sibling, partition) : field);
    if (orderIds.length > 0) {
      tx.mget(orderIds.map((id) => keys.order(id)));
      tx.mget(orderIds.map((id) => keys.payment(id)));
    }
    const results = (await tx.exec()) ?? [];
    const value = (i: number) => {
      const r = results[i];
      if (!r) throw new Error("Redis transaction returned no result");
      if (r[0]) throw r[0];
      return r[1];
    };
    const orders = new Map<string, OrderState>();
    const payments = new Map<string, PaymentState>();
    if (orderIds.length > 0) {
      const packedOrders = value(3) as (string | null)[];
      const packedPayments = value(4) as (string | null)[];
      orderIds.forEach((id, i) => {
        const o = decodeOrder(packedOrders[i] ?? null);
        if (o) orders.set(id, o);
        const p = decodePayment(packedPayments[i] ?? null);
        if (p) payments.set(id, p);
      });
    }
    const offset = value(0) as string | null;
    const maxEt = value(1) as string | null;
    return {
      expectedOffset: offset === null ? null : Number(offset),
      maxEventTime: maxEt === null ? Number.NEGATIVE_INFINITY : Number(maxEt),
      siblingOffset: sibling ? ((value(2) as string | null) ?? "") : "",
      join: { orders, payments },
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
    ];
    const sibling = siblingOf(topic);
    if (sibling) fences.push([partitionField(sibling, partition), snapshot.siblingOffset]);
    const maxEt = Number.isFinite(plan.maxEventTime) ? String(plan.maxEventTime) : "";
    const result = (await applyBatchScript.run(
      this.redis,
      [keys.offsets, keys.maxEventTime, keys.counters, keys.meta],
      [
        plan.effect.toScriptArgument(),
        JSON.stringify(fences),
        field,
        String(plan.nextOffset),
        maxEt,
        ttlSeconds,
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
  ): Promise<{ closedThrough: number; closedNow: number }> {
    const [closed, first, expected, maxEts] = await Promise.all([
      this.redis.get(keys.closedThrough),
      this.redis.hget(keys.meta, "firstMinuteTime"),
      this.redis.hget(keys.meta, "expectedPartitions"),
      this.redis.hvals(keys.maxEventTime),
    ]);
    const closedThrough = closed === null ? 0 : Number(closed);
    const start = closed !== null ? closedThrough : first !== null ? Number(first) : null;
    if (start === null || expected === null || maxEts.length < Number(expected))
      return { closedThrough, closedNow: 0 };
    const closeTo = Math.min(...maxEts.map(Number)) - latenessMs;
    const candidates: [string, string, string, string][] = [];
    for (let t = start; t + 60_000 <= closeTo && candidates.length < MAX_MINUTES_PER_CLOSE; t += 60_000) {
      const b = clock.bucket(t);
      candidates.push([String(t), keys.minute(b.date, b.minute), keys.digests(b.date), b.minute]);
    }
    if (candidates.length === 0) return { closedThrough, closedNow: 0 };
    const [through, count] = (await closeMinutesScript.run(
      this.redis,
      [keys.maxEventTime, keys.closedThrough, keys.meta],
      [latenessMs, Number(expected), ttlSeconds, JSON.stringify(candidates)],
    )) as [number, number];
    return { closedThrough: Number(through), closedNow: Number(count) };
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

function siblingOf(topic: string): string | null {
  if (topic === TOPICS.orders) return TOPICS.payments;
  if (topic === TOPICS.payments) return TOPICS.orders;
  return null;
}
