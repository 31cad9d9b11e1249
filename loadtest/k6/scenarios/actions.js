// What a scenario does besides the load, shared by the k6 scripts and the Node runner: the operator's
// failover (the comparator's POST /v1/failover) and reading the gateway's memory from its /metrics.

/** @import { RoutingView } from "./types.ts" */

/**
 * The body of POST /v1/failover that moves the active link to its first standby; null when there is none.
 * @param {RoutingView} view GET /v1/routing of the comparator
 */
export function failoverBody(view) {
  const to = view.routing ? view.routing.standby[0] : undefined;
  if (to === undefined) return null;
  return JSON.stringify({ to, reason: "load test: failover under constant load", operator: "loadtest" });
}

/**
 * The process's resident memory in MiB, from a Prometheus text exposition; null when it has none.
 * @param {string} text
 */
export function residentMiB(text) {
  const match = /^process_resident_memory_bytes(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return match ? Number(match[1]) / 1048576 : null;
}
