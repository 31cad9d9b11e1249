import type { EventEmitter } from "node:events";
import type { Tracer } from "@opentelemetry/api";
import type { BusinessClock } from "../common/businessTime.ts";
import type { Logger } from "../common/logger.ts";
import { type GatewayAck, initialRouting, type RoutingDocument } from "../common/routing.ts";
import type { AuditLog, AuditRecord } from "./audit.ts";
import type { ComparatorConfig } from "./config.ts";
import type { LinkJudgement, StateChange } from "./judge.ts";
import type { LeaderLock } from "./leaderLock.ts";
import type { ComparatorMetrics } from "./metrics.ts";
import type { LinkProbe } from "./probe.ts";
import type { RoutingSnapshot, RoutingStore } from "./routingWriter.ts";

// What every job of one comparator replica shares: its settings, its clients, and what it knows right now.
// The jobs (probeLoop, autoFailover, operatorCommands, views, gapHistory) run one at a time in the
// comparator's queue, so each may read and update `known` without locks.

export type ComparatorEvents = EventEmitter<{ state: [StateChange]; decision: [AuditRecord] }>;

/** What this replica knows now: the probe loop writes the judgements, the Consul side the routing. */
export interface Known {
  judgements: LinkJudgement[];
  /** When the last complete probe of every link finished; 0 before the first. */
  probedAt: number;
  /** Business day the last probe compared. */
  date: string;
  /** Where a link's current fault began (its first failing probe), for the failover's timing evidence. */
  faultOnsets: Map<string, number>;
  routing: RoutingSnapshot | null;
  acks: GatewayAck[];
  acksReadAt: number;
  consulOkAt: number;
  /** Highest version of a usable routing document seen: a replacement must go above it. */
  lastGoodVersion: number;
}

export interface Replica {
  config: ComparatorConfig;
  id: string;
  log: Logger;
  metrics: ComparatorMetrics;
  tracer: Tracer;
  clock: BusinessClock;
  probes: LinkProbe[];
  leader: LeaderLock;
  audit: AuditLog;
  routingStore: RoutingStore;
  events: ComparatorEvents;
  known: Known;
}

export function consulFailed(r: Replica, operation: string, err: unknown): void {
  r.metrics.consulErrors.inc({ operation });
  r.log.warn({ operation, err: (err as Error).message }, "Consul call failed");
}

export function publishRoutingMetrics(r: Replica): void {
  const doc = r.known.routing?.doc;
  if (doc) r.metrics.routingVersion.set(doc.version);
  r.metrics.gateways.set(r.known.acks.length);
  r.metrics.gatewaysAcked.set(doc ? r.known.acks.filter((a) => a.version === doc.version).length : 0);
}

/** After this replica wrote `doc`: known at once, without waiting for the next read. */
export function routingWritten(r: Replica, doc: RoutingDocument): void {
  r.known.routing = { doc, modifyIndex: -1, problem: null, versionSeen: 0 };
  publishRoutingMetrics(r);
}

/**
 * What a replacement of an unusable (or lost) document builds on: a version above every one that may be in
 * force anywhere (the unusable document's own number, any gateway's acknowledgement, the last good one seen
 * here), since gateways refuse a lower version.
 */
export function replacementBase(r: Replica, snapshot?: RoutingSnapshot): RoutingDocument {
  const version = Math.max(
    snapshot?.versionSeen ?? 0,
    r.known.lastGoodVersion,
    ...r.known.acks.map((a) => a.version),
    0,
  );
  return { ...initialRouting(r.config.links, r.id), version, active: "" };
}
