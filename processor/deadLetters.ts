import type { Producer } from "kafkajs";
import { DEAD_LETTER_TOPIC } from "../common/topics.ts";
import type { DeadLetter } from "./planner.ts";

/**
 * Copies rejected records to the dead-letter topic before their batch is applied. A crash in between replays
 * the batch and copies them again, so the key names the source record (topic:partition:offset): a reader
 * dedupes on it. The counters in Redis are exact; they are written atomically with the batch.
 */
export async function sendDeadLetters(
  producer: Producer,
  topic: string,
  partition: number,
  letters: readonly DeadLetter[],
): Promise<void> {
  if (letters.length === 0) return;
  await producer.send({
    topic: DEAD_LETTER_TOPIC,
    acks: -1,
    messages: letters.map(({ record, reason }) => ({
      key: `${topic}:${partition}:${record.offset}`,
      value: record.value,
      headers: {
        reason,
        "source-topic": topic,
        "source-partition": String(partition),
        "source-offset": record.offset,
        ...(record.key ? { "source-key": record.key } : {}),
      },
    })),
  });
}
