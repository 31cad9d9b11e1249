import { INPUT_TOPICS } from "./catalog.ts";
import { ADS_TOPIC } from "./sources/ads.ts";
import { TRADE_TOPICS } from "./sources/trade.ts";

// Kafka topic names: the same on every link. Input topics come from the registered sources (common/sources/);
// the dead-letter topic is the pipeline's own.
export const DEAD_LETTER_TOPIC = "oneservice.deadletter";

/** The built-in sources' topics by name, for the generator, tests and tools that write them. */
export const TOPICS = { ...TRADE_TOPICS, ads: ADS_TOPIC, deadLetter: DEAD_LETTER_TOPIC } as const;

export type InputTopic = string;
export { INPUT_TOPICS };
export const ALL_TOPICS: readonly string[] = [...INPUT_TOPICS, DEAD_LETTER_TOPIC];
