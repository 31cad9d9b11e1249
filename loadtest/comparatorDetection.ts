import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { trace } from "@opentelemetry/api";
import { loadConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { type BuiltComparator, buildComparator } from "../comparator/app.ts";
import type { AuditRecord } from "../comparator/audit.ts";
import { comparatorSettings } from "../comparator/config.ts";
import type { StateChange } from "../comparator/judge.ts";
import { startConsulDevServer } from "../devstack/consul/server.ts";
import { type RunningRedis, startRedis } from "../devstack/redis/launcher.ts";
import { startIdenticalFeed } from "../harness/identicalFeed.ts";
import {
  type ProcessorChild,
  spawnProcessor,
  startTestLink,
  type TestLink,
  waitFor,
} from "../harness/links.ts";

// Fault drill for the comparator at its default settings: three real links (embedded Kafka, redis-server,
// processor at its default 1 s heartbeat) fed the same events in real time, a comparator in this process, and
// a fault injected into whichever link is active: its processor killed (SIGKILL), its processor stalled
// (SIGSTOP), its Redis killed (SIGKILL), or its data made wrong (half of one partition's ad events dropped).
// For each it prints the time from the fault to the state change, from the decision to Consul acknowledging
// the routing write, and from the fault to the new routing. A drill, not a test: it reports, never fails on
// the figures. Goal: a dead or stalled link detected and routed around within 3 s.
//
//   node --import tsx loadtest/comparatorDetection.ts [--rounds 3]
//
// --rounds repeats the three faults that can be healed (kill, stop, Redis); wrong data comes last, once.

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });
const ROUNDS = Number(args.rounds);
const LINKS = ["a", "b", "c"];
const PARTITIONS = 2;
const GOAL_MS = 3_000;

interface Result {
  fault: string;
  link: string;
  state: string;
  detectMs: number;
  switchMs: number | null;
  routedMs: number | null;
  to: string | null;
}

const log = createLogger("comparator-drill").child({}, { level: "error" });
const dir = await mkdtemp(join(tmpdir(), "comparator-drill-"));
const consulServer = await startConsulDevServer({ port: 0 });
const links: TestLink[] = await Promise.all(LINKS.map((id) => startTestLink(id, PARTITIONS)));
const processors = new Map<string, ProcessorChild>();
// The processors' own defaults, except the addresses: a 1 s heartbeat is what the comparator sees in production.
const startProcessor = (link: TestLink) =>
  processors.set(link.id, spawnProcessor(link, { HEARTBEAT_INTERVAL: "1s" }));
for (const link of links) startProcessor(link);
const feed = await startIdenticalFeed(links, {
  partitions: PARTITIONS,
  startTime: Date.now(),
  speed: 1,
  tickMs: 100,
});

const config = loadConfig(comparatorSettings, {
  LINKS: LINKS.join(","),
  CONSUL_HTTP_ADDR: `127.0.0.1:${consulServer.port}`,
  COMPARATOR_PORT: "0",
  COMPARATOR_ID: "drill",
  AUDIT_FILE: join(dir, "audit.jsonl"),
});
const built: BuiltComparator = await buildComparator({
  config,
  links: links.map((l) => ({ id: l.id, kafkaBrokers: [l.kafka.bootstrap], redisUrl: l.redis.url })),
  log,
  tracer: trace.getTracer("comparator-drill"),
});
await built.listen();
const comparator = built.comparator;
await comparator.leader.start();
comparator.startProbing();

const views = () => comparator.linksView().links;
const activeLink = async () => (await comparator.routingView()).routing?.active ?? "a";
const linkOf = (id: string) => links.find((l) => l.id === id) as TestLink;

async function allHealthy(): Promise<void> {
  await waitFor("every link to be healthy", () => views().every((l) => l.state === "healthy"), 180_000);
}

function next<T>(
  event: "state" | "decision",
  accept: (value: T) => boolean,
  timeoutMs: number,
): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      comparator.events.off(event, on as never);
      resolve(null);
    }, timeoutMs);
    const on = (value: T) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      comparator.events.off(event, on as never);
      resolve(value);
    };
    comparator.events.on(event, on as never);
  });
}

async function drill(fault: string, inject: (link: string) => Promise<void> | void, timeoutMs = 30_000) {
  const link = await activeLink();
  const changed = next<StateChange>("state", (c) => c.link === link && c.to !== "healthy", timeoutMs);
  const decided = next<AuditRecord>(
    "decision",
    (r) => r.kind === "auto_failover" && r.from === link,
    timeoutMs,
  );
  const at = Date.now();
  await inject(link);
  const change = await changed;
  const decision = await decided;
  const timing = decision?.evidence.timing as { decidedAt: number; writtenAt: number } | undefined;
  const result: Result = {
    fault,
    link,
    state: change?.to ?? "not detected",
    detectMs: change ? change.at - at : Number.NaN,
    switchMs: timing ? timing.writtenAt - timing.decidedAt : null,
    routedMs: timing ? timing.writtenAt - at : null,
    to: decision?.to ?? null,
  };
  results.push(result);
  console.log(row(result));
  return link;
}

async function restartProcessor(id: string): Promise<void> {
  const old = processors.get(id);
  if (old && old.child.exitCode === null && old.child.signalCode === null) {
    old.child.kill("SIGKILL");
    await old.exited;
  }
  startProcessor(linkOf(id));
}

const results: Result[] = [];
// Redis servers started again after the "Redis killed" fault: the links' own stop() knows only the first.
const restartedRedis: RunningRedis[] = [];
const seconds = (ms: number | null) =>
  ms === null || Number.isNaN(ms) ? "-" : `${(ms / 1000).toFixed(2)} s`;
function row(r: Result): string {
  return [
    `${r.fault} (${r.link})`.padEnd(30),
    r.state.padEnd(13),
    seconds(r.detectMs).padStart(10),
    (r.switchMs === null ? "-" : `${r.switchMs} ms`).padStart(12),
    seconds(r.routedMs).padStart(12),
    r.to ? `  -> ${r.to}` : "",
  ].join(" ");
}

await allHealthy();
console.log(
  `defaults: probe ${config.probeIntervalMs} ms, heartbeat stale ${config.heartbeatStaleMs} ms, lag bound ` +
    `${config.lagBoundMs} ms, hysteresis ${config.hysteresisProbes} probes, gap window ${config.gapWindow} probes`,
);
console.log(
  `${"fault (link)".padEnd(30)} ${"state".padEnd(13)} ${"detected".padStart(10)} ${"decide→write".padStart(12)} ${"fault→routed".padStart(12)}`,
);
for (let round = 1; round <= ROUNDS; round++) {
  const killed = await drill("processor killed", async (l) => {
    (processors.get(l) as ProcessorChild).child.kill("SIGKILL");
  });
  await restartProcessor(killed);
  await allHealthy();

  const stalled = await drill("processor SIGSTOPped", (l) => {
    (processors.get(l) as ProcessorChild).child.kill("SIGSTOP");
  });
  (processors.get(stalled) as ProcessorChild).child.kill("SIGCONT");
  await allHealthy();

  const lost = await drill("Redis killed", (l) => {
    process.kill(linkOf(l).redis.pid, "SIGKILL");
  });
  const redis = linkOf(lost).redis;
  const restarted = await startRedis({ linkId: lost, dataDir: dirname(redis.logFile), port: redis.port });
  Object.assign(linkOf(lost), { redis: restarted });
  restartedRedis.push(restarted);
  await restartProcessor(lost);
  await allHealthy();
}
await drill("wrong data", (l) => feed.dropOnLink(l, 0), 180_000);

const dead = results.filter((r) => r.fault !== "wrong data");
const worst = Math.max(...dead.map((r) => r.routedMs ?? Number.POSITIVE_INFINITY));
console.log(
  `\ndead or stalled links: worst fault→routed ${seconds(worst)} over ${dead.length} faults ` +
    `(goal ${seconds(GOAL_MS)}: ${worst <= GOAL_MS ? "met" : "NOT met"})`,
);

await feed.stop();
await built.close();
for (const p of processors.values()) {
  p.child.kill("SIGCONT");
  p.child.kill("SIGKILL");
  await p.exited;
}
await Promise.all([
  ...links.map((l) => l.stop()),
  ...restartedRedis.map((r) => r.stop()),
  consulServer.close(),
]);
await rm(dir, { recursive: true, force: true });
process.exit(0);
