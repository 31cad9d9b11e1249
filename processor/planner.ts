import type { BusinessClock } from "../common/businessTime.ts";
import { sourceOfTopic } from "../common/catalog.ts";
import type { Parsed } from "../common/events.ts";
import type {
  DimensionTable,
  Fact,
  RecordContext,
  SourceDef,
  StateKind,
  Timed,
  TopicDef,
} from "../common/sources/source.ts";
import { BatchEffect } from "./effect.ts";

// What one batch of one partition means, as a pure function of the partition's ordered input and the join
// state stored beside it. Nothing here reads the wall clock (except the far-future guard) or depends on how the
// partitions of different topics interleave, so every healthy link computes identical closed minutes.
// Lateness is decided per record against its own partition's watermark (highest event time seen so far minus
// the allowed lateness); what a record means is its source's (common/sources/), which says in each of its
// facts whether it may go into a minute.

export interface KafkaRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface ParsedRecord {
  offset: number;
  raw: KafkaRecord;
  parsed: Parsed<Timed>;
}

/** The topic's source and handlers; an unregistered topic throws (common/catalog.ts). */
export function topicOf(topic: string): { source: SourceDef; def: TopicDef } {
  const source = sourceOfTopic(topic);
  const def = source.topics.find((t) => t.name === topic) as TopicDef;
  return { source, def };
}

export function parseRecords(topic: string, records: readonly KafkaRecord[]): ParsedRecord[] {
  const { parse } = topicOf(topic).def;
  return records.map((raw) => ({ offset: Number(raw.offset), raw, parsed: parse(raw.value) }));
}

/** Ids whose join state a batch needs. */
export function stateIdsOf(topic: string, records: readonly ParsedRecord[]): string[] {
  const { source, def } = topicOf(topic);
  if (source.state.length === 0) return [];
  const ids = new Set<string>();
  for (const r of records) {
    if (!r.parsed.ok) continue;
    const id = def.stateId(r.parsed.event);
    if (id !== null) ids.add(id);
  }
  return [...ids];
}

/** The join state a batch was planned against: key -> packed value (absent = none). */
export type JoinSnapshot = Map<string, string>;

export interface PlanInput {
  topic: string;
  partition: number;
  records: readonly ParsedRecord[];
  /** The next offset this partition expects (stored in Redis); records below it are already applied. */
  expectedOffset: number;
  /** Highest event time seen in this partition so far (-Infinity when none). */
  maxEventTime: number;
  join: JoinSnapshot;
  clock: BusinessClock;
  latenessMs: number;
  /** Event times beyond this instant are rejected as garbage rather than moving the watermark. */
  futureLimit: number;
}

export interface DeadLetter {
  record: KafkaRecord;
  reason: string;
}

/** A fact whose looked-up dimensions (common/sources/source.ts Lookup) are filled before it is counted. */
export interface PendingFact {
  fact: Fact;
  inMinute: boolean;
}

export interface Gap {
  topic: string;
  partition: number;
  expected: number;
  got: number;
}

export interface Plan {
  topic: string;
  partition: number;
  source: SourceDef;
  effect: BatchEffect;
  deadLetters: DeadLetter[];
  facts: PendingFact[];
  /** Offset after the last record applied by this plan (unchanged when everything was a replay). */
  nextOffset: number;
  maxEventTime: number;
  /** Records skipped because their offset was already applied. */
  replayed: number;
  /** Set when the batch starts after the expected offset: data the link never saw. */
  gap: Gap | null;
}

export function planBatch(input: PlanInput): Plan {
  const { source, def } = topicOf(input.topic);
  const effect = new BatchEffect(input.clock);
  const plan: Plan = {
    topic: input.topic,
    partition: input.partition,
    source,
    effect,
    deadLetters: [],
    facts: [],
    nextOffset: input.expectedOffset,
    maxEventTime: input.maxEventTime,
    replayed: 0,
    gap: null,
  };
  const fresh = input.records.filter((r) => r.offset >= input.expectedOffset);
  plan.replayed = input.records.length - fresh.length;
  const first = fresh[0];
  if (first && first.offset > input.expectedOffset) {
    plan.gap = {
      topic: input.topic,
      partition: input.partition,
      expected: input.expectedOffset,
      got: first.offset,
    };
    effect.count(`data_loss:${input.topic}:${input.partition}`, first.offset - input.expectedOffset);
  }
  const ctx = new BatchContextView(input.join, plan);
  const lateCounter = `late:${input.topic}`;
  for (const r of fresh) {
    plan.nextOffset = r.offset + 1;
    if (!r.parsed.ok) {
      reject(plan, r, r.parsed.reason);
      continue;
    }
    const event = r.parsed.event;
    if (event.eventTime > input.futureLimit) {
      reject(plan, r, "future_event_time");
      continue;
    }
    const late = event.eventTime < plan.maxEventTime - input.latenessMs;
    if (late) effect.count(lateCounter);
    if (event.eventTime > plan.maxEventTime) plan.maxEventTime = event.eventTime;
    def.onRecord(ctx, event, late);
  }
  return plan;
}

/** Fills each fact's looked-up dimensions (tables already resolved for the batch) and counts it. */
export function countFacts(plan: Plan, lookup: (table: DimensionTable, id: string) => string): void {
  const lookups = plan.source.lookups;
  for (const { fact, inMinute } of plan.facts) {
    for (const l of lookups) fact.dims[l.dim] = lookup(l.table, fact.dims[l.from] as string);
    plan.effect.addFact(fact, inMinute);
  }
}

function reject(plan: Plan, r: ParsedRecord, reason: string): void {
  plan.deadLetters.push({ record: r.raw, reason });
  plan.effect.count(`dead_letter:${reason}`);
}

/**
 * The record handlers' view of a batch: join state decoded from the snapshot on first use, then as the
 * batch's earlier records left it; every change is also recorded in the effect, to be written with the batch.
 */
class BatchContextView implements RecordContext {
  private readonly current = new Map<string, unknown>();

  constructor(
    private readonly snapshot: JoinSnapshot,
    private readonly plan: Plan,
  ) {}

  get<S>(kind: StateKind<S>, id: string): S | undefined {
    const key = kind.key(id);
    if (this.current.has(key)) return (this.current.get(key) ?? undefined) as S | undefined;
    const packed = this.snapshot.get(key);
    const state = packed === undefined ? undefined : kind.decode(packed);
    this.current.set(key, state);
    return state;
  }

  set<S>(kind: StateKind<S>, id: string, state: S): void {
    const key = kind.key(id);
    this.current.set(key, state);
    this.plan.effect.setState(key, kind, state);
  }

  delete<S>(kind: StateKind<S>, id: string): void {
    const key = kind.key(id);
    this.current.set(key, undefined);
    this.plan.effect.deleteState(key);
  }

  emit(fact: Fact, inMinute: boolean): void {
    this.plan.facts.push({ fact, inMinute });
  }

  count(name: string, by = 1): void {
    this.plan.effect.count(name, by);
  }
}
