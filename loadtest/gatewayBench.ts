import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, createServer, get } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Consul from "consul";
import Fastify from "fastify";
import * as hdr from "hdr-histogram-js";
import { Redis } from "ioredis";
import { BusinessClock } from "../common/businessTime.ts";
import { keys } from "../common/keys.ts";
import { CONSUL_KEYS, type RoutingDocument } from "../common/routing.ts";
import { startConsulDevServer } from "../devstack/consul/server.ts";
import { type RunningRedis, startRedis } from "../devstack/redis/launcher.ts";
import { paramSchemas } from "../gateway/params.ts";
import { valueProperties } from "../gateway/routes/metrics.ts";
import { servedProperties } from "../gateway/routes/served.ts";
import { printProfileTop } from "./cpuProfile.ts";
import { load, type Measured, median, type Server, startReference, stopChild } from "./httpBench.ts";
import { cpuMicros } from "./processCpu.ts";

// What the gateway costs over Fastify itself, and how fast a routing change reaches callers.
//
//   node --import tsx loadtest/gatewayBench.ts [--duration 5] [--rounds 4] [--connections 20] [--switches 200]
//                                              [--profile]   (a CPU profile of the cached gateway, its top printed)
//
// Each server runs as its own process (as deployed), all started together, and autocannon drives them from
// this process over keep-alive connections: after a warm-up of each, one at a time in turns, `rounds` times
// (each round in a rotated order), so that a change of the shared machine's background load touches every
// server alike. A figure is the median of its rounds, a ratio the median of the rounds' ratios.
//   bare      a Fastify route returning a constant, no logger          (the ceiling)
//   shaped    Fastify with the gateway's route shape and no work: GET /v1/metrics/:metric with the gateway's query,
//             params and response schemas, one onRequest and one onResponse hook that only call done, the answer a
//             constant of the same fields (what Fastify itself costs for such a route, before any of ours)
//   cached    GET /v1/metrics/gmv through the whole gateway: API key, rate limit, call log to a file,
//             metrics, micro-cache hit (CACHE_TTL 250ms), no-dip guard, response schema
//   uncached  the same with CACHE_TTL=0: every request reads the active link's Redis
//   traced    cached, with OpenTelemetry on: OTLP/HTTP to a local sink that accepts and drops,
//             OTEL_TRACES_SAMPLER=traceidratio at 0.1
// then the cached gateway again at half its maximum rate (latency), and routing switches: the time from
// the Consul write to the first response served by the new link, polling one request at a time.
// Each run also reports the server process's CPU time per request, which a busy shared machine disturbs
// less than req/s. Goals: cached >= 0.8x bare; p99 < 10 ms at half the maximum rate; tracing costs <= 15% of throughput;
// switch p99 <= 100 ms. A benchmark, not a test: it reports, it never fails on the figures.

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "4" },
    connections: { type: "string", default: "20" },
    switches: { type: "string", default: "200" },
    serve: { type: "string" },
    profile: { type: "boolean", default: false },
  },
});
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const SWITCHES = Number(args.switches);
const API_KEY = "bench-key-0001";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

const VALUE_ANSWER = {
  metric: "gmv",
  dim: "all",
  key: "all",
  window: "day",
  date: "2026-11-22",
  value: 1_000_000,
  asOf: "2026-11-22T00:00:00.000Z",
  link: "a",
  stale: false,
};

/** The reference servers, each run as its own process like the gateway: see the list at the top. */
async function serveReference(kind: string): Promise<void> {
  const app = Fastify();
  if (kind === "bare") app.get("/", async () => ({ ok: true }));
  else {
    // The gateway's own parameter and answer schemas, so validation and serialization cost what they do there.
    const { metric, ...query } = paramSchemas;
    app.addHook("onRequest", (_req, _reply, done) => done());
    app.addHook("onResponse", (_req, _reply, done) => done());
    app.get(
      "/v1/metrics/:metric",
      {
        schema: {
          params: {
            type: "object",
            properties: { metric },
            required: ["metric"],
            additionalProperties: false,
          },
          querystring: { type: "object", properties: query, additionalProperties: false },
          response: {
            200: {
              type: "object",
              properties: { ...valueProperties, ...servedProperties },
              required: Object.keys(VALUE_ANSWER),
            },
          },
        },
      },
      async () => VALUE_ANSWER,
    );
  }
  console.log(await app.listen({ port: 0, host: "127.0.0.1" }));
  process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
}

/** gateway/main.ts as its own process, logging to a file (as it would to a log shipper), ready when /readyz says so. */
async function startGateway(
  name: string,
  dir: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<Server> {
  const logFile = join(dir, `${name}.log`);
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(ROOT, "gateway/main.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      GATEWAY_PORT: "0",
      GATEWAY_ID: `bench-${name}`,
      ROUTING_CACHE_FILE: join(dir, `${name}-routing.json`),
      API_KEYS: `bench=${API_KEY}`,
      RATE_LIMIT_PER_SECOND: "100000000",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", out, "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway ${name} exited; see ${logFile}`);
    if (Date.now() > deadline) throw new Error(`gateway ${name} not ready in 30 s; see ${logFile}`);
    const ready = (await readFile(logFile, "utf8")).split("\n").find((l) => l.includes('"event":"ready"'));
    const url = ready ? (JSON.parse(ready) as { url: string }).url : undefined;
    if (url && (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200) {
      return { url, pid: child.pid as number, stop: stopChild(child, exited) };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** autocannon against the gateway's `path` (or a reference server's), with the bench's API key. */
function loadPath(name: string, server: Server, path: string, duration = DURATION): Promise<Measured> {
  const headers = { "x-api-key": API_KEY };
  return load(name, server.pid, `${server.url}${path}`, { connections: CONNECTIONS, duration, headers });
}

const rps = (r: Measured) => r.requests.average;

/** Maximum throughput after a short warm-up (JIT, connection pools). */
async function maxRate(name: string, server: Server, path: string): Promise<Measured> {
  console.log(`  ${name}: warm-up 3 s, then ${DURATION} s at full speed`);
  await loadPath(`${name} warm-up`, server, path, 3);
  return loadPath(name, server, path);
}

interface Paced {
  rate: number;
  sent: number;
  failed: number;
  /** Microseconds from when each request was due to its complete response. */
  latency: hdr.Histogram;
  cpuMicrosPerRequest: number;
}

/**
 * One keep-alive connection speaking just enough HTTP/1.1 for a benchmark client: requests go out when
 * they are due (pipelined if the previous answer is late), answers come back in order, and each is timed
 * from when its request was due. Node's http client costs too much per request to pace thousands a second.
 */
function pacedConnection(url: URL, path: string, onAnswer: (due: number, status: number) => void) {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\nx-api-key: ${API_KEY}\r\n\r\n`);
  const socket = connect(Number(url.port), url.hostname);
  socket.setNoDelay(true);
  const pending: number[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const head = buffer.subarray(0, headerEnd).toString("latin1");
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < headerEnd + 4 + length) return;
      buffer = buffer.subarray(headerEnd + 4 + length);
      onAnswer(pending.shift() as number, Number(head.slice(9, 12)));
    }
  });
  return {
    send(due: number) {
      pending.push(due);
      socket.write(request);
    },
    close: () => socket.destroy(),
  };
}

/**
 * A steady open-loop load: requests are due at even intervals and latency counts from when each was due,
 * so a stall shows in full. autocannon's rate limit sends each second's quota at once and then waits,
 * which is full load for part of every second: not what "at half the maximum rate" means.
 */
async function pacedLoad(server: Server, path: string, rate: number, seconds: number): Promise<Paced> {
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const total = rate * seconds;
  let done = 0;
  let failed = 0;
  let finished = () => {};
  const allAnswered = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const onAnswer = (due: number, status: number) => {
    latency.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
    if (status !== 200) failed += 1;
    done += 1;
    if (done === total) finished();
  };
  const connections = Array.from({ length: CONNECTIONS }, () =>
    pacedConnection(new URL(server.url), path, onAnswer),
  );
  const cpuBefore = await cpuMicros(server.pid);
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const dueNow = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < dueNow; sent++) connections[sent % CONNECTIONS]?.send(started + (sent / rate) * 1000);
    if (sent === total) clearInterval(timer);
  }, 1);
  await allAnswered;
  for (const c of connections) c.close();
  const cpu = (await cpuMicros(server.pid)) - cpuBefore;
  return { rate, sent, failed, latency, cpuMicrosPerRequest: cpu / total };
}

/** A local OTLP/HTTP endpoint that accepts every export and keeps nothing. */
async function startTraceSink(): Promise<{ endpoint: string; exports: () => number; stop(): Promise<void> }> {
  let exports = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      exports += 1;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    exports: () => exports,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Writes routing changes and times each until a response comes from the new link. */
async function switchPropagation(
  gatewayUrl: string,
  consul: Consul,
  switches: number,
): Promise<hdr.Histogram> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(gatewayUrl);
  const linkNow = () =>
    new Promise<string>((resolve, reject) => {
      get({ hostname, port, path: "/v1/metrics/gmv", agent, headers: { "x-api-key": API_KEY } }, (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.headers["x-oneservice-link"])));
      }).on("error", reject);
    });
  try {
    for (let i = 1; i <= switches; i++) {
      const active = i % 2 === 1 ? "b" : "a";
      const doc: RoutingDocument = {
        version: 100 + i,
        active,
        standby: [active === "a" ? "b" : "a"],
        mode: "manual",
        reason: "gateway benchmark",
        changedAt: new Date().toISOString(),
        changedBy: "loadtest/gatewayBench.ts",
      };
      const started = performance.now();
      const written = consul.kv.set(CONSUL_KEYS.routing, JSON.stringify(doc));
      while ((await linkNow()) !== active) {
        // Poll until the new link answers: the time to the first such response is what callers see.
      }
      histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
      await written;
      if (i % 50 === 0 || i === switches) {
        console.log(
          `    switches: ${i}/${switches}, p99 so far ${(histogram.getValueAtPercentile(99) / 1000).toFixed(2)} ms`,
        );
      }
    }
  } finally {
    agent.destroy();
  }
  return histogram;
}

async function seed(links: RunningRedis[]): Promise<void> {
  const today = new BusinessClock("Asia/Shanghai").dateOf(Date.now());
  for (const [i, link] of links.entries()) {
    const client = new Redis(link.url);
    await client.zadd(keys.day(today, "gmv", "all"), 1_000_000 * (i + 1), "all");
    await client.hset(keys.maxEventTime, "trade.orders:0", Date.now());
    client.disconnect();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "gateway-bench-"));
  const links = await Promise.all(
    ["a", "b"].map((id) => startRedis({ linkId: id, dataDir: join(dir, `redis-${id}`) })),
  );
  const consulServer = await startConsulDevServer({ port: 0 });
  const consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
  const sink = await startTraceSink();
  const linkEnv = {
    LINKS: "a,b",
    REDIS_URL_A: links[0]?.url ?? "",
    REDIS_URL_B: links[1]?.url ?? "",
    CONSUL_HTTP_ADDR: `127.0.0.1:${consulServer.port}`,
  };
  const run = async <T>(server: Promise<Server>, measure: (s: Server) => Promise<T>): Promise<T> => {
    const s = await server;
    try {
      return await measure(s);
    } finally {
      await s.stop();
    }
  };
  try {
    await seed(links);
    console.log(`gateway benchmark: ${CONNECTIONS} connections, ${DURATION} s per run, ${SWITCHES} switches`);

    const metric = "/v1/metrics/gmv";
    const servers = {
      bare: await startReference("bare"),
      shaped: await startReference("shaped"),
      cached: await startGateway("cached", dir, linkEnv),
      uncached: await startGateway("uncached", dir, { ...linkEnv, CACHE_TTL: "0" }),
      traced: await startGateway("traced", dir, {
        ...linkEnv,
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sink.endpoint,
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.1",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_LOGS_EXPORTER: "none",
      }),
    };
    type Name = keyof typeof servers;
    const names = Object.keys(servers) as Name[];
    const pathOf = (name: Name) => (name === "bare" ? "/" : metric);
    const rounds: Record<Name, Measured>[] = [];
    let halfRate: Paced;
    let switches: hdr.Histogram;
    try {
      for (const name of names) await loadPath(`${name} warm-up`, servers[name], pathOf(name), 3);
      for (let round = 0; round < ROUNDS; round++) {
        console.log(`  round ${round + 1}/${ROUNDS}`);
        const measured = {} as Record<Name, Measured>;
        for (let i = 0; i < names.length; i++) {
          const name = names[(round + i) % names.length] as Name;
          measured[name] = await loadPath(`${name} ${round + 1}`, servers[name], pathOf(name));
        }
        rounds.push(measured);
      }
      const rate = Math.floor(median(rounds.map((r) => rps(r.cached))) / 2);
      console.log(`  cached at half its maximum, paced evenly: ${rate} req/s for ${DURATION} s`);
      halfRate = await pacedLoad(servers.cached, metric, rate, DURATION);
      console.log(
        `  routing switches: ${SWITCHES}, each timed from the Consul write to the first answer from the new link`,
      );
      switches = await switchPropagation(servers.cached.url, consul, SWITCHES);
    } finally {
      await Promise.all(names.map((name) => servers[name].stop()));
    }

    // Apart from the measured runs, so that neither the profiler's cost nor the other phases blur them.
    const profileDir = args.profile ? await mkdtemp(join(tmpdir(), "gateway-profile-")) : null;
    if (profileDir)
      await run(
        startGateway("profiled", dir, linkEnv, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
        (server) => maxRate("profiled (cached)", server, metric),
      );

    const of = (name: Name, figure: (r: Measured) => number) => median(rounds.map((r) => figure(r[name])));
    const ratio = (a: Name, b: Name, figure = rps) => median(rounds.map((r) => figure(r[a]) / figure(r[b])));
    const failed = (name: Name) => rounds.reduce((n, r) => n + r[name].non2xx + r[name].errors, 0);
    const row = (title: string, name: Name) =>
      `  ${title.padEnd(26)} ${of(name, rps).toFixed(0).padStart(9)} ${of(name, (r) => r.latency.p50)
        .toFixed(2)
        .padStart(8)} ${of(name, (r) => r.latency.p99)
        .toFixed(2)
        .padStart(8)} ${of(name, (r) => r.cpuMicrosPerRequest)
        .toFixed(1)
        .padStart(10)} ${String(failed(name)).padStart(8)}`;
    const ms = (h: hdr.Histogram, p: number) => (h.getValueAtPercentile(p) / 1000).toFixed(2);
    const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
    console.log(
      `\n  ${"run (median of rounds)".padEnd(26)} ${"req/s".padStart(9)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"cpu µs/req".padStart(10)} ${"failed".padStart(8)}`,
    );
    console.log(row("bare Fastify", "bare"));
    console.log(row("Fastify, gateway's shape", "shaped"));
    console.log(row("gateway, cached", "cached"));
    console.log(row("gateway, uncached", "uncached"));
    console.log(row("gateway, cached, traced", "traced"));
    console.log(
      `  ${"gateway, cached, paced".padEnd(26)} ${String(halfRate.rate).padStart(9)} ${ms(halfRate.latency, 50).padStart(8)} ${ms(halfRate.latency, 99).padStart(8)} ${halfRate.cpuMicrosPerRequest.toFixed(1).padStart(10)} ${String(halfRate.failed).padStart(8)}`,
    );
    console.log(
      `\n  routing switch -> first answer from the new link: p50 ${ms(switches, 50)} ms, p99 ${ms(switches, 99)} ms, max ${(switches.maxValue / 1000).toFixed(2)} ms (${switches.totalCount} switches)`,
    );
    console.log(`  trace exports (batches of spans) received by the sink: ${sink.exports()}`);
    const cachedRatio = ratio("cached", "bare");
    const tracedCost = 1 - ratio("traced", "cached");
    const switchP99 = switches.getValueAtPercentile(99) / 1000;
    console.log(
      `\n  cached / bare      ${cachedRatio.toFixed(2)}x   goal >= 0.80x: ${verdict(cachedRatio >= 0.8)}`,
    );
    console.log(
      `  shaped / bare      ${ratio("shaped", "bare").toFixed(2)}x   (Fastify's own cost of the route's shape)`,
    );
    console.log(
      `  cached / shaped    ${ratio("cached", "shaped").toFixed(2)}x   (what the gateway's own work costs)`,
    );
    console.log(`  uncached / bare    ${ratio("uncached", "bare").toFixed(2)}x`);
    console.log(`  uncached / cached  ${ratio("uncached", "cached").toFixed(2)}x`);
    console.log(
      `  server CPU per request, bare / cached: ${ratio("bare", "cached", (r) => r.cpuMicrosPerRequest).toFixed(2)}x`,
    );
    console.log(
      `  p99 at half rate   ${ms(halfRate.latency, 99)} ms (p99.9 ${ms(halfRate.latency, 99.9)} ms)   goal < 10 ms: ${verdict(halfRate.latency.getValueAtPercentile(99) < 10_000)}`,
    );
    console.log(
      `  tracing cost       ${(tracedCost * 100).toFixed(1)}%   goal <= 15%: ${verdict(tracedCost <= 0.15)}`,
    );
    console.log(
      `  switch p99         ${switchP99.toFixed(2)} ms   goal <= 100 ms: ${verdict(switchP99 <= 100)}`,
    );
    if (profileDir) printProfileTop(profileDir, "gateway (cached, from its start through a full-speed run)");
  } finally {
    await sink.stop();
    consul.destroy();
    await consulServer.close();
    await Promise.all(links.map((l) => l.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

if (args.serve) await serveReference(args.serve);
else
  await main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
