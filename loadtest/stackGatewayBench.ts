import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startOwnStack } from "../harness/devStack.ts";
import { printProfileTop } from "./cpuProfile.ts";
import { load, type Measured, median, startReference } from "./httpBench.ts";

// The gateway as users run it: inside the dev stack (`npm start`: 3 links with their Kafka, processors and
// Redis, the generator, the comparator probing every link, the gateway's Consul watch), read by an
// independent client (autocannon), against a bare Fastify constant route run beside it under the same
// background load.
//
//   node --import tsx loadtest/stackGatewayBench.ts [--duration 5] [--rounds 4] [--connections 20] [--settle 30]
//                                                   [--profile]   (a CPU profile of the stack's gateway,
//                                                                  its top printed: loadtest/profileOnSignal.mjs)
//
// The stack is `npm start`'s supervisor in a temporary directory on free ports, with npm start's defaults
// (8 partitions, 500 events/s) but two: no midnight peak (a 20x burst of events two minutes in would land
// in some rounds only), and the per-application rate limit raised out of reach (the limiter still runs): at
// its default of 1000 requests a second, a benchmark would measure 429s. After a warm-up of each,
// the two servers are read in turns, `rounds` times `duration` seconds each, so that a change of background
// load touches both alike; the ratio is the median of the rounds' ratios. Goal: cached read >= 0.8x bare.
// A benchmark, not a test: it reports, it never fails on the figures.

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "4" },
    settle: { type: "string", default: "30" },
    connections: { type: "string", default: "20" },
    profile: { type: "boolean", default: false },
  },
});
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const SETTLE = Number(args.settle);
const READ = "/v1/metrics/gmv";

async function main(): Promise<void> {
  const profileDir = args.profile ? await mkdtemp(join(tmpdir(), "stack-profile-")) : null;
  console.log("starting the dev stack (npm start's supervisor)…");
  const stack = await startOwnStack({
    KAFKA_PARTITIONS: "8",
    GENERATOR_RATE: "500",
    RATE_LIMIT_PER_SECOND: "100000000",
    ...(profileDir
      ? {
          NODE_OPTIONS: `--import ${fileURLToPath(new URL("profileOnSignal.mjs", import.meta.url))}`,
          PROFILE_ENTRY: "gateway/main.ts",
          PROFILE_DIR: profileDir,
        }
      : {}),
  });
  const bare = await startReference("bare");
  let gatewayPid = 0;
  try {
    const file = await stack.read();
    const gateway = file.services.find((s) => s.name === "gateway");
    if (!file.gatewayUrl || !gateway?.pid) throw new Error("the stack runs no gateway");
    gatewayPid = gateway.pid;
    const gatewayUrl = `${file.gatewayUrl}${READ}`;
    const headers = { "x-api-key": file.apiKey };
    for (const deadline = Date.now() + 300_000; ; ) {
      const res = await fetch(gatewayUrl, { headers }).catch(() => undefined);
      if (res?.status === 200 && ((await res.json()) as { value: number }).value > 0) break;
      if (Date.now() > deadline) throw new Error(`the gateway serves no gmv yet:\n${stack.output()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(
      `gateway ${file.gatewayUrl} (pid ${gatewayPid}), bare ${bare.url} (pid ${bare.pid}); ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s each`,
    );
    const run = (name: string, duration: number) =>
      name.startsWith("bare")
        ? load(name, bare.pid, `${bare.url}/`, { connections: CONNECTIONS, duration })
        : load(name, gatewayPid, gatewayUrl, { connections: CONNECTIONS, duration, headers });
    // The stack's own start (consumer groups joining, processors catching up, every service compiling its
    // TypeScript) would otherwise land in the first rounds, on the gateway's side more than the bare route's.
    console.log(`  letting the stack settle for ${SETTLE} s`);
    await new Promise((r) => setTimeout(r, SETTLE * 1000));
    await run("bare warm-up", 5);
    await run("gateway warm-up", 5);
    const rounds: { bare: Measured; gateway: Measured }[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      // Alternating which goes first, so that neither always follows the other.
      const first = i % 2 === 1 ? "bare" : "gateway";
      const a = await run(`${first} ${i}`, DURATION);
      const b = await run(`${first === "bare" ? "gateway" : "bare"} ${i}`, DURATION);
      rounds.push(first === "bare" ? { bare: a, gateway: b } : { bare: b, gateway: a });
    }

    console.log(
      `\n  ${"round".padEnd(6)} ${"bare req/s".padStart(11)} ${"gateway req/s".padStart(14)} ${"ratio".padStart(7)} ${"bare µs/req".padStart(12)} ${"gw µs/req".padStart(10)} ${"gw p99 ms".padStart(10)} ${"failed".padStart(7)}`,
    );
    rounds.forEach(({ bare: b, gateway: g }, i) => {
      const failed = b.non2xx + b.errors + g.non2xx + g.errors;
      console.log(
        `  ${String(i + 1).padEnd(6)} ${b.requests.average.toFixed(0).padStart(11)} ${g.requests.average.toFixed(0).padStart(14)} ${(g.requests.average / b.requests.average).toFixed(2).padStart(7)} ${b.cpuMicrosPerRequest.toFixed(1).padStart(12)} ${g.cpuMicrosPerRequest.toFixed(1).padStart(10)} ${g.latency.p99.toFixed(2).padStart(10)} ${String(failed).padStart(7)}`,
      );
    });
    const ratio = median(rounds.map((r) => r.gateway.requests.average / r.bare.requests.average));
    const cpuRatio = median(rounds.map((r) => r.bare.cpuMicrosPerRequest / r.gateway.cpuMicrosPerRequest));
    console.log(
      `\n  gateway in the stack / bare, median of rounds: ${ratio.toFixed(2)}x   goal >= 0.80x: ${ratio >= 0.8 ? "met" : "NOT met"}`,
    );
    console.log(`  server CPU per request, bare / gateway, median: ${cpuRatio.toFixed(2)}x`);
    if (profileDir) {
      process.kill(gatewayPid, "SIGUSR2");
      const written = join(profileDir, `${gatewayPid}.cpuprofile`);
      for (let i = 0; i < 100 && !existsSync(written); i++) await new Promise((r) => setTimeout(r, 100));
      printProfileTop(profileDir, "gateway in the dev stack (from its start through every round)");
    }
  } finally {
    await bare.stop();
    await stack.stop();
  }
}

await main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
