// Soak: a steady rate for a long time, to see memory and latency drift: the gateway's resident memory is
// sampled every 10 s into gateway_rss_mb. SOAK_RATE (requests/s, default 300) and SOAK_DURATION (default
// 30m) change it.

import { constantRate, DAY_MIX, LATENCY_OBJECTIVE } from "./common.js";

/** @type {import("./types.ts").ScenarioOf} */
export const scenario = (env) => ({
  name: "soak",
  description: "a steady rate for long, the gateway's memory sampled every 10s",
  load: constantRate(env, "SOAK", 300, "30m"),
  mix: DAY_MIX,
  thresholds: { ...LATENCY_OBJECTIVE, gateway_rss_mb: ["max<512"] },
  sampleMemory: { at: "0s", every: "10s" },
});
