import type { Redis } from "ioredis";
import type { BusinessClock } from "../../common/businessTime.ts";
import { METRICS } from "../../common/catalog.ts";
import { keys } from "../../common/keys.ts";
import { incompleteThrough, readMetricStates } from "../../common/metricState.ts";

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

/** A sorted set as member -> score (as Redis writes it). */
export async function zsetOf(redis: Redis, key: string): Promise<Map<string, string>> {
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

/** `os:m:<date>:<HHMM>` -> the instant its minute starts. */
function minuteStartOf(clock: BusinessClock, minuteKey: string): number {
  const [, , date, hhmm] = minuteKey.split(":");
  return clock.instantOf(date as string, hhmm as string);
}

/**
 * Compares a link with the recompute: every day value of every metric, dimension and key; every minute both
 * have closed (values and digests); late contributions; and the counters of rejected and late input. Metrics in `skip` (those the
 * link does not hold whole: common/metricState.ts) are left out; the caller reports them.
 */
export async function diffLinks(
  link: Redis,
  recomputed: Redis,
  clock: BusinessClock,
  skip: ReadonlySet<string> = new Set(),
): Promise<Difference[]> {
  const all: Difference[] = [];
  await collectDifferences(link, recomputed, clock, all);
  return all.filter((d) => !skip.has(metricOf(d)));
}

/** The metric a difference is about ("" for counters): from the key, the field or the digest field. */
function metricOf(d: Difference): string {
  if (d.what === "day") return d.key.split(":")[3] ?? "";
  if (d.what === "minute" || d.what === "late") return d.field.split("|")[0] ?? "";
  if (d.what === "digest") return d.field.split("|")[1] ?? "";
  return "";
}

async function collectDifferences(
  link: Redis,
  recomputed: Redis,
  clock: BusinessClock,
  out: Difference[],
): Promise<void> {
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
  for (const key of [
    ...new Set([...(await scanKeys(link, "os:late:*")), ...(await scanKeys(recomputed, "os:late:*"))]),
  ].sort())
    compareMaps("late", key, await hashOf(link, key), await hashOf(recomputed, key), out);
  const digestKeys = new Set([
    ...(await scanKeys(link, "os:digest:*")),
    ...(await scanKeys(recomputed, "os:digest:*")),
  ]);
  for (const key of [...digestKeys].sort()) {
    const date = key.split(":")[2] as string;
    const closedOnly = (m: Map<string, string>) =>
      new Map(
        [...m].filter(
          ([field]) => clock.instantOf(date, field.split("|")[0] as string) + 60_000 <= closedBoth,
        ),
      );
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

/** Metrics a link does not hold whole (new and not backfilled, paused, absent), with the last such day. */
export async function incompleteMetrics(link: Redis, clock: BusinessClock): Promise<Map<string, string>> {
  const states = await readMetricStates(link);
  const out = new Map<string, string>();
  for (const m of METRICS) {
    const through = incompleteThrough(states[m.name], clock);
    if (through !== null) out.set(m.name, through);
  }
  return out;
}
