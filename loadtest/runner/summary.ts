import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Load, Scenario } from "../k6/scenarios/types.ts";
import type { LoadResult } from "./engine.ts";
import type { Metric } from "./metrics.ts";
import type { Verdict } from "./thresholds.ts";

// The end-of-run summary, laid out like k6's (metric, then its aggregates; thresholds ticked or crossed),
// and the same figures as JSON under loadtest/results/.

export const RESULTS_DIR = new URL("../results/", import.meta.url).pathname;

const f = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

function describe(metric: Metric, seconds: number): string {
  if (metric.kind === "counter") return `${metric.count}  ${f(metric.count / seconds)}/s`;
  if (metric.kind === "rate") return `${(metric.rate * 100).toFixed(2)}%  ${metric.hits} of ${metric.total}`;
  if (metric.count === 0) return "no samples";
  return [
    `avg=${f(metric.avg)}`,
    `min=${f(metric.min)}`,
    `med=${f(metric.percentile(50))}`,
    `max=${f(metric.max)}`,
    `p(95)=${f(metric.percentile(95))}`,
    `p(99)=${f(metric.percentile(99))}`,
    `p(99.9)=${f(metric.percentile(99.9))}`,
  ].join(" ");
}

export function describeLoad(load: Load): string {
  if (load.executor === "constant-arrival-rate")
    return `${load.rate} iterations per ${load.timeUnit} for ${load.duration}`;
  const stages = load.stages.map((st) => `${st.target} over ${st.duration}`).join(", then ");
  return `from ${load.startRate} iterations per ${load.timeUnit} to ${stages}`;
}

export function renderSummary(scenario: Scenario, result: LoadResult, verdicts: Verdict[]): string {
  const seconds = result.elapsedMs / 1000;
  const lines = [
    `scenario ${scenario.name}: ${scenario.description}`,
    `load: ${describeLoad(scenario.load)}`,
    `ran ${seconds.toFixed(1)} s, ${result.vusMax} virtual users at most (Node runner; durations in ms)`,
    "",
  ];
  for (const [name, metric] of result.metrics.all()) {
    if (metric.kind !== "rate" && metric.count === 0 && !(name in scenario.thresholds)) continue;
    lines.push(`  ${name.padEnd(34, ".")}: ${describe(metric, seconds)}`);
  }
  if (result.windows.length > 2) {
    const first = result.windows[0];
    const last = result.windows.at(-1);
    if (first && last)
      lines.push(
        "",
        `  drift: p99 ${f(first.p99)} ms in the first window, ${f(last.p99)} ms in the last` +
          ` (${result.windows.length} windows)`,
      );
  }
  lines.push("", "thresholds:");
  for (const v of verdicts)
    lines.push(
      `  ${v.ok ? "✓" : "✗"} ${v.metric} ${v.expression}  (${v.value === null ? "no samples" : f(v.value)})`,
    );
  return lines.join("\n");
}

/** Writes the figures as JSON; returns the file's path. */
export async function saveSummary(
  scenario: Scenario,
  result: LoadResult,
  verdicts: Verdict[],
): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(
    RESULTS_DIR,
    `loadtest-${scenario.name}-${new Date(result.startedAt).toISOString()}.json`,
  );
  const metrics: Record<string, unknown> = {};
  for (const [name, m] of result.metrics.all())
    metrics[name] =
      m.kind === "counter"
        ? { count: m.count }
        : m.kind === "rate"
          ? { rate: m.rate, hits: m.hits, total: m.total }
          : m.count === 0
            ? { count: 0 }
            : {
                count: m.count,
                avg: m.avg,
                min: m.min,
                med: m.percentile(50),
                max: m.max,
                p95: m.percentile(95),
                p99: m.percentile(99),
              };
  const body = {
    scenario,
    ...result,
    startedAt: new Date(result.startedAt).toISOString(),
    metrics,
    verdicts,
  };
  await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}
