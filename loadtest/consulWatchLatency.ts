import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Consul from "consul";
import * as hdr from "hdr-histogram-js";

// Routing propagation through Consul: how long after a KV PUT the gateways' blocking watches wake with the
// new value. It runs `watchers` blocking watches on one key (as that many gateways would), then makes
// `changes` writes one after another, each only once every watcher has seen the previous one. Latency is
// measured from just before the PUT is sent to the moment a watcher holds the new value.
//
//   node --import tsx loadtest/consulWatchLatency.ts [--watchers 100] [--changes 1000] [--client http|consul]
//                                                    [--url http://host:8500]
//
// --client http (default): each watcher is a plain keep-alive HTTP blocking-query loop, as curl or any
// language's client does it; this measures the server's fan-out. --client consul: each watcher is the npm
// `consul` client's watch, as the gateway runs it; with all of them in this one process their response
// handling queues up behind each other, which 100 separate gateway processes would not do.
//
// Without --url it starts the dev server (devstack/consul/main.ts) as its own process, as the dev stack
// runs it, and stops it at the end. Goal: p99 under 10 ms. A benchmark, not a test: it reports, never fails
// on the figures.

const { values: args } = parseArgs({
  options: {
    watchers: { type: "string", default: "100" },
    changes: { type: "string", default: "1000" },
    warmup: { type: "string", default: "50" },
    client: { type: "string", default: "http" },
    url: { type: "string" },
  },
});
if (args.client !== "http" && args.client !== "consul") throw new Error("--client must be http or consul");
const WATCHERS = Number(args.watchers);
const CHANGES = Number(args.changes);
const WARMUP = Number(args.warmup);
const KEY = "loadtest/routing";
const CHANGE_TIMEOUT_MS = 10_000;
const GOAL_P99_MS = 10;

interface Round {
  version: number;
  sentAt: number;
  pending: number;
  last: number;
  done: () => void;
}

// Microseconds, so that sub-millisecond wake-ups keep their resolution.
const deliveries = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
const allWoken = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
let round: Round | undefined;
let measuring = false;

async function main(): Promise<void> {
  const server = args.url ? undefined : await startServer();
  const url = new URL(args.url ?? server?.url ?? "");
  const connect = () => new Consul({ host: url.hostname, port: Number(url.port || 8500) });
  const writer = connect();
  const stops: (() => void)[] = [];
  try {
    await writer.kv.set(KEY, JSON.stringify({ version: 0 }));
    await startRound(0, async () => {
      for (let i = 0; i < WATCHERS; i++)
        stops.push(args.client === "http" ? httpWatcher(url) : consulWatcher(connect()));
    });
    console.log(
      `consul watch latency: ${WATCHERS} ${args.client} watchers on ${url.origin}, ${WARMUP} warm-up + ${CHANGES} changes`,
    );

    const started = performance.now();
    for (let version = 1; version <= WARMUP + CHANGES; version++) {
      measuring = version > WARMUP;
      await startRound(version, () => writer.kv.set(KEY, JSON.stringify({ version })));
      const measured = version - WARMUP;
      if (measured > 0 && (measured % 100 === 0 || measured === CHANGES)) progress(measured, started);
    }
    report();
  } finally {
    for (const stop of stops) stop();
    writer.destroy();
    await server?.stop();
  }
}

function consulWatcher(client: Consul): () => void {
  const watch = client.watch({ method: client.kv.get, options: { key: KEY, wait: "30s" } });
  watch.on("change", (data: { Value?: string } | undefined) => {
    if (data?.Value !== undefined) onVersion((JSON.parse(data.Value) as { version: number }).version);
  });
  watch.on("error", (err: Error) => console.error(`watcher: ${err.message}`));
  return () => {
    watch.end();
    client.destroy();
  };
}

// A blocking-query loop over one keep-alive connection: GET ?index=<last X-Consul-Index>&wait=30s, again.
function httpWatcher(url: URL): () => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let stopped = false;
  const poll = (index: string) => {
    const path = `/v1/kv/${encodeURIComponent(KEY)}?index=${index}&wait=30s`;
    get({ host: url.hostname, port: url.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const next = String(res.headers["x-consul-index"] ?? "0");
        if (res.statusCode === 200 && next !== index) {
          const [item] = JSON.parse(Buffer.concat(chunks).toString()) as { Value: string }[];
          onVersion(
            (JSON.parse(Buffer.from(item?.Value ?? "", "base64").toString()) as { version: number }).version,
          );
        }
        if (!stopped) poll(next);
      });
    }).on("error", (err) => {
      if (!stopped) console.error(`watcher: ${err.message}`);
    });
  };
  poll("0");
  return () => {
    stopped = true;
    agent.destroy();
  };
}

async function startRound(version: number, write: () => Promise<unknown>): Promise<void> {
  let done = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  round = { version, sentAt: performance.now(), pending: WATCHERS, last: 0, done };
  await write();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`version ${version}: ${round?.pending} watchers did not see it`)),
      CHANGE_TIMEOUT_MS,
    );
  });
  await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
  if (measuring) allWoken.recordValue(Math.max(1, Math.round(round.last * 1000)));
}

function onVersion(version: number): void {
  const r = round;
  if (!r || version !== r.version) return;
  const latencyMs = performance.now() - r.sentAt;
  if (measuring) deliveries.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
  r.last = Math.max(r.last, latencyMs);
  r.pending -= 1;
  if (r.pending === 0) r.done();
}

function ms(h: hdr.Histogram, percentile: number): string {
  return (h.getValueAtPercentile(percentile) / 1000).toFixed(2);
}

function progress(measured: number, started: number): void {
  const rate = (measured / ((performance.now() - started) / 1000)).toFixed(0);
  console.log(
    `  ${measured}/${CHANGES} changes (${rate}/s): delivery p50 ${ms(deliveries, 50)} ms, p99 ${ms(deliveries, 99)} ms`,
  );
}

function report(): void {
  const row = (name: string, h: hdr.Histogram) =>
    `  ${name.padEnd(24)} ${String(h.totalCount).padStart(7)} ${ms(h, 50).padStart(8)} ${ms(h, 90).padStart(8)} ${ms(h, 99).padStart(8)} ${ms(h, 99.9).padStart(8)} ${(h.maxValue / 1000).toFixed(2).padStart(8)}`;
  console.log(
    `\n  ${"ms".padEnd(24)} ${"samples".padStart(7)} ${"p50".padStart(8)} ${"p90".padStart(8)} ${"p99".padStart(8)} ${"p99.9".padStart(8)} ${"max".padStart(8)}`,
  );
  console.log(row("PUT -> each watcher", deliveries));
  console.log(row("PUT -> all watchers", allWoken));
  const p99 = deliveries.getValueAtPercentile(99) / 1000;
  console.log(
    `\n  goal p99 < ${GOAL_P99_MS} ms: ${p99 < GOAL_P99_MS ? "met" : "NOT met"} (p99 ${p99.toFixed(2)} ms)`,
  );
}

interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

// The dev server as its own process, found through the ready line it logs; stopped by its PID.
async function startServer(): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "consul-watch-bench-"));
  const main = fileURLToPath(new URL("../devstack/consul/main.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", main], {
    env: {
      ...process.env,
      CONSUL_DEV_PORT: "0",
      CONSUL_DEV_DATA: join(dir, "state.json"),
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let url = "";
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    if (line.includes('"ready"')) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
  }
  if (!url) throw new Error("the consul dev server exited before it was ready");
  return {
    url,
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGTERM");
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
