import { spawn } from "node:child_process";

// Ctrl-C in a terminal sends SIGINT to every process of the foreground process group, and the Kafka and Redis
// launchers start their children in ours: they would all stop at once, under processors still finishing
// their last batch. So the supervisor runs as a child in a process group of its own, and this thin parent
// only relays the signals to it and exits with its exit code: the supervisor alone decides the order. The
// parent also holds the supervisor's stdin, which closes when the parent dies however it dies (kill -9
// included): `onParentGone` lets the supervisor stop the stack then rather than leave it running.

const RELAYED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Whether this process is the supervisor itself (in its own group) rather than the relaying parent. */
export function inOwnGroup(flag: string): boolean {
  return process.env[flag] === "1";
}

export function runInOwnGroup(entry: string, cwd: string, flag: string): void {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...process.argv.slice(2)], {
    cwd,
    detached: true,
    stdio: ["pipe", "inherit", "inherit"],
    env: { ...process.env, [flag]: "1" },
  });
  for (const signal of RELAYED) process.on(signal, () => child.kill(signal));
  child.once("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/** In the supervisor: calls `stop` once the relaying parent is gone. */
export function onParentGone(stop: () => void): void {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
