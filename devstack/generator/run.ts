import { setImmediate as yieldToIo } from "node:timers/promises";
import { createLogger, type Logger } from "../../common/logger.ts";
import { Batcher, type Chunk } from "./batcher.ts";
import { type GeneratorOptions, generatorDefaults } from "./config.ts";
import { type DimensionFiles, writeDimensions } from "./dimensions.ts";
import { type LinkStats, LinkWriter, statsPerLink } from "./linkWriter.ts";
import { type ModelCounts, TrafficModel } from "./model.ts";
import { startProgress } from "./progress.ts";
import { TruthFile } from "./truthFile.ts";

// The generator's main loop: draw records from the model, cut them into chunks, hand every chunk to every
// link's writer and to the truth file. Paced, the virtual clock is held to the wall clock (records whose
// event time has not come yet wait); unpaced, it runs as fast as the slowest live link accepts.

export type GeneratorRun = Partial<GeneratorOptions> &
  Pick<GeneratorOptions, "links"> & {
    /** Aborting stops generating; what is in hand is still sent (within SHUTDOWN_TIMEOUT_MS). */
    signal?: AbortSignal;
    logger?: Logger;
    /** The live progress line / periodic log; on by default. */
    progress?: boolean;
  };

export interface GeneratorResult {
  counts: ModelCounts;
  links: LinkStats[];
  /** Payload bytes (keys and values) produced, each record counted once, not once per link. */
  bytes: number;
  elapsedMs: number;
  /** The virtual clock at the end: where a continuation would start. */
  endTime: number;
  dimensions: DimensionFiles | null;
}

const SLICE = 5000;
const CHUNK_BATCHES = 8;
const PACE_TICK_MS = 5;
const BACKPRESSURE_POLL_MS = 2;
const SHUTDOWN_TIMEOUT_MS = 10_000;

export async function runGenerator(run: GeneratorRun): Promise<GeneratorResult> {
  const opts: GeneratorOptions = { ...generatorDefaults(), ...run };
  const logger = run.logger ?? createLogger("generator");
  const paced = opts.rate > 0;
  const model = new TrafficModel({
    seed: opts.seed,
    startTime: opts.startTime,
    partitions: opts.partitions,
    profile: {
      baseRate: paced ? opts.rate : opts.unpacedEventRate,
      peakMultiplier: opts.peakMultiplier,
      peakAfterMs: opts.peakAfterMs,
      peakDurationMs: opts.peakDurationMs,
    },
    malformedFraction: opts.malformedFraction,
    poisonFraction: opts.poisonFraction,
    lateFraction: opts.lateFraction,
    lateByMs: opts.lateByMs,
    refundFraction: opts.refundFraction,
    population: opts.population,
  });
  const dimensions = opts.dimsDir ? await writeDimensions(opts.dimsDir, model.population) : null;
  const truth = opts.truthFile ? await TruthFile.open(opts.truthFile) : null;
  if (!Number.isInteger(opts.linkThreads) || opts.linkThreads < 1 || opts.linkThreads > opts.partitions)
    throw new RangeError(`linkThreads must be 1..${opts.partitions} (the partition count)`);
  const writers = opts.links.flatMap((l) =>
    Array.from(
      { length: opts.linkThreads },
      (_, shard) =>
        new LinkWriter({
          id: l.id,
          brokers: l.brokers,
          shard,
          shards: opts.linkThreads,
          maxQueued: opts.linkBuffer,
          stallAfterMs: opts.linkStallMs,
          logger,
        }),
    ),
  );
  const linkStats = () => statsPerLink(writers.map((w) => w.stats()));
  const batcher = new Batcher(opts.partitions, opts.batchSize);
  const wallStart = performance.now();
  const virtualTarget = () => opts.startTime + (performance.now() - wallStart);
  const progress =
    run.progress === false
      ? null
      : startProgress(
          () => ({
            counts: model.counts,
            links: linkStats(),
            behindMs: paced ? Math.max(0, virtualTarget() - model.now) : null,
          }),
          logger,
        );
  logger.info(
    {
      links: opts.links,
      seed: opts.seed,
      startTime: new Date(opts.startTime).toISOString(),
      rate: opts.rate,
      count: opts.count,
      truthFile: opts.truthFile,
      dimensions,
    },
    "generator started",
  );

  let bytes = 0;
  // Once stopped, what is in hand gets SHUTDOWN_TIMEOUT_MS to reach Kafka; at the end of a counted run
  // there is no hurry and every live link is drained completely.
  let deadline = Number.POSITIVE_INFINITY;
  run.signal?.addEventListener(
    "abort",
    () => {
      deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
    },
    { once: true },
  );
  const dispatch = async (chunk: Chunk) => {
    while (writers.some((w) => w.full(chunk)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, BACKPRESSURE_POLL_MS));
    for (const w of writers) w.enqueue(chunk);
    bytes += chunk.bytes;
  };

  const done = () => opts.count > 0 && model.counts.records >= opts.count;
  let lastFlush = performance.now();
  let links: LinkStats[] = [];
  try {
    while (!run.signal?.aborted && !done()) {
      const target = paced ? virtualTarget() : Number.POSITIVE_INFINITY;
      for (let i = 0; i < SLICE && model.now <= target && !done(); i++) {
        const r = model.next();
        batcher.add(r);
        truth?.add(r);
      }
      const now = performance.now();
      const linger = paced && now - lastFlush >= opts.lingerMs;
      if (linger || batcher.sealedRecords >= CHUNK_BATCHES * opts.batchSize) {
        const chunk = batcher.take(linger);
        if (linger) lastFlush = now;
        if (chunk) await dispatch(chunk);
      }
      await truth?.flush();
      if (paced && model.now > virtualTarget()) await new Promise((r) => setTimeout(r, PACE_TICK_MS));
      else await yieldToIo();
    }
    const last = batcher.take(true);
    if (last) await dispatch(last);
  } finally {
    // The truth file first: it is complete now, and a supervisor's SIGKILL may follow while links drain.
    try {
      await truth?.close();
    } finally {
      links = statsPerLink(await Promise.all(writers.map((w) => w.close(deadline))));
      progress?.stop();
      logger.info({ counts: model.counts, links }, "generator stopped");
    }
  }
  return {
    counts: { ...model.counts },
    links,
    bytes,
    elapsedMs: performance.now() - wallStart,
    endTime: model.now,
    dimensions,
  };
}
