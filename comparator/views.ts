import { isEligible } from "./decide.ts";
import type { LinkJudgement } from "./judge.ts";
import type { LeaderInfo } from "./leaderLock.ts";
import type { LinkProbe } from "./probe.ts";
import type { Replica } from "./replica.ts";

// What the replica shows: GET /v1/links and /v1/routing, and the evidence kept with every decision (the same
// link views, so an audit record shows what the console showed at that moment).

/** Every link as the comparator sees it: served by GET /v1/links and kept as evidence with decisions. */
export function linkViews(r: Replica) {
  const failbackAfterMinutes = r.config.failbackAfterMinutes;
  return r.known.judgements.map((j, i) => ({
    id: j.link,
    priority: i + 1,
    state: j.state,
    since: new Date(j.since).toISOString(),
    eligible: isEligible(j, failbackAfterMinutes),
    healthyClosedMinutes: j.healthyClosedMinutes,
    pending: j.pending,
    findings: j.findings,
    suspicions: j.suspicions,
    error: j.observation.error,
    heartbeatAgeMs: j.heartbeatAgeMs,
    watermark: j.observation.progress.watermark,
    watermarkBehindMs: j.watermarkBehindMs,
    lagRecords: j.observation.lagRecords,
    closedThrough: j.observation.progress.closedThrough,
    values: j.observation.values,
    gaps: j.gaps,
    incomplete: j.observation.incomplete,
    notCompared: j.notCompared,
    scrub: { ...(r.probes[i] as LinkProbe).scrubber.progress, mismatches: j.observation.scrub },
  }));
}

/** One link's state and why, as evidence of a decision about it. */
export function linkEvidence(r: Replica, link: string): Record<string, unknown> {
  const j = r.known.judgements.find((x) => x.link === link) as LinkJudgement;
  return {
    link,
    state: j.state,
    since: new Date(j.since).toISOString(),
    findings: j.findings,
    healthyClosedMinutes: j.healthyClosedMinutes,
  };
}

export function thresholds(r: Replica): Record<string, number> {
  const c = r.config;
  return {
    heartbeatStaleMs: c.heartbeatStaleMs,
    lagBoundMs: c.lagBoundMs,
    lagBoundRecords: c.lagBoundRecords,
    hysteresisProbes: c.hysteresisProbes,
    gapWindow: c.gapWindow,
    failbackAfterMinutes: c.failbackAfterMinutes,
    probeIntervalMs: c.probeIntervalMs,
    scrubIntervalMs: c.scrubIntervalMs,
    scrubMinutesPerRound: c.scrubMinutesPerRound,
  };
}

export function linksView(r: Replica) {
  return {
    comparatorId: r.id,
    leader: r.leader.isLeader,
    probedAt: r.known.probedAt ? new Date(r.known.probedAt).toISOString() : null,
    date: r.known.date,
    probeIntervalMs: r.config.probeIntervalMs,
    links: linkViews(r),
    thresholds: thresholds(r),
  };
}

/** The leader lock's holder, or null when no replica holds it or Consul cannot say. */
export async function leaderHolder(r: Replica): Promise<LeaderInfo | null> {
  try {
    return await r.leader.holder();
  } catch {
    r.metrics.consulErrors.inc({ operation: "read_leader" });
    return null;
  }
}

export async function routingView(r: Replica) {
  const holder = await leaderHolder(r);
  const doc = r.known.routing?.doc ?? null;
  const acks = r.known.acks;
  return {
    routing: doc,
    problem: r.known.routing?.problem ?? null,
    leader: { isLeader: r.leader.isLeader, comparatorId: r.id, holder },
    gateways: {
      total: acks.length,
      onNewest: doc ? acks.filter((a) => a.version === doc.version).length : 0,
      acks,
    },
  };
}
