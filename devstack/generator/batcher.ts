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

interface Sealed {
  slot: number;
  records: GenRecord[];
}

export class Batcher {
  private readonly open: GenRecord[][];
  private sealed: Sealed[] = [];
  private sealedCount = 0;
  private scratch = Buffer.allocUnsafe(1 << 20);

  constructor(
    private readonly partitions: number,
    private readonly batchSize: number,
  ) {
    this.open = Array.from({ length: INPUT_TOPICS.length * partitions }, () => []);
  }

  /** Records in sealed batches, waiting for take(). */
  get sealedRecords(): number {
    return this.sealedCount;
  }

  add(r: GenRecord): void {
    const slot = INPUT_TOPICS.indexOf(r.topic) * this.partitions + r.partition;
    const batch = this.open[slot] as GenRecord[];
    batch.push(r);
    if (batch.length >= this.batchSize) {
      this.sealed.push({ slot, records: batch });
      this.sealedCount += batch.length;
      this.open[slot] = [];
    }
  }

  /** A chunk of the sealed batches, plus every open batch when `all`; null when there is nothing to send. */
  take(all: boolean): Chunk | null {
    if (all) {
      this.open.forEach((records, slot) => {
        if (records.length === 0) return;
        this.sealed.push({ slot, records });
        this.sealedCount += records.length;
        this.open[slot] = [];
      });
    }
    if (this.sealedCount === 0) return null;
    const chunk = this.encode();
    this.sealed = [];
    this.sealedCount = 0;
    return chunk;
  }

  private encode(): Chunk {
    const batches = new Int32Array(this.sealed.length * BATCH_FIELDS);
    const lengths = new Int32Array(this.sealedCount * 2);
    let offset = 0;
    let r = 0;
    this.sealed.forEach(({ slot, records }, b) => {
      batches.set(
        [Math.floor(slot / this.partitions), slot % this.partitions, records.length, r / 2, offset],
        b * BATCH_FIELDS,
      );
      for (const rec of records) {
        const keyBytes = this.write(rec.key, offset);
        const valueBytes = this.write(rec.value, offset + keyBytes);
        lengths[r++] = keyBytes;
        lengths[r++] = valueBytes;
        offset += keyBytes + valueBytes;
      }
    });
    const data = new SharedArrayBuffer(offset);
    new Uint8Array(data).set(this.scratch.subarray(0, offset));
    return { records: this.sealedCount, bytes: offset, batches, lengths, data };
  }

  /** UTF-8 of `s` into the scratch buffer at `offset` (growing it as needed); returns the bytes written. */
  private write(s: string, offset: number): number {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (offset + 3 * s.length > this.scratch.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.scratch.length, offset + 3 * s.length));
      this.scratch.copy(bigger, 0, 0, offset);
      this.scratch = bigger;
    }
    return this.scratch.write(s, offset, "utf8");
  }
}
