import type { FastifyReply } from "fastify";
import { MINUTE_MS } from "../common/businessTime.ts";
import type { MetricReader, Served, ValueBasis, ValueResult } from "./metricReader.ts";
import { PerApp } from "./perApp.ts";
import { LINK_HEADER } from "./routes/served.ts";

// The final bytes of value answers, per calling application and exact request URL, so that a repeated read is
// answered from the onRequest hook right after the key check and the rate limit: no route handler, no
// validation, no serialization. Safe because the URL is the exact request that already passed validation
// once, and an entry is served only while everything its answer was made of still holds (the same business
// minute, which fixes the default date and minute and the date bounds; and MetricReader.stillServes: the
// same micro-cache entry, the no-dip guard unchanged, as complete, not stopped).
// Anything else (a switch, a new minute, a raised or stale value, a backfill) sends the read down the
// route, which answers as it always does and keeps the new bytes. Only answers that are neither stale nor
// raised are kept. Per application like every memory of reads (gateway/perApp.ts): an answer, and its
// guard, differ per application.

/** A serialized answer, as the route's serializer makes it. */
type Body = ReturnType<FastifyReply["serialize"]>;

interface CachedAnswer {
  body: Body;
  link: string;
  minute: number;
  basis: ValueBasis;
}

export class AnswerCache {
  private readonly entries: PerApp<CachedAnswer>;

  constructor(
    private readonly reader: MetricReader,
    private readonly now: () => number,
    ttlMs: number,
    max: number,
  ) {
    this.entries = new PerApp({ max, ttl: Math.max(ttlMs, 1) });
  }

  /** The answer kept for `app`'s request of `url`, if it is still what the route would answer. */
  find(app: string, url: string): CachedAnswer | undefined {
    const partition = this.entries.of(app);
    const entry = partition.get(url);
    if (entry === undefined) return undefined;
    if (entry.minute === Math.floor(this.now() / MINUTE_MS) && this.reader.stillServes(entry.basis))
      return entry;
    partition.delete(url);
    return undefined;
  }

  /**
   * Keeps the bytes of `served`, answered to `app` for `url` with its query made at `at`, if they can be
   * served again as they are.
   */
  keep(app: string, url: string, at: number, served: Served<ValueResult>, body: Body): void {
    const basis = this.reader.basisOf(app, served);
    if (basis === undefined) return;
    const minute = Math.floor(at / MINUTE_MS);
    this.entries.of(app).set(url, { body, link: served.link, minute, basis });
  }

  get size(): number {
    return this.entries.size;
  }

  sizes(): Record<string, number> {
    return this.entries.sizes();
  }
}

/** Sends a kept answer (the data routes' hook has set the routing version header, to the version in force). */
export function sendKept(reply: FastifyReply, entry: CachedAnswer): void {
  reply.header(LINK_HEADER, entry.link).type("application/json; charset=utf-8").send(entry.body);
}
