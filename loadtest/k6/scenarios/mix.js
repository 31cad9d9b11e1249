// What callers ask the gateway on a peak day, shared by the k6 scripts and the Node runner: big screens
// polling headline figures and rankings, internal tools looking up one seller or advertiser, charts of the
// last hour. Keys are drawn the way people look at them: the popular sellers and advertisers far more often
// than the long tail (the generator's populations are Zipf-like with the same ids).
//
// It also decides which values in an answer are cumulative day values, the ones a caller must never see go
// down, and tracks them per caller.

/** @import { Catalog, DipTracker, MixEntry, PlannedRequest, RequestKind } from "./types.ts" */

const INDUSTRIES = ["apparel", "beauty", "phones", "food", "home", "appliances", "digital", "sports"];
const TIERS = ["platinum", "gold", "silver", "bronze"];

/**
 * @template T
 * @param {readonly T[]} list
 * @returns {T}
 */
function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

/**
 * An id of the generator's population by rank, log-uniform: rank 1 as often as ranks 2-3, as 4-7, …
 * @param {string} prefix
 * @param {number} count
 */
function popular(prefix, count) {
  return `${prefix}-${Math.floor(count ** Math.random())}`;
}

/** @type {[metric: string, dim: string, key: () => string][]} */
const VALUES = [
  ["gmv", "all", () => "all"],
  ["gmv", "seller", () => popular("s", 20000)],
  ["gmv", "category", () => popular("c", 300)],
  ["gmv", "industry", () => pick(INDUSTRIES)],
  ["gmv", "tier", () => pick(TIERS)],
  ["paid_orders", "all", () => "all"],
  ["paid_orders", "seller", () => popular("s", 20000)],
  ["buyers", "all", () => "all"],
  ["buyers", "industry", () => pick(INDUSTRIES)],
  ["ad_cost", "all", () => "all"],
  ["ad_cost", "advertiser", () => popular("adv", 2000)],
  ["ad_clicks", "advertiser", () => popular("adv", 2000)],
  ["ctr", "all", () => "all"],
  ["avg_order_value", "all", () => "all"],
];

const TOPS = [
  "/v1/metrics/gmv/top?dim=seller&n=10",
  "/v1/metrics/gmv/top?dim=industry&n=25",
  "/v1/metrics/paid_orders/top?dim=category&n=10",
  "/v1/metrics/ad_cost/top?dim=advertiser&n=10",
];

/** @type {Record<RequestKind, () => PlannedRequest>} */
const BUILD = {
  value() {
    const [metric, dim, key] = pick(VALUES);
    const query = dim === "all" ? "" : `?dim=${dim}&key=${key()}`;
    return { kind: "value", method: "GET", path: `/v1/metrics/${metric}${query}`, body: null };
  },
  // The headline row of a big screen: figures shown side by side, read from one link at one moment.
  query() {
    const reads = [
      { metric: "gmv" },
      { metric: "paid_orders" },
      { metric: "buyers" },
      { metric: "ad_cost" },
      { metric: "ctr" },
      { metric: "gmv", dim: "industry", key: pick(INDUSTRIES) },
    ];
    return { kind: "query", method: "POST", path: "/v1/query", body: JSON.stringify({ reads }) };
  },
  top() {
    return { kind: "top", method: "GET", path: pick(TOPS), body: null };
  },
  series() {
    const path = pick([
      "/v1/metrics/gmv/series",
      `/v1/metrics/gmv/series?dim=industry&key=${pick(INDUSTRIES)}`,
      "/v1/metrics/paid_orders/series",
    ]);
    return { kind: "series", method: "GET", path, body: null };
  },
};

/**
 * The next request of a weighted mix.
 * @param {readonly MixEntry[]} mix
 * @returns {PlannedRequest}
 */
export function nextRequest(mix) {
  let total = 0;
  for (const entry of mix) total += entry.weight;
  let r = Math.random() * total;
  for (const entry of mix) {
    r -= entry.weight;
    if (r < 0) return BUILD[entry.kind]();
  }
  return BUILD[mix[mix.length - 1].kind]();
}

/**
 * Names of the cumulative metrics, from GET /v1/catalog.
 * @param {Catalog} catalog
 * @returns {string[]}
 */
export function cumulativeMetrics(catalog) {
  return catalog.metrics.filter((m) => m.cumulative).map((m) => m.name);
}

/**
 * @typedef {{ metric: string, dim: string, key: string, date: string, window?: string, value: number | null }} DayValue
 */

/**
 * The cumulative day values in an answer, as [metric|dim|key|date, value].
 * @param {Set<string>} cumulative
 * @param {RequestKind} kind
 * @param {any} body
 * @returns {[string, number][]}
 */
function dayValues(cumulative, kind, body) {
  /** @type {DayValue[]} */
  let values = [];
  if (kind === "value") values = [body];
  else if (kind === "query") values = body.results;
  else if (kind === "top")
    values = body.entries.map(
      /** @param {{ key: string, value: number }} e */
      (e) => ({ metric: body.metric, dim: body.dim, key: e.key, date: body.date, value: e.value }),
    );
  /** @type {[string, number][]} */
  const out = [];
  for (const v of values) {
    if ((v.window === undefined || v.window === "day") && cumulative.has(v.metric) && v.value !== null)
      out.push([`${v.metric}|${v.dim}|${v.key}|${v.date}`, v.value]);
  }
  return out;
}

/**
 * What one caller has seen: the highest value of every cumulative day value, to measure any decrease.
 * @param {readonly string[]} cumulative names of the cumulative metrics
 * @returns {DipTracker}
 */
export function createDipTracker(cumulative) {
  const metrics = new Set(cumulative);
  /** @type {Map<string, number>} */
  const highest = new Map();
  return {
    observe(kind, body) {
      let dip = 0;
      for (const [id, value] of dayValues(metrics, kind, body)) {
        const seen = highest.get(id);
        if (seen !== undefined && value < seen) dip = Math.max(dip, seen - value);
        else highest.set(id, value);
      }
      return dip;
    },
  };
}
