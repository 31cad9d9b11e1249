import { hostname } from "node:os";
import type { Tracer } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import type { Batch, Consumer, Kafka, Producer } from "kafkajs";
import { BusinessClock } from "../common/businessTime.ts";
import { SOURCES, sourceOfTopic } from "../common/catalog.ts";
import type { ConfigOf } from "../common/config.ts";
import { partitionField } from "../common/keys.ts";
import type { Logger } from "../common/logger.ts";
import { KeyedSerialQueue } from "../common/serialQueue.ts";
import type { SourceDef } from "../common/sources/source.ts";
import { inSpan } from "../common/telemetry.ts";
import { INPUT_TOPICS } from "../common/topics.ts";
import { type BatchContext, CatalogChanged, runBatch } from "./batchRunner.ts";
import type { processorSettings } from "./config.ts";
import { CoPartitionAssigner } from "./coPartitionAssigner.ts";
import { DeadLetterSink } from "./deadLetters.ts";
import { CategoryIndustry, SellerTiers } from "./dimensions.ts";
import { LinkStore, StateVersionError } from "./linkStore.ts";
import type { ProcessorMetrics } from "./metrics.ts";
import { type Gap, type Plan, parseRecords } from "./planner.ts";

export type ProcessorConfig = ConfigOf<typeof processorSettings>;

/** Exit codes the supervisor and operators can tell apart. */
export const EXIT = { dependencyLost: 1, dataLoss: 2, incompatibleState: 3 } as const;

export interface LinkProcessorDeps {
  config: ProcessorConfig;
  kafka: Kafka;
  redis: Redis;
  log: Logger;
  metrics: ProcessorMetrics;
  tracer: Tracer;
  /** Called for conditions the process must not survive; the caller exits with the code. */
  fatal: (code: number, reason: string) => void;
}

/** One consumer-group member of one link: Kafka in, the link's Redis out, exactly once. */
export class LinkProcessor {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly deadLetters: DeadLetterSink;
  private readonly store: LinkStore;
  private readonly clock: BusinessClock;
  private readonly categories: CategoryIndustry;
  private readonly tiers: SellerTiers;
  private readonly batchContext: BatchContext;
  private readonly partitionQueues = new KeyedSerialQueue<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private memberId = `${hostname()}-${process.pid}`;
  private assigned: Record<string, number[]> = {};
  private joined = false;
  private redisLostSince: number | null = null;
  private stopping = false;
  private closingWarnedAt = 0;
  private pausedLoggedAt = 0;
  private groupHeartbeat: (() => Promise<void>) | null = null;

  constructor(private readonly d: LinkProcessorDeps) {
    const c = d.config;
    this.store = new LinkStore(d.redis);
    this.clock = new BusinessClock(c.timeZone);
    this.categories = new CategoryIndustry(c.categoryFile, d.log);
    this.tiers = new SellerTiers(d.redis, c.sellerTierCacheSize, c.sellerTierCacheTtlMs);
    this.consumer = d.kafka.consumer({
      groupId: c.groupId || `oneservice-processor-${c.linkId}`,
      partitionAssigners: [CoPartitionAssigner],
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      // An empty fetch is held for its whole MaxWait by some brokers (the dev stack's mock among them): a short
      // wait keeps event-to-visible latency low when traffic is light.
      maxWaitTimeInMs: 100,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000, restartOnFailure: async () => false },
    });
    this.producer = d.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5 } });
    this.deadLetters = new DeadLetterSink(
      this.producer,
      {
        sendFailed: () => d.metrics.deadLetterSendFailures.inc(),
        dropped: (n) => d.metrics.deadLettersDropped.inc(n),
        spooled: (bytes) => d.metrics.deadLetterSpoolBytes.set(bytes),
      },
      d.log,
    );
    this.batchContext = {
      store: this.store,
      tables: { category_industry: this.categories, seller_tier: this.tiers },
      clock: this.clock,
      latenessMs: c.latenessMs,
      futureMs: c.futureMs,
      keyTtlSeconds: c.keyTtlSeconds,
      beforeApply: async (plan) => this.deadLetters.enqueue(plan.topic, plan.partition, plan.deadLetters),
      onGap: (gap) => this.onDataLoss(gap),
      onPaused: (holder) => {
        // Stay in the group while a repair holds the link, longer than a session timeout.
        void this.groupHeartbeat?.().catch(() => {});
        if (Date.now() - this.pausedLoggedAt > 10_000) {
          this.pausedLoggedAt = Date.now();
          this.d.log.info(
            { holder },
            "the link is paused (a repair holds it): batches wait at their boundary",
          );
        }
      },
      onFenced: (field, current) => {
        this.d.metrics.batches.inc({ topic: field.slice(0, field.lastIndexOf(":")), result: "fenced" });
        this.d.log.warn({ field, current }, "batch fenced off: another member moved this partition's state");
      },
    };
  }

  get ready(): boolean {
    return this.joined && this.redisLostSince === null && !this.stopping;
  }

  async start(): Promise<void> {
    const { config, log, redis } = this.d;
    redis.on("error", () => {
      this.redisLostSince ??= Date.now();
    });
    redis.on("ready", () => {
      this.redisLostSince = null;
    });
    const partitions = await this.inputPartitions();
    const claim = await this.store.claimMeta(
      { timeZone: config.timeZone, latenessMs: config.latenessMs },
      partitions,
    );
    if (claim.started.length > 0)
      log.warn(
        { metrics: claim.started },
        "metrics new to this link: computed from the current offsets on, incomplete for the days before until backfilled",
      );
    if (claim.paused.length > 0)
      log.warn(
        { metrics: claim.paused },
        "metrics this link computed that this release does not: left as they are",
      );

    await this.producer.connect();
    await this.consumer.connect();
    const events = this.consumer.events;
    this.consumer.on(events.CRASH, ({ payload }) => {
      if (!this.stopping)
        this.d.fatal(EXIT.dependencyLost, `Kafka consumer crashed: ${payload.error.message}`);
    });
    this.consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.memberId = payload.memberId;
      this.assigned = payload.memberAssignment;
      this.joined = true;
      const count = Object.values(this.assigned).reduce((n, p) => n + p.length, 0);
      this.d.metrics.assigned.set(count);
      log.info({ memberId: payload.memberId, assignment: this.assigned }, "joined the group");
      this.seekToStoredOffsets().catch((err) => log.error({ err }, "seeking to stored offsets failed"));
    });
    for (const topic of INPUT_TOPICS) await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.partitionsConcurrency,
      eachBatch: async ({ batch, isStale, pause, resolveOffset, heartbeat }) => {
        if (isStale()) return;
        this.groupHeartbeat = heartbeat;
        // A source's topics share their partitions' join state, so one of its partitions is one batch at a time.
        const key = `${sourceOfTopic(batch.topic).name}:${batch.partition}`;
        await this.partitionQueues.run(key, () => this.handleBatch(batch, pause));
        // Only moves kafkajs's fetch position; the offsets that count were stored with the batch in Redis.
        resolveOffset(batch.lastOffset());
      },
    });
    this.every(config.heartbeatMs, () => this.beat());
    this.every(500, () => this.watchRedis());
  }

  /**
   * Every registered topic must exist, and a source's topics must have the same partition count (they are
   * co-partitioned); returns the number of input partitions, which minute closing waits for.
   */
  private async inputPartitions(): Promise<number> {
    const admin = this.d.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = INPUT_TOPICS.filter((t) => !existing.has(t));
      if (missing.length > 0)
        throw new StateVersionError(
          `the link's Kafka has no topic ${missing.join(", ")}, which registered sources read: create it first`,
        );
      const metadata = await admin.fetchTopicMetadata({ topics: [...INPUT_TOPICS] });
      const counts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
      for (const source of SOURCES) {
        const distinct = new Set(source.topics.map((t) => counts.get(t.name)));
        if (distinct.size > 1)
          throw new StateVersionError(
            `source ${source.name} needs its topics co-partitioned, but ${source.topics.map((t) => `${t.name} has ${counts.get(t.name)}`).join(", ")} partitions`,
          );
      }
      return [...counts.values()].reduce((a, b) => a + b, 0);
    } finally {
      await admin.disconnect();
    }
  }

  private rateCapOf(source: SourceDef): number {
    const { sourceRateCaps, maxRatePerPartition } = this.d.config;
    return sourceRateCaps[source.name] ?? (source.maxRatePerPartition || maxRatePerPartition);
  }

  /** Kafka's committed offsets are not ours: the ones in the link's Redis are, so every (re)join seeks there. */
  private async seekToStoredOffsets(): Promise<void> {
    for (const [topic, partitions] of Object.entries(this.assigned)) {
      for (const partition of partitions) {
        const stored = await this.store.storedOffset(topic, partition);
        if (stored !== null) this.consumer.seek({ topic, partition, offset: String(stored) });
      }
    }
  }

  private async handleBatch(batch: Batch, pause: () => () => void): Promise<void> {
    const { topic, partition } = batch;
    const started = performance.now();
    const records = parseRecords(topic, batch.messages);
    await inSpan(
      this.d.tracer,
      "processor.batch",
      { topic, partition, records: records.length },
      async (span) => {
        const outcome = await runBatch(this.batchContext, topic, partition, records).catch((err) => {
          if (err instanceof CatalogChanged) this.d.fatal(EXIT.incompatibleState, err.message);
          throw err;
        });
        if (outcome.result === "replay") {
          this.d.metrics.batches.inc({ topic, result: "replay" });
          this.d.metrics.events.inc({ topic, outcome: "replayed" }, outcome.replayed);
          return;
        }
        span.setAttribute("nextOffset", outcome.plan.nextOffset);
        this.afterApply(batch, outcome.plan, records.length - outcome.plan.replayed, started, pause);
      },
    );
  }

  private afterApply(
    batch: Batch,
    plan: Plan,
    fresh: number,
    started: number,
    pause: () => () => void,
  ): void {
    const { topic, partition } = batch;
    const m = this.d.metrics;
    const elapsedMs = performance.now() - started;
    m.batches.inc({ topic, result: "applied" });
    m.applySeconds.observe({ topic }, elapsedMs / 1000);
    m.events.inc({ topic, outcome: "applied" }, fresh - plan.deadLetters.length);
    if (plan.replayed > 0) m.events.inc({ topic, outcome: "replayed" }, plan.replayed);
    const late = plan.effect.counters.get(`late:${topic}`) ?? 0;
    if (late > 0) m.events.inc({ topic, outcome: "late" }, late);
    for (const { reason } of plan.deadLetters) {
      m.events.inc({ topic, outcome: "dead_letter" });
      m.deadLetters.inc({ topic, reason });
    }
    m.sellerTierLookups.inc({ result: "hit" }, this.tiers.hits);
    m.sellerTierLookups.inc({ result: "miss" }, this.tiers.misses);
    this.tiers.hits = 0;
    this.tiers.misses = 0;
    const labels = { topic, partition: String(partition) };
    m.lag.set(labels, Math.max(0, Number(batch.highWatermark) - plan.nextOffset));
    if (Number.isFinite(plan.maxEventTime)) m.maxEventTime.set(labels, plan.maxEventTime);

    const cap = this.rateCapOf(plan.source);
    const holdMs = Math.max(
      cap > 0 ? (fresh / cap) * 1000 - elapsedMs : 0,
      elapsedMs > this.d.config.redisSlowMs ? elapsedMs : 0,
    );
    if (holdMs > 0) {
      if (elapsedMs > this.d.config.redisSlowMs) m.pauses.inc({ topic });
      const resume = pause();
      setTimeout(resume, holdMs).unref();
    }
  }

  private async onDataLoss(gap: Gap): Promise<void> {
    const { topic, partition } = gap;
    const lost = gap.got - gap.expected;
    this.d.metrics.dataLoss.inc({ topic, partition: String(partition) }, lost);
    const detail = { topic, partition, expectedOffset: gap.expected, firstAvailableOffset: gap.got, lost };
    if (this.d.config.onDataLoss === "fail") {
      // The batch will not be applied, so the link's counter is written here rather than with it.
      await this.store.countDataLoss(topic, partition, lost);
      this.d.log.fatal(detail, "DATA LOSS: records were deleted from Kafka before this link processed them");
      this.d.fatal(EXIT.dataLoss, `data loss on ${partitionField(topic, partition)}: ${lost} records`);
      throw new Error("data loss");
    }
    this.d.log.error(
      detail,
      "DATA LOSS skipped (ON_DATA_LOSS=skip): this link's values now miss these records",
    );
  }

  private async beat(): Promise<void> {
    const partitions: Record<string, number[]> = this.assigned;
    await this.store.heartbeat(this.memberId, { link: this.d.config.linkId, pid: process.pid, partitions });
    const { closedThrough, closedNow, waitingFor } = await this.store.closeMinutes(
      this.clock,
      this.d.config.latenessMs,
      this.d.config.keyTtlSeconds,
    );
    if (closedThrough > 0) this.d.metrics.closedThrough.set(closedThrough);
    this.d.metrics.closingWaitsFor.set(waitingFor);
    // Closing needs a watermark from every input partition, or a record arriving later on an idle one could
    // land in a minute already digested on one link and not on another: say so rather than wait silently.
    if (waitingFor > 0 && Date.now() - this.closingWarnedAt > 60_000) {
      this.closingWarnedAt = Date.now();
      this.d.log.warn(
        { partitionsWithoutRecords: waitingFor },
        "minutes are not closing: some input partitions have had no record yet (a new or idle topic)",
      );
    }
    if (closedNow > 0) this.d.log.debug({ closedThrough, closedNow }, "minutes closed");
  }

  private watchRedis(): void {
    if (
      this.redisLostSince !== null &&
      Date.now() - this.redisLostSince > this.d.config.dependencyTimeoutMs
    ) {
      this.d.fatal(
        EXIT.dependencyLost,
        `the link's Redis has been unreachable for over ${this.d.config.dependencyTimeoutMs}ms`,
      );
    }
  }

  private every(ms: number, fn: () => Promise<void> | void): void {
    const timer = setInterval(() => {
      Promise.resolve()
        .then(fn)
        .catch((err) => this.d.log.warn({ err: (err as Error).message }, "periodic task failed"));
    }, ms);
    this.timers.push(timer);
  }

  /** SIGTERM: finish the batch in hand, leave the group, say goodbye in the heartbeat. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await this.consumer.disconnect();
    await this.deadLetters.close();
    await this.producer.disconnect();
    await this.store.leave(this.memberId).catch(() => {});
    this.categories.close();
  }
}
