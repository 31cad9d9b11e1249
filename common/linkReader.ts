import type { Redis } from "ioredis";
import type { BusinessClock } from "./businessTime.ts";
import { keys, minuteField } from "./keys.ts";

// Reads of a link's values, shared by the gateway (serving) and the comparator (judging), so both see a link
// through the same key layout (common/keys.ts). Values are integers; Redis returns them as strings.

export interface TopEntry {
  key: string;
  value: number;
}

export interface SeriesPoint {
  /** Minute start, epoch ms. */
  t: number;
  minute: string;
  value: number;
}

export interface LinkProgress {
  /** Lowest per-partition highest event time: everything up to it has been processed (epoch ms; 0 = none). */
  watermark: number;
  /** Per partition ("<topic>:<partition>"): next offset to process and highest event time seen. */
  partitions: Record<string, { offset: number; maxEventTime: number }>;
  /** Every minute ending at or before this instant is closed and digested (epoch ms; 0 = none). */
  closedThrough: number;
  /** Newest processor heartbeat (epoch ms; 0 = none). */
  heartbeat: number;
}

export async function readDayValue(
  redis: Redis,
  date: string,
  metric: string,
  dim: string,
  key: string,
): Promise<number> {
  const v = await redis.zscore(keys.day(date, metric, dim), key);
  return v === null ? 0 : Number(v);
}

export async function readTop(
  redis: Redis,
  date: string,
  metric: string,
  dim: string,
  n: number,
): Promise<TopEntry[]> {
  const flat = await redis.zrevrange(keys.day(date, metric, dim), "0", String(n - 1), "WITHSCORES");
  const out: TopEntry[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ key: flat[i] as string, value: Number(flat[i + 1]) });
  return out;
}

/** Minute values of one series from `from` (inclusive) to `to` (exclusive), epoch ms, one pipeline. */
export async function readSeries(
  redis: Redis,
  clock: BusinessClock,
  metric: string,
  dim: string,
  key: string,
  from: number,
  to: number,
): Promise<SeriesPoint[]> {
  const field = minuteField(metric, dim, key);
  const points: SeriesPoint[] = [];
  const pipeline = redis.pipeline();
  for (let t = Math.floor(from / 60_000) * 60_000; t < to; t += 60_000) {
    const b = clock.bucket(t);
    points.push({ t, minute: b.minute, value: 0 });
    pipeline.hget(keys.minute(b.date, b.minute), field);
  }
  const results = (await pipeline.exec()) ?? [];
  results.forEach(([err, v], i) => {
    if (err) throw err;
    (points[i] as SeriesPoint).value = v === null ? 0 : Number(v);
  });
  return points;
}

export async function readProgress(redis: Redis): Promise<LinkProgress> {
  const [offsets, maxEts, closed, heartbeats] = await Promise.all([
    redis.hgetall(keys.offsets),
    redis.hgetall(keys.maxEventTime),
    redis.get(keys.closedThrough),
    redis.hvals(keys.heartbeats),
  ]);
  const partitions: LinkProgress["partitions"] = {};
  for (const [tp, offset] of Object.entries(offsets)) {
    partitions[tp] = { offset: Number(offset), maxEventTime: Number(maxEts[tp] ?? 0) };
  }
  const times = Object.values(maxEts).map(Number);
  let heartbeat = 0;
  for (const hb of heartbeats) {
    const ts = Number((JSON.parse(hb) as { ts?: number }).ts ?? 0);
    if (ts > heartbeat) heartbeat = ts;
  }
  return {
    watermark: times.length > 0 ? Math.min(...times) : 0,
    partitions,
    closedThrough: closed === null ? 0 : Number(closed),
    heartbeat,
  };
}

/** Digests of closed minutes of a business day: HHMM -> sha1. */
export async function readDigests(redis: Redis, date: string): Promise<Record<string, string>> {
  return redis.hgetall(keys.digests(date));
}
