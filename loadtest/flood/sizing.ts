import { INPUT_TOPICS, type InputTopic } from "../../common/topics.ts";
import { generatorDefaults } from "../../devstack/generator/config.ts";
import { TrafficModel } from "../../devstack/generator/model.ts";

// How many partitions a flood needs for the embedded Kafka to keep every record until the processors come
// back: the mock keeps at most 5 MiB per partition and drops the oldest batches beyond that (the processor
// would then stop on data loss). Record sizes and the topics' shares are measured on the generator's own
// model, with its default mix of bad and late records.

export const PARTITION_BYTES = 5 * 1024 * 1024;
/** Fill a partition to this share at most: batch headers and an uneven spread of keys take the rest. */
const FILL = 0.6;
/** Bytes a record costs in a record batch beyond its key and value (length, offset and time deltas). */
const RECORD_OVERHEAD = 20;
const SAMPLE = 50_000;

export interface Sizing {
  partitions: number;
  /** Average key + value bytes of a record, over all topics. */
  bytesPerRecord: number;
  /** The fullest partition's expected bytes at the end of the flood, as a share of PARTITION_BYTES. */
  fullest: number;
}

export function sizeFlood(seed: string, records: number, atLeast: number): Sizing {
  const d = generatorDefaults();
  const model = new TrafficModel({
    seed,
    startTime: Date.now(),
    partitions: 1,
    profile: { baseRate: 1000, peakMultiplier: 1, peakAfterMs: 0, peakDurationMs: 0 },
    malformedFraction: d.malformedFraction,
    poisonFraction: d.poisonFraction,
    lateFraction: d.lateFraction,
    lateByMs: d.lateByMs,
    refundFraction: d.refundFraction,
  });
  const bytes = new Map<InputTopic, number>(INPUT_TOPICS.map((t) => [t, 0]));
  let total = 0;
  for (let i = 0; i < SAMPLE; i++) {
    const r = model.next();
    const size = Buffer.byteLength(r.key) + Buffer.byteLength(r.value);
    bytes.set(r.topic, (bytes.get(r.topic) ?? 0) + size + RECORD_OVERHEAD);
    total += size;
  }
  const biggestTopic = Math.max(...bytes.values()) * (records / SAMPLE);
  const partitions = Math.max(atLeast, Math.ceil(biggestTopic / (FILL * PARTITION_BYTES)));
  return { partitions, bytesPerRecord: total / SAMPLE, fullest: biggestTopic / partitions / PARTITION_BYTES };
}
