import type { LinkState, RoutingDocument, RoutingMode } from "../common/routing.ts";
import type { Finding, LinkJudgement } from "./judge.ts";

// Link states + the routing document -> what to do with `active`. Pure, like the judge.
//
// Automatic failover only moves `active` away from a link that is down, lagging or diverged, only to a
// healthy link, by priority, and never fails back: a link that recovered is picked again only once it has
// stayed healthy for FAILBACK_AFTER_MINUTES closed minutes (or as a last resort, when no other healthy link
// exists and the active one is failing). A pinned (manual) routing is never moved automatically.

export type AutoDecision =
  | { kind: "none" }
  | { kind: "auto_failover"; from: string; to: string; standby: string[]; lastResort: boolean }
  | { kind: "no_target"; active: string; activeState: LinkState }
  | { kind: "pinned_hold"; active: string; activeState: LinkState };

export function isEligible(j: LinkJudgement, failbackAfterMinutes: number): boolean {
  return (
    j.state === "healthy" &&
    (j.healthyClosedMinutes === null || j.healthyClosedMinutes >= failbackAfterMinutes)
  );
}

/** `judgements` in priority order. */
export function decideAutomatic(
  routing: RoutingDocument,
  judgements: readonly LinkJudgement[],
  failbackAfterMinutes: number,
): AutoDecision {
  const active = judgements.find((j) => j.link === routing.active);
  if (!active || active.state === "healthy" || active.state === "unknown") return { kind: "none" };
  if (routing.mode === "manual")
    return { kind: "pinned_hold", active: active.link, activeState: active.state };
  const healthy = judgements.filter((j) => j.link !== active.link && j.state === "healthy");
  const eligible = healthy.filter((j) => isEligible(j, failbackAfterMinutes));
  const target = eligible[0] ?? healthy[0];
  if (!target) return { kind: "no_target", active: active.link, activeState: active.state };
  return {
    kind: "auto_failover",
    from: active.link,
    to: target.link,
    standby: standbyOrder(judgements, target.link, failbackAfterMinutes),
    lastResort: eligible.length === 0,
  };
}

/** The links other than `active`: eligible ones first, each group in priority order. */
export function standbyOrder(
  judgements: readonly LinkJudgement[],
  active: string,
  failbackAfterMinutes: number,
): string[] {
  const others = judgements.filter((j) => j.link !== active);
  return [
    ...others.filter((j) => isEligible(j, failbackAfterMinutes)),
    ...others.filter((j) => !isEligible(j, failbackAfterMinutes)),
  ].map((j) => j.link);
}

/** Why an operator's target needs `force`, or null when it is healthy. */
export function unhealthyTarget(
  judgement: LinkJudgement,
): { link: string; state: LinkState; since: string; findings: Finding[] } | null {
  if (judgement.state === "healthy") return null;
  return {
    link: judgement.link,
    state: judgement.state,
    since: new Date(judgement.since).toISOString(),
    findings: judgement.findings,
  };
}

export function nextRouting(
  current: RoutingDocument,
  change: { active: string; standby: string[]; mode: RoutingMode; reason: string; changedBy: string },
  now: number,
): RoutingDocument {
  return { version: current.version + 1, ...change, changedAt: new Date(now).toISOString() };
}
