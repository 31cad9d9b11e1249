import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { LinkState } from "../common/routing.ts";
import { DECISION_KINDS } from "./audit.ts";
import { SCRUB_CHECKS } from "./scrub.ts";

// Names are part of the contract with dashboards and alerts: keep them stable.

export const LINK_STATES: readonly LinkState[] = ["healthy", "lagging", "diverged", "down", "unknown"];
const FAULTS = ["down", "lagging", "diverged"] as const;
const P = "oneservice_comparator_";
const SECONDS_BUCKETS = [0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 20, 30, 60];

export type ComparatorMetrics = ReturnType<typeof comparatorMetrics>;

export function comparatorMetrics(registry: Registry, links: readonly string[]) {
  const registers = [registry];
  const m = {
    linkState: new Gauge({
      name: `${P}link_state`,
      help: "1 for the state each link is judged to be in, 0 for the others",
      labelNames: ["link", "state"] as const,
      registers,
    }),
    heartbeatAge: new Gauge({
      name: `${P}link_heartbeat_age_seconds`,
      help: "Age of the link's newest processor heartbeat",
      labelNames: ["link"] as const,
      registers,
    }),
    watermarkBehind: new Gauge({
      name: `${P}link_watermark_behind_seconds`,
      help: "How far the link's event-time watermark is behind the best link's",
      labelNames: ["link"] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: `${P}link_consumer_lag_records`,
      help: "Records in the link's Kafka that its processors have not applied (absent when unknown)",
      labelNames: ["link"] as const,
      registers,
    }),
    liveGap: new Gauge({
      name: `${P}link_live_gap`,
      help: "Median of the comparable links minus this link's day-to-date value, per cumulative metric",
      labelNames: ["link", "metric"] as const,
      registers,
    }),
    suspect: new Gauge({
      name: `${P}link_suspect`,
      help: "1 while the link disagrees with another and no majority says which one is wrong",
      labelNames: ["link"] as const,
      registers,
    }),
    stateChanges: new Counter({
      name: `${P}state_changes_total`,
      help: "Accepted state changes, by link and new state",
      labelNames: ["link", "to"] as const,
      registers,
    }),
    decisions: new Counter({
      name: `${P}decisions_total`,
      help: "Decisions recorded in the audit trail, by kind",
      labelNames: ["kind"] as const,
      registers,
    }),
    detection: new Histogram({
      name: `${P}detection_seconds`,
      help: "From the estimated start of a fault (last heartbeat, answer or watermark move) to the state change",
      labelNames: ["fault"] as const,
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    switchSeconds: new Histogram({
      name: `${P}switch_seconds`,
      help: "From a failover decision to Consul acknowledging the routing write",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    failoverSeconds: new Histogram({
      name: `${P}failover_seconds`,
      help: "From the estimated start of the active link's fault to the automatic routing write",
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    routingVersion: new Gauge({ name: `${P}routing_version`, help: "Routing version in Consul", registers }),
    isLeader: new Gauge({
      name: `${P}is_leader`,
      help: "1 while this replica holds the leader lock and writes routing",
      registers,
    }),
    gateways: new Gauge({ name: `${P}gateways`, help: "Gateways that acknowledged any version", registers }),
    gatewaysAcked: new Gauge({
      name: `${P}gateways_acked`,
      help: "Gateways that acknowledged the newest routing version",
      registers,
    }),
    probeSeconds: new Histogram({
      name: `${P}probe_seconds`,
      help: "Duration of one probe of every link",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    authFailures: new Counter({
      name: `${P}auth_failures_total`,
      help: "Refused authentications (401, 403) and refusals of addresses over their failure limit (429)",
      labelNames: ["status"] as const,
      registers,
    }),
    heartbeatsPruned: new Counter({
      name: `${P}heartbeats_pruned_total`,
      help: "Heartbeat entries deleted from a link's Redis: not heartbeats, or older than HEARTBEAT_PRUNE_AFTER",
      labelNames: ["link"] as const,
      registers,
    }),
    auditSkipped: new Counter({
      name: `${P}audit_skipped_total`,
      help: "Audit entries read back that were not valid records (skipped), by where they were read",
      labelNames: ["source"] as const,
      registers,
    }),
    auditPruned: new Counter({
      name: `${P}audit_pruned_total`,
      help: "Audit records deleted from Consul beyond AUDIT_RETENTION",
      registers,
    }),
    scrubMismatches: new Counter({
      name: `${P}scrub_mismatches_total`,
      help: "Stored values the scrub found disagreeing with the link's other values, by link and check (counted once while they stand)",
      labelNames: ["link", "check"] as const,
      registers,
    }),
    scrubMinutes: new Counter({
      name: `${P}scrub_minutes_total`,
      help: "Closed minutes the scrub re-derived and compared, by link",
      labelNames: ["link"] as const,
      registers,
    }),
    consulErrors: new Counter({
      name: `${P}consul_errors_total`,
      help: "Failed Consul calls, by operation",
      labelNames: ["operation"] as const,
      registers,
    }),
  };
  // Every series exists from the start, so a dashboard shows zeros rather than gaps.
  for (const link of links) {
    for (const state of LINK_STATES) m.linkState.set({ link, state }, state === "unknown" ? 1 : 0);
    m.suspect.set({ link }, 0);
    for (const check of SCRUB_CHECKS) m.scrubMismatches.inc({ link, check }, 0);
    m.scrubMinutes.inc({ link }, 0);
  }
  for (const kind of DECISION_KINDS) m.decisions.inc({ kind }, 0);
  for (const fault of FAULTS) m.detection.zero({ fault });
  m.isLeader.set(0);
  return m;
}
