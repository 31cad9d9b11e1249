import { join } from "node:path";
import type { StackFile } from "../../devstack/supervisor/stackFile.ts";
import type { Scenario } from "../k6/scenarios/types.ts";
import { type Answer, runLoad } from "../runner/engine.ts";
import { saveChart } from "./chart.ts";
import { auditSince, linksView, type RoutingView, routingView, waitSteady } from "./comparatorView.ts";
import type { Fault } from "./faults.ts";
import { sampleLinks, servedGmv, type Timeline } from "./timeline.ts";

// One fault drill under load: from a steady stack (every link healthy, every gateway on the newest routing),
// the failover scenario's request mix at a constant rate through every gateway, the fault injected into the
// active link (or the shared part), the switch awaited, the fault repaired, the load stopped. Its figures
// come from the comparator's audit trail (detection, Consul write), the gateways' acknowledgements, and
// what the callers saw: failed requests, and the largest drop of a cumulative value any caller saw.

export interface DrillTarget {
  read(): Promise<StackFile>;
  comparatorUrl: string;
  /** Every gateway the load goes through. */
  gateways: string[];
  apiKey: string;
  /** Names of the cumulative metrics (GET /v1/catalog). */
  cumulative: readonly string[];
  /** The failover scenario: its request mix is the drills' load. */
  scenario: Scenario;
}

export interface DrillOptions {
  /** Requests per second, over all gateways. */
  rate: number;
  /** Load before the fault. */
  baselineMs: number;
  /** Load after the switch (or after the part is back), before the repair. */
  holdMs: number;
  /** Load after the repair. */
  afterMs: number;
  steadyTimeoutMs: number;
  switchTimeoutMs: number;
  /** Where the chart goes (HTML, and PNG with `png`); null: no chart. */
  outDir: string | null;
  png: boolean;
}

export interface DrillReport {
  fault: string;
  title: string;
  /** The active link when the fault was injected: the one broken, unless the fault is of a shared part. */
  link: string;
  /** Whether the fault should move the routing (a link's part) or not (a shared part: Consul, a gateway). */
  expectsSwitch: boolean;
  /** What the comparator judged the link, or null. */
  judged: string | null;
  /** The active link after the drill's switch; null when it did not move. */
  switchedTo: string | null;
  /** Fault → the comparator judged the link unhealthy. */
  detectMs: number | null;
  /** Fault → the new routing written to Consul. */
  writeMs: number | null;
  /** The comparator's decision → its Consul write. */
  decideToWriteMs: number | null;
  /** Fault → every gateway acknowledged the new routing (without a switch: the current one, again). */
  ackedMs: number | null;
  /** Fault → the first answer served under the new routing (its routing-version header). */
  servedMs: number | null;
  /** Without a switch: fault → the restarted part serves again. */
  backMs: number | null;
  gateways: number;
  requests: number;
  failed: number;
  /** Requests a gateway refused and the load balancing sent to the other one. */
  retried: number;
  maxDip: number;
  dips: number;
  stale: number;
  p99Ms: number;
  errors: string[];
  chart: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitRouting(
  comparatorUrl: string,
  accept: (view: RoutingView) => boolean,
  timeoutMs: number,
): Promise<RoutingView | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const view = await routingView(comparatorUrl).catch(() => null);
    if (view && accept(view)) return view;
    await sleep(100);
  }
  return null;
}

export async function runDrill(target: DrillTarget, fault: Fault, o: DrillOptions): Promise<DrillReport> {
  const { comparatorUrl } = target;
  const gateways = target.gateways.length;
  const steady = await waitSteady(comparatorUrl, gateways, o.steadyTimeoutMs);
  const from = steady.routing?.active as string;
  const version = steady.routing?.version as number;
  const stack = await target.read();
  const { date } = await linksView(comparatorUrl);
  const timeline: Timeline = { links: stack.links.map((l) => l.id), samples: [], served: [], events: [] };
  const event = (label: string, t = Date.now()) => timeline.events.push({ t, label });
  const stopSampling = sampleLinks(stack, date, timeline.samples);

  let faultAt = Number.POSITIVE_INFINITY;
  let servedAt: number | null = null;
  const onAnswer = (a: Answer) => {
    const point = servedGmv(a);
    if (point) timeline.served.push(point);
    if (servedAt === null && a.at >= faultAt && (a.routingVersion ?? 0) > version) servedAt = a.at;
  };
  const stop = new AbortController();
  const load = runLoad({
    scenario: target.scenario,
    load: {
      executor: "constant-arrival-rate",
      rate: o.rate,
      timeUnit: "1s",
      duration: "24h",
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
    targets: target.gateways,
    apiKey: target.apiKey,
    cumulative: target.cumulative,
    signal: stop.signal,
    onAnswer,
  });

  let switchedTo: string | null = null;
  let ackedAt: number | null = null;
  let backAt: number | null = null;
  try {
    await sleep(o.baselineMs);
    faultAt = Date.now();
    event(`fault: ${fault.title}${fault.switches ? ` on link ${from}` : ""}`, faultAt);
    const repair = await fault.inject({ stack: await target.read(), link: from, date });
    const allAcked = (v: RoutingView) =>
      v.gateways.total >= gateways && v.gateways.onNewest === v.gateways.total;
    if (fault.switches) {
      const moved = await waitRouting(
        comparatorUrl,
        (v) => v.routing !== null && v.routing.version > version && v.routing.active !== from,
        o.switchTimeoutMs,
      );
      if (moved?.routing) {
        switchedTo = moved.routing.active;
        const newVersion = moved.routing.version;
        const acked = await waitRouting(
          comparatorUrl,
          (v) => v.routing?.version === newVersion && allAcked(v),
          o.switchTimeoutMs,
        );
        const applied = acked?.gateways.acks.map((a) => Date.parse(a.appliedAt)) ?? [];
        if (applied.length > 0) ackedAt = Math.max(...applied);
      }
    } else if (fault.back) {
      await fault.back({ stack, link: from, date }, target.read);
      backAt = Date.now();
      event("back", backAt);
      if (await waitRouting(comparatorUrl, allAcked, o.switchTimeoutMs)) ackedAt = Date.now();
    }
    await sleep(o.holdMs);
    if (repair) {
      event("repaired");
      await repair();
    }
    await sleep(o.afterMs);
  } finally {
    stop.abort();
    stopSampling();
  }
  const result = await load;

  const audit = await auditSince(comparatorUrl, faultAt - 2_000);
  const change = audit.find(
    (r) => r.kind === "state_change" && r.link === from && r.to !== "healthy" && r.to !== "unknown",
  );
  const failover = audit.find((r) => r.kind === "auto_failover" && r.from === from);
  const timing = failover?.evidence.timing as { decidedAt: number; writtenAt: number } | undefined;
  const detectedAt = (change?.evidence.detectedAt as number | undefined) ?? null;
  if (detectedAt !== null) event(`detected: ${change?.to}`, detectedAt);
  if (timing) event(`Consul write: ${from} → ${failover?.to}`, timing.writtenAt);
  if (ackedAt !== null) event("all gateways acked", ackedAt);
  const since = (t: number | null) => (t === null ? null : t - faultAt);

  let chart: string | null = null;
  if (o.outDir) {
    const base = join(o.outDir, `drill-${fault.name}`);
    const title = fault.switches
      ? `${fault.title} on link ${from}${switchedTo ? `, switched to ${switchedTo}` : ", no switch"}`
      : `${fault.title}, link ${from} active`;
    await saveChart(timeline, title, `${base}.html`, o.png ? `${base}.png` : null);
    chart = o.png ? `${base}.png` : `${base}.html`;
  }
  const m = result.metrics;
  return {
    fault: fault.name,
    title: fault.title,
    link: from,
    expectsSwitch: fault.switches,
    judged: (change?.to as string | undefined) ?? null,
    switchedTo,
    detectMs: since(detectedAt),
    writeMs: since(timing?.writtenAt ?? null),
    decideToWriteMs: timing ? timing.writtenAt - timing.decidedAt : null,
    ackedMs: since(ackedAt),
    servedMs: since(servedAt),
    backMs: since(backAt),
    gateways,
    requests: m.httpReqs.count,
    failed: m.httpReqFailed.hits,
    retried: m.retriedRequests.count,
    maxDip: m.cumulativeDips.count === 0 ? 0 : m.cumulativeDip.max,
    dips: m.cumulativeDips.count,
    stale: m.staleAnswers.count,
    p99Ms: m.httpReqDuration.count === 0 ? 0 : m.httpReqDuration.percentile(99),
    errors: [...result.errors].map(([message, n]) => `${n}× ${message}`).slice(0, 5),
    chart,
  };
}
