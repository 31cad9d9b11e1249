import { EventEmitter } from "node:events";
import type { Tracer } from "@opentelemetry/api";
import type Consul from "consul";
import { BusinessClock } from "../common/businessTime.ts";
import type { ConfigOf } from "../common/config.ts";
import type { LinkAddress } from "../common/links.ts";
import type { Logger } from "../common/logger.ts";
import {
  CONSUL_KEYS,
  type GatewayAck,
  type HealthDocument,
  initialRouting,
  type RoutingDocument,
} from "../common/routing.ts";
import { inSpan } from "../common/telemetry.ts";
import { AuditLog, type AuditRecord, type DecisionKind, type NewAuditRecord } from "./audit.ts";
import type { comparatorSettings } from "./config.ts";
import {
  type AutoDecision,
  decideAutomatic,
  isEligible,
  nextRouting,
  standbyOrder,
  unhealthyTarget,
} from "./decide.ts";
import { Judge, type LinkJudgement, type StateChange, unknownJudgement } from "./judge.ts";
import { type LeaderInfo, LeaderLock } from "./leaderLock.ts";
import { type ComparatorMetrics, LINK_STATES } from "./metrics.ts";
import { LinkProbe } from "./probe.ts";
import { type RoutingSnapshot, RoutingStore } from "./routingWriter.ts";
import { Scrubber } from "./scrub.ts";

// The one loop that owns the comparator's state: probe every link, judge, and, on the leader only, decide and
// write. Operator commands run in the same queue as the probes, so no two routing writes of this replica
// ever interleave, and every decision is made on the judgement of a complete probe.

export type ComparatorConfig = ConfigOf<typeof comparatorSettings>;

export interface ComparatorDeps {
  config: ComparatorConfig;
  links: LinkAddress[];
  consul: Consul;
  log: Logger;
  metrics: ComparatorMetrics;
  tracer: Tracer;
  /** How operators reach this replica (known once it listens); stored in the leader lock for followers to show. */
  url: () => string;
}

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
      status: 409 | 503;
      error: string;
      message: string;
      evidence?: Record<string, unknown>;
      leader?: LeaderInfo | null;
    };

export interface GapPoint {
  t: number;
  /** link -> metric -> gap; links that were not comparable at that moment are absent. */
  gaps: Record<string, Record<string, number>>;
}

type OperatorOp = "failover" | "pin" | "unpin" | "replace";

const AUDIT_PRUNE_EVERY_MS = 60_000;
const HEARTBEAT_PRUNE_EVERY_MS = 60_000;
const GAP_SAMPLE_MS = 1_000;
const GAP_SAMPLES = 300;
const ACKS_REFRESH_MS = 1_000;

export class Comparator {
  readonly events = new EventEmitter<{ state: [StateChange]; decision: [AuditRecord] }>();
  readonly leader: LeaderLock;
  readonly audit: AuditLog;
  private readonly probes: LinkProbe[];
  private readonly judge: Judge;
  private readonly routingStore: RoutingStore;
  private readonly clock: BusinessClock;
  private judgements: LinkJudgement[];
  private routing: RoutingSnapshot | null = null;
  private acks: GatewayAck[] = [];
  private acksReadAt = 0;
  private probedAt = 0;
  private date = "";
  private consulOkAt = 0;
  private lastHealthWrite = 0;
  private holding: string | null = null;
  private reportedSuspicions = new Set<string>();
  private reportedProblem: string | null = null;
  private lastGoodVersion = 0;
  private auditPrunedAt = 0;
  private heartbeatsPrunedAt = 0;
  private readonly faultOnsets = new Map<string, number>();
  private readonly gapPoints: GapPoint[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly scrubTimers = new Map<LinkProbe, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly d: ComparatorDeps) {
    const c = d.config;
    const now = Date.now();
    this.clock = new BusinessClock(c.timeZone);
    this.probes = d.links.map((l) => {
      const scrubber = new Scrubber(
        l.redisUrl,
        this.clock,
        { minutesPerRound: c.scrubMinutesPerRound, timeoutMs: Math.max(c.probeTimeoutMs, 5_000) },
        (m) => {
          d.metrics.scrubMismatches.inc({ link: l.id, check: m.check });
          d.log.warn({ link: l.id, mismatch: m }, `link ${l.id}: scrub found ${m.check}`);
        },
      );
      return new LinkProbe(l, this.clock, c.probeTimeoutMs, Math.max(2_000, 4 * c.probeIntervalMs), scrubber);
    });
    this.judge = new Judge(c.links, c, now);
    this.routingStore = new RoutingStore(d.consul, c.links);
    this.audit = new AuditLog(
      d.consul,
      c.auditFile,
      c.comparatorId,
      d.log,
      () => d.metrics.consulErrors.inc({ operation: "audit" }),
      (source, count) => d.metrics.auditSkipped.inc({ source }, count),
      c.auditRetention,
    );
    this.leader = new LeaderLock(d.consul, {
      key: CONSUL_KEYS.comparatorLeader,
      id: c.comparatorId,
      url: d.url,
      ttl: c.sessionTtl,
      lockDelay: c.lockDelay,
      log: d.log.child({ part: "leader" }),
      onChange: (leader) => {
        d.metrics.isLeader.set(leader ? 1 : 0);
        // A new leader publishes health at once and reports what it sees afresh.
        this.lastHealthWrite = 0;
        this.reportedSuspicions.clear();
        this.holding = null;
      },
    });
    this.judgements = c.links.map((link) => unknownJudgement(link, now));
  }

  get id(): string {
    return this.d.config.comparatorId;
  }

  /** One probe of every link, its judgement and, on the leader, its decision. */
  tick(): Promise<void> {
    return this.serialized(() => this.probeAndDecide());
  }

  startProbing(): void {
    const loop = async () => {
      const started = Date.now();
      await this.tick().catch((err) => this.d.log.error({ err }, "probe round failed"));
      if (this.stopped) return;
      this.timer = setTimeout(loop, Math.max(0, this.d.config.probeIntervalMs - (Date.now() - started)));
    };
    void loop();
    // Each link is scrubbed on a loop of its own, so a link that does not answer never holds the others back.
    for (const probe of this.probes) {
      const scrubLoop = async () => {
        const started = Date.now();
        await this.scrubLink(probe);
        if (this.stopped) return;
        this.scrubTimers.set(
          probe,
          setTimeout(scrubLoop, Math.max(0, this.d.config.scrubIntervalMs - (Date.now() - started))),
        );
      };
      void scrubLoop();
    }
  }

  /** One scrub round of a link (comparator/scrub.ts), apart from the probes: it never delays them. */
  private async scrubLink(probe: LinkProbe): Promise<void> {
    const before = probe.scrubber.progress.minutesChecked;
    await probe.scrubber.round();
    this.d.metrics.scrubMinutes.inc(
      { link: probe.address.id },
      probe.scrubber.progress.minutesChecked - before,
    );
  }

  failover(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.serialized(() => this.operate("failover", req));
  }

  pin(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.serialized(() => this.operate("pin", req));
  }

  unpin(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.serialized(() => this.operate("unpin", req));
  }

  /** Replaces an unusable routing document (the only way to repair one short of writing Consul by hand). */
  replaceRouting(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.serialized(() => this.operate("replace", req));
  }

  /** Null when ready, else why not. */
  readiness(): string | null {
    if (this.probedAt === 0) return "no probe completed yet";
    if (Date.now() - this.consulOkAt > Math.max(5_000, 10 * this.d.config.probeIntervalMs))
      return "Consul has not answered recently";
    return null;
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const timer of this.scrubTimers.values()) clearTimeout(timer);
    await this.queue;
    await this.leader.stop();
    await Promise.all(this.probes.map((p) => p.close()));
  }

  linksView() {
    return {
      comparatorId: this.id,
      leader: this.leader.isLeader,
      probedAt: this.probedAt ? new Date(this.probedAt).toISOString() : null,
      date: this.date,
      probeIntervalMs: this.d.config.probeIntervalMs,
      links: this.linkViews(),
      thresholds: this.thresholds(),
    };
  }

  async routingView() {
    let holder: LeaderInfo | null = null;
    try {
      holder = await this.leader.holder();
    } catch {
      this.d.metrics.consulErrors.inc({ operation: "read_leader" });
    }
    const doc = this.routing?.doc ?? null;
    return {
      routing: doc,
      problem: this.routing?.problem ?? null,
      leader: { isLeader: this.leader.isLeader, comparatorId: this.id, holder },
      gateways: {
        total: this.acks.length,
        onNewest: doc ? this.acks.filter((a) => a.version === doc.version).length : 0,
        acks: this.acks,
      },
    };
  }

  gapsView(metric: string): { metric: string; points: { t: number; gaps: Record<string, number> }[] } {
    return {
      metric,
      points: this.gapPoints.map((p) => ({
        t: p.t,
        gaps: Object.fromEntries(
          Object.entries(p.gaps).flatMap(([link, byMetric]) =>
            byMetric[metric] === undefined ? [] : [[link, byMetric[metric] as number]],
          ),
        ),
      })),
    };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private async probeAndDecide(): Promise<void> {
    const started = performance.now();
    const firsts = await Promise.all(
      this.probes.map(async (probe) => ({ probe, first: await probe.progress() })),
    );
    // Values are compared for one business day on every link: the day of the most advanced watermark.
    const watermarks = firsts.filter((f) => f.first.error === null).map((f) => f.first.progress.watermark);
    const best = Math.max(0, ...watermarks);
    const date = this.clock.dateOf(best > 0 ? best : Date.now());
    const observations = await Promise.all(firsts.map(({ probe, first }) => probe.values(date, first)));
    this.d.metrics.probeSeconds.observe((performance.now() - started) / 1000);
    const now = Date.now();
    const { links, changes } = this.judge.step(observations, now);
    this.judgements = links;
    this.probedAt = now;
    this.date = date;
    this.publishLinkMetrics();
    this.sampleGaps(now);
    for (const change of changes) this.onStateChange(change);
    await this.syncWithConsul(changes);
    if (this.leader.isLeader && now - this.heartbeatsPrunedAt >= HEARTBEAT_PRUNE_EVERY_MS) {
      this.heartbeatsPrunedAt = now;
      await this.pruneHeartbeats();
    }
  }

  /** Drops heartbeat entries of processors long gone, and entries that are not heartbeats, from every link. */
  private async pruneHeartbeats(): Promise<void> {
    await Promise.all(
      this.probes.map(async (probe) => {
        const link = probe.address.id;
        try {
          const deleted = await probe.pruneHeartbeats(this.d.config.heartbeatPruneAfterMs);
          if (deleted.length === 0) return;
          this.d.metrics.heartbeatsPruned.inc({ link }, deleted.length);
          this.d.log.info({ link, members: deleted }, "pruned heartbeat entries");
        } catch (err) {
          this.d.log.warn({ link, err: (err as Error).message }, "heartbeat pruning failed");
        }
      }),
    );
  }

  private publishLinkMetrics(): void {
    const m = this.d.metrics;
    for (const j of this.judgements) {
      const link = j.link;
      for (const state of LINK_STATES) m.linkState.set({ link, state }, j.state === state ? 1 : 0);
      if (j.heartbeatAgeMs !== null) m.heartbeatAge.set({ link }, j.heartbeatAgeMs / 1000);
      if (j.watermarkBehindMs !== null) m.watermarkBehind.set({ link }, j.watermarkBehindMs / 1000);
      if (j.observation.lagRecords === null) m.consumerLag.remove({ link });
      else m.consumerLag.set({ link }, j.observation.lagRecords);
      for (const [metric, gap] of Object.entries(j.gaps)) m.liveGap.set({ link, metric }, gap);
      m.suspect.set({ link }, j.suspicions.length > 0 ? 1 : 0);
    }
  }

  private sampleGaps(now: number): void {
    const last = this.gapPoints.at(-1);
    if (last && now - last.t < GAP_SAMPLE_MS) return;
    this.gapPoints.push({ t: now, gaps: Object.fromEntries(this.judgements.map((j) => [j.link, j.gaps])) });
    if (this.gapPoints.length > GAP_SAMPLES) this.gapPoints.shift();
  }

  private onStateChange(change: StateChange): void {
    const { link, from, to } = change;
    const detail = change.findings.map((f) => f.detail).join("; ");
    const log = to === "healthy" ? this.d.log.info.bind(this.d.log) : this.d.log.warn.bind(this.d.log);
    log(
      { link, from, to, findings: change.findings },
      `link ${link}: ${from} -> ${to}${detail ? `: ${detail}` : ""}`,
    );
    this.d.metrics.stateChanges.inc({ link, to });
    if (to === "down" || to === "lagging" || to === "diverged") {
      this.d.metrics.detection.observe({ fault: to }, (change.at - change.onset) / 1000);
      this.faultOnsets.set(link, change.onset);
    }
    this.events.emit("state", change);
  }

  /** Reads the routing; on the leader, decides first (every ms counts), then records and publishes the rest. */
  private async syncWithConsul(changes: StateChange[]): Promise<void> {
    let routing: RoutingSnapshot;
    try {
      routing = await this.routingStore.read();
      this.consulOkAt = Date.now();
    } catch (err) {
      this.consulFailed("read_routing", err);
      return;
    }
    this.routing = routing;
    if (routing.doc) this.lastGoodVersion = Math.max(this.lastGoodVersion, routing.doc.version);
    if (this.leader.isLeader) {
      try {
        if (routing.doc === null && routing.problem === null) routing = await this.createInitialRouting();
        this.reportProblem(routing.problem);
        if (routing.doc) await this.decide(routing);
        // Stamped with the probe that saw them, so they sort before the failover they caused.
        for (const change of changes)
          await this.recordDecision(stateChangeRecord(change, this.id), change.at);
        await this.reportSuspicions();
        await this.publishHealth(changes.length > 0);
        await this.pruneAudit();
      } catch (err) {
        this.consulFailed("write", err);
      }
    }
    if (Date.now() - this.acksReadAt >= ACKS_REFRESH_MS) {
      try {
        this.acks = await this.routingStore.readAcks();
        this.acksReadAt = Date.now();
      } catch (err) {
        this.consulFailed("read_acks", err);
      }
    }
    this.publishRoutingMetrics();
  }

  private publishRoutingMetrics(): void {
    const doc = this.routing?.doc;
    if (doc) this.d.metrics.routingVersion.set(doc.version);
    this.d.metrics.gateways.set(this.acks.length);
    this.d.metrics.gatewaysAcked.set(doc ? this.acks.filter((a) => a.version === doc.version).length : 0);
  }

  private async pruneAudit(): Promise<void> {
    const now = Date.now();
    if (now - this.auditPrunedAt < AUDIT_PRUNE_EVERY_MS) return;
    this.auditPrunedAt = now;
    const pruned = await this.audit.prune(this.d.config.auditRetention);
    this.d.metrics.auditPruned.inc(pruned);
  }

  private async createInitialRouting(): Promise<RoutingSnapshot> {
    // Gateways refuse a version below the one they run: a document lost from Consul is recreated above
    // every version they acknowledge. Version 1 is the initial document wherever it was made (a gateway
    // without any document runs the same one), so it needs nothing above it.
    this.acks = await this.routingStore.readAcks();
    const inForce = this.replacementBase().version;
    const doc = { ...initialRouting(this.d.config.links, this.id), version: inForce > 1 ? inForce + 1 : 1 };
    const record = this.audit.stamp({
      kind: "initial_routing",
      by: this.id,
      to: doc.active,
      reason: "no routing document in Consul: created the initial one",
      routingVersion: doc.version,
      evidence: { routing: doc },
    });
    if (
      (await this.leader.confirm()) &&
      (await this.routingStore.write(doc, 0, this.audit.consulOp(record)))
    ) {
      await this.keepDecision(record, true);
    }
    const fresh = await this.routingStore.read();
    this.routing = fresh;
    return fresh;
  }

  private reportProblem(problem: string | null): void {
    if (problem !== null && problem !== this.reportedProblem) {
      this.d.log.error(
        { problem },
        "the routing document in Consul is unusable; automatic failover is off until an operator fixes it",
      );
    }
    this.reportedProblem = problem;
  }

  private async reportSuspicions(): Promise<void> {
    const current = new Set<string>();
    for (const j of this.judgements) {
      for (const s of j.suspicions) {
        const key = `${j.link}:${s.rule}:${String(s.evidence.minute ?? s.evidence.metric)}`;
        current.add(key);
        if (this.reportedSuspicions.has(key)) continue;
        await this.recordDecision({
          kind: "suspect",
          by: this.id,
          link: j.link,
          reason: `link ${j.link} is suspect: ${s.detail}. Not acted on: an operator must tell which link is right.`,
          evidence: { finding: s, links: this.linkViews() },
        });
      }
    }
    this.reportedSuspicions = current;
  }

  private async decide(routing: RoutingSnapshot): Promise<void> {
    const doc = routing.doc as RoutingDocument;
    const c = this.d.config;
    const decision = decideAutomatic(doc, this.judgements, c.failbackAfterMinutes);
    const decidedAt = Date.now();
    if (decision.kind === "none") {
      this.holding = null;
      return;
    }
    if (decision.kind !== "auto_failover") {
      // Holding on is recorded once per situation, not at every probe.
      const situation = `${decision.kind}:${decision.active}:${decision.activeState}`;
      if (this.holding === situation) return;
      this.holding = situation;
      await this.recordDecision({
        kind: decision.kind,
        by: this.id,
        link: decision.active,
        reason: holdReason(decision),
        evidence: {
          active: this.linkEvidence(decision.active),
          links: this.linkViews(),
          thresholds: this.thresholds(),
        },
      });
      return;
    }
    this.holding = null;
    const active = this.judgements.find((j) => j.link === decision.from) as LinkJudgement;
    const reason = `link ${decision.from} is ${active.state}: ${active.findings.map((f) => f.detail).join("; ")}`;
    await inSpan(
      this.d.tracer,
      "comparator.failover",
      { from: decision.from, to: decision.to, "routing.modifyIndex": routing.modifyIndex },
      async (span) => {
        const next = nextRouting(
          doc,
          { active: decision.to, standby: decision.standby, mode: "auto", reason, changedBy: this.id },
          decidedAt,
        );
        const onset = this.faultOnsets.get(decision.from) ?? active.since;
        // The record travels in the transaction that writes the change: `writtenAt` is when it was sent.
        const writtenAt = Date.now();
        const record = this.audit.stamp({
          kind: "auto_failover",
          by: this.id,
          from: decision.from,
          to: decision.to,
          reason,
          routingVersion: next.version,
          evidence: {
            active: this.linkEvidence(decision.from),
            target: { ...this.linkEvidence(decision.to), lastResort: decision.lastResort },
            links: this.linkViews(),
            thresholds: this.thresholds(),
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
          (await this.leader.confirm()) &&
          (await this.routingStore.write(next, routing.modifyIndex, this.audit.consulOp(record)));
        if (!written) {
          // Someone moved the routing since this probe read it; the next probe decides on what is there now.
          this.d.log.warn(
            { decision },
            "routing changed under an automatic failover; deciding again next probe",
          );
          span.setAttribute("written", false);
          return;
        }
        const committedAt = Date.now();
        this.routing = { doc: next, modifyIndex: -1, problem: null, versionSeen: 0 };
        this.publishRoutingMetrics();
        this.d.metrics.switchSeconds.observe((committedAt - decidedAt) / 1000);
        this.d.metrics.failoverSeconds.observe((committedAt - onset) / 1000);
        span.setAttribute("written", true);
        span.setAttribute("routing.version", next.version);
        await this.keepDecision(record, true);
      },
    );
  }

  private async operate(op: OperatorOp, req: OperatorRequest): Promise<OperatorOutcome> {
    if (!this.leader.isLeader) return this.notLeader();
    let snapshot: RoutingSnapshot;
    try {
      snapshot = await this.routingStore.read();
    } catch (err) {
      this.consulFailed("read_routing", err);
      return { ok: false, status: 503, error: "consul_unavailable", message: (err as Error).message };
    }
    if (op === "replace" && snapshot.doc) {
      return {
        ok: false,
        status: 409,
        error: "routing_usable",
        message: "the routing document is usable: change it with /v1/failover, /v1/pin or /v1/unpin",
      };
    }
    const current = op === "replace" ? this.replacementBase(snapshot) : snapshot.doc;
    if (!current) {
      return {
        ok: false,
        status: 503,
        error: "routing_unavailable",
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
    if (conflict) return { ok: false, status: 409, error: "no_change", message: conflict };

    const target = this.judgements.find((j) => j.link === to) as LinkJudgement;
    const unhealthy = op === "unpin" ? null : unhealthyTarget(target);
    const by = `operator:${req.operator}`;
    if (unhealthy && !req.force) {
      const audit = await this.recordDecision({
        kind: "refused",
        by,
        from: current.active,
        to,
        reason: req.reason,
        evidence: { request: op, target: unhealthy, client: req.client, thresholds: this.thresholds() },
      });
      return {
        ok: false,
        status: 409,
        error: "target_not_healthy",
        message: `link ${to} is ${unhealthy.state}; send force: true to override (break-glass, recorded as such)`,
        evidence: { ...unhealthy, audit: audit.id },
      };
    }
    const decidedAt = Date.now();
    const next = nextRouting(
      current,
      {
        active: to,
        standby: standbyOrder(this.judgements, to, this.d.config.failbackAfterMinutes),
        mode: op === "pin" ? "manual" : op === "unpin" || op === "replace" ? "auto" : current.mode,
        reason: req.reason,
        changedBy: by,
      },
      decidedAt,
    );
    // The record travels in the transaction that writes the change: `writtenAt` is when it was sent.
    const writtenAt = Date.now();
    const record = this.audit.stamp({
      kind: operatorKind(op, unhealthy !== null),
      by,
      from: snapshot.doc?.active,
      to,
      reason: req.reason,
      routingVersion: next.version,
      evidence: {
        forced: unhealthy !== null,
        target: unhealthy ?? this.linkEvidence(to),
        previous: snapshot.doc ?? { problem: snapshot.problem, versionSeen: snapshot.versionSeen },
        links: this.linkViews(),
        client: req.client,
        timing: { decidedAt, writtenAt, switchMs: writtenAt - decidedAt },
      },
    });
    let written: boolean;
    try {
      if (!(await this.leader.confirm())) return this.notLeader();
      written = await this.routingStore.write(next, snapshot.modifyIndex, this.audit.consulOp(record));
    } catch (err) {
      this.consulFailed("write_routing", err);
      return { ok: false, status: 503, error: "consul_unavailable", message: (err as Error).message };
    }
    if (!written) {
      return {
        ok: false,
        status: 409,
        error: "routing_changed",
        message: "the routing changed while this request was checked; look at it again and retry",
      };
    }
    this.routing = { doc: next, modifyIndex: -1, problem: null, versionSeen: 0 };
    this.publishRoutingMetrics();
    return { ok: true, routing: next, audit: await this.keepDecision(record, true) };
  }

  private async notLeader(): Promise<OperatorOutcome> {
    let holder: LeaderInfo | null = null;
    try {
      holder = await this.leader.holder();
    } catch {
      this.d.metrics.consulErrors.inc({ operation: "read_leader" });
    }
    return {
      ok: false,
      status: 503,
      error: "not_leader",
      message: holder
        ? `this replica does not write routing; the leader is ${holder.id} at ${holder.url}`
        : "no replica holds the leader lock right now; retry in a few seconds",
      leader: holder,
    };
  }

  /** A decision that wrote nothing else to Consul. */
  private recordDecision(entry: NewAuditRecord, at?: number): Promise<AuditRecord> {
    return this.keepDecision(this.audit.stamp(entry, at), false);
  }

  /**
   * Every decision goes through here: the audit trail (in Consul already when the transaction that made the
   * change carried it), the counter, a span carrying the evidence, the event.
   */
  private async keepDecision(record: AuditRecord, inConsul: boolean): Promise<AuditRecord> {
    const attributes: Record<string, string | number> = {
      kind: record.kind,
      by: record.by,
      reason: record.reason,
      evidence: JSON.stringify(record.evidence).slice(0, 8_000),
    };
    for (const key of ["link", "from", "to", "routingVersion"] as const) {
      const value = record[key];
      if (value !== undefined) attributes[key] = value;
    }
    await inSpan(this.d.tracer, "comparator.decision", attributes, () => this.audit.keep(record, inConsul));
    this.d.metrics.decisions.inc({ kind: record.kind });
    this.events.emit("decision", record);
    return record;
  }

  /**
   * What a replacement of an unusable document builds on: a version above every one that may be in force
   * anywhere (the unusable document's own number, any gateway's acknowledgement, the last good one seen here),
   * since gateways refuse a lower version.
   */
  private replacementBase(snapshot?: RoutingSnapshot): RoutingDocument {
    const version = Math.max(
      snapshot?.versionSeen ?? 0,
      this.lastGoodVersion,
      ...this.acks.map((a) => a.version),
      0,
    );
    return { ...initialRouting(this.d.config.links, this.id), version, active: "" };
  }

  private async publishHealth(changed: boolean): Promise<void> {
    const now = Date.now();
    if (!changed && now - this.lastHealthWrite < this.d.config.healthRefreshMs) return;
    const doc: HealthDocument = {
      updatedAt: new Date(now).toISOString(),
      links: Object.fromEntries(
        this.judgements.map((j) => [
          j.link,
          { state: j.state, since: new Date(j.since).toISOString(), detail: healthDetail(j) },
        ]),
      ),
    };
    await this.routingStore.writeHealth(doc);
    this.lastHealthWrite = now;
  }

  private consulFailed(operation: string, err: unknown): void {
    this.d.metrics.consulErrors.inc({ operation });
    this.d.log.warn({ operation, err: (err as Error).message }, "Consul call failed");
  }

  private linkEvidence(link: string): Record<string, unknown> {
    const j = this.judgements.find((x) => x.link === link) as LinkJudgement;
    return {
      link,
      state: j.state,
      since: new Date(j.since).toISOString(),
      findings: j.findings,
      healthyClosedMinutes: j.healthyClosedMinutes,
    };
  }

  /** Every link as the comparator sees it: served by GET /v1/links and kept as evidence with decisions. */
  private linkViews() {
    const failbackAfterMinutes = this.d.config.failbackAfterMinutes;
    return this.judgements.map((j, i) => ({
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
      scrub: { ...(this.probes[i] as LinkProbe).scrubber.progress, mismatches: j.observation.scrub },
    }));
  }

  private thresholds(): Record<string, number> {
    const c = this.d.config;
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
}

function stateChangeRecord(change: StateChange, by: string): NewAuditRecord {
  const detail = change.findings.map((f) => f.detail).join("; ");
  return {
    kind: "state_change",
    by,
    link: change.link,
    from: change.from,
    to: change.to,
    reason: `link ${change.link}: ${change.from} -> ${change.to}${detail ? `: ${detail}` : ""}`,
    evidence: {
      findings: change.findings,
      onset: change.onset,
      detectedAt: change.at,
      detectionMs: change.at - change.onset,
    },
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
