import { duration, int, loadConfig, num, type Setting, str } from "../../common/config.ts";
import { loadLinkAddresses } from "../../common/links.ts";
import { kafkaPartitionsSetting, linksSetting } from "../../common/sharedSettings.ts";
import type { PopulationSizes } from "./population.ts";

// Every setting of the traffic generator (devstack/generator/main.ts). `npx tsx devstack/generator/main.ts
// --help` prints this table. Each link's Kafka comes from KAFKA_BROKERS_<ID> (common/links.ts).

function startTime(s: { env: string; doc: string }): Setting<number | null> {
  return {
    ...s,
    default: null,
    shownDefault: "now",
    parse: (raw) => {
      const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
      if (!Number.isSafeInteger(ms)) throw new Error("must be an ISO-8601 time or epoch milliseconds");
      return ms;
    },
  };
}

const fraction = (env: string, def: number, doc: string) => num({ env, default: def, min: 0, max: 1, doc });

export const generatorSettings = {
  links: linksSetting,
  partitions: kafkaPartitionsSetting,
  seed: str({ env: "GENERATOR_SEED", default: "oneservice", doc: "seed of the event model and dimensions" }),
  rate: num({
    env: "GENERATOR_RATE",
    default: 2000,
    min: 0,
    doc: "base rate in events/s, paced to the wall clock; 0 = as fast as possible (event times then advance at GENERATOR_UNPACED_EVENT_RATE)",
  }),
  unpacedEventRate: num({
    env: "GENERATOR_UNPACED_EVENT_RATE",
    default: 2000,
    min: 1,
    doc: "with GENERATOR_RATE=0, the events per second of event time: lower spreads a short run over more minutes",
  }),
  peakMultiplier: num({
    env: "GENERATOR_PEAK_MULTIPLIER",
    default: 20,
    min: 1,
    doc: "rate multiplier during the peak (the midnight spike); 1 = no peak",
  }),
  peakAfterMs: duration({
    env: "GENERATOR_PEAK_AFTER",
    default: 120_000,
    doc: "event time from start to the peak",
  }),
  peakDurationMs: duration({ env: "GENERATOR_PEAK_DURATION", default: 60_000, doc: "length of the peak" }),
  count: int({
    env: "GENERATOR_COUNT",
    default: 0,
    min: 0,
    doc: "records to produce, then exit; 0 = until stopped",
  }),
  malformedFraction: fraction(
    "GENERATOR_MALFORMED_FRACTION",
    0.001,
    "share of records that fail the schema (unparseable, missing field, negative amount, bad id)",
  ),
  poisonFraction: fraction(
    "GENERATOR_POISON_FRACTION",
    0,
    "share of records that are the worst the generator can make (huge, binary, deeply nested, wrong types, prototype keys, extreme numbers, empty, huge keys, 20k fields): a poison flood; see poison.ts",
  ),
  lateFraction: fraction(
    "GENERATOR_LATE_FRACTION",
    0.001,
    "share of good records sent with an old event time",
  ),
  refundFraction: fraction(
    "GENERATOR_REFUND_FRACTION",
    0.05,
    "share of paid orders that get a refund (some before their payment reaches Kafka, some twice, a few larger than paid)",
  ),
  lateByMs: duration({
    env: "GENERATOR_LATE_BY",
    default: 120_000,
    doc: "how far back a late record's event time is pushed (beyond the processor's allowed lateness)",
  }),
  startTime: startTime({
    env: "GENERATOR_START_TIME",
    doc: "event time of the first record (ISO-8601 or epoch ms); fix it to reproduce a run byte for byte",
  }),
  truthFile: str({
    env: "GENERATOR_TRUTH_FILE",
    default: "",
    doc: "NDJSON file receiving every produced record (see truthFile.ts); empty = off",
  }),
  dimsDir: str({
    env: "GENERATOR_DIMS_DIR",
    default: ".devstack/dims",
    doc: "directory for category_industry.json and seller_tier.json; empty = do not write them",
  }),
  batchSize: int({
    env: "GENERATOR_BATCH_SIZE",
    default: 1000,
    min: 1,
    max: 100_000,
    doc: "records per partition batch sent to Kafka",
  }),
  lingerMs: duration({
    env: "GENERATOR_LINGER",
    default: 100,
    min: 1,
    doc: "when paced, the longest a record waits for its batch to fill",
  }),
  linkBuffer: int({
    env: "GENERATOR_LINK_BUFFER",
    default: 200_000,
    min: 1,
    doc: "records queued per producer thread of a link; the generator waits for a full queue unless its link is stalled",
  }),
  linkThreads: int({
    env: "GENERATOR_LINK_THREADS",
    default: 1,
    min: 1,
    doc: "producer threads per link, each serving a share of the partitions; one thread sends roughly 150k records/s on a free core",
  }),
  linkStallMs: duration({
    env: "GENERATOR_LINK_STALL",
    default: 10_000,
    min: 1,
    doc: "a link whose Kafka accepted nothing for this long stops holding the others back (its overflow is dropped)",
  }),
};

/** What runGenerator is told: the settings below, parsed, plus what only a program sets (the population). */
export interface GeneratorOptions {
  links: { id: string; brokers: string[] }[];
  partitions: number;
  seed: string;
  /** Event time of the first record, epoch ms. */
  startTime: number;
  /** Base events/s, paced to the wall clock; 0 = unpaced, event times advancing at unpacedEventRate. */
  rate: number;
  /** Events per second of event time when unpaced. */
  unpacedEventRate: number;
  peakMultiplier: number;
  peakAfterMs: number;
  peakDurationMs: number;
  /** Stop after this many records; 0 = until the signal aborts. */
  count: number;
  malformedFraction: number;
  poisonFraction: number;
  lateFraction: number;
  lateByMs: number;
  refundFraction: number;
  truthFile: string | null;
  dimsDir: string | null;
  batchSize: number;
  lingerMs: number;
  linkBuffer: number;
  linkStallMs: number;
  /** Producer threads per link, each serving a fixed share of the partitions. */
  linkThreads: number;
  /** Sizes of the seller/buyer/category/advertiser populations; DEFAULT_POPULATION if unset. */
  population?: PopulationSizes;
}

type Loaded = ReturnType<typeof loadConfig<typeof generatorSettings>>;

function toOptions(c: Loaded): Omit<GeneratorOptions, "links"> {
  const { links: _, startTime, truthFile, dimsDir, ...rest } = c;
  return {
    ...rest,
    startTime: startTime ?? Date.now(),
    truthFile: truthFile || null,
    dimsDir: dimsDir || null,
  };
}

/** Every option at its documented default (start time: now); runGenerator fills unset options from here. */
export function generatorDefaults(): Omit<GeneratorOptions, "links"> {
  return toOptions(loadConfig(generatorSettings, {}));
}

/** The options of runGenerator from the environment; throws ConfigError naming every bad variable. */
export function loadGeneratorOptions(env: NodeJS.ProcessEnv = process.env): GeneratorOptions {
  const c = loadConfig(generatorSettings, env);
  const links = loadLinkAddresses(c.links, { kafka: true, redis: false }, env);
  return { ...toOptions(c), links: links.map((l) => ({ id: l.id, brokers: l.kafkaBrokers })) };
}
