import { EventEmitter } from "node:events";
import type { Tracer } from "@opentelemetry/api";
import type Consul from "consul";
import { BusinessClock } from "../common/businessTime.ts";
import type { LinkAddress } from "../common/links.ts";
import type { Logger } from "../common/logger.ts";
import { CONSUL_KEYS } from "../common/routing.ts";
import { SerialQueue } from "../common/serialQueue.ts";
import { AuditLog } from "./audit.ts";
import { AutoFailover } from "./autoFailover.ts";
import type { ComparatorConfig } from "./config.ts";
import { GapHistory } from "./gapHistory.ts";
import { unknownJudgement } from "./judge.ts";
import { LeaderLock } from "./leaderLock.ts";
import type { ComparatorMetrics } from "./metrics.ts";
import { type OperatorOp, type OperatorOutcome, type OperatorRequest, operate } from "./operatorCommands.ts";
import { LinkProbe } from "./probe.ts";
import { ProbeLoop } from "./probeLoop.ts";
import type { ComparatorEvents, Replica } from "./replica.ts";
import { RoutingStore } from "./routingWriter.ts";
import { Scrubber } from "./scrub.ts";
import { linksView, routingView } from "./views.ts";

// One comparator replica: builds what its jobs share (replica.ts) and runs the jobs in one queue. A probe
// round (probeLoop.ts) is followed by what the routing needs (autoFailover.ts); operator commands
// (operatorCommands.ts) run in the same queue, so no two routing writes of this replica ever interleave,
// and every decision is made on the judgement of a complete probe.

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

export class Comparator {
  readonly events: ComparatorEvents = new EventEmitter();
  readonly leader: LeaderLock;
  readonly audit: AuditLog;
  private readonly r: Replica;
  private readonly probeLoop: ProbeLoop;
  private readonly autoFailover: AutoFailover;
  private readonly gaps = new GapHistory();
  private readonly queue = new SerialQueue();

  constructor(d: ComparatorDeps) {
    const c = d.config;
    const now = Date.now();
    const clock = new BusinessClock(c.timeZone);
    const probes = d.links.map((l) => {
      const scrubber = new Scrubber(
        l.redisUrl,
        clock,
        { minutesPerRound: c.scrubMinutesPerRound, timeoutMs: Math.max(c.probeTimeoutMs, 5_000) },
        (m) => {
          d.metrics.scrubMismatches.inc({ link: l.id, check: m.check });
          d.log.warn({ link: l.id, mismatch: m }, `link ${l.id}: scrub found ${m.check}`);
        },
      );
      return new LinkProbe(l, clock, c.probeTimeoutMs, Math.max(2_000, 4 * c.probeIntervalMs), scrubber);
    });
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
        this.autoFailover.leaderChanged();
      },
    });
    this.r = {
      config: c,
      id: c.comparatorId,
      log: d.log,
      metrics: d.metrics,
      tracer: d.tracer,
      clock,
      probes,
      leader: this.leader,
      audit: this.audit,
      routingStore: new RoutingStore(d.consul, c.links),
      events: this.events,
      known: {
        judgements: c.links.map((link) => unknownJudgement(link, now)),
        probedAt: 0,
        date: "",
        faultOnsets: new Map(),
        routing: null,
        acks: [],
        acksReadAt: 0,
        consulOkAt: 0,
        lastGoodVersion: 0,
      },
    };
    this.probeLoop = new ProbeLoop(this.r);
    this.autoFailover = new AutoFailover(this.r);
  }

  get id(): string {
    return this.r.id;
  }

  /** One probe of every link, its judgement and, on the leader, its decision. */
  tick(): Promise<void> {
    return this.queue.run(async () => {
      const changes = await this.probeLoop.probe();
      const now = this.r.known.probedAt;
      this.gaps.sample(now, this.r.known.judgements);
      await this.autoFailover.afterProbe(changes);
      await this.probeLoop.pruneHeartbeats(now);
    });
  }

  startProbing(): void {
    this.probeLoop.start(() => this.tick());
  }

  failover(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.command("failover", req);
  }

  pin(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.command("pin", req);
  }

  unpin(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.command("unpin", req);
  }

  /** Replaces an unusable routing document (the only way to repair one short of writing Consul by hand). */
  replaceRouting(req: OperatorRequest): Promise<OperatorOutcome> {
    return this.command("replace", req);
  }

  /** Null when ready, else why not. */
  readiness(): string | null {
    if (this.r.known.probedAt === 0) return "no probe completed yet";
    if (Date.now() - this.r.known.consulOkAt > Math.max(5_000, 10 * this.r.config.probeIntervalMs))
      return "Consul has not answered recently";
    return null;
  }

  async close(): Promise<void> {
    this.probeLoop.stop();
    await this.queue.idle();
    await this.leader.stop();
    await Promise.all(this.r.probes.map((p) => p.close()));
  }

  linksView() {
    return linksView(this.r);
  }

  routingView() {
    return routingView(this.r);
  }

  gapsView(metric: string) {
    return this.gaps.view(metric);
  }

  private command(op: OperatorOp, req: OperatorRequest): Promise<OperatorOutcome> {
    return this.queue.run(() => operate(this.r, op, req));
  }
}
