// Peak: the arrival rate ramps up to the day's target and holds it, with the whole request mix. PEAK_RATE
// (requests/s, default 800: below the gateway's default per-application limit of 1000/s) and PEAK_HOLD
// (default 60s) change it.

import { DAY_MIX, LATENCY_OBJECTIVE } from "./common.js";

/** @type {import("./types.ts").ScenarioOf} */
export const scenario = (env) => {
  const target = Number(env.PEAK_RATE || 800);
  return {
    name: "peak",
    description: "a ramp to the peak rate, held: single values, batch queries, top-N, series",
    load: {
      executor: "ramping-arrival-rate",
      startRate: Math.ceil(target / 10),
      timeUnit: "1s",
      preAllocatedVUs: 50,
      maxVUs: 500,
      stages: [
        { duration: "20s", target },
        { duration: env.PEAK_HOLD || "60s", target },
        { duration: "5s", target: 0 },
      ],
    },
    mix: DAY_MIX,
    thresholds: LATENCY_OBJECTIVE,
  };
};
