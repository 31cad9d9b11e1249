import type { Parsed } from "../events.ts";

// What a source is: everything the pipeline knows about one kind of input. Its topics (all co-partitioned:
// same partition count, same key, so one member owns partition p of every topic of the source and with it
// the join state of the keys hashed there), the record schema of each topic, how records become facts
// (including the join state kept between batches) and the dimensions its facts carry. The processor, the
// offline recompute, the comparator and the generator iterate the registry of sources (common/catalog.ts);
// nothing dispatches on a topic name anywhere else.
//
// A source's record handlers are pure: they see the join state through RecordContext and say what changes
// through it, so the processor can read that state from Redis before a batch and write it back atomically
// with the batch's offsets (processor/applyBatch.lua).

/** What a source's records become: one contribution at one event time, with the dimension keys it carries. */
export interface Fact {
  /** One of the source's `facts`; the catalog's metrics name the kind they count. */
  kind: string;
  /** Event time the fact counts at, epoch ms. */
  time: number;
  dims: Record<string, string>;
}

/** The dimension tables the processor can fill dimensions from (processor/dimensions.ts has one each). */
export const DIMENSION_TABLES = ["category_industry", "seller_tier"] as const;
export type DimensionTable = (typeof DIMENSION_TABLES)[number];

/** A dimension filled after planning from a table, keyed by another dimension of the same fact. */
export interface Lookup {
  dim: string;
  from: string;
  table: DimensionTable;
}

/** Where one kind of join state lives: a Redis string per id, under `key(id)`, with TTL KEY_TTL_SECONDS. */
export interface StateKey {
  name: string;
  key: (id: string) => string;
}

/** One kind of join state and its encoding. */
export interface StateKind<S> extends StateKey {
  encode: (state: S) => string;
  decode: (packed: string) => S;
}

/** A record handler's view of the batch: join state as of this record, and what it emits. */
export interface RecordContext {
  get<S>(kind: StateKind<S>, id: string): S | undefined;
  set<S>(kind: StateKind<S>, id: string, state: S): void;
  delete<S>(kind: StateKind<S>, id: string): void;
  /**
   * A fact, counted in its business day, and in its minute when `inMinute`: only when nothing that decided it
   * was late in its partition, so that it can never land in a minute that is already closed (digested).
   */
  emit(fact: Fact, inMinute: boolean): void;
  /** A counter of the link (os:counters), written with the batch. */
  count(name: string, by?: number): void;
}

export interface Timed {
  /** Event time, epoch ms. */
  eventTime: number;
}

export interface TopicDef<E extends Timed = Timed> {
  name: string;
  /** Bytes to event, or the dead-letter reason. */
  parse: (raw: Buffer | null) => Parsed<E>;
  /** The id whose join state a record needs (null: the record needs none). */
  stateId: (event: E) => string | null;
  /** One fresh, valid, not-future record, in partition order; `late` is decided against its partition. */
  onRecord: (ctx: RecordContext, event: E, late: boolean) => void;
}

export interface SourceDef {
  name: string;
  title: string;
  topics: readonly TopicDef[];
  /** Join state kinds its handlers use: every one is read for the ids a batch names. */
  state: readonly StateKey[];
  /** Fact kinds its handlers emit. */
  facts: readonly string[];
  /** Dimensions its facts carry (after lookups), with a description for /v1/catalog. */
  dims: Readonly<Record<string, string>>;
  lookups: readonly Lookup[];
  /**
   * Records per second per partition when a backlog is released (0 = no cap), unless SOURCE_RATE_CAPS says
   * otherwise: a flood of one stream must not hold the others back.
   */
  maxRatePerPartition: number;
}

/** Types a topic's handlers against its event type; the registry holds them as TopicDef. */
export function topic<E extends Timed>(def: TopicDef<E>): TopicDef {
  return def as unknown as TopicDef;
}
