import { Redis } from "ioredis";
import type { BusinessClock } from "../../common/businessTime.ts";
import { findDerived } from "../../common/catalog.ts";
import { readProgress } from "../../common/linkReader.ts";
import type { LinkAddress } from "../../common/links.ts";
import type { Logger } from "../../common/logger.ts";
import { incompleteThrough, NEVER_COMPLETE, readMetricStates } from "../../common/metricState.ts";
import type { GatewayMetrics } from "../metrics.ts";

// One Redis connection per link, all kept open whichever link is active, so that a switch or a fallback
// never waits for a connect. A command to a link whose connection is down fails at once instead of
// queueing (no offline queue), which is what lets a read move on to a standby without waiting for a timeout.
// Each link's watermark is polled in the background: it is the `asOf` of every value read from the link; so is
// the state of its metrics (common/metricState.ts): an answer says whether the link holds its day whole.

const PROGRESS_EVERY_MS = 500;

export interface LinkConnection {
  id: string;
  redis: Redis;
}

export interface LinkState {
  id: string;
  /** ioredis connection status: ready, connecting, reconnecting, close, end… */
  status: string;
  connected: boolean;
  since: string;
  lastError: string | null;
  /** Everything up to this event time has been processed on the link (epoch ms; 0 = nothing yet). */
  watermark: number;
  /** Newest processor heartbeat seen on the link (epoch ms; 0 = none). */
  heartbeat: number;
}

interface Entry extends LinkConnection {
  up: boolean;
  since: number;
  lastError: string | null;
  watermark: number;
  heartbeat: number;
  /** Metric -> the last business day it cannot vouch for (null: complete); null before the first read. */
  incomplete: Map<string, string | null> | null;
  /** When the watermark last moved forward (epoch ms; 0 = not seen yet). */
  advancedAt: number;
}

export class LinkPool {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    addresses: readonly LinkAddress[],
    private readonly clock: BusinessClock,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
  ) {
    for (const { id, redisUrl } of addresses) {
      const redis = new Redis(redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2_000,
        enableAutoPipelining: true,
        retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      });
      const entry: Entry = {
        id,
        redis,
        up: false,
        since: Date.now(),
        lastError: null,
        watermark: 0,
        heartbeat: 0,
        incomplete: null,
        advancedAt: 0,
      };
      redis.on("ready", () => this.changed(entry, true));
      redis.on("close", () => this.changed(entry, false));
      redis.on("error", (err: Error) => {
        entry.lastError = err.message;
      });
      this.entries.set(id, entry);
    }
    this.timer = setInterval(() => void this.pollProgress(), PROGRESS_EVERY_MS);
    this.timer.unref();
  }

  get(id: string): LinkConnection | undefined {
    return this.entries.get(id);
  }

  isConnected(id: string): boolean {
    return this.entries.get(id)?.redis.status === "ready";
  }

  /** The link's watermark as an ISO time, or null before anything was processed on it. */
  asOf(id: string): string | null {
    const watermark = this.entries.get(id)?.watermark ?? 0;
    return watermark > 0 ? new Date(watermark).toISOString() : null;
  }

  /**
   * The last business day a link's values of a metric (base or derived) do not cover whole: null when they
   * are complete; NEVER_COMPLETE for a metric the link does not compute. Unknown until the link was read once.
   */
  incompleteThrough(id: string, metric: string): string | null {
    const incomplete = this.entries.get(id)?.incomplete;
    if (!incomplete) return null;
    const derived = findDerived(metric);
    const inputs = derived ? derived.of : [metric];
    let through: string | null = null;
    for (const input of inputs) {
      const t = incomplete.has(input) ? (incomplete.get(input) as string | null) : NEVER_COMPLETE;
      if (t !== null && (through === null || t > through)) through = t;
    }
    return through;
  }

  /** Whether the link's values of `metric` for business day `date` are the whole day's. */
  complete(id: string, metric: string, date: string): boolean {
    const through = this.incompleteThrough(id, metric);
    return through === null || date > through;
  }

  /** Since when the link's data has not advanced, when that is longer than `boundMs`; else null. */
  frozenSince(id: string, boundMs: number, now = Date.now()): number | null {
    const advancedAt = this.entries.get(id)?.advancedAt ?? 0;
    return advancedAt > 0 && now - advancedAt > boundMs ? advancedAt : null;
  }

  anyConnected(): boolean {
    for (const id of this.entries.keys()) if (this.isConnected(id)) return true;
    return false;
  }

  states(): LinkState[] {
    return [...this.entries.values()].map((e) => ({
      id: e.id,
      status: e.redis.status,
      connected: e.redis.status === "ready",
      since: new Date(e.since).toISOString(),
      lastError: e.lastError,
      watermark: e.watermark,
      heartbeat: e.heartbeat,
    }));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const e of this.entries.values()) e.redis.disconnect();
  }

  // ioredis reports "close" again after every failed reconnect attempt: only transitions are news.
  private changed(entry: Entry, up: boolean): void {
    if (entry.up === up) return;
    entry.up = up;
    entry.since = Date.now();
    this.metrics.linkUp.set({ link: entry.id }, up ? 1 : 0);
    if (up) {
      entry.lastError = null;
      this.log.info({ link: entry.id }, "link connected");
      void this.pollProgressOf(entry);
    } else {
      this.log.warn({ link: entry.id, err: entry.lastError }, "link connection lost");
    }
  }

  private async pollProgress(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.pollProgressOf(e)));
  }

  private async pollProgressOf(entry: Entry): Promise<void> {
    if (entry.redis.status !== "ready") return;
    try {
      const [progress, states] = await Promise.all([
        readProgress(entry.redis),
        readMetricStates(entry.redis),
      ]);
      if (progress.watermark > entry.watermark || entry.advancedAt === 0) entry.advancedAt = Date.now();
      entry.watermark = progress.watermark;
      entry.heartbeat = progress.heartbeat;
      entry.incomplete = new Map(
        Object.entries(states).map(([name, state]) => [name, incompleteThrough(state, this.clock)]),
      );
    } catch (err) {
      entry.lastError = (err as Error).message;
    }
  }
}
