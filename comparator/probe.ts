import { Redis } from "ioredis";
import { type Admin, Kafka, logLevel } from "kafkajs";
import type { BusinessClock } from "../common/businessTime.ts";
import { keys, partitionField } from "../common/keys.ts";
import { heartbeatTime, type LinkProgress, readDigests, readProgress } from "../common/linkReader.ts";
import type { LinkAddress } from "../common/links.ts";
import { completeOn, type StoredMetric } from "../common/metricState.ts";
import { INPUT_TOPICS } from "../common/topics.ts";
import { LIVE_METRICS, NO_PROGRESS, type Observation } from "./observation.ts";
import type { Scrubber } from "./scrub.ts";

const DELETE_IF_UNCHANGED = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

interface Offsets {
  at: number;
  /** "<topic>:<partition>" -> [log start, high watermark] */
  partitions: Map<string, [number, number]>;
}

/** Reads one link's Redis and Kafka. Never throws: what could not be read is reported in the observation. */
export class LinkProbe {
  private readonly redis: Redis;
  private readonly kafka: KafkaOffsets;
  private digests = { date: "", closedThrough: -1, byMinute: {} as Record<string, string> };

  constructor(
    readonly address: LinkAddress,
    private readonly clock: BusinessClock,
    timeoutMs: number,
    kafkaFreshMs: number,
    readonly scrubber: Scrubber,
  ) {
    this.redis = new Redis(address.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      // Reconnect at a steady pace: a probe must see the link back within a probe or two of its return.
      retryStrategy: () => Math.min(timeoutMs, 250),
    });
    // Failures are read from the commands of each probe; the connection's own errors would only repeat them.
    this.redis.on("error", () => {});
    this.kafka = new KafkaOffsets(address, timeoutMs, kafkaFreshMs);
  }

  /**
   * Deletes the heartbeat entries that are not heartbeats or are older than `maxAgeMs` (processors that
   * crashed or left under another member id): the hash would otherwise grow with every restart. Returns the
   * members deleted. An entry rewritten since it was read is left alone.
   */
  async pruneHeartbeats(maxAgeMs: number, now = Date.now()): Promise<string[]> {
    const entries = await this.redis.hgetall(keys.heartbeats);
    const doomed = Object.entries(entries).filter(([, raw]) => {
      const ts = heartbeatTime(raw);
      return ts === null || now - ts > maxAgeMs;
    });
    const deleted: string[] = [];
    for (const [member, raw] of doomed) {
      if (Number(await this.redis.eval(DELETE_IF_UNCHANGED, 1, keys.heartbeats, member, raw)) === 1)
        deleted.push(member);
    }
    return deleted;
  }

  /** First half of a probe: progress and Kafka lag, from which the comparator picks the business day. */
  async progress(): Promise<{ progress: LinkProgress; error: string | null; lagRecords: number | null }> {
    this.kafka.refresh();
    try {
      const progress = await readProgress(this.redis);
      return { progress, error: null, lagRecords: this.kafka.lag(progress) };
    } catch (err) {
      return { progress: NO_PROGRESS, error: (err as Error).message, lagRecords: null };
    }
  }

  /** Second half: the live values and closed-minute digests of `date`, read at the same moment on every link. */
  async values(
    date: string,
    first: { progress: LinkProgress; error: string | null; lagRecords: number | null },
  ): Promise<Observation> {
    const base = {
      link: this.address.id,
      date,
      lagRecords: first.lagRecords,
      progress: first.progress,
      scrub: this.scrubber.mismatches(),
    };
    const unread = { values: {}, digests: {}, incomplete: [] };
    if (first.error !== null) return { ...base, at: Date.now(), error: first.error, ...unread };
    try {
      const pipeline = this.redis.pipeline();
      pipeline.hgetall(keys.metricStates);
      for (const m of LIVE_METRICS) pipeline.zscore(keys.day(date, m.name, "all"), "all");
      const [results, digests] = await Promise.all([
        pipeline.exec(),
        this.closedDigests(date, first.progress.closedThrough),
      ]);
      const reply = (i: number) => {
        const [err, v] = results?.[i] ?? [new Error("no reply")];
        if (err) throw err;
        return v;
      };
      const states = reply(0) as Record<string, string>;
      const values: Record<string, number> = {};
      const incomplete: string[] = [];
      LIVE_METRICS.forEach((m, i) => {
        const v = reply(i + 1);
        values[m.name] = v === null || v === undefined ? 0 : Number(v);
        const json = states[m.name];
        const state = json === undefined ? undefined : (JSON.parse(json) as StoredMetric);
        if (!completeOn(state, date, this.clock)) incomplete.push(m.name);
      });
      return { ...base, at: Date.now(), error: null, values, digests, incomplete };
    } catch (err) {
      return { ...base, at: Date.now(), error: (err as Error).message, ...unread };
    }
  }

  /** Closed minutes never change, so the digests are read again only when more minutes have closed. */
  private async closedDigests(date: string, closedThrough: number): Promise<Record<string, string>> {
    if (this.digests.date !== date || this.digests.closedThrough !== closedThrough) {
      this.digests = { date, closedThrough, byMinute: await readDigests(this.redis, date) };
    }
    return this.digests.byMinute;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await Promise.all([this.kafka.close(), this.scrubber.close()]);
  }
}

/**
 * The high watermarks of one link's Kafka, fetched in the background so that a slow or dead Kafka never
 * delays a probe: a probe uses the newest offsets fetched within `freshMs`, or reports the lag as unknown.
 */
class KafkaOffsets {
  private readonly kafka: Kafka;
  private admin: Admin | null = null;
  private latest: Offsets | null = null;
  private inFlight = false;
  private retryAt = 0;

  constructor(
    address: LinkAddress,
    timeoutMs: number,
    private readonly freshMs: number,
  ) {
    this.kafka = new Kafka({
      clientId: `oneservice-comparator-${address.id}`,
      brokers: address.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: timeoutMs,
      requestTimeout: timeoutMs * 2,
      retry: { retries: 0 },
    });
  }

  refresh(): void {
    if (this.inFlight || Date.now() < this.retryAt) return;
    this.inFlight = true;
    this.fetch()
      .then((offsets) => {
        this.latest = offsets;
      })
      .catch(async () => {
        // Start from a fresh connection next time, and not before a pause, so a dead Kafka costs little.
        this.retryAt = Date.now() + this.freshMs;
        const admin = this.admin;
        this.admin = null;
        await admin?.disconnect().catch(() => {});
      })
      .finally(() => {
        this.inFlight = false;
      });
  }

  private async fetch(): Promise<Offsets> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    const admin = this.admin;
    const partitions = new Map<string, [number, number]>();
    const perTopic = await Promise.all(INPUT_TOPICS.map((topic) => admin.fetchTopicOffsets(topic)));
    INPUT_TOPICS.forEach((topic, i) => {
      for (const p of perTopic[i] ?? [])
        partitions.set(partitionField(topic, p.partition), [Number(p.low), Number(p.high)]);
    });
    return { at: Date.now(), partitions };
  }

  /** Records held by Kafka beyond the offsets the link has applied, summed over its input partitions. */
  lag(progress: LinkProgress): number | null {
    if (!this.latest || Date.now() - this.latest.at > this.freshMs) return null;
    let lag = 0;
    for (const [tp, [low, high]] of this.latest.partitions) {
      const applied = progress.partitions[tp]?.offset ?? low;
      lag += Math.max(0, high - applied);
    }
    return lag;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => {});
  }
}
