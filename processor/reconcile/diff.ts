import type { Redis } from "ioredis";
import type { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";

export interface Difference {
  what: string;
  key: string;
  field: string;
  link: string | null;
  recompute: string | null;
}

/** Every key matching `pattern`, sorted, read with SCAN so a large link is not blocked. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found.sort();
}

async function zsetOf(redis: Redis, key: string): Promise<Map<string, string>> {
  const flat = await redis.zrange(key, "0", "-1", "WITHSCORES");
  const m = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i] as string, flat[i + 1] as string);
  return m;
}

async function hashOf(redis: Redis, key: string): Promise<Map<string, string>> {
  return new Map(Object.entries(await redis.hgetall(key)));
}

function compareMaps(
  what: string,
  key: string,
  link: Map<string, string>,
  rec: Map<string, string>,
  out: Difference[],
) {
  for (const field of new Set([...link.keys(), ...rec.keys()])) {
    const a = link.get(field) ?? null;
    const b = rec.get(field) ?? null;
    if (a !== b) out.push({ what, key, field, link: a, recompute: b });
  }
}

/** `os:m:<date>:<HHMM>` or `os:digest:<date>` -> the instant its minute (or day) starts. */
function minuteStartOf(clock: BusinessClock, minuteKey: string): number {
  const [, , date, hhmm] = minuteKey.split(":");
  return clock.instantOf(date as string, hhmm as string);
}

/**
 * Compares a link with the recompute: every day value of every metric, dimension and key; every minute both
 * have closed (values and digests); and the counters of rejected and late input.
 */
export async function diffLinks(link: Redis, recomputed: Redis, clock: BusinessClock): Promise<Difference[]> {
  const out: Difference[] = [];
  const dayKeys = new Set([...(await scanKeys(link, "os:d:*")), ...(await scanKeys(recomputed, "os:d:*"))]);
  for (const key of [...dayKeys].sort())
    compareMaps("day", key, await zsetOf(link, key), await zsetOf(recomputed, key), out);

  const closedLink = Number((await link.get(keys.closedThrough)) ?? 0);
  const closedRec = Number((await recomputed.get(keys.closedThrough)) ?? 0);
  const closedBoth = Math.min(closedLink, closedRec);
  const minuteKeys = new Set([
    ...(await scanKeys(link, "os:m:*")),
    ...(await scanKeys(recomputed, "os:m:*")),
  ]);
  for (const key of [...minuteKeys].sort()) {
    if (minuteStartOf(clock, key) + 60_000 > closedBoth) continue;
    compareMaps("minute", key, await hashOf(link, key), await hashOf(recomputed, key), out);
  }
  const digestKeys = new Set([
    ...(await scanKeys(link, "os:digest:*")),
    ...(await scanKeys(recomputed, "os:digest:*")),
  ]);
  for (const key of [...digestKeys].sort()) {
    const date = key.split(":")[2] as string;
    const closedOnly = (m: Map<string, string>) =>
      new Map([...m].filter(([hhmm]) => clock.instantOf(date, hhmm) + 60_000 <= closedBoth));
    compareMaps(
      "digest",
      key,
      closedOnly(await hashOf(link, key)),
      closedOnly(await hashOf(recomputed, key)),
      out,
    );
  }
  const counters = (m: Map<string, string>) =>
    new Map([...m].filter(([name]) => !name.startsWith("data_loss:")));
  compareMaps(
    "counter",
    keys.counters,
    counters(await hashOf(link, keys.counters)),
    counters(await hashOf(recomputed, keys.counters)),
    out,
  );
  return out;
}

export function formatDifferences(diffs: readonly Difference[], limit = 50): string {
  const lines = diffs.slice(0, limit).map((d) => {
    const delta =
      d.link !== null && d.recompute !== null
        ? ` (link - recompute = ${Number(d.link) - Number(d.recompute)})`
        : "";
    return `  ${d.what.padEnd(7)} ${d.key} ${d.field}: link ${d.link ?? "(missing)"}, recompute ${d.recompute ?? "(missing)"}${delta}`;
  });
  if (diffs.length > limit) lines.push(`  … and ${diffs.length - limit} more`);
  return lines.join("\n");
}
