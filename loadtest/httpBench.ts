import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cpuMicros } from "./processCpu.ts";

// What the HTTP benchmarks share: autocannon (the independent client), the reference Fastify servers of
// gatewayBench.ts run as their own processes, and a run that also measures the server's CPU per request.

export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface AutocannonRun extends PromiseLike<AutocannonResult> {
  on(event: "tick", fn: (tick: { counter: number }) => void): void;
}
type Autocannon = (opts: Record<string, unknown>) => AutocannonRun;
// autocannon ships no type declarations; the little used here is typed above.
export const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function stopChild(child: ChildProcess, exited: Promise<unknown>): () => Promise<void> {
  return async () => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGTERM");
    await exited;
  };
}

/** A reference server of gatewayBench.ts (`bare`: a constant route; `shaped`: the gateway's route shape). */
export async function startReference(kind: "bare" | "shaped"): Promise<Server> {
  const bench = fileURLToPath(new URL("gatewayBench.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", bench, "--serve", kind], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    return { url: line.trim(), pid: child.pid as number, stop: stopChild(child, exited) };
  }
  throw new Error(`the ${kind} server exited before listening`);
}

export interface Measured extends AutocannonResult {
  /** The server process's CPU time per request: steadier than req/s on a machine shared with others. */
  cpuMicrosPerRequest: number;
}

/** autocannon at full speed against `url` (the server being process `pid`) for `duration` seconds. */
export async function load(
  name: string,
  pid: number,
  url: string,
  opts: { connections: number; duration: number; headers?: Record<string, string> },
): Promise<Measured> {
  const cpuBefore = await cpuMicros(pid);
  const run = autocannon({ url, ...opts });
  let second = 0;
  run.on("tick", ({ counter }) => {
    second += 1;
    if (second <= opts.duration && (second % 2 === 0 || second === opts.duration))
      console.log(`    ${name}: ${second}/${opts.duration} s, ${counter} req/s`);
  });
  const result = await run;
  const cpu = (await cpuMicros(pid)) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0) {
    console.log(
      `    ${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return { ...result, cpuMicrosPerRequest: cpu / Math.max(1, result.requests.total) };
}

/** The median of some figures (of rounds measured in turns). */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
