import { type HealthDocument, initialRouting, type RoutingDocument } from "../common/routing.ts";
import { inSpan } from "../common/telemetry.ts";
import { type AutoDecision, decideAutomatic, nextRouting } from "./decide.ts";
import { keepDecision, recordDecision, stateChangeRecord } from "./decisions.ts";
import type { LinkJudgement, StateChange } from "./judge.ts";
import {
  consulFailed,
  publishRoutingMetrics,
  type Replica,
  replacementBase,
  routingWritten,
} from "./replica.ts";
import type { RoutingSnapshot } from "./routingWriter.ts";
import { linkEvidence, linkViews, thresholds } from "./views.ts";

// After every probe: read the routing and the gateways' acknowledgements from Consul and, on the leader only,
// act on the judgement: create a missing routing document, fail over automatically (decide.ts says when),
// record state changes, holds and suspicions, publish the health document, prune the audit trail.

const AUDIT_PRUNE_EVERY_MS = 60_000;
const ACKS_REFRESH_MS = 1_000;

export class AutoFailover {
  /** The hold situation last recorded, so holding on is recorded once per situation, not at every probe. */
  private holding: string | null = null;
  private reportedSuspicions = new Set<string>();
  private reportedProblem: string | null = null;
  private lastHealthWrite = 0;
  private auditPrunedAt = 0;

  constructor(private readonly r: Replica) {}

  /** A new leader publishes health at once and reports what it sees afresh. */
  leaderChanged(): void {
    this.lastHealthWrite = 0;
    this.reportedSuspicions.clear();
    this.holding = null;
  }

  /** Reads the routing; on the leader, decides first (every ms counts), then records and publishes the rest. */
  async afterProbe(changes: StateChange[]): Promise<void> {
    const r = this.r;
    let routing: RoutingSnapshot;
    try {
      routing = await r.routingStore.read();
      r.known.consulOkAt = Date.now();
    } catch (err) {
      consulFailed(r, "read_routing", err);
      return;
    }
    r.known.routing = routing;
    if (routing.doc) r.known.lastGoodVersion = Math.max(r.known.lastGoodVersion, routing.doc.version);
    if (r.leader.isLeader) {
      try {
        if (routing.doc === null && routing.problem === null) routing = await this.createInitialRouting();
        this.reportProblem(routing.problem);
        if (routing.doc) await this.decide(routing);
        // Stamped with the probe that saw them, so they sort before the failover they caused.
        for (const change of changes) await recordDecision(r, stateChangeRecord(change, r.id), change.at);
        await this.reportSuspicions();
        await this.publishHealth(changes.length > 0);
        await this.pruneAudit();
      } catch (err) {
        consulFailed(r, "write", err);
      }
    }
    if (Date.now() - r.known.acksReadAt >= ACKS_REFRESH_MS) {
      try {
        r.known.acks = await r.routingStore.readAcks();
        r.known.acksReadAt = Date.now();
      } catch (err) {
        consulFailed(r, "read_acks", err);
      }
    }
    publishRoutingMetrics(r);
  }

  private async pruneAudit(): Promise<void> {
    const now = Date.now();
    if (now - this.auditPrunedAt < AUDIT_PRUNE_EVERY_MS) return;
    this.auditPrunedAt = now;
    const pruned = await this.r.audit.prune(this.r.config.auditRetention);
    this.r.metrics.auditPruned.inc(pruned);
  }

  private async createInitialRouting(): Promise<RoutingSnapshot> {
    const r = this.r;
    // Gateways refuse a version below the one they run: a document lost from Consul is recreated above
    // every version they acknowledge. Version 1 is the initial document wherever it was made (a gateway
    // without any document runs the same one), so it needs nothing above it.
    r.known.acks = await r.routingStore.readAcks();
    const inForce = replacementBase(r).version;
    const doc = { ...initialRouting(r.config.links, r.id), version: inForce > 1 ? inForce + 1 : 1 };
    const record = r.audit.stamp({
      kind: "initial_routing",
      by: r.id,
      to: doc.active,
      reason: "no routing document in Consul: created the initial one",
      routingVersion: doc.version,
      evidence: { routing: doc },
    });
    if ((await r.leader.confirm()) && (await r.routingStore.write(doc, 0, r.audit.consulOp(record)))) {
      await keepDecision(r, record, true);
    }
    const fresh = await r.routingStore.read();
    r.known.routing = fresh;
    return fresh;
  }

  private reportProblem(problem: string | null): void {
    if (problem !== null && problem !== this.reportedProblem) {
      this.r.log.error(
        { problem },
        "the routing document in Consul is unusable; automatic failover is off until an operator fixes it",
      );
    }
    this.reportedProblem = problem;
  }

  private async reportSuspicions(): Promise<void> {
    const r = this.r;
    const current = new Set<string>();
    for (const j of r.known.judgements) {
      for (const s of j.suspicions) {
        const key = `${j.link}:${s.rule}:${String(s.evidence.minute ?? s.evidence.metric)}`;
        current.add(key);
        if (this.reportedSuspicions.has(key)) continue;
        await recordDecision(r, {
          kind: "suspect",
          by: r.id,
          link: j.link,
          reason: `link ${j.link} is suspect: ${s.detail}. Not acted on: an operator must tell which link is right.`,
          evidence: { finding: s, links: linkViews(r) },
        });
      }
    }
    this.reportedSuspicions = current;
  }

  private async decide(routing: RoutingSnapshot): Promise<void> {
    const r = this.r;
    const doc = routing.doc as RoutingDocument;
    const decision = decideAutomatic(doc, r.known.judgements, r.config.failbackAfterMinutes);
    const decidedAt = Date.now();
    if (decision.kind === "none") {
      this.holding = null;
      return;
    }
    if (decision.kind !== "auto_failover") {
      const situation = `${decision.kind}:${decision.active}:${decision.activeState}`;
      if (this.holding === situation) return;
      this.holding = situation;
      await recordDecision(r, {
        kind: decision.kind,
        by: r.id,
        link: decision.active,
        reason: holdReason(decision),
        evidence: {
          active: linkEvidence(r, decision.active),
          links: linkViews(r),
          thresholds: thresholds(r),
        },
      });
      return;
    }
    this.holding = null;
    const active = r.known.judgements.find((j) => j.link === decision.from) as LinkJudgement;
    const reason = `link ${decision.from} is ${active.state}: ${active.findings.map((f) => f.detail).join("; ")}`;
    await inSpan(
      r.tracer,
      "comparator.failover",
      { from: decision.from, to: decision.to, "routing.modifyIndex": routing.modifyIndex },
      async (span) => {
        const next = nextRouting(
          doc,
          { active: decision.to, standby: decision.standby, mode: "auto", reason, changedBy: r.id },
          decidedAt,
        );
        const onset = r.known.faultOnsets.get(decision.from) ?? active.since;
        // The record travels in the transaction that writes the change: `writtenAt` is when it was sent.
        const writtenAt = Date.now();
        const record = r.audit.stamp({
          kind: "auto_failover",
          by: r.id,
          from: decision.from,
          to: decision.to,
          reason,
          routingVersion: next.version,
          evidence: {
            active: linkEvidence(r, decision.from),
            target: { ...linkEvidence(r, decision.to), lastResort: decision.lastResort },
            links: linkViews(r),
            thresholds: thresholds(r),
            timing: {
              faultOnset: onset,
              detectedAt: active.since,
              decidedAt,
              writtenAt,
              detectionMs: active.since - onset,
              switchMs: writtenAt - decidedAt,
            },
          },
        });
        const written =
          (await r.leader.confirm()) &&
          (await r.routingStore.write(next, routing.modifyIndex, r.audit.consulOp(record)));
        if (!written) {
          // Someone moved the routing since this probe read it; the next probe decides on what is there now.
          r.log.warn({ decision }, "routing changed under an automatic failover; deciding again next probe");
          span.setAttribute("written", false);
          return;
        }
        const committedAt = Date.now();
        routingWritten(r, next);
        r.metrics.switchSeconds.observe((committedAt - decidedAt) / 1000);
        r.metrics.failoverSeconds.observe((committedAt - onset) / 1000);
        span.setAttribute("written", true);
        span.setAttribute("routing.version", next.version);
        await keepDecision(r, record, true);
      },
    );
  }

  private async publishHealth(changed: boolean): Promise<void> {
    const now = Date.now();
    if (!changed && now - this.lastHealthWrite < this.r.config.healthRefreshMs) return;
    const doc: HealthDocument = {
      updatedAt: new Date(now).toISOString(),
      links: Object.fromEntries(
        this.r.known.judgements.map((j) => [
          j.link,
          { state: j.state, since: new Date(j.since).toISOString(), detail: healthDetail(j) },
        ]),
      ),
    };
    await this.r.routingStore.writeHealth(doc);
    this.lastHealthWrite = now;
  }
}

function holdReason(decision: Extract<AutoDecision, { kind: "no_target" | "pinned_hold" }>): string {
  return decision.kind === "pinned_hold"
    ? `active link ${decision.active} is ${decision.activeState} but pinned by an operator: not moving it`
    : `active link ${decision.active} is ${decision.activeState} and no other link is healthy: keeping it`;
}

function healthDetail(j: LinkJudgement): string {
  const parts = j.findings.map((f) => f.detail);
  for (const s of j.suspicions) parts.push(`suspect: ${s.detail}`);
  if (j.pending) parts.push(`turning ${j.pending.state} (${j.pending.probes} probe(s))`);
  return parts.length > 0 ? parts.join("; ") : "ok";
}
