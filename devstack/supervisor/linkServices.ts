import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { startEmbeddedKafka } from "../kafka/launcher.ts";
import { startRedis } from "../redis/launcher.ts";
import type { ChildRun, ExitStatus, Launch } from "./service.ts";

// The two per-link dependencies as supervised children, through their own launchers. Each remembers where
// it listens, so that a restart comes back at the same place where the launcher allows it:
// - Redis restarts on the same port and data directory (append-only file on), so the link keeps its state
//   and every client's address stays valid.
// - The embedded Kafka is librdkafka's in-memory mock, whose broker ports cannot be chosen: it comes back
//   empty on a new bootstrap address. Its fault-injection endpoint keeps its port.

/** Where one link's embedded Kafka listens now; `bootstrap` changes when it is restarted. */
export class EmbeddedKafkaLink {
  bootstrap = "";
  adminUrl = "";
  private adminPort = 0;
  private log: WriteStream | undefined;

  constructor(
    private readonly opts: { linkId: string; partitions: number; logFile: string; readyTimeoutMs: number },
  ) {}

  get logFile(): string {
    return this.opts.logFile;
  }

  readonly launch: Launch = async () => {
    this.log ??= createWriteStream(this.opts.logFile, { flags: "a" });
    const log = this.log;
    const kafka = await startEmbeddedKafka({
      linkId: this.opts.linkId,
      partitions: this.opts.partitions,
      env: { KAFKA_ADMIN_PORT: String(this.adminPort) },
      readyTimeoutMs: this.opts.readyTimeoutMs,
      onLine: (line) => log.write(`${line}\n`),
    });
    this.bootstrap = kafka.bootstrap;
    this.adminUrl = kafka.adminUrl;
    this.adminPort = Number(new URL(kafka.adminUrl).port);
    const exited = kafka.exited.then(
      (end): ExitStatus =>
        typeof end === "number" ? { code: end, signal: null } : { code: null, signal: end },
    );
    return { pid: kafka.pid, exited, stop: kafka.stop };
  };

  /** Closes the log once the child is stopped for good. */
  async close(): Promise<void> {
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise((resolve) => log.end(resolve));
  }
}

const PID_POLL_MS = 500;

/** Where one link's redis-server listens; the port is kept across restarts. */
export class EmbeddedRedisLink {
  url = "";
  private port: number | undefined;

  constructor(private readonly opts: { linkId: string; dataDir: string; readyTimeoutMs: number }) {}

  /** redis-server writes its own log, in its data directory. */
  get logFile(): string {
    return join(this.opts.dataDir, "redis.log");
  }

  readonly launch: Launch = async () => {
    const redis = await startRedis({
      linkId: this.opts.linkId,
      dataDir: this.opts.dataDir,
      port: this.port,
      readyTimeoutMs: this.opts.readyTimeoutMs,
    });
    this.url = redis.url;
    this.port = redis.port;
    const run: ChildRun = { pid: redis.pid, exited: gone(redis.pid), stop: redis.stop };
    return run;
  };
}

// The Redis launcher keeps the child handle to itself, so its end is seen by polling the PID. The handle it
// keeps is what reaps the process, so a dead server does not linger as a zombie that still answers.
function gone(pid: number): Promise<ExitStatus> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (alive(pid)) return;
      clearInterval(timer);
      resolve({ code: null, signal: null });
    }, PID_POLL_MS);
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
