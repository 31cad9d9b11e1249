import type { BusinessClock } from "../common/businessTime.ts";
import type { DimensionTable } from "../common/sources/source.ts";
import type { LinkStore } from "./linkStore.ts";
import { countFacts, type Gap, type ParsedRecord, type Plan, planBatch, stateIdsOf } from "./planner.ts";

// One batch, start to end: read the state it depends on, plan it, fill its facts' looked-up dimensions, apply
// it with its offsets. The live processor and the offline recompute (reconcile) both run exactly this.

/** A dimension table as a batch uses it: the ids its facts need read in one go, then looked up. */
export interface DimensionSource {
  resolve(ids: readonly string[]): Promise<void>;
  lookup(id: string): string;
}

export interface BatchContext {
  store: LinkStore;
  /** One per table a source can look dimensions up in: every table name has one (exhaustive). */
  tables: Record<DimensionTable, DimensionSource>;
  clock: BusinessClock;
  latenessMs: number;
  futureMs: number;
  keyTtlSeconds: number;
  /** Runs after planning and before applying (the live processor copies dead letters here). */
  beforeApply?: (plan: Plan) => Promise<void>;
  /** Told when the batch starts after the stored offset; throws to refuse the batch. */
  onGap: (gap: Gap) => Promise<void>;
  /** Told when another member moved the state under the batch; the batch is planned again. */
  onFenced?: (field: string, current: string) => void;
  /** Told while the link is paused (a repair): the batch waits at its boundary. */
  onPaused?: (holder: string) => void;
}

export type BatchOutcome = { result: "applied"; plan: Plan } | { result: "replay"; replayed: number };

/** The link's catalog is not this process's any more: another release registered its metrics. */
export class CatalogChanged extends Error {}

const MAX_ATTEMPTS = 3;
/** How often a batch held by a paused link (a repair) looks again. */
const PAUSED_RETRY_MS = 200;

export async function runBatch(
  ctx: BatchContext,
  topic: string,
  partition: number,
  records: readonly ParsedRecord[],
): Promise<BatchOutcome> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; ) {
    const snapshot = await ctx.store.readSnapshot(topic, partition, stateIdsOf(topic, records));
    const expectedOffset = snapshot.expectedOffset ?? 0;
    const plan = planBatch({
      topic,
      partition,
      records,
      expectedOffset,
      maxEventTime: snapshot.maxEventTime,
      join: snapshot.join,
      clock: ctx.clock,
      latenessMs: ctx.latenessMs,
      futureLimit: Date.now() + ctx.futureMs,
    });
    if (plan.gap) await ctx.onGap(plan.gap);
    if (plan.replayed === records.length) return { result: "replay", replayed: plan.replayed };
    await resolveLookups(ctx, plan);
    countFacts(plan, (table, id) => ctx.tables[table].lookup(id));
    await ctx.beforeApply?.(plan);
    const applied = await ctx.store.apply(topic, partition, plan, snapshot, ctx.keyTtlSeconds);
    if (applied.applied) return { result: "applied", plan };
    if (applied.field === "paused") {
      // A repair holds the link at this batch boundary: wait until it lets go (one GET a look, so a waiting
      // batch takes no CPU from the repair), then plan the batch again from what it left.
      ctx.onPaused?.(applied.current);
      do await new Promise((resolve) => setTimeout(resolve, PAUSED_RETRY_MS));
      while ((await ctx.store.pausedBy()) !== null);
      continue;
    }
    attempt++;
    if (applied.field === "catalog")
      throw new CatalogChanged(
        `the link now computes another catalog (${applied.current || "none"}, this process ${ctx.store.catalog}): a processor of another release registered its metrics`,
      );
    ctx.onFenced?.(applied.field, applied.current);
  }
  throw new Error(`batch ${topic}:${partition} fenced off ${MAX_ATTEMPTS} times in a row`);
}

/** Reads what the batch's facts need of each dimension table, once per table. */
async function resolveLookups(ctx: BatchContext, plan: Plan): Promise<void> {
  for (const lookup of plan.source.lookups) {
    const ids = new Set<string>();
    for (const { fact } of plan.facts) ids.add(fact.dims[lookup.from] as string);
    await ctx.tables[lookup.table].resolve([...ids]);
  }
}
