// Replay: the reads of a recorded call log (npm run loadtest -- replay --from <files>), sent in the order and
// at the relative times they were made, `speed` times faster, as an open model. The plan (requests and the
// arrival rate that follows them) is prepared by loadtest/replay/prepare.ts; k6's replay.js and the Node
// runner read the same file. The objective is the day's error objective, its latency objective (p95 and p99
// in ms: REPLAY_P95_MS, default 50, and REPLAY_P99_MS, default 200), and no caller may see a cumulative value
// go down.

import { LATENCY_OBJECTIVE } from "./common.js";

/** @import { ReplayPlan, ReplayRequest, Scenario } from "./types.ts" */

/**
 * The request that iteration n of a plan sends: none for iteration 0, which only lets every request start
 * within its own second (loadtest/replay/prepare.ts says why), none past the end, else request n - 1.
 * @param {ArrayLike<ReplayRequest>} requests
 * @param {number} iteration
 * @returns {ReplayRequest | null}
 */
export function requestOf(requests, iteration) {
  return iteration === 0 || iteration > requests.length ? null : requests[iteration - 1];
}

/**
 * @param {Pick<ReplayPlan, "load" | "speed" | "requests">} plan
 * @param {Record<string, string | undefined>} env
 * @returns {Scenario}
 */
export function replayScenario(plan, env) {
  const p95 = Number(env.REPLAY_P95_MS || 50);
  const p99 = Number(env.REPLAY_P99_MS || 200);
  return {
    name: "replay",
    description: `${plan.requests.length} recorded reads replayed at ${plan.speed}× their recorded pace`,
    load: plan.load,
    mix: [],
    thresholds: {
      http_req_duration: [`p(95)<${p95}`, `p(99)<${p99}`],
      http_req_failed: LATENCY_OBJECTIVE.http_req_failed,
      cumulative_dips: ["count==0"],
    },
  };
}
