// k6 run -e REPLAY_FILE=<plan.json> loadtest/k6/replay.js — or `npm run loadtest -- replay --from <call logs>`,
// which prepares the plan from the gateway's call log and uses k6 when it is installed, the Node runner
// otherwise. Iteration n + 1 of the scenario sends request n of the plan, so the order and the per-second
// pace of the recording are kept; the plan is read once into SharedArrays that every VU shares.

import { SharedArray } from "k6/data";
import exec from "k6/execution";
import { k6Options, send } from "./iteration.js";
import { replayScenario, requestOf } from "./scenarios/callLog.js";

export { setup } from "./iteration.js";

/** @import { ReplayPlan, ReplayRequest } from "./scenarios/types.ts" */

const file = __ENV.REPLAY_FILE;
if (!file)
  throw new Error("REPLAY_FILE: the plan prepared from a call log (npm run loadtest -- replay --from …)");

/** @type {ReplayPlan[]} */
const summary = new SharedArray("replay plan", () => {
  /** @type {ReplayPlan} */
  const plan = JSON.parse(open(file));
  return [{ ...plan, requests: [] }];
});
/** @type {ReplayRequest[]} */
const requests = new SharedArray("replay requests", () => JSON.parse(open(file)).requests);

const s = replayScenario({ ...summary[0], requests }, __ENV);

export const options = k6Options(s);

/** @param {import("./iteration.js").SetupData} data */
export default function (data) {
  const req = requestOf(requests, exec.scenario.iterationInTest);
  if (req) send(req, data);
}
