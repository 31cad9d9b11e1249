import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { ChildRun, ExitStatus, Launch } from "./service.ts";

// Starts a TypeScript entry as `node --import tsx <entry>`, its stdout and stderr appended straight to its log
// file (a file descriptor, not a pipe: the child never blocks on us, and its lines are there even if we die).
// The environment is computed at every launch, so a restart picks up addresses that changed meanwhile.

export interface NodeChildOptions {
  name: string;
  entry: string;
  cwd: string;
  env: () => NodeJS.ProcessEnv;
  logFile: string;
  /** Answers 2xx once the child is ready; without one, the child counts as ready once it is spawned. */
  readyUrl?: string;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
}

const POLL_MS = 200;
const LOG_TAIL_BYTES = 4_000;

export function nodeChild(opts: NodeChildOptions): Launch {
  return async (abort) => {
    const logStart = await sizeOf(opts.logFile);
    const fd = openSync(opts.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ["--import", "tsx", opts.entry], {
        cwd: opts.cwd,
        env: opts.env(),
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<ExitStatus>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${opts.name}: could not spawn ${process.execPath}`);
    const run: ChildRun = { pid, exited, stop: () => stopChild(child, exited, opts.stopTimeoutMs) };

    const failure = opts.readyUrl ? await waitReady(opts.readyUrl, exited, opts.readyTimeoutMs, abort) : null;
    if (failure === null) return run;
    await run.stop();
    throw new Error(
      `${opts.name} (pid ${pid}) ${failure}; last output in ${opts.logFile}:\n${await tail(opts.logFile, logStart)}`,
    );
  };
}

/** Resolves with null once `url` answers 2xx, or with why not. */
async function waitReady(
  url: string,
  exited: Promise<ExitStatus>,
  timeoutMs: number,
  abort: AbortSignal,
): Promise<string | null> {
  let exit: ExitStatus | undefined;
  void exited.then((status) => {
    exit = status;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (abort.aborted) return "was stopped before it was ready";
    if (exit) return `exited (code ${exit.code}, signal ${exit.signal}) before it was ready`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.ok) return null;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return `did not answer ${url} within ${timeoutMs} ms`;
}

async function stopChild(child: ChildProcess, exited: Promise<ExitStatus>, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
  await exited;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** What the child wrote to its log since `from`, the last few lines of it. */
export async function tail(file: string, from: number): Promise<string> {
  try {
    const handle = await open(file, "r");
    try {
      const end = (await handle.stat()).size;
      const start = Math.max(from, end - LOG_TAIL_BYTES);
      const buf = Buffer.alloc(end - start);
      await handle.read(buf, 0, buf.length, start);
      return buf.toString("utf8").trimEnd() || "(nothing)";
    } finally {
      await handle.close();
    }
  } catch {
    return "(no log)";
  }
}
