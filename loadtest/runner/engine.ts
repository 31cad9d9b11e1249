import { Agent, request } from "node:http";
import type { DipTracker, Load, PlannedRequest, RequestKind, Scenario } from "../k6/scenarios/types.ts";
import { Metrics, Trend } from "./metrics.ts";
import { mix } from "./scenarios.ts";
import { scheduleOf } from "./schedule.ts";

// The Node load generator, for where k6 is not installed, and for the drills, which also watch every answer.
// Like k6's arrival-rate executors it is an open model: iterations start when they are due whether or not
// earlier ones have finished, each on a free virtual user (a caller that sends one request at a time and
// remembers the cumulative values it saw); with every one of maxVUs busy, the iteration is dropped and
// counted. With several gateways, each caller keeps to one, and a request that could not reach it (refused,
// reset before an answer) is sent once to the next, as a load balancer in front of them would.

export interface Answer {
  /** Epoch ms when the answer (or the failure) arrived. */
  at: number;
  vu: number;
  kind: RequestKind;
  /** 0 when no HTTP answer came. */
  status: number;
  link: string | null;
  routingVersion: number | null;
  /** The parsed JSON of a 200 answer, else null. */
  body: unknown;
  error: string | null;
  stale: boolean;
  /** How far a cumulative value in this answer fell below what this caller saw before; 0: not at all. */
  dip: number;
  durationMs: number;
}

export interface LoadWindow {
  /** Seconds from the start to the end of the window. */
  endS: number;
  requests: number;
  failed: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  scenario: Scenario;
  /** Gateway base URLs. */
  targets: string[];
  apiKey: string;
  /** Names of the cumulative metrics (GET /v1/catalog). */
  cumulative: readonly string[];
  /** Instead of the scenario's load, e.g. a constant rate for as long as a drill lasts. */
  load?: Load;
  /** Iteration n's request, instead of one drawn from the scenario's mix (a replay's recorded reads); an
   * iteration without one sends nothing. */
  requestAt?: (n: number) => PlannedRequest | null;
  /** Ends the run early; what is in flight still completes. */
  signal?: AbortSignal;
  onAnswer?: (answer: Answer) => void;
  /** Length of the windows of the latency timeline. */
  windowMs?: number;
  requestTimeoutMs?: number;
  /** Where to record, when the caller records more of its own (the scenario's actions). */
  metrics?: Metrics;
}

export interface LoadResult {
  metrics: Metrics;
  startedAt: number;
  elapsedMs: number;
  vusMax: number;
  windows: LoadWindow[];
  /** What went wrong, by message: an HTTP status with the start of its body, or a connection error. */
  errors: Map<string, number>;
}

interface Vu {
  id: number;
  tracker: DipTracker;
  target: number;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const TICK_MS = 2;
/** Errors that mean the request never reached a server: safe to send elsewhere. */
const UNREACHED = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ECONNABORTED"]);

class RequestFailed extends Error {
  constructor(
    message: string,
    readonly unreached: boolean,
  ) {
    super(message);
  }
}

function send(target: string, agent: Agent, apiKey: string, req: PlannedRequest, timeoutMs: number) {
  return new Promise<Reply>((resolve, reject) => {
    const headers: Record<string, string | number> = { "x-api-key": apiKey };
    if (req.body !== null) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(req.body);
    }
    const r = request(`${target}${req.path}`, { method: req.method, agent, headers, timeout: timeoutMs });
    let answered = false;
    r.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", (err) => reject(new RequestFailed(err.message, false)));
    });
    r.on("timeout", () => r.destroy(new RequestFailed(`no answer within ${timeoutMs} ms`, false)));
    r.on("error", (err: NodeJS.ErrnoException) => {
      if (err instanceof RequestFailed) reject(err);
      else reject(new RequestFailed(err.message, !answered && UNREACHED.has(err.code ?? "")));
    });
    r.end(req.body ?? undefined);
  });
}

/** Runs the load to its end (or until `signal` aborts) and resolves once every request has finished. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const load = o.load ?? o.scenario.load;
  const schedule = scheduleOf(load);
  const timeoutMs = o.requestTimeoutMs ?? 10_000;
  const windowMs = o.windowMs ?? 10_000;
  const agents = o.targets.map(() => new Agent({ keepAlive: true }));
  const metrics = o.metrics ?? new Metrics();
  const windows: LoadWindow[] = [];
  const errors = new Map<string, number>();
  let window = { trend: new Trend(), failed: 0 };
  const idle: Vu[] = [];
  let created = 0;
  let inFlight = 0;
  let allDone: (() => void) | null = null;

  const newVu = (): Vu => {
    created += 1;
    return {
      id: created,
      tracker: mix.createDipTracker(o.cumulative),
      target: (created - 1) % o.targets.length,
    };
  };
  for (let i = 0; i < Math.min(load.preAllocatedVUs, load.maxVUs); i++) idle.push(newVu());

  const attempt = (vu: Vu, req: PlannedRequest) =>
    send(o.targets[vu.target] as string, agents[vu.target] as Agent, o.apiKey, req, timeoutMs);

  const release = (vu: Vu) => {
    idle.push(vu);
    inFlight -= 1;
    if (inFlight === 0) allDone?.();
  };

  const iterate = async (vu: Vu, n: number) => {
    const req = o.requestAt ? o.requestAt(n) : mix.nextRequest(o.scenario.mix);
    if (req === null) return release(vu);
    const t0 = performance.now();
    let reply: Reply | null = null;
    let error: string | null = null;
    try {
      try {
        reply = await attempt(vu, req);
      } catch (err) {
        if (!(err instanceof RequestFailed && err.unreached && o.targets.length > 1)) throw err;
        vu.target = (vu.target + 1) % o.targets.length;
        metrics.retriedRequests.add();
        reply = await attempt(vu, req);
      }
    } catch (err) {
      error = (err as Error).message;
    }
    const durationMs = performance.now() - t0;
    const status = reply?.status ?? 0;
    let body: unknown = null;
    let stale = false;
    let dip = 0;
    if (reply && status === 200) {
      try {
        body = JSON.parse(reply.text);
        stale = (body as { stale?: unknown }).stale === true;
        dip = vu.tracker.observe(req.kind, body);
      } catch (err) {
        error = `unreadable answer: ${(err as Error).message}`;
      }
    } else if (reply) error = `${status} ${reply.text.slice(0, 200)}`;
    const failed = status === 0 || status >= 400 || error !== null;
    metrics.httpReqs.add();
    metrics.iterations.add();
    metrics.httpReqDuration.add(durationMs);
    metrics.durationOf(req.kind).add(durationMs);
    metrics.httpReqFailed.add(failed);
    window.trend.add(durationMs);
    if (failed) window.failed += 1;
    if (error !== null) errors.set(error, (errors.get(error) ?? 0) + 1);
    if (stale) metrics.staleAnswers.add();
    if (dip > 0) {
      metrics.cumulativeDips.add();
      metrics.cumulativeDip.add(dip);
    }
    const header = (name: string) => {
      const v = reply?.headers[name];
      return typeof v === "string" ? v : null;
    };
    const version = header("x-oneservice-routing-version");
    o.onAnswer?.({
      at: Date.now(),
      vu: vu.id,
      kind: req.kind,
      status,
      link: header("x-oneservice-link"),
      routingVersion: version === null ? null : Number(version),
      body,
      error,
      stale,
      dip,
      durationMs,
    });
    release(vu);
  };

  const startedAt = Date.now();
  const started = performance.now();
  let launched = 0;
  let windowEnd = windowMs;
  const closeWindow = (endMs: number) => {
    const t = window.trend;
    windows.push({
      endS: endMs / 1000,
      requests: t.count,
      failed: window.failed,
      p50: t.count ? t.percentile(50) : 0,
      p99: t.count ? t.percentile(99) : 0,
    });
    window = { trend: new Trend(), failed: 0 };
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      if (elapsed >= windowEnd) {
        closeWindow(windowEnd);
        windowEnd += windowMs;
      }
      if (!o.signal?.aborted)
        for (const due = schedule.dueBy(elapsed); launched < due; launched++) {
          const vu = idle.pop() ?? (created < load.maxVUs ? newVu() : undefined);
          if (!vu) {
            metrics.droppedIterations.add();
            continue;
          }
          metrics.scheduleLag.add(Math.max(0, elapsed - schedule.dueAt(launched)));
          inFlight += 1;
          void iterate(vu, launched);
        }
      if (o.signal?.aborted || elapsed >= schedule.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  if (inFlight > 0) await new Promise<void>((resolve) => (allDone = resolve));
  const elapsedMs = performance.now() - started;
  if (window.trend.count > 0) closeWindow(elapsedMs);
  for (const agent of agents) agent.destroy();
  return { metrics, startedAt, elapsedMs, vusMax: created, windows, errors };
}
