import { writeFile } from "node:fs/promises";
import type { Load, Scenario } from "../k6/scenarios/types.ts";
import type { MemorySample } from "./actions.ts";
import type { LoadResult } from "./engine.ts";
import type { Metric } from "./metrics.ts";
import { resultPath } from "./results.ts";
import { durations } from "./scenarios.ts";
import type { Verdict } from "./thresholds.ts";

// The end-of-run summary, laid out like k6's (metric, then its aggregates; thresholds ticked or crossed),
// and the same figures as JSON under loadtest/results/.

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
  // A replay's plan has two stages a second of the recording: its shape, not every step.
  if (load.stages.length > 8) {
    const peak = Math.max(...load.stages.map((st) => st.target));
    const seconds = load.stages.reduce((sum, st) => sum + durations.durationMs(st.duration), 0) / 1000;
    return `${load.stages.length} stages over ${seconds} s, up to ${peak} iterations per ${load.timeUnit}`;
  }
  const stages = load.stages.map((st) => `${st.target} over ${st.duration}`).join(", then ");
  return `from ${load.startRate} iterations per ${load.timeUnit} to ${stages}`;
}

export function renderSummary(
  scenario: Scenario,
  result: LoadResult,
  verdicts: Verdict[],
  memory: readonly MemorySample[],
): string {
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
  const [first, last] = [result.windows[0], result.windows.at(-1)];
  if (result.windows.length > 2 && first && last)
    lines.push(
      "",
      `  drift: p99 ${f(first.p99)} ms in the first ${first.endS} s, ${f(last.p99)} ms in the last window` +
        ` (${result.windows.length} windows)`,
    );
  const [before, after] = [memory[0], memory.at(-1)];
  if (before && after && memory.length > 1)
    lines.push(
      `  gateway memory: ${f(before.mib)} MiB at the start, ${f(after.mib)} MiB at the end, ` +
        `${f(Math.max(...memory.map((m) => m.mib)))} MiB at most (${memory.length} samples)`,
    );
  if (result.errors.size > 0) {
    lines.push("", "errors:");
    for (const [message, n] of [...result.errors].sort((a, b) => b[1] - a[1]).slice(0, 10))
      lines.push(`  ${n}× ${message}`);
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
  memory: readonly MemorySample[],
): Promise<string> {
  const file = `${await resultPath(`loadtest-${scenario.name}`, false, result.startedAt)}.json`;
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
    errors: Object.fromEntries(result.errors),
    metrics,
    verdicts,
    memory,
  };
  await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}
