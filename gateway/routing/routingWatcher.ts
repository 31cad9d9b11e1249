import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type Consul from "consul";
import type { Logger } from "../../common/logger.ts";
import {
  CONSUL_KEYS,
  type HealthDocument,
  healthProblem,
  initialRouting,
  parseDocument,
  type RoutingDocument,
  routingProblem,
} from "../../common/routing.ts";
import { SerialQueue } from "../../common/serialQueue.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { GatewayAcknowledger } from "./gatewayAck.ts";

// Which link serves reads. The routing document comes from Consul through a blocking watch and is applied
// the moment a new one arrives; an invalid one, or one with a lower version than the one in force, is ignored
// (logged, counted) and the last good one stays in force, as it does while Consul is unreachable. A watch
// that the client library gives up on (a 400, an answer without X-Consul-Index) is started again after the
// retry delay, and Consul counts as reachable only while every watch's latest call succeeded. Every applied document is also written to a local file,
// so a gateway restarted during a Consul outage routes as it did before. The comparator's per-link health
// is watched the same way: it says which standby to try when the active link fails a read.

export type RoutingSource = "consul" | "file" | "initial";

export interface RoutingWatcherOptions {
  consul: Consul;
  links: readonly string[];
  gatewayId: string;
  cacheFile: string;
  log: Logger;
  metrics: GatewayMetrics;
  /** Wake-up delay bounds of a failing watch: doubles from the factor up to the max. */
  retry?: { factorMs: number; maxMs: number };
}

export interface RoutingStatus {
  document: RoutingDocument | null;
  source: RoutingSource | null;
  appliedAt: string | null;
  ackedVersion: number | null;
  gatewayId: string;
  consulReachable: boolean;
  lastConsulError: string | null;
  health: HealthDocument | null;
}

type Listener = (doc: RoutingDocument, previous: RoutingDocument | null) => void;

interface KvItem {
  Value: string | null;
}

interface ConsulWatch {
  on(event: "change", fn: (data: KvItem | undefined) => void): void;
  on(event: "error", fn: (err: Error) => void): void;
  on(event: "end", fn: () => void): void;
  end(): void;
  updateTime(): number | undefined;
}

/** One key's watch, across the client watches that serve it one after another. */
interface KeyWatch {
  current: ConsulWatch;
  /** When this key's latest failure happened (0 = never): reachable again once an answer is newer. */
  errorAt: number;
  /** When a client watch of this key last had an answer, kept across restarts. */
  answeredAt: number;
  restart: NodeJS.Timeout | undefined;
}

export class RoutingWatcher {
  private doc: RoutingDocument | null = null;
  private source: RoutingSource | null = null;
  private appliedAt: string | null = null;
  private healthDoc: HealthDocument | null = null;
  private routingKeyPresent = false;
  private readonly listeners: Listener[] = [];
  private readonly watches: KeyWatch[] = [];
  private stopped = false;
  private readonly acknowledger: GatewayAcknowledger;
  private lastConsulError: { at: number; message: string } | null = null;
  private readonly saving = new SerialQueue();

  constructor(private readonly opts: RoutingWatcherOptions) {
    this.acknowledger = new GatewayAcknowledger(opts.consul, opts.gatewayId, opts.log, opts.metrics);
    opts.metrics.probeConsulWith(() => this.consulReachable());
  }

  /** The routing document in force, or null before any is known. */
  get current(): RoutingDocument | null {
    return this.doc;
  }

  get health(): HealthDocument | null {
    return this.healthDoc;
  }

  onApply(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Loads the local copy, then starts watching Consul; resolves before Consul has answered. */
  async start(): Promise<void> {
    const saved = await this.readCopy();
    if (saved) this.apply(saved, "file");
    this.watches.push(
      this.watch(CONSUL_KEYS.routing, (item) => this.onRouting(item)),
      this.watch(CONSUL_KEYS.health, (item) => this.onHealth(item)),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watches) {
      clearTimeout(w.restart);
      w.current.end();
    }
    await this.acknowledger.release();
    await this.saving.idle();
  }

  status(): RoutingStatus {
    return {
      document: this.doc,
      source: this.source,
      appliedAt: this.appliedAt,
      ackedVersion: this.acknowledger.ackedVersion,
      gatewayId: this.opts.gatewayId,
      consulReachable: this.consulReachable(),
      lastConsulError: this.lastConsulError?.message ?? null,
      health: this.healthDoc,
    };
  }

  // Reachable while every watch's latest call was answered (a blocking call that is waiting was): a watch
  // that keeps failing, whatever the other calls do, means this gateway no longer hears of routing changes.
  private consulReachable(): boolean {
    return (
      this.watches.length > 0 &&
      this.watches.every((w) => {
        const answered = Math.max(w.answeredAt, w.current.updateTime() ?? 0);
        return answered > 0 && answered > w.errorAt;
      })
    );
  }

  private watch(key: string, onChange: (item: KvItem | undefined) => void): KeyWatch {
    const state: KeyWatch = {
      current: undefined as unknown as ConsulWatch,
      errorAt: 0,
      answeredAt: 0,
      restart: undefined,
    };
    const retry = this.opts.retry ?? { factorMs: 100, maxMs: 2_000 };
    const operation = `watch_${key === CONSUL_KEYS.routing ? "routing" : "health"}`;
    const begin = () => {
      const { consul } = this.opts;
      const watch = consul.watch({
        method: consul.kv.get,
        options: { key, wait: "30s" },
        backoffFactor: retry.factorMs,
        backoffMax: retry.maxMs,
      }) as unknown as ConsulWatch;
      state.current = watch;
      watch.on("change", onChange);
      watch.on("error", (err) => {
        const first = this.consulReachable();
        // The answer that carried the error (no X-Consul-Index) is not an answer.
        state.errorAt = Math.max(Date.now(), watch.updateTime() ?? 0);
        this.lastConsulError = { at: state.errorAt, message: `${key}: ${err.message}` };
        this.opts.metrics.consulErrors.inc({ operation });
        if (first)
          this.opts.log.warn({ key, err: err.message }, "Consul unreachable; the routing in force stays");
      });
      // The client ends a watch for good on a 400 or an answer it cannot block on; this one starts again.
      watch.on("end", () => {
        state.answeredAt = Math.max(state.answeredAt, watch.updateTime() ?? 0);
        if (this.stopped) return;
        this.opts.metrics.consulErrors.inc({ operation: `${operation}_restart` });
        state.restart = setTimeout(begin, retry.maxMs);
        state.restart.unref();
      });
    };
    begin();
    return state;
  }

  private onRouting(item: KvItem | undefined): void {
    if (!item?.Value) {
      // The watch wakes on any KV write while the key is absent (the index is the store's): warn once.
      if (this.routingKeyPresent) {
        this.routingKeyPresent = false;
        this.opts.log.warn(
          { version: this.doc?.version },
          "routing document deleted in Consul; keeping the one in force",
        );
      }
      if (!this.doc) this.apply(initialRouting(this.opts.links, this.opts.gatewayId), "initial");
      return;
    }
    this.routingKeyPresent = true;
    const doc = this.parse(item.Value);
    if (!doc) return;
    const applied = this.apply(doc, "consul");
    this.opts.metrics.consulDocuments.inc({ key: "routing", result: applied ? "applied" : "unchanged" });
  }

  private parse(raw: string): RoutingDocument | null {
    const parsed = parseDocument<RoutingDocument>(raw, (d) => routingProblem(d, this.opts.links));
    const inForce = this.doc;
    let problem = parsed.problem;
    // Versions only grow: a lower one is an old document written back (a restored backup, a stale tool),
    // and the same one from Consul again with other content is a writer that skipped the version rule.
    if (parsed.doc && inForce) {
      if (parsed.doc.version < inForce.version)
        problem = `version ${parsed.doc.version} is lower than version ${inForce.version} in force`;
      else if (
        this.source === "consul" &&
        parsed.doc.version === inForce.version &&
        !sameDocument(normalize(parsed.doc), inForce)
      )
        problem = `version ${inForce.version} again with other content`;
    }
    if (parsed.doc && problem === null) return normalize(parsed.doc);
    this.opts.metrics.consulDocuments.inc({ key: "routing", result: parsed.doc ? "older" : "invalid" });
    this.opts.log.error(
      { problem, value: raw.slice(0, 500), kept: this.doc?.version ?? null },
      "INVALID routing document in Consul ignored; the last good one stays in force",
    );
    return null;
  }

  /** Puts `doc` in force unless it is the one already in force; says whether it did. */
  private apply(doc: RoutingDocument, source: RoutingSource): boolean {
    const previous = this.doc;
    if (previous && sameDocument(previous, doc)) {
      // Consul confirming the local copy: nothing changes but where the document in force comes from.
      if (this.source === "file") this.source = source;
      return false;
    }
    this.doc = doc;
    this.source = source;
    this.appliedAt = new Date().toISOString();
    const { metrics, log } = this.opts;
    metrics.routingVersion.set(doc.version);
    for (const link of this.opts.links) metrics.routingActive.set({ link }, link === doc.active ? 1 : 0);
    if (previous && previous.active !== doc.active) metrics.routingSwitches.inc();
    for (const listener of this.listeners) listener(doc, previous);
    log.info(
      {
        version: doc.version,
        active: doc.active,
        standby: doc.standby,
        from: previous?.active ?? null,
        source,
      },
      "routing applied",
    );
    if (source !== "file") void this.saving.run(() => this.writeCopy(doc));
    void this.acknowledger.ack(doc, this.appliedAt);
    return true;
  }

  private onHealth(item: KvItem | undefined): void {
    if (!item?.Value) {
      this.healthDoc = null;
      return;
    }
    const { doc, problem } = parseDocument<HealthDocument>(item.Value, (d) =>
      healthProblem(d, this.opts.links),
    );
    if (doc === null) {
      this.opts.metrics.consulDocuments.inc({ key: "health", result: "invalid" });
      this.opts.log.error({ problem }, "invalid health document in Consul ignored");
      return;
    }
    const changed = JSON.stringify(doc) !== JSON.stringify(this.healthDoc);
    this.healthDoc = doc;
    this.opts.metrics.consulDocuments.inc({ key: "health", result: changed ? "applied" : "unchanged" });
  }

  private async readCopy(): Promise<RoutingDocument | null> {
    let raw: string;
    try {
      raw = await readFile(this.opts.cacheFile, "utf8");
    } catch {
      return null;
    }
    const { doc, problem } = parseDocument<RoutingDocument>(raw, (d) => routingProblem(d, this.opts.links));
    if (doc) return normalize(doc);
    this.opts.log.warn({ file: this.opts.cacheFile, problem }, "local routing copy ignored");
    return null;
  }

  private async writeCopy(doc: RoutingDocument): Promise<void> {
    const file = this.opts.cacheFile;
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(`${file}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
      await rename(`${file}.tmp`, file);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, file }, "could not keep the local routing copy");
    }
  }
}

/** Only the contract's fields, in one order: what is compared, kept on disk and served. */
function normalize(d: RoutingDocument): RoutingDocument {
  return {
    version: d.version,
    active: d.active,
    standby: [...d.standby],
    mode: d.mode,
    reason: d.reason,
    changedAt: d.changedAt,
    changedBy: d.changedBy,
  };
}

function sameDocument(a: RoutingDocument, b: RoutingDocument): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
