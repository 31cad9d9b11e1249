import type { Fact, SourceDef } from "./sources/source.ts";

// What a catalog entry is: a metric over one kind of fact of one source, or a value derived at read time from
// two of them. Apart from common/catalog.ts, which registers them, so that a catalog extension
// (CATALOG_EXTENSIONS) can define entries without importing the catalog it is being loaded into.

export type MetricKind = "sum" | "count" | "distinct";
export type Window = "day" | "minute";

export interface MetricDef<F extends Fact = Fact> {
  name: string;
  title: string;
  unit: "cents" | "micros" | "orders" | "buyers" | "events" | "users" | "refunds";
  kind: MetricKind;
  /** The source whose facts it counts, and which kind of them. */
  source: string;
  fact: F["kind"];
  /** Dimensions with a business-day-to-date value (window `day`). */
  dims: readonly (keyof F["dims"] & string)[];
  /** Dimensions that also keep a per-minute series (window `minute`); kept small on purpose. */
  minuteDims: readonly (keyof F["dims"] & string)[];
  /** Monotonic within a business day: the gateway never lets such a value go down on screen. */
  cumulative: boolean;
  /**
   * Version of `measure`: bump it when what a fact contributes changes. The link stores each metric's
   * definition, and a processor refuses to add to values computed under another one (common/metricState.ts).
   */
  version?: number;
  /**
   * What one fact contributes: the amount to add (sum), 1 or 0 (count), or the member to add (distinct);
   * null means the fact does not count for this metric.
   */
  measure: (fact: F) => number | string | null;
}

/** A value computed at read time from two catalog metrics on the same link, dimension, key and window. */
export type DerivedDef =
  | {
      name: string;
      title: string;
      /** numerator / denominator * scale; null when the denominator is 0. */
      op: "ratio";
      of: readonly [string, string];
      scale: number;
      unit: "ratio" | "cents";
    }
  | {
      name: string;
      title: string;
      /** first - second. */
      op: "difference";
      of: readonly [string, string];
      unit: "cents" | "micros";
      /** Monotonic within a day (so the no-dip guard applies); a difference usually is not. */
      cumulative: boolean;
    };

/** The default export of a CATALOG_EXTENSIONS module. */
export interface CatalogExtension {
  sources?: readonly SourceDef[];
  metrics?: readonly MetricDef[];
  derived?: readonly DerivedDef[];
}

/** Types a catalog entry against the fact it counts; the catalog holds them as MetricDef. */
export function metric<F extends Fact>(def: MetricDef<F>): MetricDef {
  return def as unknown as MetricDef;
}
