// k6 run loadtest/k6/failover.js — or `npm run loadtest -- failover`, which uses k6 when it is installed and the Node
// runner otherwise. The scenario itself is described in scenarios/failover.js.

import { iteration, k6Options } from "./iteration.js";
import { scenario } from "./scenarios/failover.js";

export { failover, sampleMemory, setup } from "./iteration.js";

const s = scenario(__ENV);

export const options = k6Options(s);

/** @param {import("./iteration.js").SetupData} data */
export default function (data) {
  iteration(s, data);
}
