// The shape of the scenario descriptions in this folder. The descriptions are plain JavaScript so that k6
// loads them as they are; they carry these types through JSDoc, and the Node runner imports them from here.
// Field names follow k6's scenario options, so a description's `load` is a k6 scenario as it stands.

export interface Stage {
  duration: string;
  /** Iterations per `timeUnit` to reach by the end of the stage. */
  target: number;
}

interface ArrivalRate {
  timeUnit: string;
  preAllocatedVUs: number;
  /** Callers at most; an iteration due while all are busy is dropped (k6's dropped_iterations). */
  maxVUs: number;
}

export interface ConstantArrivalRate extends ArrivalRate {
  executor: "constant-arrival-rate";
  rate: number;
  duration: string;
}

export interface RampingArrivalRate extends ArrivalRate {
  executor: "ramping-arrival-rate";
  startRate: number;
  stages: Stage[];
}

export type Load = ConstantArrivalRate | RampingArrivalRate;

export type RequestKind = "value" | "query" | "top" | "series";

export interface MixEntry {
  kind: RequestKind;
  weight: number;
}

/** Something the run does besides the load: an operator failover, or sampling the gateway's memory. */
export interface Action {
  /** Offset from the start, e.g. "20s". */
  at: string;
  /** Repeat this often until the end; absent: once. */
  every?: string;
}

export interface Scenario {
  name: string;
  description: string;
  load: Load;
  mix: MixEntry[];
  /** k6 threshold expressions by metric, e.g. { http_req_duration: ["p(99)<250"] }. */
  thresholds: Record<string, string[]>;
  /** POST /v1/failover to the first standby link (needs the comparator's address and admin token). */
  failover?: Action;
  /** Read the gateway's resident memory from its /metrics into the gateway_rss_mb trend. */
  sampleMemory?: Action;
}

/** One HTTP request of the mix, relative to the gateway's address. */
export interface PlannedRequest {
  kind: RequestKind;
  method: "GET" | "POST";
  path: string;
  body: string | null;
}

/** One read of a recorded call log, as it is replayed; `app` is the application that made it. */
export interface ReplayRequest extends PlannedRequest {
  app: string;
}

/** A call log prepared for replay (loadtest/replay/prepare.ts), the file k6's replay.js loads. */
export interface ReplayPlan {
  /** The call-log files it was read from. */
  from: string[];
  /** When the first and the last replayed read were made (ISO). */
  firstAt: string;
  lastAt: string;
  /** How many times faster than recorded the reads are replayed. */
  speed: number;
  /** The reads in the order they were made. */
  requests: ReplayRequest[];
  /** The arrival rate that starts request n when the recording made it, `speed` times faster. */
  load: RampingArrivalRate;
}

/** What the dip tracker keeps per caller. */
export interface DipTracker {
  /** The largest decrease of a cumulative value in this answer against what the caller saw before; 0: none. */
  observe(kind: RequestKind, body: unknown): number;
}

/** The parts of GET /v1/routing (comparator) that the failover action reads. */
export interface RoutingView {
  routing: { active: string; standby: string[] } | null;
}

/** The parts of GET /v1/catalog (gateway) that the dip tracker needs. */
export interface Catalog {
  metrics: { name: string; cumulative: boolean }[];
}

/** What every scenario file exports as `scenario`: its description, given the environment's knobs. */
export type ScenarioOf = (env: Record<string, string | undefined>) => Scenario;
