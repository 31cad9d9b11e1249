import type { Load } from "../k6/scenarios/types.ts";
import { durations } from "./scenarios.ts";

// When iterations are due under k6's arrival-rate executors. The iterations due by a moment follow the
// integral of the rate up to it (constant, or linear within each stage of a ramp): iteration n (from 0) is
// due when the integral reaches n, so iterations are spread evenly along the rate curve and start on
// schedule whatever earlier ones are doing (an open model).

export interface Schedule {
  durationMs: number;
  /** Iterations due from the start up to `elapsedMs`, included. */
  dueBy(elapsedMs: number): number;
  /** When iteration `n` (0-based) is due, for the lag figure. */
  dueAt(n: number): number;
}

const EPSILON = 1e-9;

export function scheduleOf(load: Load): Schedule {
  const unitMs = durations.durationMs(load.timeUnit);
  // Each stage: start (ms), length (ms), rate at its start and end (iterations per ms), iterations before it.
  const stages: { start: number; length: number; from: number; to: number; before: number }[] = [];
  if (load.executor === "constant-arrival-rate") {
    const rate = load.rate / unitMs;
    stages.push({ start: 0, length: durations.durationMs(load.duration), from: rate, to: rate, before: 0 });
  } else {
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
  }
  const last = stages.at(-1);
  const durationMs = last ? last.start + last.length : 0;
  const integral = (t: number): number => {
    const at = Math.min(t, durationMs);
    const s = stages.findLast((x) => x.start <= at);
    if (!s) return 0;
    const dt = at - s.start;
    return s.before + s.from * dt + ((s.to - s.from) / (2 * Math.max(s.length, 1))) * dt * dt;
  };
  const total = Math.ceil(integral(durationMs) - EPSILON);
  return {
    durationMs,
    dueBy: (t) => Math.min(total, Math.floor(integral(t) + EPSILON) + 1),
    // Bisection over the monotonic integral; called once per iteration, for the lag figure only.
    dueAt: (n) => {
      let lo = 0;
      let hi = durationMs;
      while (hi - lo > 0.01) {
        const mid = (lo + hi) / 2;
        if (integral(mid) + EPSILON >= n) hi = mid;
        else lo = mid;
      }
      return hi;
    },
  };
}
