// The metric catalog: one declarative list that the processor computes, the gateway exposes and the
// comparator compares. Adding a metric is one entry here. Values are integers (cents, micros, counts), so two
// healthy links agree bit for bit.

export type MetricKind = "sum" | "count" | "distinct";
export type Window = "day" | "minute";

/** A paid order: the output of the orders x payments join. */
export interface PaidOrderFact {
  source: "paid_order";
  /** Event time the order counts at, epoch ms. */
  time: number;
  amount: number;
  buyerId: string;
  dims: { all: "all"; seller: string; category: string; industry: string; tier: string };
}

/** An ad impression or click. */
export interface AdFact {
  source: "ad_event";
  time: number;
  kind: "impression" | "click";
  costMicros: number;
  dims: { all: "all"; advertiser: string };
}

export type Fact = PaidOrderFact | AdFact;
export type Source = Fact["source"];
type FactOf<S extends Source> = Extract<Fact, { source: S }>;
export type DimOf<S extends Source> = keyof FactOf<S>["dims"] & string;

export interface MetricDef<S extends Source = Source> {
  name: string;
  title: string;
  unit: "cents" | "micros" | "orders" | "buyers" | "events";
  kind: MetricKind;
  source: S;
  /** Dimensions with a business-day-to-date value (window `day`). */
  dims: readonly DimOf<S>[];
  /** Dimensions that also keep a per-minute series (window `minute`); kept small on purpose. */
  minuteDims: readonly DimOf<S>[];
  /** Monotonic within a business day: the gateway never lets such a value go down on screen. */
  cumulative: boolean;
  /**
   * What one fact contributes: the amount to add (sum), 1 or 0 (count), or the member to add (distinct);
   * null means the fact does not count for this metric.
   */
  measure: (fact: FactOf<S>) => number | string | null;
}

/** A ratio computed at read time from two catalog metrics on the same link, dimension, key and window. */
export interface DerivedDef {
  name: string;
  title: string;
  numerator: string;
  denominator: string;
  /** The value served is numerator / denominator * scale. */
  scale: number;
  unit: "ratio" | "cents";
}

/** A catalog entry of either source. */
export type AnyMetricDef = MetricDef<"paid_order"> | MetricDef<"ad_event">;

function metric<S extends Source>(def: MetricDef<S>): MetricDef<S> {
  return def;
}

const TRADE_DIMS = ["all", "seller", "category", "industry", "tier"] as const;
const AD_DIMS = ["all", "advertiser"] as const;

export const METRICS = [
  metric({
    name: "gmv",
    title: "Gross merchandise value of paid orders",
    unit: "cents",
    kind: "sum",
    source: "paid_order",
    dims: TRADE_DIMS,
    minuteDims: ["all", "industry"],
    cumulative: true,
    measure: (f) => f.amount,
  }),
  metric({
    name: "paid_orders",
    title: "Paid orders",
    unit: "orders",
    kind: "count",
    source: "paid_order",
    dims: TRADE_DIMS,
    minuteDims: ["all", "industry"],
    cumulative: true,
    measure: () => 1,
  }),
  metric({
    name: "buyers",
    title: "Distinct paying buyers (HyperLogLog, about 0.8% standard error)",
    unit: "buyers",
    kind: "distinct",
    source: "paid_order",
    dims: ["all", "industry"],
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => f.buyerId,
  }),
  metric({
    name: "ad_impressions",
    title: "Ad impressions",
    unit: "events",
    kind: "count",
    source: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.kind === "impression" ? 1 : null),
  }),
  metric({
    name: "ad_clicks",
    title: "Ad clicks",
    unit: "events",
    kind: "count",
    source: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.kind === "click" ? 1 : null),
  }),
  metric({
    name: "ad_cost",
    title: "Ad spend",
    unit: "micros",
    kind: "sum",
    source: "ad_event",
    dims: AD_DIMS,
    minuteDims: ["all"],
    cumulative: true,
    measure: (f) => (f.costMicros > 0 ? f.costMicros : null),
  }),
] as const satisfies readonly AnyMetricDef[];

export const DERIVED: readonly DerivedDef[] = [
  {
    name: "ctr",
    title: "Click-through rate",
    numerator: "ad_clicks",
    denominator: "ad_impressions",
    scale: 1,
    unit: "ratio",
  },
  {
    name: "avg_order_value",
    title: "Average paid order value",
    numerator: "gmv",
    denominator: "paid_orders",
    scale: 1,
    unit: "cents",
  },
];

export const DIMENSIONS: Record<string, string> = {
  all: "Everything (the key is `all`)",
  seller: "Seller id",
  category: "Product category id",
  industry: "Industry, from the category -> industry table",
  tier: "Seller tier, from the seller -> tier table",
  advertiser: "Advertiser id",
};

export type Metric = (typeof METRICS)[number];

const BY_NAME = new Map<string, AnyMetricDef>(METRICS.map((m) => [m.name, m]));

export function findMetric(name: string): AnyMetricDef | undefined {
  return BY_NAME.get(name);
}

export function findDerived(name: string): DerivedDef | undefined {
  return DERIVED.find((d) => d.name === name);
}

export function metricsOf<S extends Source>(source: S): MetricDef<S>[] {
  return METRICS.filter((m) => m.source === source) as unknown as MetricDef<S>[];
}

/**
 * Identifies the catalog's shape; stored beside the data so a processor refuses to add to values computed
 * by a different catalog (and the comparator does not compare links running different catalogs).
 */
export function catalogFingerprint(): string {
  return METRICS.map(
    (m) => `${m.name}:${m.kind}:${m.source}:${m.dims.join("+")}:${m.minuteDims.join("+")}`,
  ).join(";");
}
