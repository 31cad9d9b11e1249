import { NS_PER_MS, parseGoDuration } from "./goDuration.ts";
import { type Consistency, HttpError, queryMetaHeaders, type RequestContext } from "./http.ts";
import type { WatchTarget } from "./store.ts";

// Blocking queries as agent/http.go parseWait and agent/consul/rpc.go blockingQuery do them: a read with
// ?index=N answers at once if its result's index is already above N, otherwise it waits until a write
// touches what it reads and the index moves above N, or until the wait (default 5m, at most 10m, plus up
// to wait/16 of jitter) runs out, and then answers with whatever is current.

export const DEFAULT_WAIT_MS = 5 * 60_000;
export const MAX_WAIT_MS = 10 * 60_000;
const JITTER_FRACTION = 16;
const MAX_UINT64 = 2n ** 64n - 1n;

export interface QueryOptions {
  minIndex: number;
  /** As given; 0 when absent. */
  waitMs: number;
  consistency: Consistency;
}

export function parseQueryOptions(query: URLSearchParams): QueryOptions {
  const stale = query.has("stale");
  const consistent = query.has("consistent");
  if (stale && consistent)
    throw new HttpError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.");
  let waitMs = 0;
  const wait = query.get("wait");
  if (wait) {
    try {
      waitMs = parseGoDuration(wait) / NS_PER_MS;
    } catch {
      throw new HttpError(400, "Invalid wait time");
    }
  }
  let minIndex = 0;
  const index = query.get("index");
  if (index) {
    if (!/^\d+$/.test(index) || BigInt(index) > MAX_UINT64) throw new HttpError(400, "Invalid index");
    minIndex = Number(index);
  }
  return { minIndex, waitMs, consistency: consistent ? "consistent" : stale ? "stale" : "leader" };
}

export function blockingTimeoutMs(waitMs: number): number {
  const base = waitMs > MAX_WAIT_MS ? MAX_WAIT_MS : waitMs <= 0 ? DEFAULT_WAIT_MS : waitMs;
  return base + Math.random() * (base / JITTER_FRACTION);
}

export interface QueryResult {
  index: number;
  /** Writes the response; gets the query meta headers to include. */
  send: (headers: Record<string, string>) => void;
}

export function blockingQuery(
  ctx: RequestContext,
  opts: QueryOptions,
  target: WatchTarget,
  run: () => QueryResult,
): void {
  const respond = (r: QueryResult) => r.send(queryMetaHeaders(r.index, opts.consistency));
  // Index 0 is reported as 1 before comparing, so that a reader of an empty store does block.
  const fresh = (r: QueryResult) => Math.max(r.index, 1) > opts.minIndex;
  const first = run();
  if (opts.minIndex === 0 || fresh(first)) {
    respond(first);
    return;
  }
  let done = false;
  const stop = () => {
    done = true;
    unwatch();
    clearTimeout(timer);
    ctx.res.off("close", onClose);
  };
  const unwatch = ctx.store.watch(target, () => {
    if (done) return;
    const r = run();
    if (!fresh(r)) return;
    stop();
    respond(r);
  });
  const timer = setTimeout(() => {
    stop();
    respond(run());
  }, blockingTimeoutMs(opts.waitMs));
  const onClose = () => {
    if (!done) stop();
  };
  ctx.res.on("close", onClose);
}
