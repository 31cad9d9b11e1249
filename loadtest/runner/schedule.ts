import type { Load } from "../k6/scenarios/types.ts";
import { durations } from "./scenarios.ts";

// When iterations are due under k6's arrival-rate executors: the number due by a moment is the integral of
// the rate up to it (constant, or linear within each stage of a ramp), so iterations are spread evenly
// along the rate curve and start on schedule whatever earlier ones are doing (an open model).

export interface Schedule {
  durationMs: number;
  /** Iterations due from the start up to `elapsedMs`. */
  dueBy(elapsedMs: number): number;
  /** When iteration `n` (0-based) is due, for the lag figure. */
  dueAt(n: number): number;
}

export function scheduleOf(load: Load): Schedule {
  const unitMs = durations.durationMs(load.timeUnit);
  if (load.executor === "constant-arrival-rate") {
    const perMs = load.rate / unitMs;
    const durationMs = durations.durationMs(load.duration);
    return {
      durationMs,
      dueBy: (t) => Math.floor(Math.min(t, durationMs) * perMs + 1e-9),
      dueAt: (n) => n / perMs,
    };
  }
  // Each stage: [start ms, length ms, rate at start and at end in iterations per ms, iterations before it].
  const stages: { start: number; length: number; from: number; to: number; before: number }[] = [];
  let start = 0;
  let rate = load.startRate / unitMs;
  let before = 0;
  for (const stage of load.stages) {
    const length = durations.durationMs(stage.duration);
    const to = stage.target / unitMs;
    stages.push({ start, length, from: rate, to, before });
    before += ((rate + to) / 2) * length;
    start += length;
    rate = to;
  }
  const durationMs = start;
  const within = (s: (typeof stages)[number], t: number) =>
    s.before + s.from * t + ((s.to - s.from) / (2 * Math.max(s.length, 1))) * t * t;
  const dueBy = (t: number): number => {
    const at = Math.min(t, durationMs);
    const s = stages.findLast((x) => x.start <= at);
    return s ? Math.floor(within(s, at - s.start) + 1e-9) : 0;
  };
  return {
    durationMs,
    dueBy,
    // Bisection: dueBy is monotonic, and this is only called once per iteration for the lag figure.
    dueAt: (n) => {
      let lo = 0;
      let hi = durationMs;
      while (hi - lo > 0.05) {
        const mid = (lo + hi) / 2;
        if (dueBy(mid) >= n + 1) hi = mid;
        else lo = mid;
      }
      return hi;
    },
  };
}
