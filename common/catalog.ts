import { pathToFileURL } from "node:url";
import { list, loadConfig } from "./config.ts";
import { type CatalogExtension, type DerivedDef, type MetricDef, metric } from "./metricDef.ts";
import { type AdFact, ads } from "./sources/ads.ts";

export type { CatalogExtension, DerivedDef, MetricDef, MetricKind, Window } from "./metricDef.ts";

import type { SourceDef } from "./sources/source.ts";
import { type PaidOrderFact, type RefundFact, trade } from "./sources/trade.ts";

// The catalog: the registry of sources (common/sources/) and the declarative list of metrics that the
// processor computes, the gateway exposes and the comparator compares. Adding a metric is one entry here;
// adding a source is one module plus its line in SOURCES. Values are integers (cents, micros, counts), so two
// healthy links agree bit for bit.
//
// A deployment can add sources, metrics and derived metrics without editing this file: CATALOG_EXTENSIONS
// names modules whose default export is a CatalogExtension, loaded before any service reads the catalog.
// An extension imports what it needs from common/metricDef.ts and common/sources/, never this module: the
// catalog is still loading it. Every entry is checked when the catalog loads; a metric naming an unknown source, fact or dimension stops
// every service at start with a message naming it.

const TRADE_DIMS = ["all", "seller", "category", "industry", "tier"] as const;
const AD_DIMS = ["all", "advertiser"] as const;

const BUILT_IN_SOURCES: readonly SourceDef[] = [trade, ads];

const BUILT_IN_METRICS: readonly MetricDef[] = [
  metric<PaidOrderFact>({
    name: "gmv",
    title: "Gross merchandise value of paid orders",
    unit: "cents",
    kind: "sum",
    source: "trade",
    fact: "paid_order",
    dims: TRADE_DIMS,
    minuteDims: ["all", "industry"],
    cumulative: true,
    measure: (f) => f.amount,
  }),
  metric<PaidOrderFact>({
    name: "paid_orders",
    title: "Paid orders",
    unit: "orders",
    kind: "count",
    source: "trade",
    fact: "paid_order",
    dims: TRADE_DIMS,
    minuteDims: ["all", "industry"],
    cumulative: true,
    measure: () => 1,
  }),
  metric<PaidOrderFact>({
    name: "buyers",
    title: "Distinct paying buyers (HyperLogLog, about 0.8% standard error)",
    unit: "buyers",
    kind: "distinct",
    source: "trade",
    fact: "paid_order",
    dims: ["all", "industry"],
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => f.buyerId,
  }),
  metric<RefundFact>({
    name: "refund_amount",
    title: "Refunded amount of paid orders, counted against the order's dimensions",
    unit: "cents",
    kind: "sum",
    source: "trade",
    fact: "refund",
    dims: TRADE_DIMS,
    minuteDims: ["all", "industry"],
    cumulative: true,
    measure: (f) => f.amount,
  }),
  metric<RefundFact>({
    name: "refunds",
    title: "Refunds of paid orders",
    unit: "refunds",
    kind: "count",
    source: "trade",
    fact: "refund",
    dims: TRADE_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: () => 1,
  }),
  metric<AdFact>({
    name: "ad_impressions",
    title: "Ad impressions",
    unit: "events",
    kind: "count",
    source: "ads",
    fact: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.adKind === "impression" ? 1 : null),
  }),
  metric<AdFact>({
    name: "ad_clicks",
    title: "Ad clicks",
    unit: "events",
    kind: "count",
    source: "ads",
    fact: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.adKind === "click" ? 1 : null),
  }),
  metric<AdFact>({
    name: "ad_cost",
    title: "Ad spend",
    unit: "micros",
    kind: "sum",
    source: "ads",
    fact: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.costMicros > 0 ? f.costMicros : null),
  }),
  metric<AdFact>({
    name: "ad_reach",
    title: "Distinct users reached (HyperLogLog; events without a user are not counted)",
    unit: "users",
    kind: "distinct",
    source: "ads",
    fact: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => f.userId,
  }),
];

const BUILT_IN_DERIVED: readonly DerivedDef[] = [
  {
    name: "ctr",
    title: "Click-through rate",
    op: "ratio",
    of: ["ad_clicks", "ad_impressions"],
    scale: 1,
    unit: "ratio",
  },
  {
    name: "avg_order_value",
    title: "Average paid order value",
    op: "ratio",
    of: ["gmv", "paid_orders"],
    scale: 1,
    unit: "cents",
  },
  {
    name: "net_gmv",
    title: "GMV less refunds (goes down when a refund comes in)",
    op: "difference",
    of: ["gmv", "refund_amount"],
    unit: "cents",
    cumulative: false,
  },
];

export const catalogSettings = {
  extensions: list({
    env: "CATALOG_EXTENSIONS",
    default: [],
    doc: "Modules (paths, comma-separated) whose default export adds sources, metrics and derived metrics to the catalog; every service of a deployment must load the same ones.",
  }),
};

async function loadExtensions(paths: readonly string[]): Promise<CatalogExtension[]> {
  const out: CatalogExtension[] = [];
  for (const path of paths) {
    let loaded: { default?: CatalogExtension };
    try {
      loaded = (await import(pathToFileURL(path).href)) as { default?: CatalogExtension };
    } catch (err) {
      throw new Error(`CATALOG_EXTENSIONS: cannot load ${path}: ${(err as Error).message}`);
    }
    if (!loaded.default || typeof loaded.default !== "object")
      throw new Error(`CATALOG_EXTENSIONS: ${path} has no default export of a catalog extension`);
    out.push(loaded.default);
  }
  return out;
}

const extensions = await loadExtensions(loadConfig(catalogSettings).extensions);

/** Every registered source, built in first. */
export const SOURCES: readonly SourceDef[] = [
  ...BUILT_IN_SOURCES,
  ...extensions.flatMap((e) => e.sources ?? []),
];
export const METRICS: readonly MetricDef[] = [
  ...BUILT_IN_METRICS,
  ...extensions.flatMap((e) => e.metrics ?? []),
];
export const DERIVED: readonly DerivedDef[] = [
  ...BUILT_IN_DERIVED,
  ...extensions.flatMap((e) => e.derived ?? []),
];

const SOURCE_BY_NAME = new Map<string, SourceDef>();
const SOURCE_BY_TOPIC = new Map<string, SourceDef>();
const METRIC_BY_NAME = new Map<string, MetricDef>();
const DERIVED_BY_NAME = new Map<string, DerivedDef>();
/** Every dimension of every source, with its description. */
export const DIMENSIONS: Readonly<Record<string, string>> = Object.assign({}, ...SOURCES.map((s) => s.dims));

function unique<T>(map: Map<string, T>, name: string, what: string, value: T): void {
  if (map.has(name)) throw new Error(`catalog: ${what} ${name} is registered twice`);
  map.set(name, value);
}

for (const s of SOURCES) {
  unique(SOURCE_BY_NAME, s.name, "source", s);
  for (const t of s.topics) unique(SOURCE_BY_TOPIC, t.name, "topic", s);
  for (const l of s.lookups) {
    if (!(l.dim in s.dims) || !(l.from in s.dims))
      throw new Error(`catalog: source ${s.name} looks up ${l.dim} from ${l.from}, not both among its dims`);
  }
}
for (const m of METRICS) {
  if (METRIC_BY_NAME.has(m.name) || DERIVED.some((d) => d.name === m.name))
    throw new Error(`catalog: metric ${m.name} is registered twice`);
  METRIC_BY_NAME.set(m.name, m);
  const source = SOURCE_BY_NAME.get(m.source);
  if (!source) throw new Error(`catalog: metric ${m.name} reads source ${m.source}, which is not registered`);
  if (!source.facts.includes(m.fact))
    throw new Error(
      `catalog: metric ${m.name} counts fact ${m.fact}, which source ${m.source} does not emit`,
    );
  for (const dim of [...m.dims, ...m.minuteDims])
    if (!(dim in source.dims))
      throw new Error(
        `catalog: metric ${m.name} has dimension ${dim}, which source ${m.source} does not carry`,
      );
  if (!m.minuteDims.every((d) => m.dims.includes(d)))
    throw new Error(`catalog: metric ${m.name} has a minute dimension without its day value`);
}
for (const d of DERIVED) {
  unique(DERIVED_BY_NAME, d.name, "derived metric", d);
  for (const input of d.of)
    if (!METRIC_BY_NAME.has(input))
      throw new Error(`catalog: derived metric ${d.name} refers to ${input}, which is not in the catalog`);
}

export function findMetric(name: string): MetricDef | undefined {
  return METRIC_BY_NAME.get(name);
}

export function findDerived(name: string): DerivedDef | undefined {
  return DERIVED_BY_NAME.get(name);
}

export function findSource(name: string): SourceDef | undefined {
  return SOURCE_BY_NAME.get(name);
}

/** The source a topic belongs to; an unregistered topic is an error, never a default. */
export function sourceOfTopic(topic: string): SourceDef {
  const source = SOURCE_BY_TOPIC.get(topic);
  if (!source) throw new Error(`topic ${topic} belongs to no registered source`);
  return source;
}

/** Every input topic of every source, in registry order. */
export const INPUT_TOPICS: readonly string[] = SOURCES.flatMap((s) => s.topics.map((t) => t.name));

/**
 * One metric's definition as the link stores it: a changed field under the same name is refused by name, and
 * a new version of a metric is a new name or a bumped `version`.
 */
export function metricFingerprint(m: MetricDef): Record<string, string> {
  return {
    kind: m.kind,
    source: m.source,
    fact: m.fact,
    dims: m.dims.join("+"),
    minuteDims: m.minuteDims.join("+"),
    version: String(m.version ?? 1),
  };
}

/** A derived metric's value from its two inputs' values (same link, dimension, key and window). */
export function derivedValue(d: DerivedDef, first: number, second: number): number | null {
  switch (d.op) {
    case "ratio":
      return second === 0 ? null : (first / second) * d.scale;
    case "difference":
      return first - second;
  }
}

/** Whether a metric, base or derived, only goes up within a business day (the no-dip guard applies). */
export function isCumulative(name: string): boolean {
  const base = METRIC_BY_NAME.get(name);
  if (base) return base.cumulative;
  const d = DERIVED_BY_NAME.get(name);
  return d?.op === "difference" ? d.cumulative : false;
}
