import { Judge, type StateChange } from "./judge.ts";
import { LINK_STATES } from "./metrics.ts";
import type { LinkProbe } from "./probe.ts";
import type { Replica } from "./replica.ts";

// Probing: every link is probed on one timer (a round waits for the slowest link, so every judgement is of a
// complete probe), judged, and its metrics published; each link is scrubbed on a timer of its own, so a link
// that does not answer never holds the others back. The leader also prunes stale heartbeat entries.

const HEARTBEAT_PRUNE_EVERY_MS = 60_000;

export class ProbeLoop {
  private readonly judge: Judge;
  private heartbeatsPrunedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly scrubTimers = new Map<LinkProbe, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly r: Replica) {
    this.judge = new Judge(r.config.links, r.config, Date.now());
  }

  /** Probes every link once and judges them; returns the state changes this probe made. */
  async probe(): Promise<StateChange[]> {
    const r = this.r;
    const started = performance.now();
    const firsts = await Promise.all(
      r.probes.map(async (probe) => ({ probe, first: await probe.progress() })),
    );
    // Values are compared for one business day on every link: the day of the most advanced watermark.
    const watermarks = firsts.filter((f) => f.first.error === null).map((f) => f.first.progress.watermark);
    const best = Math.max(0, ...watermarks);
    const date = r.clock.dateOf(best > 0 ? best : Date.now());
    const observations = await Promise.all(firsts.map(({ probe, first }) => probe.values(date, first)));
    r.metrics.probeSeconds.observe((performance.now() - started) / 1000);
    const now = Date.now();
    const { links, changes } = this.judge.step(observations, now);
    r.known.judgements = links;
    r.known.probedAt = now;
    r.known.date = date;
    this.publishLinkMetrics();
    for (const change of changes) this.onStateChange(change);
    return changes;
  }

  /** On the leader, once a minute: drops heartbeat entries of processors long gone, and non-heartbeats. */
  async pruneHeartbeats(now: number): Promise<void> {
    if (!this.r.leader.isLeader || now - this.heartbeatsPrunedAt < HEARTBEAT_PRUNE_EVERY_MS) return;
    this.heartbeatsPrunedAt = now;
    await Promise.all(
      this.r.probes.map(async (probe) => {
        const link = probe.address.id;
        try {
          const deleted = await probe.pruneHeartbeats(this.r.config.heartbeatPruneAfterMs);
          if (deleted.length === 0) return;
          this.r.metrics.heartbeatsPruned.inc({ link }, deleted.length);
          this.r.log.info({ link, members: deleted }, "pruned heartbeat entries");
        } catch (err) {
          this.r.log.warn({ link, err: (err as Error).message }, "heartbeat pruning failed");
        }
      }),
    );
  }

  /** Runs `round` every PROBE_INTERVAL (from the start of one to the start of the next) and scrubs every link. */
  start(round: () => Promise<void>): void {
    const config = this.r.config;
    const loop = async () => {
      const started = Date.now();
      await round().catch((err) => this.r.log.error({ err }, "probe round failed"));
      if (this.stopped) return;
      this.timer = setTimeout(loop, Math.max(0, config.probeIntervalMs - (Date.now() - started)));
    };
    void loop();
    for (const probe of this.r.probes) {
      const scrubLoop = async () => {
        const started = Date.now();
        await this.scrubLink(probe);
        if (this.stopped) return;
        this.scrubTimers.set(
          probe,
          setTimeout(scrubLoop, Math.max(0, config.scrubIntervalMs - (Date.now() - started))),
        );
      };
      void scrubLoop();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const timer of this.scrubTimers.values()) clearTimeout(timer);
  }

  /** One scrub round of a link (comparator/scrub.ts), apart from the probes: it never delays them. */
  private async scrubLink(probe: LinkProbe): Promise<void> {
    const before = probe.scrubber.progress.minutesChecked;
    await probe.scrubber.round();
    this.r.metrics.scrubMinutes.inc(
      { link: probe.address.id },
      probe.scrubber.progress.minutesChecked - before,
    );
  }

  private publishLinkMetrics(): void {
    const m = this.r.metrics;
    for (const j of this.r.known.judgements) {
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

  private onStateChange(change: StateChange): void {
    const { link, from, to } = change;
    const { log, metrics } = this.r;
    const detail = change.findings.map((f) => f.detail).join("; ");
    const write = to === "healthy" ? log.info.bind(log) : log.warn.bind(log);
    write(
      { link, from, to, findings: change.findings },
      `link ${link}: ${from} -> ${to}${detail ? `: ${detail}` : ""}`,
    );
    metrics.stateChanges.inc({ link, to });
    if (to === "down" || to === "lagging" || to === "diverged") {
      metrics.detection.observe({ fault: to }, (change.at - change.onset) / 1000);
      this.r.known.faultOnsets.set(link, change.onset);
    }
    this.r.events.emit("state", change);
  }
}
