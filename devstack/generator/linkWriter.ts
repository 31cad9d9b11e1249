import { Worker } from "node:worker_threads";
import type { Logger } from "../../common/logger.ts";
import { BATCH_FIELDS, type Chunk } from "./batcher.ts";
import type { FromWorker, LinkWorkerData, ToWorker } from "./linkWorker.ts";

// The generator's handle on one producer thread of a link (linkWorker.ts; a link has `shards` of them, each
// serving a fixed share of the partitions), and the accounting that keeps links apart. Links are isolated,
// so one link's Kafka being down must not stop the others:
// - Each thread holds at most `maxQueued` records that its Kafka has not acknowledged yet.
// - The generator waits for a thread whose queue is full (backpressure: an unpaced run goes at the pace of
//   the slowest live link) unless it is stalled: records waiting and no acknowledgement for `stallAfterMs`.
// - A chunk for a thread without room is dropped for it (counted, logged loudly). What was queued is still
//   delivered, in order, when its Kafka comes back; nothing is ever reordered, but a link that dropped
//   anything has a gap in its input and will diverge from the others, which is for the comparator to see.

export interface LinkWriterOptions {
  id: string;
  brokers: string[];
  shard: number;
  shards: number;
  maxQueued: number;
  stallAfterMs: number;
  logger: Logger;
}

export interface LinkStats {
  id: string;
  /** Records Kafka acknowledged. */
  sent: number;
  /** Records handed to the link and not acknowledged yet. */
  queued: number;
  /** Records this link will never get: no room while stalled, or unsent at shutdown. */
  dropped: number;
  failedSends: number;
  stalled: boolean;
}

const LOG_EVERY_MS = 10_000;
const CLOSE_GRACE_MS = 2000;
const CLOSE_POLL_MS = 20;

// Workers do not inherit tsx's loader, so the worker starts from a small ES module that registers it first.
const WORKER_URL = new URL("./linkWorker.ts", import.meta.url).href;
const BOOT = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))};\n` +
      `register();\nawait import(${JSON.stringify(WORKER_URL)});\n`,
  )}`,
);

export class LinkWriter {
  readonly id: string;
  /** The link, and which of its threads, for log lines. */
  private readonly name: string;
  private readonly worker: Worker;
  private queued = 0;
  private sent = 0;
  private dropped = 0;
  private failedSends = 0;
  private lastProgress = Date.now();
  private lastFailureLog = 0;
  private lastDropLog = 0;
  private dead = false;
  private readonly closed: Promise<void>;

  constructor(private readonly opts: LinkWriterOptions) {
    this.id = opts.id;
    this.name =
      opts.shards > 1 ? `link ${opts.id} (thread ${opts.shard + 1} of ${opts.shards})` : `link ${opts.id}`;
    const workerData: LinkWorkerData = {
      id: opts.id,
      brokers: opts.brokers,
      shard: opts.shard,
      shards: opts.shards,
    };
    this.worker = new Worker(BOOT, { workerData });
    this.closed = new Promise((resolve) => {
      this.worker.on("message", (m: FromWorker) => {
        if (m.type === "sent") this.acknowledged(m.records);
        else if (m.type === "failed") this.failed(m.error);
        else resolve();
      });
      this.worker.once("exit", () => resolve());
    });
    this.worker.on("error", (err) => {
      this.dead = true;
      opts.logger.error(
        { link: this.id, err },
        `${this.name}: its producer thread died; the link gets nothing more`,
      );
    });
  }

  stalled(now = Date.now()): boolean {
    return this.dead || (this.queued > 0 && now - this.lastProgress > this.opts.stallAfterMs);
  }

  /** Whether the generator should wait before handing this thread the chunk. */
  full(chunk: Chunk): boolean {
    return this.noRoomFor(this.recordsOf(chunk)) && !this.stalled();
  }

  enqueue(chunk: Chunk): void {
    const records = this.recordsOf(chunk);
    if (records === 0) return;
    if (this.dead || this.noRoomFor(records)) {
      this.dropped += records;
      const now = Date.now();
      if (now - this.lastDropLog >= LOG_EVERY_MS) {
        this.lastDropLog = now;
        this.opts.logger.error(
          { link: this.id, dropped: this.dropped, queued: this.queued },
          `${this.name}: no room in its queue (its Kafka is down or stalled): dropping records for this link, ` +
            "whose metrics will diverge from the others",
        );
      }
      return;
    }
    if (this.queued === 0) this.lastProgress = Date.now();
    this.queued += records;
    this.post({ type: "chunk", chunk, records });
  }

  stats(): LinkStats {
    return {
      id: this.id,
      sent: this.sent,
      queued: this.queued,
      dropped: this.dropped,
      failedSends: this.failedSends,
      stalled: this.stalled(),
    };
  }

  /**
   * Lets the worker send what is queued until `deadline` (epoch ms; may be infinite) or until the link
   * stalls, then counts what is left (unsent or unconfirmed) as dropped and ends the worker. Resolves with
   * the final stats.
   */
  async close(deadline: number): Promise<LinkStats> {
    this.post({ type: "close", deadline });
    let finished = false;
    void this.closed.then(() => {
      finished = true;
    });
    while (!finished && !this.stalled() && Date.now() < deadline + CLOSE_GRACE_MS)
      await new Promise((resolve) => setTimeout(resolve, CLOSE_POLL_MS));
    await this.worker.terminate();
    if (this.queued > 0) {
      this.opts.logger.error(
        { link: this.id, unsent: this.queued },
        `${this.name}: ${this.queued} records not acknowledged by Kafka before it stopped`,
      );
      this.dropped += this.queued;
      this.queued = 0;
    }
    return this.stats();
  }

  /** How many of the chunk's records are in this thread's partitions. */
  private recordsOf(chunk: Chunk): number {
    if (this.opts.shards === 1) return chunk.records;
    let n = 0;
    for (let b = 0; b < chunk.batches.length; b += BATCH_FIELDS)
      if ((chunk.batches[b + 1] as number) % this.opts.shards === this.opts.shard)
        n += chunk.batches[b + 2] as number;
    return n;
  }

  // An empty queue takes any chunk, so a chunk larger than the bound still gets through.
  private noRoomFor(records: number): boolean {
    return this.queued > 0 && this.queued + records > this.opts.maxQueued;
  }

  private post(m: ToWorker): void {
    if (!this.dead) this.worker.postMessage(m);
  }

  private acknowledged(records: number): void {
    this.queued -= records;
    this.sent += records;
    this.lastProgress = Date.now();
  }

  private failed(error: string): void {
    this.failedSends++;
    const now = Date.now();
    if (now - this.lastFailureLog < LOG_EVERY_MS) return;
    this.lastFailureLog = now;
    this.opts.logger.error(
      { link: this.id, err: error, failedSends: this.failedSends, queued: this.queued },
      `${this.name}: send to Kafka failed; retrying the same chunk`,
    );
  }
}

/** One row per link: the sums over its threads. */
export function statsPerLink(threads: LinkStats[]): LinkStats[] {
  const links = new Map<string, LinkStats>();
  for (const t of threads) {
    const l = links.get(t.id);
    if (!l) links.set(t.id, { ...t });
    else {
      l.sent += t.sent;
      l.queued += t.queued;
      l.dropped += t.dropped;
      l.failedSends += t.failedSends;
      l.stalled ||= t.stalled;
    }
  }
  return [...links.values()];
}
