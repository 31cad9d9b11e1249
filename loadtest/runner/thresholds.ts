import type { Metric } from "./metrics.ts";

// k6 threshold expressions ("p(95)<50", "rate==0", "count<10", "avg<=3", "max<512") evaluated over the
// Node runner's metrics, with k6's verdict: a run whose thresholds are not all met exits with code 99.

export const THRESHOLDS_FAILED_EXIT_CODE = 99;

export interface Verdict {
  metric: string;
  expression: string;
  /** The aggregate's value; null when the metric has no samples (k6 then passes it too). */
  value: number | null;
  ok: boolean;
}

const EXPRESSION =
  /^\s*(avg|min|med|max|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "==": (a, b) => a === b,
  "===": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};

function aggregate(
  metric: Metric,
  name: string,
  percentile: string | undefined,
  seconds: number,
): number | null {
  if (metric.kind === "counter") {
    if (name === "count") return metric.count;
    if (name === "rate") return seconds > 0 ? metric.count / seconds : 0;
  } else if (metric.kind === "rate") {
    if (name === "rate") return metric.rate;
  } else {
    if (metric.count === 0) return null;
    if (percentile !== undefined) return metric.percentile(Number(percentile));
    if (name === "avg") return metric.avg;
    if (name === "min") return metric.min;
    if (name === "med") return metric.percentile(50);
    if (name === "max") return metric.max;
  }
  throw new Error(`threshold ${name} does not apply to a ${metric.kind} metric`);
}

/** Every expression of every threshold; throws on an unknown metric or an expression k6 would refuse. */
export function evaluateThresholds(
  thresholds: Record<string, string[]>,
  metrics: Map<string, Metric>,
  seconds: number,
): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const [name, expressions] of Object.entries(thresholds)) {
    const metric = metrics.get(name);
    if (!metric) throw new Error(`threshold on unknown metric ${name}`);
    for (const expression of expressions) {
      const m = EXPRESSION.exec(expression);
      if (!m) throw new Error(`threshold ${name}: cannot read ${JSON.stringify(expression)}`);
      const [, agg, percentile, op, bound] = m as unknown as [
        string,
        string,
        string | undefined,
        string,
        string,
      ];
      const value = aggregate(metric, percentile === undefined ? agg : "p", percentile, seconds);
      const ok = value === null || (COMPARE[op] as (a: number, b: number) => boolean)(value, Number(bound));
      verdicts.push({ metric: name, expression, value, ok });
    }
  }
  return verdicts;
}
