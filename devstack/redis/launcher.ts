import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";

// One redis-server process per link, as the dev stack runs it. Data lives in the link's own directory with the
// append-only file on (fsync every second) and RDB snapshots off, so that a Redis restart on the same
// directory comes back with the link's state: the processor's offsets live there, and losing them would make
// the link replay from scratch. The server logs to a file in that directory (not to a pipe, which would tie
// the server's life to ours) and errors quote its tail.

export const INSTALL_HINT = "install it with `apt-get install redis-server`";

export interface StartRedisOptions {
  linkId: string;
  /** The server's working directory: appendonlydir/ and redis.log go here (created if missing). */
  dataDir: string;
  /** Listen on this port; by default a free one is picked (and picked again if another process takes it). */
  port?: number;
  /** The server binary; `redis-server` on PATH by default. */
  binary?: string;
  /** How long the server may take to answer PING. */
  readyTimeoutMs?: number;
}

export interface RunningRedis {
  linkId: string;
  url: string;
  port: number;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or the signal's name) when the server exits, for whatever reason. */
  exited: Promise<number | string>;
  /** SIGTERM (Redis then fsyncs the AOF and exits), SIGKILL after a bound; resolves once the process is gone. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 5;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 20;

export async function startRedis(opts: StartRedisOptions): Promise<RunningRedis> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const attempts = opts.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startOnPort(opts, dataDir, port);
    } catch (err) {
      // Between our probe and redis-server's bind another process may have taken the port: pick another.
      if (!(err instanceof PortInUseError) || attempt >= attempts) throw err;
    }
  }
}

class PortInUseError extends Error {}
class ServerExited extends Error {}

async function startOnPort(opts: StartRedisOptions, dataDir: string, port: number): Promise<RunningRedis> {
  const logFile = join(dataDir, "redis.log");
  // The log survives restarts; only what this start appends says why this start failed.
  const logStart = await size(logFile);
  const binary = opts.binary ?? "redis-server";
  const child = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dataDir,
      "--logfile",
      logFile,
      "--daemonize",
      "no",
      "--appendonly",
      "yes",
      "--appendfsync",
      "everysec",
      "--save",
      "",
    ],
    { stdio: "ignore" },
  );
  const exited = exitOf(child);
  const spawnError = await new Promise<Error | null>((settle) => {
    child.once("spawn", () => settle(null));
    child.once("error", settle);
  });
  if (spawnError) {
    if ((spawnError as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(`redis-server not found (${binary}): ${INSTALL_HINT}`);
    throw new Error(`could not start ${binary}: ${spawnError.message}`);
  }
  const pid = child.pid as number;
  const url = `redis://127.0.0.1:${port}`;

  try {
    await waitReady(url, exited, opts.readyTimeoutMs ?? 10_000);
  } catch (err) {
    await terminate(child, exited);
    const tail = await logTail(logFile, logStart);
    const message =
      `redis-server for link ${opts.linkId} (pid ${pid}, port ${port}) did not become ready: ${(err as Error).message}\n` +
      `last lines of ${logFile}:\n${tail}`;
    throw /Address already in use/i.test(tail) ? new PortInUseError(message) : new Error(message);
  }

  let stopping: Promise<void> | undefined;
  return {
    linkId: opts.linkId,
    url,
    port,
    pid,
    logFile,
    exited: exited.then((e) => e.code ?? e.signal ?? "unknown"),
    stop: () => {
      stopping ??= terminate(child, exited);
      return stopping;
    },
  };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolveExit) => {
    child.once("error", (error) => resolveExit({ code: null, signal: null, error }));
    child.once("exit", (code, signal) => resolveExit({ code, signal }));
  });
}

async function waitReady(url: string, exited: Promise<Exit>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  const died = exited.then((e) => {
    throw new ServerExited(`redis-server exited (code ${e.code}, signal ${e.signal})`);
  });
  died.catch(() => {});
  while (Date.now() < deadline) {
    const client = new Redis(url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 1000,
      enableOfflineQueue: false,
    });
    client.on("error", () => {});
    try {
      const pong = await Promise.race([client.connect().then(() => client.ping()), died]);
      if (pong === "PONG") return;
    } catch (err) {
      if (err instanceof ServerExited) throw err;
      // Includes LOADING while Redis replays a large AOF: that is progress, keep waiting.
      lastError = (err as Error).message;
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no PONG within ${timeoutMs}ms (last error: ${lastError})`);
}

async function terminate(child: ChildProcess, exited: Promise<Exit>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("could not read a free port");
  return address.port;
}

async function size(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function logTail(file: string, from: number): Promise<string> {
  try {
    const lines = (await readFile(file)).subarray(from).toString("utf8").trimEnd().split("\n");
    return lines.slice(-LOG_TAIL_LINES).join("\n");
  } catch {
    return "(no log written)";
  }
}
