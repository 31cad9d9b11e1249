import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { METRICS } from "../../common/catalog.ts";
import { keys } from "../../common/keys.ts";
import { incompleteThrough, readMetricStates, type StoredMetric } from "../../common/metricState.ts";
import type { BatchContext } from "../batchRunner.ts";
import { LuaScript } from "../luaScript.ts";
import { scanKeys, zsetOf } from "./diff.ts";
import { recompute } from "./recompute.ts";
import type { RecordSource, UpTo } from "./sources.ts";

// Repair and backfill: the correcting half of the lambda architecture, on one link, while the others serve.
// 0. Open the link's input (a Kafka consumer joins its group: seconds) while the link still runs.
// 1. Pause the link's processors at a batch boundary: a flag in the link's Redis that applyBatch.lua and
//    closeMinutes.lua refuse to write under (it expires unless the repair keeps renewing it).
// 2. Read the offsets stored now and recompute from the link's own input up to exactly those offsets, with the
//    processor's own code, into a scratch database.
// 3. Rewrite every value, minute, digest, HyperLogLog and counter that differs, and delete what the recompute
//    does not have, in atomic steps fenced on those offsets and on the pause (repairApply.lua): a processor that
//    ignored the pause cannot be overwritten, and the repair cannot overwrite newer work.
// 4. Check that the link now equals the recompute, then release the pause.
// Repair rewrites the metrics the link holds whole; backfill rewrites those it does not (added while it ran)
// and marks them complete.

const repairApplyScript = new LuaScript(new URL("./repairApply.lua", import.meta.url));

export type RepairMode = "repair" | "backfill";
export type RepairStage = "pausing" | "recomputing" | "comparing" | "rewriting" | "verifying" | "done";

export interface RepairProgress {
  stage: RepairStage;
  recomputed: number;
  /** Records the recompute reads: the sum of the stored offsets. */
  total: number;
  recordsPerSecond: number;
  etaSeconds: number | null;
  changed: number;
}

export interface ValueChange {
  key: string;
  field: string;
  link: string | null;
  recompute: string | null;
}

export interface RepairSummary {
  mode: RepairMode;
  metrics: string[];
  recomputed: number;
  /** Keys and hash fields rewritten or deleted. */
  changed: number;
  /** The largest numeric differences found (link minus recompute), at most ten. */
  largest: (ValueChange & { delta: number | null })[];
  offsets: Record<string, number>;
  pausedMs: number;
}

export interface RepairOptions {
  mode: RepairMode;
  link: Redis;
  /** An empty database the recompute owns (it is flushed first); not the link's own. */
  scratch: Redis;
  /**
   * The link's input up to exactly the given offsets (its Kafka, or an archive): opened before the pause, the
   * offsets known once the link is paused.
   */
  input: (upTo: Promise<UpTo>) => RecordSource;
  tables: BatchContext["tables"];
  /** Who holds the pause, and why (written into the flag, where processors log it). */
  holder: { by: string; reason: string };
  onProgress?: (p: RepairProgress) => void;
  /** Called as each stage starts (tests use it to act at a precise moment). */
  onStage?: (stage: RepairStage) => Promise<void> | void;
}

/** The repair could not make the link equal the recompute; nothing it did was wrong, and it says why. */
export class RepairFailed extends Error {}

const PAUSE_TTL_MS = 30_000;
const OPS_PER_STEP = 200;

export async function repairLink(o: RepairOptions): Promise<RepairSummary> {
  const meta = await o.link.hgetall(keys.meta);
  if (!meta.timeZone || !meta.expectedPartitions)
    throw new RepairFailed(
      "the link's Redis has no processor metadata (os:meta): has a processor run on it?",
    );
  const clock = new BusinessClock(meta.timeZone);
  let offsetsRead = (_: UpTo) => {};
  let notRead = (_: Error) => {};
  const source = o.input(
    new Promise<UpTo>((resolve, reject) => {
      offsetsRead = resolve;
      notRead = reject;
    }),
  );
  try {
    await source.ready;
    return await repairPaused(o, meta, clock, source, offsetsRead);
  } finally {
    // A repair that stopped before reading lets the source go (after a read both are no-ops).
    notRead(new RepairFailed("the repair stopped before reading its input"));
    await source.close();
  }
}

/** The repair from the pause on, reading `source` once the offsets it stops at are known. */
async function repairPaused(
  o: RepairOptions,
  meta: Record<string, string>,
  clock: BusinessClock,
  source: RecordSource,
  offsetsRead: (upTo: UpTo) => void,
): Promise<RepairSummary> {
  const token = JSON.stringify({ ...o.holder, at: new Date().toISOString(), id: randomUUID() });
  await stage(o, "pausing");
  const pausedAt = Date.now();
  if ((await o.link.set(keys.pause, token, "PX", PAUSE_TTL_MS, "NX")) !== "OK")
    throw new RepairFailed(`the link is already paused by ${await o.link.get(keys.pause)}`);
  const renew = setInterval(() => {
    void o.link.set(keys.pause, token, "PX", PAUSE_TTL_MS, "XX").catch(() => {});
  }, PAUSE_TTL_MS / 3);
  try {
    // A batch is one atomic script: once the flag is set, every batch either applied before it or is refused.
    const offsets = numbers(await o.link.hgetall(keys.offsets));
    const total = Object.values(offsets).reduce((a, b) => a + b, 0);
    const metrics = selectMetrics(o.mode, await readMetricStates(o.link), clock);
    const progress: RepairProgress = {
      stage: "recomputing",
      recomputed: 0,
      total,
      recordsPerSecond: 0,
      etaSeconds: null,
      changed: 0,
    };
    await stage(o, "recomputing");
    const started = performance.now();
    offsetsRead(new Map(Object.entries(offsets)));
    const recomputed = await recompute(source, {
      scratch: o.scratch,
      tables: o.tables,
      clock,
      latenessMs: Number(meta.latenessMs),
      expectedPartitions: Number(meta.expectedPartitions),
      onProgress: (n) => {
        const seconds = (performance.now() - started) / 1000;
        progress.recomputed = n;
        progress.recordsPerSecond = seconds > 0 ? n / seconds : 0;
        progress.etaSeconds = progress.recordsPerSecond > 0 ? (total - n) / progress.recordsPerSecond : null;
        o.onProgress?.(progress);
      },
    });
    await stage(o, "comparing");
    const closedThrough = Number((await o.link.get(keys.closedThrough)) ?? 0);
    const plan = await planRewrite(o, metrics, clock, closedThrough);
    progress.stage = "rewriting";
    progress.changed = plan.changes.length;
    o.onProgress?.(progress);
    await stage(o, "rewriting");
    const fence = JSON.stringify(Object.fromEntries(Object.entries(offsets).map(([k, v]) => [k, String(v)])));
    for (let i = 0; i < plan.ops.length; i += OPS_PER_STEP)
      await applyStep(o.link, token, fence, plan.ops.slice(i, i + OPS_PER_STEP));
    if (o.mode === "backfill")
      await applyStep(o.link, token, fence, completed(await readMetricStates(o.link), metrics));
    await stage(o, "verifying");
    const left = await planRewrite(o, metrics, clock, closedThrough);
    if (left.changes.length > 0)
      throw new RepairFailed(
        `${left.changes.length} values still differ from the recompute after the rewrite, e.g. ${JSON.stringify(left.changes[0])}`,
      );
    await stage(o, "done");
    return {
      mode: o.mode,
      metrics,
      recomputed,
      changed: plan.changes.length,
      largest: largest(plan.changes),
      offsets,
      pausedMs: Date.now() - pausedAt,
    };
  } finally {
    clearInterval(renew);
    // Released only if still ours: an expired pause may already be someone else's.
    if ((await o.link.get(keys.pause)) === token) await o.link.del(keys.pause);
  }
}

async function stage(o: RepairOptions, s: RepairStage): Promise<void> {
  await o.onStage?.(s);
}

function numbers(hash: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)]));
}

/** Repair: the metrics the link holds whole. Backfill: the ones it computes but does not hold whole. */
function selectMetrics(
  mode: RepairMode,
  states: Record<string, StoredMetric>,
  clock: BusinessClock,
): string[] {
  return METRICS.filter((m) => {
    const state = states[m.name];
    if (!state || state.paused) return false;
    const whole = incompleteThrough(state, clock) === null;
    return mode === "repair" ? whole : !whole;
  }).map((m) => m.name);
}

type Op = [op: "restore" | "del" | "hset" | "hdel", key: string, a: string | Buffer, b: string | Buffer];

interface Rewrite {
  ops: Op[];
  changes: ValueChange[];
}

/**
 * What differs between the link and the recompute for `metrics`: whole keys for day values and HyperLogLogs
 * (one metric each), fields for minutes, late contributions, digests (closed minutes only) and counters
 * (repair only).
 */
async function planRewrite(
  o: RepairOptions,
  metrics: readonly string[],
  clock: BusinessClock,
  closedThrough: number,
): Promise<Rewrite> {
  const selected = new Set(metrics);
  const parts: Rewrite[] = [];
  // os:d:<date>:<metric>:<dim>, os:hll:d:<date>:<metric>:…, os:hll:m:<date>:<HHMM>:<metric>:…
  // Each with the type the processor writes (common/keys.ts): what a key holds is compared as that type first.
  const wholeKeys: [string, number, WholeType][] = [
    ["os:d:*", 3, "zset"],
    ["os:hll:d:*", 4, "string"],
    ["os:hll:m:*", 5, "string"],
  ];
  for (const [pattern, metricAt, type] of wholeKeys) {
    const found = (await bothScans(o, pattern)).filter((key) => selected.has(key.split(":")[metricAt] ?? ""));
    parts.push(...(await sideBySide(found, (key) => compareKey(o, key, type))));
  }
  // Minutes and late contributions: HASH per day or minute, field "<metric>|<dim>|<key>".
  for (const pattern of ["os:m:*", "os:late:*"])
    parts.push(
      ...(await sideBySide(await bothScans(o, pattern), (key) =>
        compareFields(o, key, (f) => selected.has(f.split("|")[0] ?? "")),
      )),
    );
  parts.push(
    ...(await sideBySide(await bothScans(o, "os:digest:*"), (key) => {
      const date = key.split(":")[2] as string;
      return compareFields(o, key, (f) => {
        const [hhmm, metric] = f.split("|");
        return selected.has(metric ?? "") && clock.instantOf(date, hhmm as string) + 60_000 <= closedThrough;
      });
    })),
  );
  if (o.mode === "repair")
    parts.push(await compareFields(o, keys.counters, (f) => !f.startsWith("data_loss:")));
  return { ops: parts.flatMap((p) => p.ops), changes: parts.flatMap((p) => p.changes) };
}

/** Keys compared at once: each takes a few round trips to both servers, so one at a time waits on latency. */
const KEYS_AT_ONCE = 64;

/** `compare` over every key, KEYS_AT_ONCE at a time; the results in the keys' order. */
async function sideBySide(
  keys: readonly string[],
  compare: (key: string) => Promise<Rewrite>,
): Promise<Rewrite[]> {
  const out: Rewrite[] = [];
  for (let i = 0; i < keys.length; i += KEYS_AT_ONCE)
    out.push(...(await Promise.all(keys.slice(i, i + KEYS_AT_ONCE).map(compare))));
  return out;
}

async function bothScans(o: RepairOptions, pattern: string): Promise<string[]> {
  const [a, b] = await Promise.all([scanKeys(o.link, pattern), scanKeys(o.scratch, pattern)]);
  return [...new Set([...a, ...b])].sort();
}

/** A whole key: rewritten from the recompute's DUMP (keeping the link's expiry), or deleted. */
type WholeType = "zset" | "string";

async function compareKey(o: RepairOptions, key: string, expected: WholeType): Promise<Rewrite> {
  const out: Rewrite = { ops: [], changes: [] };
  // Most keys are equal: two reads say so. A key of another type on either side fails them (WRONGTYPE) and
  // is looked at closely below, as is one that differs or that either side lacks.
  if (await sameContent(o, key, expected).catch(() => false)) return out;
  const [linkType, type] = await Promise.all([o.link.type(key), o.scratch.type(key)]);
  if (type === "none") {
    if (linkType === "none") return out;
    out.ops.push(["del", key, "", ""]);
    out.changes.push({ key, field: "", link: await render(o.link, key), recompute: null });
    return out;
  }
  if (linkType === type && (await sameContent(o, key, type))) return out;
  const [recomputed, ttl, scratchTtl] = await Promise.all([
    o.scratch.dumpBuffer(key),
    o.link.pttl(key),
    o.scratch.pttl(key),
  ]);
  out.ops.push(["restore", key, String(ttl > 0 ? ttl : Math.max(0, scratchTtl)), recomputed as Buffer]);
  if (type === "zset" && linkType === type) {
    const [a, b] = await Promise.all([zsetOf(o.link, key), zsetOf(o.scratch, key)]);
    for (const member of new Set([...a.keys(), ...b.keys()]))
      if (a.get(member) !== b.get(member))
        out.changes.push({
          key,
          field: member,
          link: a.get(member) ?? null,
          recompute: b.get(member) ?? null,
        });
  } else
    out.changes.push({
      key,
      field: "",
      link: await render(o.link, key),
      recompute: await render(o.scratch, key),
    });
  return out;
}

/** DUMP payloads also encode the representation (listpack or skiplist): compare what the key holds. */
async function sameContent(o: RepairOptions, key: string, type: string): Promise<boolean> {
  if (type === "zset") {
    const [a, b] = await Promise.all([
      o.link.zrange(key, "0", "-1", "WITHSCORES"),
      o.scratch.zrange(key, "0", "-1", "WITHSCORES"),
    ]);
    // Redis keeps no empty sorted set: two empty reads are a key neither side has.
    return a.join("\n") === b.join("\n");
  }
  const [a, b] = await Promise.all([o.link.getBuffer(key), o.scratch.getBuffer(key)]);
  return a !== null && b !== null && a.equals(b);
}

async function render(redis: Redis, key: string): Promise<string | null> {
  const type = await redis.type(key);
  if (type === "none") return null;
  if (type === "zset") return (await redis.zrange(key, "0", "-1", "WITHSCORES")).join(" ");
  return `(${type} of ${await redis.strlen(key).catch(() => 0)} bytes)`;
}

/** The fields of a hash that `wanted` selects: set to the recompute's value, or deleted. */
async function compareFields(
  o: RepairOptions,
  key: string,
  wanted: (field: string) => boolean,
): Promise<Rewrite> {
  const out: Rewrite = { ops: [], changes: [] };
  const [a, b] = await Promise.all([o.link.hgetall(key), o.scratch.hgetall(key)]);
  for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!wanted(field) || a[field] === b[field]) continue;
    const recomputed = b[field];
    out.ops.push(recomputed === undefined ? ["hdel", key, field, ""] : ["hset", key, field, recomputed]);
    out.changes.push({ key, field, link: a[field] ?? null, recompute: recomputed ?? null });
  }
  return out;
}

/** The backfilled metrics' state: computed from the link's first record, so complete on every day. */
function completed(states: Record<string, StoredMetric>, metrics: readonly string[]): Op[] {
  return metrics.map((name) => [
    "hset",
    keys.metricStates,
    name,
    JSON.stringify({ ...states[name], since: null }),
  ]);
}

async function applyStep(link: Redis, token: string, fence: string, ops: readonly Op[]): Promise<void> {
  if (ops.length === 0) return;
  const result = (await repairApplyScript.run(
    link,
    [keys.offsets, keys.pause],
    [token, fence, ...ops.flat()],
  )) as [number, string?, string?];
  if (result[0] === 1) return;
  if (result[1] === "offsets")
    throw new RepairFailed(
      `the link's offsets moved while it was paused (${result[2]}): a processor ignored the pause; nothing was overwritten by this step, run the repair again`,
    );
  throw new RepairFailed(`the repair lost its pause (now held by ${result[2] || "nobody"}): run it again`);
}

function largest(changes: readonly ValueChange[]): RepairSummary["largest"] {
  return changes
    .map((c) => {
      const a = Number(c.link ?? 0);
      const b = Number(c.recompute ?? 0);
      return { ...c, delta: Number.isFinite(a) && Number.isFinite(b) ? a - b : null };
    })
    .sort((x, y) => Math.abs(y.delta ?? 0) - Math.abs(x.delta ?? 0))
    .slice(0, 10);
}
