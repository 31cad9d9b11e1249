// Failover: a constant rate while the active link changes under it. By default an operator fails over
// (POST /v1/failover on the comparator) at 20 s; the fault drills run the same request mix and break a link
// instead. Not one request may fail and no caller may see a cumulative value go down. FAILOVER_RATE
// (requests/s, default 200) and FAILOVER_DURATION (default 60s) change it.

import { constantRate } from "./common.js";

/** @type {import("./types.ts").ScenarioOf} */
export const scenario = (env) => ({
  name: "failover",
  description: "a constant rate, an operator failover at 20s",
  load: constantRate(env, "FAILOVER", 200, "60s"),
  // Big screens, which read mostly cumulative values: the ones that must not go down.
  mix: [
    { kind: "value", weight: 50 },
    { kind: "query", weight: 30 },
    { kind: "top", weight: 15 },
    { kind: "series", weight: 5 },
  ],
  thresholds: {
    http_req_failed: ["rate==0"],
    cumulative_dips: ["count==0"],
    http_req_duration: ["p(99)<500"],
  },
  failover: { at: "20s" },
});
