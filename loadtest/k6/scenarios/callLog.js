// Replay: the reads of a recorded call log (npm run loadtest -- replay --from <files>), sent in the order and
// at the relative times they were made, `speed` times faster, as an open model. The plan (requests and the
// arrival rate that follows them) is prepared by loadtest/replay/prepare.ts; k6's replay.js and the Node
// runner read the same file. The objective is the day's latency and error objective, and no caller may see a
// cumulative value go down.

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
 * @returns {Scenario}
 */
export function replayScenario(plan) {
  return {
    name: "replay",
    description: `${plan.requests.length} recorded reads replayed at ${plan.speed}× their recorded pace`,
    load: plan.load,
    mix: [],
    thresholds: { ...LATENCY_OBJECTIVE, cumulative_dips: ["count==0"] },
  };
}
