import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DimensionFiles, writeDimensions } from "../devstack/generator/dimensions.ts";
import { Population } from "../devstack/generator/population.ts";
import { type GeneratorResult, runGenerator } from "../devstack/generator/run.ts";
import { loadSellerTiers } from "../processor/sellerTierLoader.ts";
import type { TestLink } from "./links.ts";

// Feeding test links the way the dev stack does: dimension tables first (so no event meets a missing tier),
// then the generator writing identical per-partition streams to every link, with a truth file.

export const SEED = "test-seed";

export async function prepareDimensions(links: readonly TestLink[]): Promise<DimensionFiles> {
  const files = await writeDimensions(mkdtempSync(join(tmpdir(), "oneservice-dims-")), new Population(SEED));
  await Promise.all(links.map((l) => loadSellerTiers(l.redis.url, files.sellerTier)));
  return files;
}

export interface FeedOptions {
  count: number;
  partitions: number;
  /** The event clock starts this long before now, so nothing is "future". */
  startAgoMs?: number;
  /** Events per second of event time: low enough that a short feed spans several closed minutes. */
  eventRate?: number;
  /** Share of poison records (devstack/generator/poison.ts); none unless given. */
  poisonFraction?: number;
}

export async function feed(
  links: readonly TestLink[],
  o: FeedOptions,
): Promise<{ result: GeneratorResult; truthFile: string }> {
  const truthFile = join(mkdtempSync(join(tmpdir(), "oneservice-truth-")), "truth.ndjson");
  const result = await runGenerator({
    links: links.map((l) => ({ id: l.id, brokers: [l.kafka.bootstrap] })),
    partitions: o.partitions,
    seed: SEED,
    startTime: Date.now() - (o.startAgoMs ?? 3_600_000),
    rate: 0,
    unpacedEventRate: o.eventRate ?? 150,
    count: o.count,
    poisonFraction: o.poisonFraction ?? 0,
    peakMultiplier: 1,
    // Tests want every record delivered: on a loaded machine a link's Kafka can take longer than the
    // generator's default bound before it gives up on it.
    linkStallMs: 60_000,
    truthFile,
    dimsDir: null,
    progress: false,
  });
  return { result, truthFile };
}
