import type { BusinessClock } from "../common/businessTime.ts";
import type { SellerTiers } from "./dimensions.ts";
import type { LinkStore } from "./linkStore.ts";
import {
  completePaidOrders,
  type Gap,
  orderIdsOf,
  type ParsedRecord,
  type Plan,
  planBatch,
  sellersOf,
} from "./planner.ts";

// One batch, start to end: read the state it depends on, plan it, resolve its sellers' tiers, apply it with
// its offsets. The live processor and the offline recompute (reconcile) both run exactly this.

export interface BatchContext {
  store: LinkStore;
  tiers: SellerTiers;
  industryOf: (categoryId: string) => string;
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
}

export type BatchOutcome = { result: "applied"; plan: Plan } | { result: "replay"; replayed: number };

const MAX_ATTEMPTS = 3;

export async function runBatch(
  ctx: BatchContext,
  topic: string,
  partition: number,
  records: readonly ParsedRecord[],
): Promise<BatchOutcome> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const snapshot = await ctx.store.readSnapshot(topic, partition, orderIdsOf(topic, records));
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
    await ctx.tiers.resolve(sellersOf(plan));
    completePaidOrders(plan, ctx.industryOf, ctx.tiers.tierOf);
    await ctx.beforeApply?.(plan);
    const applied = await ctx.store.apply(topic, partition, plan, snapshot, ctx.keyTtlSeconds);
    if (applied.applied) return { result: "applied", plan };
    ctx.onFenced?.(applied.field, applied.current);
  }
  throw new Error(`batch ${topic}:${partition} fenced off ${MAX_ATTEMPTS} times in a row`);
}
