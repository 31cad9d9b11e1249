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

/** A processor heartbeat's time (epoch ms), or null when the entry is not a heartbeat. */
export function heartbeatTime(raw: string): number | null {
  let ts: unknown;
  try {
    ts = (JSON.parse(raw) as { ts?: unknown } | null)?.ts;
  } catch {
    return null;
  }
  return Number.isSafeInteger(ts) && (ts as number) > 0 ? (ts as number) : null;
}

/** A stored offset or event time: a non-negative integer, or null for anything else. */
function count(raw: string | undefined): number | null {
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Progress of a link. Each entry is checked on its own: one malformed heartbeat, offset or event time is
 * skipped, and says nothing about the rest of the link (one bad entry used to make a whole link look down).
 */
export async function readProgress(redis: Redis): Promise<LinkProgress> {
  const [offsets, maxEts, closed, heartbeats] = await Promise.all([
    redis.hgetall(keys.offsets),
    redis.hgetall(keys.maxEventTime),
    redis.get(keys.closedThrough),
    redis.hvals(keys.heartbeats),
  ]);
  const partitions: LinkProgress["partitions"] = {};
  for (const [tp, raw] of Object.entries(offsets)) {
    const offset = count(raw);
    if (offset !== null) partitions[tp] = { offset, maxEventTime: count(maxEts[tp]) ?? 0 };
  }
  const times = Object.values(maxEts).flatMap((raw) => count(raw) ?? []);
  let heartbeat = 0;
  for (const hb of heartbeats) heartbeat = Math.max(heartbeat, heartbeatTime(hb) ?? 0);
  return {
    watermark: times.length > 0 ? Math.min(...times) : 0,
    partitions,
    closedThrough: count(closed ?? undefined) ?? 0,
    heartbeat,
  };
}

/** Digests of closed minutes of a business day: HHMM -> sha1. */
export async function readDigests(redis: Redis, date: string): Promise<Record<string, string>> {
  return redis.hgetall(keys.digests(date));
}
