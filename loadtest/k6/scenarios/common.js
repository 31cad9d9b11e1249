// What the scenarios share: the request mix of an ordinary peak day, its latency and error objective, and
// the constant arrival rate most of them run at.

/** @import { ConstantArrivalRate, MixEntry } from "./types.ts" */

/** @type {MixEntry[]} */
export const DAY_MIX = [
  { kind: "value", weight: 55 },
  { kind: "query", weight: 20 },
  { kind: "top", weight: 15 },
  { kind: "series", weight: 10 },
];

/** @type {Record<string, string[]>} */
export const LATENCY_OBJECTIVE = {
  http_req_duration: ["p(95)<50", "p(99)<200"],
  http_req_failed: ["rate<0.001"],
};

/**
 * A constant arrival rate from <PREFIX>_RATE (requests/s) and <PREFIX>_DURATION, or these defaults.
 * @param {Record<string, string | undefined>} env
 * @param {string} prefix
 * @param {number} rate
 * @param {string} duration
 * @returns {ConstantArrivalRate}
 */
export function constantRate(env, prefix, rate, duration) {
  return {
    executor: "constant-arrival-rate",
    rate: Number(env[`${prefix}_RATE`] || rate),
    timeUnit: "1s",
    duration: env[`${prefix}_DURATION`] || duration,
    preAllocatedVUs: 20,
    maxVUs: 200,
  };
}
