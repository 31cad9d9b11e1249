import type { Tracer } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import type { Logger } from "../../common/logger.ts";
import type { HealthDocument, LinkState, RoutingDocument } from "../../common/routing.ts";
import { inSpan } from "../../common/telemetry.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { LinkPool } from "./linkPool.ts";

// Every read goes to the active link first. If that link's connection is down, the read fails, or no answer
// comes within the read timeout, the same read goes to the next standby (in routing order) that the
// comparator does not report lagging, diverged or down, and the fallback is counted. The whole read runs on
// one link, so a multi-value read is always answered by a single link. An expensive read (one costing more
// than a rate-limit token) that times out is not tried on the standbys: its own size, or its caller's load,
// is the likely cause, and retrying it on each standby would spread one caller's overload to every link.

/** Standby states worth a try: the comparator judged it healthy, or has not judged it. */
const USABLE: ReadonlySet<LinkState> = new Set(["healthy", "unknown"]);

export interface LinkAnswer<T> {
  value: T;
  link: string;
  /** The link's watermark as ISO time: everything up to it is in the value. */
  asOf: string | null;
}

export interface RoutingSource {
  readonly current: RoutingDocument | null;
  readonly health: HealthDocument | null;
}

export type FailureReason = "disconnected" | "timeout" | "error";

/** No link could answer (or there is no routing yet): the caller may serve last-known values. */
export class NoLinkAnswered extends Error {
  constructor(readonly failures: { link: string; reason: FailureReason; message: string }[]) {
    super(
      failures.length === 0
        ? "no routing document yet"
        : `no link answered: ${failures.map((f) => `${f.link} ${f.message}`).join("; ")}`,
    );
    this.name = "NoLinkAnswered";
  }
}

class ReadTimeout extends Error {}

/** Whether a read may be retried on the standbys after it timed out: only a cheap one is. */
export type ReadWeight = "cheap" | "expensive";

export class LinkRouter {
  constructor(
    private readonly pool: LinkPool,
    private readonly routing: RoutingSource,
    private readonly opts: { readTimeoutMs: number; metrics: GatewayMetrics; tracer: Tracer; log: Logger },
  ) {}

  /** Links a read tries, in order: the active one, then the usable standbys. */
  candidates(doc: RoutingDocument): string[] {
    const health = this.routing.health?.links;
    const standby = doc.standby.filter((id) => {
      if (id === doc.active) return false;
      const state = health?.[id]?.state;
      return state === undefined || USABLE.has(state);
    });
    return [doc.active, ...standby];
  }

  async read<T>(op: (redis: Redis) => Promise<T>, weight: ReadWeight): Promise<LinkAnswer<T>> {
    const doc = this.routing.current;
    if (!doc) throw new NoLinkAnswered([]);
    const failures: NoLinkAnswered["failures"] = [];
    for (const link of this.candidates(doc)) {
      const connection = this.pool.get(link);
      if (!connection || !this.pool.isConnected(link)) {
        failures.push({ link, reason: "disconnected", message: "not connected" });
        continue;
      }
      try {
        const value = await inSpan(this.opts.tracer, "link.read", { link }, () =>
          withTimeout(op(connection.redis), this.opts.readTimeoutMs),
        );
        if (failures.length > 0) this.countFallback(doc.active, link, failures);
        return { value, link, asOf: this.pool.asOf(link) };
      } catch (err) {
        const timedOut = err instanceof ReadTimeout;
        failures.push({ link, reason: timedOut ? "timeout" : "error", message: (err as Error).message });
        if (timedOut && weight === "expensive") break;
      }
    }
    this.countFallback(doc.active, "none", failures);
    throw new NoLinkAnswered(failures);
  }

  private countFallback(from: string, to: string, failures: NoLinkAnswered["failures"]): void {
    const reason = failures[0]?.reason ?? "error";
    this.opts.metrics.fallbacks.inc({ from, to, reason });
    this.opts.log.debug({ from, to, failures }, "read fell back");
  }
}

function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new ReadTimeout(`no answer within ${ms}ms`)), ms);
    pending.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
