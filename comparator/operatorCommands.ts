import type { ErrorCode } from "../common/httpErrors.ts";
import type { RoutingDocument } from "../common/routing.ts";
import type { AuditRecord, DecisionKind } from "./audit.ts";
import { nextRouting, standbyOrder, unhealthyTarget } from "./decide.ts";
import { keepDecision, recordDecision } from "./decisions.ts";
import type { LinkJudgement } from "./judge.ts";
import type { LeaderInfo } from "./leaderLock.ts";
import { consulFailed, type Replica, replacementBase, routingWritten } from "./replica.ts";
import type { RoutingSnapshot } from "./routingWriter.ts";
import { leaderHolder, linkEvidence, linkViews, thresholds } from "./views.ts";

// An operator's failover, pin, unpin or replacement of an unusable routing document. Only the leader acts; a
// move to a link that is not healthy is refused (and recorded) unless forced; the write is conditional on the
// routing the checks were made on, and carries its audit record in the same transaction.

export type OperatorOp = "failover" | "pin" | "unpin" | "replace";

export interface OperatorRequest {
  /** Target link; for a pin, the active link when absent. */
  to?: string;
  reason: string;
  operator: string;
  force?: boolean;
  client: { ip: string; userAgent: string };
}

export type OperatorOutcome =
  | { ok: true; routing: RoutingDocument; audit: AuditRecord }
  | {
      ok: false;
      code: ErrorCode;
      message: string;
      evidence?: Record<string, unknown>;
      leader?: LeaderInfo | null;
    };

export async function operate(r: Replica, op: OperatorOp, req: OperatorRequest): Promise<OperatorOutcome> {
  if (!r.leader.isLeader) return notLeader(r);
  let snapshot: RoutingSnapshot;
  try {
    snapshot = await r.routingStore.read();
  } catch (err) {
    consulFailed(r, "read_routing", err);
    return { ok: false, code: "consul_unavailable", message: (err as Error).message };
  }
  if (op === "replace" && snapshot.doc) {
    return {
      ok: false,
      code: "routing_usable",
      message: "the routing document is usable: change it with /v1/failover, /v1/pin or /v1/unpin",
    };
  }
  const current = op === "replace" ? replacementBase(r, snapshot) : snapshot.doc;
  if (!current) {
    return {
      ok: false,
      code: "routing_unavailable",
      message: snapshot.problem
        ? `the routing document in Consul is unusable (${snapshot.problem}); replace it with POST /v1/routing/replace`
        : "no routing document yet: the comparator creates it at its first probe",
    };
  }
  const to = op === "unpin" ? current.active : (req.to ?? current.active);
  const conflict =
    op === "failover" && to === current.active
      ? `link ${to} is already active`
      : op === "pin" && current.mode === "manual" && to === current.active
        ? `link ${to} is already pinned`
        : op === "unpin" && current.mode === "auto"
          ? "the routing is not pinned"
          : null;
  if (conflict) return { ok: false, code: "no_change", message: conflict };

  const target = r.known.judgements.find((j) => j.link === to) as LinkJudgement;
  const unhealthy = op === "unpin" ? null : unhealthyTarget(target);
  const by = `operator:${req.operator}`;
  if (unhealthy && !req.force) {
    const audit = await recordDecision(r, {
      kind: "refused",
      by,
      from: current.active,
      to,
      reason: req.reason,
      evidence: { request: op, target: unhealthy, client: req.client, thresholds: thresholds(r) },
    });
    return {
      ok: false,
      code: "target_not_healthy",
      message: `link ${to} is ${unhealthy.state}; send force: true to override (break-glass, recorded as such)`,
      evidence: { ...unhealthy, audit: audit.id },
    };
  }
  const decidedAt = Date.now();
  const next = nextRouting(
    current,
    {
      active: to,
      standby: standbyOrder(r.known.judgements, to, r.config.failbackAfterMinutes),
      mode: op === "pin" ? "manual" : op === "unpin" || op === "replace" ? "auto" : current.mode,
      reason: req.reason,
      changedBy: by,
    },
    decidedAt,
  );
  // The record travels in the transaction that writes the change: `writtenAt` is when it was sent.
  const writtenAt = Date.now();
  const record = r.audit.stamp({
    kind: operatorKind(op, unhealthy !== null),
    by,
    from: snapshot.doc?.active,
    to,
    reason: req.reason,
    routingVersion: next.version,
    evidence: {
      forced: unhealthy !== null,
      target: unhealthy ?? linkEvidence(r, to),
      previous: snapshot.doc ?? { problem: snapshot.problem, versionSeen: snapshot.versionSeen },
      links: linkViews(r),
      client: req.client,
      timing: { decidedAt, writtenAt, switchMs: writtenAt - decidedAt },
    },
  });
  let written: boolean;
  try {
    if (!(await r.leader.confirm())) return notLeader(r);
    written = await r.routingStore.write(next, snapshot.modifyIndex, r.audit.consulOp(record));
  } catch (err) {
    consulFailed(r, "write_routing", err);
    return { ok: false, code: "consul_unavailable", message: (err as Error).message };
  }
  if (!written) {
    return {
      ok: false,
      code: "routing_changed",
      message: "the routing changed while this request was checked; look at it again and retry",
    };
  }
  routingWritten(r, next);
  return { ok: true, routing: next, audit: await keepDecision(r, record, true) };
}

async function notLeader(r: Replica): Promise<OperatorOutcome> {
  const holder = await leaderHolder(r);
  return {
    ok: false,
    code: "not_leader",
    message: holder
      ? `this replica does not write routing; the leader is ${holder.id} at ${holder.url}`
      : "no replica holds the leader lock right now; retry in a few seconds",
    leader: holder,
  };
}

function operatorKind(op: OperatorOp, forced: boolean): DecisionKind {
  switch (op) {
    case "failover":
      return forced ? "forced_failover" : "manual_failover";
    case "pin":
      return "pin";
    case "unpin":
      return "unpin";
    case "replace":
      return "routing_replaced";
  }
}
