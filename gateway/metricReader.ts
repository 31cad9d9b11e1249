import type { Redis } from "ioredis";
import { type BusinessClock, MINUTE_MS } from "../common/businessTime.ts";
import { derivedValue, findDerived } from "../common/catalog.ts";
import { ApiError } from "../common/httpErrors.ts";
import { readDayValue, readSeries, readTop, type SeriesPoint, type TopEntry } from "../common/linkReader.ts";
import { holdsData, type LastKnown, type MicroCache } from "./cache.ts";
import {
  type LinkAnswer,
  type LinkRouter,
  NoLinkAnswered,
  type ReadWeight,
  type RoutingSource,
} from "./links/linkRouter.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { guardId, type NoDipGuard } from "./noDip.ts";
import { metricView, type SeriesQuery, type TopQuery, type ValueQuery } from "./params.ts";

// Serving a read: the micro-cache (and coalescing) in front of the link router, last-known values behind it
// for when no link answers, and the no-dip guard over every cumulative day value that goes out. All three are
// kept per calling application (`app`, from the API key), so no application's reads evict another's.

/** Seconds a caller is asked to wait when nothing can be served. */
const RETRY_AFTER_SECONDS = 2;

export interface Served<T> {
  data: T;
  link: string;
  asOf: string | null;
  /**
   * Some value is not the link's current one (a last-known value, a no-dip guarded one), or the link's data
   * stopped: it has not advanced for STALE_AFTER, or the comparator judges the link down.
   */
  stale: boolean;
  /** The answering link holds the asked day(s) of the metric(s) whole (a new metric is not, until backfilled). */
  complete: boolean;
  /** When the serving link's data stopped, if it did (ISO); null otherwise. */
  staleSince: string | null;
  routingVersion: number;
}

export interface ValueResult extends ValueQuery {
  /** Integer units for catalog metrics; a ratio for derived ones (null when the denominator is 0). */
  value: number | null;
  stale: boolean;
  complete: boolean;
}

/**
 * What a value answer that is neither stale nor raised was made of: while every part still holds, the same
 * request of the same application gets the same answer, byte for byte (gateway/answerCache.ts).
 */
export interface ValueBasis {
  app: string;
  cacheKey: string;
  /** The micro-cache entry the value came from. */
  answer: LinkAnswer<unknown>;
  /** The no-dip guard's entry of the value, or null for a value the guard does not cover. */
  guardId: string | null;
  value: number | null;
  metric: string;
  date: string;
  complete: boolean;
}

export interface TopResult extends TopQuery {
  entries: TopEntry[];
}

export interface SeriesResult {
  metric: string;
  dim: string;
  key: string;
  from: string;
  to: string;
  points: SeriesPoint[];
}

export interface MetricReaderDeps {
  router: LinkRouter;
  routing: RoutingSource;
  cache: MicroCache<LinkAnswer<unknown>>;
  lastKnown: LastKnown<LinkAnswer<unknown>>;
  noDip: NoDipGuard;
  clock: BusinessClock;
  staleServeMaxMs: number;
  metrics: GatewayMetrics;
  /** Whether a link holds a metric's business day whole (gateway/links/linkPool.ts). */
  complete: (link: string, metric: string, date: string) => boolean;
  /** Since when a link's data stopped advancing or the comparator judged it down (epoch ms), or null. */
  stoppedSince: (link: string) => number | null;
}

export class MetricReader {
  constructor(private readonly deps: MetricReaderDeps) {}

  async value(app: string, q: ValueQuery): Promise<Served<ValueResult>> {
    const read = await this.serve(app, valueKey(q), "cheap", (redis) => readValue(redis, this.deps.clock, q));
    return this.valueServed(app, q, read.answer, read.stale);
  }

  /** The value as value() would serve it if the micro-cache holds it, else undefined (then call value). */
  cachedValue(app: string, q: ValueQuery): Served<ValueResult> | undefined {
    const answer = this.deps.cache.peek(app, valueKey(q)) as LinkAnswer<number | null> | undefined;
    return answer && this.valueServed(app, q, answer, false);
  }

  /**
   * What `served` (an answer of value() or cachedValue() for `app`) was made of, if it can be served again
   * as it is while that holds: not stale, not raised by the guard, and its link answer kept in the micro-cache.
   */
  basisOf(app: string, served: Served<ValueResult>): ValueBasis | undefined {
    const { data } = served;
    const answer = this.deps.cache.entry(app, valueKey(data));
    // The entry may have been replaced since `served` was made of it: then its bytes are not this entry's.
    if (served.stale || answer === undefined || answer.link !== served.link) return undefined;
    if (answer.value !== data.value || answer.asOf !== served.asOf) return undefined;
    return {
      app,
      cacheKey: valueKey(data),
      answer,
      guardId: guardCovers(data, data.value) ? guardId(data.metric, data.dim, data.key, data.date) : null,
      value: data.value,
      metric: data.metric,
      date: data.date,
      complete: served.complete,
    };
  }

  /**
   * Whether an answer made of `basis` is still the one value() would give now, counted as a micro-cache hit
   * when it is: the same micro-cache entry (a link switch clears it), the guard unchanged, as complete, not
   * stopped. The routing version is not in the body: the data routes' hook sets its header on every request.
   */
  stillServes(basis: ValueBasis): boolean {
    const { cache, noDip, metrics } = this.deps;
    const { link } = basis.answer;
    const holds =
      cache.entry(basis.app, basis.cacheKey) === basis.answer &&
      (basis.guardId === null || noDip.unchanged(basis.app, basis.guardId, basis.value as number, link)) &&
      this.deps.complete(link, basis.metric, basis.date) === basis.complete &&
      this.deps.stoppedSince(link) === null;
    if (holds) metrics.cacheHits.inc();
    return holds;
  }

  private valueServed(app: string, q: ValueQuery, answer: LinkAnswer<number | null>, linkStale: boolean) {
    const guarded = this.guard(app, q, answer.value, answer);
    const stale = linkStale || guarded.behind;
    const complete = this.deps.complete(answer.link, q.metric, q.date);
    // Spelt out rather than spread from q: this runs on every value request, and the spread showed.
    const data: ValueResult = {
      metric: q.metric,
      dim: q.dim,
      key: q.key,
      window: q.window,
      date: q.date,
      minute: q.minute,
      value: guarded.value,
      stale,
      complete,
    };
    return this.result(answer, data, stale, complete);
  }

  /** Several values read together from one link. */
  async values(app: string, qs: ValueQuery[]): Promise<Served<ValueResult[]>> {
    const { clock } = this.deps;
    const cacheKey = `q|${qs.map(valueKey).join(";")}`;
    const read = await this.serve(app, cacheKey, "cheap", (redis) =>
      Promise.all(qs.map((q) => readValue(redis, clock, q))),
    );
    let stale = read.stale;
    let complete = true;
    const data = qs.map((q, i) => {
      const guarded = this.guard(app, q, read.answer.value[i] as number | null, read.answer);
      stale ||= guarded.behind;
      const whole = this.deps.complete(read.answer.link, q.metric, q.date);
      complete &&= whole;
      return { ...q, value: guarded.value, stale: read.stale || guarded.behind, complete: whole };
    });
    return this.result(read.answer, data, stale, complete);
  }

  async top(app: string, q: TopQuery): Promise<Served<TopResult>> {
    const read = await this.serve(app, `t|${q.metric}|${q.dim}|${q.date}|${q.n}`, "cheap", (redis) =>
      readTop(redis, q.date, q.metric, q.dim, q.n),
    );
    let stale = read.stale;
    const entries = read.answer.value.map((e) => {
      const guarded = this.guard(app, { ...q, key: e.key, window: "day" }, e.value, read.answer);
      stale ||= guarded.behind;
      return { key: e.key, value: guarded.value as number };
    });
    entries.sort((a, b) => b.value - a.value);
    const complete = this.deps.complete(read.answer.link, q.metric, q.date);
    return this.result(read.answer, { ...q, entries }, stale, complete);
  }

  async series(app: string, q: SeriesQuery, weight: ReadWeight): Promise<Served<SeriesResult>> {
    const { clock } = this.deps;
    const derived = findDerived(q.metric);
    const read = await this.serve(
      app,
      `s|${q.metric}|${q.dim}|${q.key}|${q.from}|${q.to}`,
      weight,
      async (redis) => {
        if (!derived) return readSeries(redis, clock, q.metric, q.dim, q.key, q.from, q.to);
        const [first, second] = await Promise.all([
          readSeries(redis, clock, derived.of[0], q.dim, q.key, q.from, q.to),
          readSeries(redis, clock, derived.of[1], q.dim, q.key, q.from, q.to),
        ]);
        return first.map((p, i) => ({
          ...p,
          value: derivedValue(derived, p.value, second[i]?.value ?? 0) ?? 0,
        }));
      },
    );
    const data = {
      metric: q.metric,
      dim: q.dim,
      key: q.key,
      from: new Date(q.from).toISOString(),
      to: new Date(q.to).toISOString(),
      points: read.answer.value,
    };
    const { link } = read.answer;
    const complete =
      this.deps.complete(link, q.metric, clock.dateOf(q.from)) &&
      this.deps.complete(link, q.metric, clock.dateOf(q.to - 1));
    return this.result(read.answer, data, read.stale, complete);
  }

  /** A fresh or cached link answer, or with no link answering a last-known one (stale), or a 503. */
  private async serve<T>(
    app: string,
    cacheKey: string,
    weight: ReadWeight,
    op: (redis: Redis) => Promise<T>,
  ): Promise<{ answer: LinkAnswer<T>; stale: boolean }> {
    const { cache, lastKnown, router, metrics } = this.deps;
    try {
      const answer = await cache.get(app, cacheKey, async () => {
        const fresh = await router.read(op, weight);
        if (holdsData(fresh.value)) lastKnown.remember(app, cacheKey, fresh);
        return fresh;
      });
      return { answer: answer as LinkAnswer<T>, stale: false };
    } catch (err) {
      if (!(err instanceof NoLinkAnswered)) throw err;
      const known = lastKnown.recall(app, cacheKey, this.deps.staleServeMaxMs);
      if (!known) {
        metrics.unavailable.inc();
        throw new ApiError("no_link_available", err.message, undefined, RETRY_AFTER_SECONDS);
      }
      metrics.staleServed.inc({ reason: "links_down" });
      return { answer: known as LinkAnswer<T>, stale: true };
    }
  }

  private guard(
    app: string,
    q: ValueQuery,
    value: number | null,
    answer: LinkAnswer<unknown>,
  ): { value: number | null; behind: boolean } {
    if (!guardCovers(q, value)) return { value, behind: false };
    const asOf = answer.asOf === null ? 0 : Date.parse(answer.asOf);
    const from = { link: answer.link, asOf };
    const guarded = this.deps.noDip.guard(app, q.metric, q.dim, q.key, q.date, value, from);
    if (guarded.behind) this.deps.metrics.staleServed.inc({ reason: "no_dip" });
    return guarded;
  }

  private result<T>(answer: LinkAnswer<unknown>, data: T, stale: boolean, complete: boolean): Served<T> {
    const stopped = this.deps.stoppedSince(answer.link);
    if (stopped !== null) this.deps.metrics.staleServed.inc({ reason: "stopped" });
    return {
      data,
      link: answer.link,
      asOf: answer.asOf,
      stale: stale || stopped !== null,
      staleSince: stopped === null ? null : new Date(stopped).toISOString(),
      complete,
      routingVersion: this.deps.routing.current?.version ?? 0,
    };
  }
}

/** Whether the no-dip guard covers a value: a cumulative metric's day value. */
function guardCovers(q: ValueQuery, value: number | null): value is number {
  return value !== null && q.window === "day" && metricView(q.metric).cumulative;
}

function valueKey(q: ValueQuery): string {
  return `v|${q.metric}|${q.dim}|${q.key}|${q.window}|${q.date}|${q.minute ?? ""}`;
}

async function readBase(redis: Redis, clock: BusinessClock, q: ValueQuery, metric: string): Promise<number> {
  if (q.window === "day") return readDayValue(redis, q.date, metric, q.dim, q.key);
  const start = clock.instantOf(q.date, q.minute);
  const [point] = await readSeries(redis, clock, metric, q.dim, q.key, start, start + MINUTE_MS);
  return point?.value ?? 0;
}

async function readValue(redis: Redis, clock: BusinessClock, q: ValueQuery): Promise<number | null> {
  const derived = findDerived(q.metric);
  if (!derived) return readBase(redis, clock, q, q.metric);
  const [first, second] = await Promise.all([
    readBase(redis, clock, q, derived.of[0]),
    readBase(redis, clock, q, derived.of[1]),
  ]);
  return derivedValue(derived, first, second);
}
