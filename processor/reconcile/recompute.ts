import type { Redis } from "ioredis";
import type { BusinessClock } from "../../common/businessTime.ts";
import { sourceOfTopic } from "../../common/catalog.ts";
import { keys, partitionField } from "../../common/keys.ts";
import { type BatchContext, runBatch } from "../batchRunner.ts";
import { LinkStore } from "../linkStore.ts";
import { parseRecords } from "../planner.ts";
import type { RecordSource, SourceRecord } from "./sources.ts";

export interface RecomputeOptions {
  /** An empty Redis database the recompute owns (it is flushed first). */
  scratch: Redis;
  tables: BatchContext["tables"];
  clock: BusinessClock;
  latenessMs: number;
  expectedPartitions: number;
  onProgress?: (records: number) => void;
}

const BATCH = 5_000;
/** Batches in flight at once, over different partitions (a processor takes 4 partitions at a time). */
const CONCURRENT_BATCHES = 8;
const TTL_SECONDS = 7 * 86_400;

/**
 * The batch half of the lambda architecture: the same planner and the same atomic apply as the live
 * processor, run over the whole input into a scratch database. Interleaving across partitions does not
 * matter (planner.ts), so records are batched per partition in the order they come.
 */
export async function recompute(source: RecordSource, o: RecomputeOptions): Promise<number> {
  await o.scratch.flushdb();
  const store = new LinkStore(o.scratch);
  await store.claimMeta({ timeZone: o.clock.timeZone, latenessMs: o.latenessMs }, o.expectedPartitions);
  const ctx: BatchContext = {
    store,
    tables: o.tables,
    clock: o.clock,
    latenessMs: o.latenessMs,
    futureMs: Number.MAX_SAFE_INTEGER / 2,
    keyTtlSeconds: TTL_SECONDS,
    onGap: async () => {},
  };
  const buffers = new Map<string, SourceRecord[]>();
  // Batches of one partition of a source share its join state, so they run one after the other, in order;
  // batches of different partitions are independent (planner.ts) and run side by side, a few at a time.
  const chains = new Map<string, Promise<unknown>>();
  const running = new Set<Promise<unknown>>();
  let total = 0;
  const flush = async (tp: string) => {
    const batch = buffers.get(tp);
    if (!batch || batch.length === 0) return;
    buffers.set(tp, []);
    const first = batch[0] as SourceRecord;
    const kafkaRecords = batch.map((r) => ({ offset: String(r.offset), key: r.key, value: r.value }));
    const chain = `${sourceOfTopic(first.topic).name}:${first.partition}`;
    const run = (chains.get(chain) ?? Promise.resolve()).then(() =>
      runBatch(ctx, first.topic, first.partition, parseRecords(first.topic, kafkaRecords)),
    );
    chains.set(chain, run);
    running.add(run);
    const done = () => running.delete(run);
    run.then(done, done);
    if (running.size >= CONCURRENT_BATCHES) await Promise.race(running);
  };
  for await (const records of source.batches()) {
    for (const r of records) {
      const tp = partitionField(r.topic, r.partition);
      let buffer = buffers.get(tp);
      if (!buffer) {
        buffer = [];
        buffers.set(tp, buffer);
      }
      buffer.push(r);
      total++;
      if (buffer.length >= BATCH) {
        await flush(tp);
        o.onProgress?.(total);
      }
    }
  }
  for (const tp of buffers.keys()) await flush(tp);
  await Promise.all(chains.values());
  for (;;) {
    const { closedNow } = await store.closeMinutes(o.clock, o.latenessMs, TTL_SECONDS);
    if (closedNow === 0) break;
  }
  o.onProgress?.(total);
  return total;
}

/** The partition count a link's processors recorded, so the recompute closes minutes the same way. */
export async function expectedPartitionsOf(link: Redis): Promise<number> {
  const v = await link.hget(keys.meta, "expectedPartitions");
  if (v === null)
    throw new Error("the link's Redis has no processor metadata (os:meta): has a processor run on it?");
  return Number(v);
}
