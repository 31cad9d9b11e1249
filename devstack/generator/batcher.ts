import { INPUT_TOPICS } from "../../common/topics.ts";
import type { GenRecord } from "./model.ts";

// Cuts the generated sequence into chunks, each sent to every link as one produce request. A partition's
// batch is sealed when it reaches `batchSize` records (the embedded Kafka hands a consumer one producer batch
// per partition per fetch, so large batches are what keeps consumers fast), or earlier when the caller
// flushes (linger, shutdown).
//
// A chunk is encoded once, into a SharedArrayBuffer that every link's worker thread reads without a copy, so
// every link receives the same batches in the same order and the UTF-8 encoding is paid once, not per link.

export interface Chunk {
  records: number;
  /** Payload bytes: keys and values. */
  bytes: number;
  /**
   * BATCH_FIELDS ints per batch, in sealing order: topic index into INPUT_TOPICS, partition, record count,
   * index of its first record in `lengths`, offset of its first byte in `data`. The last two let a producer
   * thread that serves only some partitions skip straight to its batches.
   */
  batches: Int32Array;
  /** [key bytes, value bytes] per record, batch after batch. */
  lengths: Int32Array;
  /** Each record's key then value, back to back, in the order of `lengths`. */
  data: SharedArrayBuffer;
}

export const BATCH_FIELDS = 5;

/** A partition's batch being filled: its records' bytes, encoded as they arrive. */
class OpenBatch {
  bytes = Buffer.allocUnsafe(64 * 1024);
  size = 0;
  /** [key bytes, value bytes] per record. */
  lengths: number[] = [];

  add(r: GenRecord): void {
    const keyBytes = this.write(r.key);
    const valueBytes = this.write(r.value);
    this.lengths.push(keyBytes, valueBytes);
  }

  get records(): number {
    return this.lengths.length / 2;
  }

  /** UTF-8 of `s` at the end (growing the buffer as needed); returns the bytes written. */
  private write(s: string): number {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (this.size + 3 * s.length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.size + 3 * s.length));
      this.bytes.copy(bigger, 0, 0, this.size);
      this.bytes = bigger;
    }
    const n = this.bytes.write(s, this.size, "utf8");
    this.size += n;
    return n;
  }
}

interface Sealed {
  slot: number;
  batch: OpenBatch;
}

// Records are encoded into their partition's open batch as they arrive rather than kept until it seals: kept,
// a thousand records per partition outlive the young generation and the garbage collector copies and marks
// each of them (a third of the model's time, measured); encoded, their strings die young.
export class Batcher {
  private readonly open: OpenBatch[];
  private sealed: Sealed[] = [];
  private sealedCount = 0;

  constructor(
    private readonly partitions: number,
    private readonly batchSize: number,
  ) {
    this.open = Array.from({ length: INPUT_TOPICS.length * partitions }, () => new OpenBatch());
  }

  /** Records in sealed batches, waiting for take(). */
  get sealedRecords(): number {
    return this.sealedCount;
  }

  add(r: GenRecord): void {
    const slot = INPUT_TOPICS.indexOf(r.topic) * this.partitions + r.partition;
    const batch = this.open[slot] as OpenBatch;
    batch.add(r);
    if (batch.records >= this.batchSize) this.seal(slot);
  }

  /** A chunk of the sealed batches, plus every open batch when `all`; null when there is nothing to send. */
  take(all: boolean): Chunk | null {
    if (all)
      this.open.forEach((batch, slot) => {
        if (batch.records > 0) this.seal(slot);
      });
    if (this.sealedCount === 0) return null;
    const chunk = this.encode();
    this.sealed = [];
    this.sealedCount = 0;
    return chunk;
  }

  private seal(slot: number): void {
    const batch = this.open[slot] as OpenBatch;
    this.sealed.push({ slot, batch });
    this.sealedCount += batch.records;
    this.open[slot] = new OpenBatch();
  }

  private encode(): Chunk {
    const batches = new Int32Array(this.sealed.length * BATCH_FIELDS);
    const lengths = new Int32Array(this.sealedCount * 2);
    const data = new SharedArrayBuffer(this.sealed.reduce((n, s) => n + s.batch.size, 0));
    const bytes = new Uint8Array(data);
    let offset = 0;
    let r = 0;
    this.sealed.forEach(({ slot, batch }, b) => {
      batches.set(
        [Math.floor(slot / this.partitions), slot % this.partitions, batch.records, r / 2, offset],
        b * BATCH_FIELDS,
      );
      lengths.set(batch.lengths, r);
      r += batch.lengths.length;
      bytes.set(batch.bytes.subarray(0, batch.size), offset);
      offset += batch.size;
    });
    return { records: this.sealedCount, bytes: offset, batches, lengths, data };
  }
}
