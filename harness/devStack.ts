import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { alive } from "../devstack/supervisor/linkServices.ts";
import { readStackFile, type StackFile } from "../devstack/supervisor/stackFile.ts";
import { waitFor } from "./links.ts";

// A whole dev stack of one's own, as `npm start` builds it, for drills and tests that break its parts: the
// supervisor in a temporary DEVSTACK_DIR, every port free, a steady generator without the midnight peak, no
// per-application rate limit at the gateway. Stopped through the supervisor (SIGTERM to the process that
// started it), and anything it left behind by PID.

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MAIN = join(ROOT, "devstack/supervisor/main.ts");

export const OWN_STACK_DEFAULTS: Readonly<Record<string, string>> = {
  LINKS: "a,b,c",
  KAFKA_PARTITIONS: "2",
  GENERATOR_RATE: "200",
  GENERATOR_PEAK_MULTIPLIER: "1",
  CONSUL_PORT: "0",
  GATEWAY_PORT: "0",
  COMPARATOR_PORT: "0",
  RATE_LIMIT_PER_SECOND: "0",
  RESTART_BACKOFF_INITIAL: "200ms",
};

export interface OwnStack {
  dir: string;
  /** stack.json as it is now (the supervisor rewrites it when a PID or an address changes). */
  read(): Promise<StackFile>;
  /** The supervisor's recent output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startOwnStack(
  env: Record<string, string> = {},
  readyTimeoutMs = 120_000,
): Promise<OwnStack> {
  const dir = await mkdtemp(join(tmpdir(), "oneservice-stack-"));
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...OWN_STACK_DEFAULTS, ...env, DEVSTACK_DIR: dir };
  for (const name of Object.keys(childEnv))
    if (/^(KAFKA_BROKERS|REDIS_URL)_/.test(name)) delete childEnv[name];
  // The supervisor's own log; the services' logs are in <dir>/logs.
  const log = join(dir, "supervisor.log");
  const out = openSync(log, "a");
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: ROOT,
    env: childEnv,
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  const output = () => {
    try {
      return readFileSync(log, "utf8").slice(-20_000);
    } catch {
      return "";
    }
  };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const file = join(dir, "stack.json");
  // Every PID stack.json ever named, so that stop() can make sure none is left whatever happened.
  const seen = new Set<number>();
  const read = async () => {
    const stack = await readStackFile(file);
    for (const pid of [stack.pid, ...stack.services.map((s) => s.pid)]) if (pid !== null) seen.add(pid);
    for (const link of stack.links) for (const p of link.processors) if (p.pid !== null) seen.add(p.pid);
    return stack;
  };
  let stopped: Promise<void> | undefined;
  const own: OwnStack = {
    dir,
    read,
    output,
    stop() {
      stopped ??= (async () => {
        if (existsSync(file)) await read().catch(() => {});
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
        for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  try {
    await waitFor(
      "the dev stack's stack.json",
      () => {
        if (child.exitCode !== null) throw new Error(`the dev stack did not start:\n${output()}`);
        return existsSync(file);
      },
      readyTimeoutMs,
    );
    await read();
  } catch (err) {
    await own.stop();
    throw err;
  }
  return own;
}
