// k6 run loadtest/k6/soak.js — or `npm run loadtest -- soak`, which uses k6 when it is installed and the Node
// runner otherwise. The scenario itself is described in scenarios/soak.js.

import { iteration, k6Options } from "./iteration.js";
import { scenario } from "./scenarios/soak.js";

export { failover, sampleMemory, setup } from "./iteration.js";

const s = scenario(__ENV);

export const options = k6Options(s);

/** @param {import("./iteration.js").SetupData} data */
export default function (data) {
  iteration(s, data);
}
