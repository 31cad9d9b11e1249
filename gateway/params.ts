import type { FromSchema } from "json-schema-to-ts";
import { type BusinessClock, MINUTE_MS } from "../common/businessTime.ts";
import {
  DERIVED,
  type DerivedDef,
  DIMENSIONS,
  findMetric,
  isCumulative,
  METRICS,
} from "../common/catalog.ts";
import { ApiError } from "../common/httpErrors.ts";
import type { ReadWeight } from "./links/linkRouter.ts";

// What a caller may ask for, checked before anything reaches a link: the JSON schemas (shape, patterns,
// ranges) and the catalog checks behind them (the metric exists, has that dimension in that window).
// Keys and names are restricted to the alphabet the processor accepts for ids, so nothing a caller sends
// can form a different Redis key.

export const NAME_PATTERN = "^[a-z][a-z0-9_]{0,63}$";
export const KEY_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$";
const DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}$";
const MINUTE_PATTERN = "^([01]\\d|2[0-3])[0-5]\\d$";
/** Longest minute series one request may ask for: one day. */
export const MAX_SERIES_MINUTES = 1_440;

export const paramSchemas = {
  metric: { type: "string", pattern: NAME_PATTERN, description: "Metric name, from /v1/catalog" },
  dim: { type: "string", pattern: NAME_PATTERN, description: "Dimension (default all)" },
  key: { type: "string", pattern: KEY_PATTERN, description: "Dimension key, e.g. a seller id (default all)" },
  window: { type: "string", enum: ["day", "minute"], description: "day = business day to date (default)" },
  date: { type: "string", pattern: DATE_PATTERN, description: "Business day YYYY-MM-DD (default today)" },
  minute: { type: "string", pattern: MINUTE_PATTERN, description: "HHMM, with window=minute (default now)" },
} as const;

export type Window = "day" | "minute";

/** A base catalog metric or one derived from two of them, seen the same way by the routes. */
export interface MetricView {
  name: string;
  derived: DerivedDef | null;
  dims: readonly string[];
  minuteDims: readonly string[];
  /** Day values only go up within a business day (the no-dip guard applies). */
  cumulative: boolean;
}

const VIEWS = new Map<string, MetricView>();
for (const m of METRICS) {
  VIEWS.set(m.name, {
    name: m.name,
    derived: null,
    dims: m.dims,
    minuteDims: m.minuteDims,
    cumulative: m.cumulative,
  });
}
for (const d of DERIVED) {
  // The catalog checked at load that both inputs exist.
  const num = findMetric(d.of[0]) as (typeof METRICS)[number];
  const den = findMetric(d.of[1]) as (typeof METRICS)[number];
  const both = (a: readonly string[], b: readonly string[]) => a.filter((x) => b.includes(x));
  VIEWS.set(d.name, {
    name: d.name,
    derived: d,
    dims: both(num.dims, den.dims),
    minuteDims: both(num.minuteDims, den.minuteDims),
    cumulative: isCumulative(d.name),
  });
}

export function metricViews(): MetricView[] {
  return [...VIEWS.values()];
}

export function metricView(name: string, field = "metric"): MetricView {
  const view = VIEWS.get(name);
  if (!view) throw new ApiError("unknown_metric", `unknown metric ${name}; see /v1/catalog`, field);
  return view;
}

export function checkDim(view: MetricView, dim: string, window: Window, field = "dim"): void {
  if (!(dim in DIMENSIONS))
    throw new ApiError("unknown_dimension", `unknown dimension ${dim}; see /v1/catalog`, field);
  const dims = window === "day" ? view.dims : view.minuteDims;
  if (!dims.includes(dim)) {
    throw new ApiError(
      "dimension_not_kept",
      `${view.name} has no ${window} values by ${dim}; it has ${dims.join(", ")}`,
      field,
    );
  }
}

function checkKey(dim: string, key: string, field: string): void {
  if (dim === "all" && key !== "all")
    throw new ApiError("invalid_request", `${field} must be all when dim is all`, field);
}

const DAY_MS = 86_400_000;

/**
 * A business day links can hold: a calendar date from `historyDays` before today up to today. Anything else
 * has no data anywhere, and each such date would only be one more cache and guard entry a caller creates.
 */
function checkDate(date: string, field: string, today: string, historyDays: number): void {
  const parsed = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date) {
    throw new ApiError("invalid_request", `${field} ${date} is not a calendar date`, field);
  }
  const back = (Date.parse(`${today}T00:00:00Z`) - parsed.getTime()) / DAY_MS;
  if (back < 0 || back > historyDays)
    throw new ApiError(
      "invalid_request",
      `${field} must be a business day from ${historyDays} days before today (${today}) to today`,
      field,
    );
}

export interface ValueQuery {
  metric: string;
  dim: string;
  key: string;
  window: Window;
  date: string;
  /** HHMM, with window minute only. */
  minute?: string;
}

/** One value to read, as /v1/query's reads name it (and /v1/metrics/:metric its path and query). */
export const valueInputSchema = {
  type: "object",
  properties: paramSchemas,
  required: ["metric"],
  additionalProperties: false,
} as const;

export type ValueInput = FromSchema<typeof valueInputSchema>;

/** Resolves defaults (today, this minute) and checks the request against the catalog. */
export function valueQuery(
  input: ValueInput,
  clock: BusinessClock,
  now: number,
  historyDays: number,
  prefix = "",
): ValueQuery {
  const view = metricView(input.metric, `${prefix}metric`);
  const window = input.window ?? "day";
  const dim = input.dim ?? "all";
  const key = input.key ?? "all";
  checkDim(view, dim, window, `${prefix}dim`);
  checkKey(dim, key, `${prefix}key`);
  if (input.date !== undefined) checkDate(input.date, `${prefix}date`, clock.dateOf(now), historyDays);
  if (window === "day") {
    if (input.minute !== undefined) {
      throw new ApiError("invalid_request", `${prefix}minute is only for window=minute`, `${prefix}minute`);
    }
    return { metric: view.name, dim, key, window, date: input.date ?? clock.dateOf(now) };
  }
  if (input.date !== undefined && input.minute === undefined) {
    throw new ApiError(
      "invalid_request",
      `${prefix}minute is required with a date and window=minute`,
      `${prefix}minute`,
    );
  }
  const current = clock.bucket(now);
  return {
    metric: view.name,
    dim,
    key,
    window,
    date: input.date ?? current.date,
    minute: input.minute ?? current.minute,
  };
}

export interface TopQuery {
  metric: string;
  dim: string;
  n: number;
  date: string;
}

export function topQuery(
  input: { metric: string; dim: string; n?: number; date?: string },
  clock: BusinessClock,
  now: number,
  historyDays: number,
): TopQuery {
  const view = metricView(input.metric);
  if (view.derived)
    throw new ApiError(
      "invalid_request",
      `${view.name} is derived at read time and has no top list`,
      "metric",
    );
  checkDim(view, input.dim, "day");
  if (input.date !== undefined) checkDate(input.date, "date", clock.dateOf(now), historyDays);
  return { metric: view.name, dim: input.dim, n: input.n ?? 10, date: input.date ?? clock.dateOf(now) };
}

export interface SeriesQuery {
  metric: string;
  dim: string;
  key: string;
  /** Epoch ms of the first minute (inclusive) and the minute after the last (exclusive). */
  from: number;
  to: number;
}

/** `from`/`to` are ISO times rounded out to whole minutes; by default the last 60 minutes up to now. */
/** Minute reads a series costs per rate-limit token: an hour of a catalog metric is one request's worth. */
const SERIES_MINUTES_PER_TOKEN = 60;

/** Rate-limit tokens a series read costs: its minute reads (twice for a ratio) by the hour, at least one. */
export function seriesCost(q: SeriesQuery): number {
  const reads = ((q.to - q.from) / MINUTE_MS) * (DERIVED.some((d) => d.name === q.metric) ? 2 : 1);
  return Math.max(1, Math.ceil(reads / SERIES_MINUTES_PER_TOKEN));
}

/** A series costing more than one token is expensive: capped per application, not retried on standbys. */
export function seriesWeight(q: SeriesQuery): ReadWeight {
  return seriesCost(q) > 1 ? "expensive" : "cheap";
}

export function seriesQuery(
  input: { metric: string; dim?: string; key?: string; from?: string; to?: string },
  now: number,
): SeriesQuery {
  const view = metricView(input.metric);
  const dim = input.dim ?? "all";
  const key = input.key ?? "all";
  checkDim(view, dim, "minute");
  checkKey(dim, key, "key");
  const instant = (value: string | undefined, field: string): number | undefined => {
    if (value === undefined) return undefined;
    const t = Date.parse(value);
    if (Number.isNaN(t))
      throw new ApiError("invalid_request", `${field} must be an ISO 8601 date-time`, field);
    return t;
  };
  const toRaw = instant(input.to, "to") ?? now;
  const to = Math.ceil((toRaw + 1) / MINUTE_MS) * MINUTE_MS;
  const from = Math.floor((instant(input.from, "from") ?? to - 60 * MINUTE_MS) / MINUTE_MS) * MINUTE_MS;
  if (from >= to) throw new ApiError("invalid_request", "from must be before to", "from");
  if (to - from > MAX_SERIES_MINUTES * MINUTE_MS) {
    throw new ApiError("invalid_request", `from..to spans more than ${MAX_SERIES_MINUTES} minutes`, "from");
  }
  return { metric: view.name, dim, key, from, to };
}
