// The k6 side of every scenario: a description (scenarios/*.js) as k6 options, and one iteration of the load
// (a request of the mix, its check, the caller's dip tracking), the same steps the Node runner takes.
// Addresses come from the environment (the runner passes the dev stack's): GATEWAY_URL, API_KEY,
// COMPARATOR_URL, ADMIN_TOKEN.

import { check } from "k6";
import http from "k6/http";
import { Counter, Trend } from "k6/metrics";
import { failoverBody, residentMiB } from "./scenarios/actions.js";
import { loadDurationMs } from "./scenarios/duration.js";
import { createDipTracker, cumulativeMetrics, nextRequest } from "./scenarios/mix.js";

/** @import { Options, Scenario as K6Scenario } from "k6/options" */
/** @import { DipTracker, PlannedRequest, Scenario } from "./scenarios/types.ts" */
/** @typedef {{ cumulative: string[] }} SetupData */

const gateway = __ENV.GATEWAY_URL || "http://127.0.0.1:8080";
const apiKey = __ENV.API_KEY || "dev-api-key";
const comparator = __ENV.COMPARATOR_URL || "http://127.0.0.1:8081";
const adminToken = __ENV.ADMIN_TOKEN || "dev-admin-token";

const dips = new Counter("cumulative_dips");
const dipSize = new Trend("cumulative_dip");
const staleAnswers = new Counter("stale_answers");
const gatewayRss = new Trend("gateway_rss_mb");

/**
 * The load runs as scenario "load" (the default function); actions run in one-VU scenarios of their own.
 * The HTTP thresholds apply to the load's requests only, as the Node runner counts them.
 * @param {Scenario} s
 * @returns {Options}
 */
export function k6Options(s) {
  /** @type {Record<string, K6Scenario>} */
  const scenarios = { load: { ...s.load } };
  if (s.failover)
    scenarios.failover = {
      executor: "shared-iterations",
      vus: 1,
      iterations: 1,
      startTime: s.failover.at,
      exec: "failover",
    };
  if (s.sampleMemory)
    scenarios.memory = {
      executor: "constant-arrival-rate",
      rate: 1,
      timeUnit: s.sampleMemory.every || "10s",
      duration: `${loadDurationMs(s.load)}ms`,
      startTime: s.sampleMemory.at,
      preAllocatedVUs: 1,
      exec: "sampleMemory",
    };
  /** @type {Record<string, string[]>} */
  const thresholds = {};
  for (const [metric, rules] of Object.entries(s.thresholds))
    thresholds[metric.startsWith("http_") ? `${metric}{scenario:load}` : metric] = rules;
  return { scenarios, thresholds, summaryTrendStats: ["avg", "min", "med", "max", "p(95)", "p(99)"] };
}

/** @returns {SetupData} */
export function setup() {
  const res = http.get(`${gateway}/v1/catalog`, { headers: { "x-api-key": apiKey } });
  if (res.status !== 200) throw new Error(`GET ${gateway}/v1/catalog answered ${res.status}`);
  return { cumulative: cumulativeMetrics(/** @type {any} */ (res.json())) };
}

/** @type {DipTracker | undefined} */
let tracker;

/**
 * @param {Scenario} s
 * @param {SetupData} data
 */
export function iteration(s, data) {
  send(nextRequest(s.mix), data);
}

/**
 * One request, its check and the caller's dip tracking.
 * @param {PlannedRequest} req
 * @param {SetupData} data
 */
export function send(req, data) {
  tracker = tracker || createDipTracker(data.cumulative);
  const res = http.request(req.method, `${gateway}${req.path}`, req.body, {
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    tags: { name: req.kind },
  });
  if (!check(res, { "status is 200": (r) => r.status === 200 })) return;
  const body = /** @type {any} */ (res.json());
  if (body.stale) staleAnswers.add(1);
  const dip = tracker.observe(req.kind, body);
  if (dip > 0) {
    dips.add(1);
    dipSize.add(dip);
  }
}

export function failover() {
  const routing = http.get(`${comparator}/v1/routing`);
  const body = failoverBody(/** @type {any} */ (routing.json()));
  if (body === null) throw new Error("no standby link to fail over to");
  const res = http.post(`${comparator}/v1/failover`, body, {
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
  });
  check(res, { "failover accepted": (r) => r.status === 200 });
}

export function sampleMemory() {
  const mib = residentMiB(String(http.get(`${gateway}/metrics`).body));
  if (mib !== null) gatewayRss.add(mib);
}
