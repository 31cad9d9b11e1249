import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { GenRecord } from "./model.ts";

// The ground truth: every record the generator produced, in production order (so per partition, in the
// order every link's Kafka holds them), for the offline recompute and the tests.
//
// Format: NDJSON, one record per line, fields in this order:
//   {"topic":"trade.orders","partition":3,"key":"o-17","value":"<the exact value string>"}
// `value` is the record's value exactly as sent (UTF-8), JSON-escaped; malformed records are included, since
// a link's processor sees them too. A record appears once per time it was produced (duplicates twice).
// Records a link failed to receive (see linkWriter.ts) are still in the file: it describes the input, not
// what one link got.

const FLUSH_BYTES = 256 * 1024;

export class TruthFile {
  private readonly stream: WriteStream;
  private buffer = "";
  private failure: Error | undefined;

  private constructor(
    readonly path: string,
    stream: WriteStream,
  ) {
    this.stream = stream;
    stream.on("error", (err) => {
      this.failure = err;
    });
  }

  static async open(path: string): Promise<TruthFile> {
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(path, { flags: "w" });
    await once(stream, "open");
    return new TruthFile(path, stream);
  }

  add(r: GenRecord): void {
    this.buffer += `{"topic":"${r.topic}","partition":${r.partition},"key":${JSON.stringify(r.key)},"value":${JSON.stringify(r.value)}}\n`;
  }

  /** Hands buffered lines to the file once enough have gathered (or when forced); waits if the disk lags. */
  async flush(force = false): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buffer.length === 0 || (!force && this.buffer.length < FLUSH_BYTES)) return;
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close(): Promise<void> {
    await this.flush(true);
    this.stream.end();
    await once(this.stream, "finish");
    if (this.failure) throw this.failure;
  }
}
