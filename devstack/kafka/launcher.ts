import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// Starts one link's embedded Kafka (main.ts) as a child process and hands back where it listens. Used by
// the supervisor and by tests; the child is stopped by its PID only.

export interface EmbeddedKafkaOptions {
  linkId: string;
  partitions?: number;
  brokers?: number;
  /** Extra environment for the child, on top of this process's (e.g. LIBRDKAFKA_PATH, LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the ready line; default 20 s (tsx compiles on a cold start). */
  readyTimeoutMs?: number;
  /** Every output line of the child after start, e.g. to forward its logs; by default they are dropped. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface EmbeddedKafka {
  linkId: string;
  bootstrap: string;
  adminUrl: string;
  pid: number;
  partitions: number;
  /** Resolves with the exit code (or the signal's name) when the child exits, for whatever reason. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if the child has not exited within the bound. */
  stop(): Promise<void>;
}

interface ReadyLine {
  event: "ready";
  bootstrap: string;
  admin: string;
  partitions: number;
}

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_LINES = 30;

function parseReady(line: string): ReadyLine | null {
  if (!line.includes('"ready"')) return null;
  try {
    const obj = JSON.parse(line) as Partial<ReadyLine>;
    return obj.event === "ready" && typeof obj.bootstrap === "string" && typeof obj.admin === "string"
      ? (obj as ReadyLine)
      : null;
  } catch {
    return null;
  }
}

/** A pino line as "level: msg" (so an error message quotes the child's words, not escaped JSON). */
function readable(line: string): string {
  try {
    const obj = JSON.parse(line) as { level?: unknown; msg?: unknown };
    if (typeof obj.msg === "string") return `${String(obj.level)}: ${obj.msg}`;
  } catch {
    // not JSON: librdkafka's own log lines on stderr
  }
  return line;
}

// "close" rather than "exit": it comes after the child's pipes are drained, so its last lines are read.
function exitOf(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) =>
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    // Already gone between our check and the signal.
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | string>): Promise<void> {
  const pid = child.pid;
  if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
    signal(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_GRACE_MS);
    });
    if ((await Promise.race([exited, timedOut])) === "timeout") signal(pid, "SIGKILL");
    clearTimeout(timer);
  }
  await exited;
}

export async function startEmbeddedKafka(opts: EmbeddedKafkaOptions): Promise<EmbeddedKafka> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    LINK_ID: opts.linkId,
    KAFKA_EXIT_ON_STDIN_END: "1",
  };
  if (opts.partitions !== undefined) env.KAFKA_PARTITIONS = String(opts.partitions);
  if (opts.brokers !== undefined) env.KAFKA_MOCK_BROKERS = String(opts.brokers);

  const tail: string[] = [];
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = exitOf(child);
  child.once("error", (err) => tail.push(`spawn: ${err.message}`));
  let ready: ((r: ReadyLine) => void) | undefined;
  const readyLine = new Promise<ReadyLine>((resolve) => {
    ready = resolve;
  });

  // Both pipes are read for the child's whole life: a full pipe would block the child's writes.
  for (const stream of ["stdout", "stderr"] as const) {
    createInterface({ input: child[stream] }).on("line", (line) => {
      if (ready) {
        tail.push(`${stream}: ${readable(line)}`);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
        const parsed = stream === "stdout" ? parseReady(line) : null;
        if (parsed) {
          ready(parsed);
          ready = undefined;
        }
      }
      opts.onLine?.(line, stream);
    });
  }

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    readyLine,
    exited.then((code) => ({ failure: `exited (${code}) before it was ready` })),
    new Promise<{ failure: string }>((resolve) => {
      timer = setTimeout(() => resolve({ failure: `was not ready within ${timeoutMs} ms` }), timeoutMs);
    }),
  ]);
  clearTimeout(timer);

  if ("failure" in outcome) {
    await stopChild(child, exited);
    throw new Error(
      `embedded kafka for link ${opts.linkId} ${outcome.failure}; its last output:\n${tail.join("\n") || "(none)"}`,
    );
  }
  ready = undefined;

  return {
    linkId: opts.linkId,
    bootstrap: outcome.bootstrap,
    adminUrl: outcome.admin,
    pid: child.pid as number,
    partitions: outcome.partitions,
    exited,
    stop: () => stopChild(child, exited),
  };
}
