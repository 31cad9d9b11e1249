// k6 run loadtest/k6/peak.js — or `npm run loadtest -- peak`, which uses k6 when it is installed and the Node
// runner otherwise. The scenario itself is described in scenarios/peak.js.

import { iteration, k6Options } from "./iteration.js";
import { scenario } from "./scenarios/peak.js";

export { failover, sampleMemory, setup } from "./iteration.js";

const s = scenario(__ENV);

export const options = k6Options(s);

/** @param {import("./iteration.js").SetupData} data */
export default function (data) {
  iteration(s, data);
}
