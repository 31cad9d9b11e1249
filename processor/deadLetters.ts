import type { Message, Producer } from "kafkajs";
import type { Logger } from "../common/logger.ts";
import { TOPICS } from "../common/topics.ts";
import type { DeadLetter } from "./planner.ts";

// Copies rejected records to the dead-letter topic without ever holding up a batch. Every link receives the
// same input, so a dead-letter send that must succeed before a batch is applied turns one poison burst (huge
// records, a topic over its message size, a missing topic) into a stop of every link at once. Instead a
// batch's letters go into a bounded local spool and are sent behind it, in chunks of bounded count and size;
// a value over the per-record cap is cut (the headers say how big it was); when the spool is full the oldest
// letters are dropped and counted; when the topic refuses, the letters wait in the spool, the failure is
// counted (an alert fires on it) and the send is retried later. The key names the source record
// (topic:partition:offset): a reader dedupes on it. The counters in Redis stay exact: they are written
// atomically with the batch.

export interface DeadLetterLimits {
  /** Bytes of one letter's value kept; the rest is cut. */
  maxValueBytes: number;
  /** Letters per produce call. */
  chunkMessages: number;
  /** Bytes (values) per produce call. */
  chunkBytes: number;
  /** Bytes the spool holds at most; the oldest letters go first beyond it. */
  spoolBytes: number;
  /** Wait before sending again after the topic refused. */
  retryMs: number;
}

export const DEAD_LETTER_LIMITS: DeadLetterLimits = {
  maxValueBytes: 64 * 1024,
  chunkMessages: 500,
  chunkBytes: 512 * 1024,
  spoolBytes: 16 * 1024 * 1024,
  retryMs: 1_000,
};

export interface DeadLetterCounters {
  /** A produce call the topic refused. */
  sendFailed(): void;
  /** Letters dropped from a full spool. */
  dropped(count: number): void;
  /** Bytes in the spool now. */
  spooled(bytes: number): void;
}

interface Spooled {
  message: Message;
  bytes: number;
}

export class DeadLetterSink {
  private readonly spool: Spooled[] = [];
  private bytes = 0;
  private sending: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly producer: Producer,
    private readonly counters: DeadLetterCounters,
    private readonly log: Logger,
    private readonly limits: DeadLetterLimits = DEAD_LETTER_LIMITS,
  ) {}

  /** Spools a batch's letters and starts sending them; returns at once. */
  enqueue(topic: string, partition: number, letters: readonly DeadLetter[]): void {
    for (const { record, reason } of letters) {
      const value = record.value ?? null;
      const size = value?.length ?? 0;
      const kept =
        value && size > this.limits.maxValueBytes ? value.subarray(0, this.limits.maxValueBytes) : value;
      const message: Message = {
        key: `${topic}:${partition}:${record.offset}`,
        value: kept,
        headers: {
          reason,
          "source-topic": topic,
          "source-partition": String(partition),
          "source-offset": record.offset,
          ...(record.key ? { "source-key": record.key.subarray(0, 256) } : {}),
          ...(kept !== value ? { "original-size": String(size) } : {}),
        },
      };
      this.push({ message, bytes: (kept?.length ?? 0) + 256 });
    }
    this.counters.spooled(this.bytes);
    this.kick();
  }

  /** Letters waiting to be sent. */
  get pending(): number {
    return this.spool.length;
  }

  /** Sends what it can of the spool before returning (on shutdown); what the topic refuses is logged. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.sending;
    if (this.spool.length > 0) await this.sendAll();
    if (this.spool.length > 0)
      this.log.error(
        { letters: this.spool.length },
        "dead letters not sent at shutdown (the topic refused them)",
      );
  }

  private push(item: Spooled): void {
    this.spool.push(item);
    this.bytes += item.bytes;
    let dropped = 0;
    while (this.bytes > this.limits.spoolBytes && this.spool.length > 1) {
      const oldest = this.spool.shift() as Spooled;
      this.bytes -= oldest.bytes;
      dropped += 1;
    }
    if (dropped > 0) this.counters.dropped(dropped);
  }

  private kick(): void {
    if (this.sending || this.retry || this.closed) return;
    this.sending = this.sendAll().finally(() => {
      this.sending = null;
    });
  }

  private async sendAll(): Promise<void> {
    while (this.spool.length > 0) {
      const chunk = this.nextChunk();
      try {
        await this.producer.send({
          topic: TOPICS.deadLetter,
          acks: -1,
          messages: chunk.map((c) => c.message),
        });
      } catch (err) {
        this.counters.sendFailed();
        this.log.error(
          { err: (err as Error).message, letters: this.spool.length, bytes: this.bytes },
          "the dead-letter topic refused letters; they stay in the spool and are sent again",
        );
        if (!this.closed) {
          this.retry = setTimeout(() => {
            this.retry = null;
            this.kick();
          }, this.limits.retryMs);
          this.retry.unref();
        }
        return;
      }
      // Sent: off the spool. Letters spooled meanwhile stay, and a sent one a full spool dropped is gone already.
      const sent = new Set(chunk);
      const left = this.spool.filter((item) => !sent.has(item));
      this.spool.splice(0, this.spool.length, ...left);
      this.bytes = left.reduce((sum, item) => sum + item.bytes, 0);
      this.counters.spooled(this.bytes);
    }
  }

  private nextChunk(): Spooled[] {
    const chunk: Spooled[] = [];
    let bytes = 0;
    for (const item of this.spool) {
      if (chunk.length >= this.limits.chunkMessages) break;
      if (chunk.length > 0 && bytes + item.bytes > this.limits.chunkBytes) break;
      chunk.push(item);
      bytes += item.bytes;
    }
    return chunk;
  }
}
