import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { ReplayPlan, ReplayRequest, RequestKind, Stage } from "../k6/scenarios/types.ts";

// A day's call log (the gateway's JSON lines, one "call" line per request) made into a replay plan: the reads
// in the order they were made, and a ramping arrival rate in one-second steps, each holding as many
// requests as the recording made in the matching span, `speed` times shorter.
//
// k6's arrival-rate executors (and the Node runner, which follows them) start iteration n when the integral
// of the rate reaches n, iteration 0 at once. Were request n iteration n, the first request after a silent
// stretch would start as soon as the requests before it had, the silence cut out. So iteration 0 sends
// nothing and request n is iteration n + 1, due when the integral reaches n + 1: every request starts within
// its own second of the replay (at its j/r-th part), after a silence too. One last step of one iteration
// lets the integral reach the count of requests.

/** The routes whose calls are replayed (reads), by the kind of request the load tests know them as. */
const READS: Record<string, RequestKind> = {
  "GET /v1/metrics/:metric": "value",
  "GET /v1/metrics/:metric/top": "top",
  "GET /v1/metrics/:metric/series": "series",
  "POST /v1/query": "query",
};

/** Answers that stand for demand: served, or refused only for the caller's rate (the load is still real). */
const REPLAYED_STATUS = new Set([200, 429]);

export interface CallLogReads {
  requests: (ReplayRequest & { at: number })[];
  /** Lines not replayed, by reason: not a call, a route that is not a read, an answer that was an error… */
  skipped: Map<string, number>;
}

/** The replayable reads of call-log files (JSON lines; other lines are skipped and counted). */
export async function readCallLogs(files: string[]): Promise<CallLogReads> {
  const requests: CallLogReads["requests"] = [];
  const skipped = new Map<string, number>();
  const skip = (why: string) => skipped.set(why, (skipped.get(why) ?? 0) + 1);
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line.trim() === "") continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        skip("not JSON");
        continue;
      }
      if (entry.msg !== "call") {
        skip("not a call line");
        continue;
      }
      const kind = READS[`${entry.method} ${entry.route}`];
      if (!kind) {
        skip(`not a read: ${entry.method} ${entry.route}`);
        continue;
      }
      // The services' logger writes ISO times; pino's default (and other shippers) epoch milliseconds.
      const at = typeof entry.time === "number" ? entry.time : Date.parse(String(entry.time));
      if (typeof entry.path !== "string" || Number.isNaN(at)) {
        skip("no path or time (a call log from before paths were logged)");
        continue;
      }
      if (!REPLAYED_STATUS.has(Number(entry.status))) {
        skip(`answered ${entry.status}`);
        continue;
      }
      const body = kind === "query" ? (typeof entry.body === "string" ? entry.body : null) : null;
      if (kind === "query" && body === null) {
        skip("a POST without its body");
        continue;
      }
      requests.push({
        at,
        kind,
        method: kind === "query" ? "POST" : "GET",
        path: entry.path,
        body,
        app: String(entry.app),
      });
    }
  }
  // Several files (gateways, days) interleave by time; a stable sort keeps each file's own order on ties.
  requests.sort((a, b) => a.at - b.at);
  return { requests, skipped };
}

/** The reads' own pace, in requests per second over the span from the first to the last. */
export function recordedRate(requests: readonly { at: number }[]): number {
  const first = requests[0]?.at ?? 0;
  const last = requests.at(-1)?.at ?? 0;
  return requests.length / Math.max(1, (last - first) / 1000);
}

/** The plan for replaying `requests` `speed` times faster than they were made. */
export function replayPlan(
  from: string[],
  requests: readonly (ReplayRequest & { at: number })[],
  speed: number,
): ReplayPlan {
  if (requests.length === 0) throw new Error(`no replayable reads in ${from.join(", ")}`);
  if (!(speed > 0)) throw new Error(`speed must be above 0, not ${speed}`);
  const first = (requests[0] as { at: number }).at;
  const perSecond: number[] = [];
  for (const r of requests) {
    const second = Math.floor((r.at - first) / 1000 / speed);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
  }
  const stages: Stage[] = [];
  for (let i = 0; i <= perSecond.length; i++) {
    const n = i < perSecond.length ? (perSecond[i] ?? 0) : 1;
    // A zero-length stage jumps to the second's rate, the next holds it: a step, not a ramp.
    stages.push({ duration: "0s", target: n }, { duration: "1s", target: n });
  }
  const peak = Math.max(...perSecond.map((n) => n ?? 0));
  return {
    from,
    firstAt: new Date(first).toISOString(),
    lastAt: new Date((requests.at(-1) as { at: number }).at).toISOString(),
    speed,
    requests: requests.map(({ at: _at, ...r }) => r),
    load: {
      executor: "ramping-arrival-rate",
      startRate: perSecond[0] ?? 0,
      timeUnit: "1s",
      stages,
      preAllocatedVUs: Math.min(50, Math.max(5, Math.ceil(peak / 20))),
      maxVUs: Math.max(200, peak),
    },
  };
}
