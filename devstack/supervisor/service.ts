import type { Logger } from "../../common/logger.ts";
import { SerialQueue } from "../../common/serialQueue.ts";

// One service the supervisor keeps running: the seeds' rule is fail fast, restart, alert. A child that exits
// without being asked to is restarted after a delay that doubles with every crash in a row (so a service that
// cannot start does not spin the machine), and the delay resets once a run has lasted long enough. Every crash is logged at error level with its exit code or signal, and counted. How a child is
// started (a node entry, the embedded Kafka launcher, redis-server) is the `launch` function's business.

export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** One running child, however it was started. */
export interface ChildRun {
  pid: number;
  /** Resolves when the child has exited, for whatever reason. */
  exited: Promise<ExitStatus>;
  /** Stops it by its PID: SIGTERM, then SIGKILL after a bound; resolves once it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts the child and resolves once it is ready to serve; rejects (having stopped whatever it started) if
 * the child exits first, never becomes ready, or `abort` fires because the supervisor is stopping.
 */
export type Launch = (abort: AbortSignal) => Promise<ChildRun>;

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A run that lasted this long was healthy: its crash starts the delays again from `initialMs`. */
  resetAfterMs: number;
}

export interface SupervisedOptions {
  name: string;
  launch: Launch;
  backoff: Backoff;
  log: Logger;
  /** After every successful start or restart: the stack rewrites stack.json and reacts to new addresses. */
  onStart?: (run: ChildRun) => void;
}

export class SupervisedProcess {
  readonly name: string;
  /** Restarts after unexpected exits (deliberate restarts for a changed address are not counted). */
  restarts = 0;
  /** Every PID this service has had, so that a test can check that none of them is left. */
  readonly pids: number[] = [];
  private run: ChildRun | undefined;
  private stopped = false;
  private crashesInARow = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  // Start, restart and stop run one after another, so a stop never races a launch in progress.
  private readonly queue = new SerialQueue();

  constructor(private readonly opts: SupervisedOptions) {
    this.name = opts.name;
  }

  get pid(): number | undefined {
    return this.run?.pid;
  }

  /** The first start. Its failure is the caller's to handle: at startup the stack fails fast instead. */
  start(): Promise<void> {
    return this.queue.run(() => this.launch());
  }

  /** Stops the child and starts it again at once, e.g. because an address in its environment changed. */
  restart(reason: string): Promise<void> {
    clearTimeout(this.timer);
    return this.queue.run(async () => {
      if (this.stopped) return;
      this.opts.log.warn({ child: this.name, pid: this.run?.pid, reason }, `restarting ${this.name}`);
      await this.replaceRun();
      try {
        await this.launch();
      } catch (err) {
        this.crashed({ error: (err as Error).message });
      }
    });
  }

  /** Stops the child for good: a stopped service is not restarted, even if a restart was due. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    return this.queue.run(async () => {
      const run = this.run;
      await this.replaceRun();
      if (run)
        this.opts.log.info({ child: this.name, pid: run.pid, ...(await run.exited) }, `${this.name} stopped`);
    });
  }

  private async replaceRun(): Promise<void> {
    const run = this.run;
    // Cleared first, so that this child's exit is not taken for a crash.
    this.run = undefined;
    await run?.stop();
  }

  private async launch(): Promise<void> {
    if (this.stopped) return;
    const run = await this.opts.launch(this.abort.signal);
    this.pids.push(run.pid);
    if (this.stopped) {
      await run.stop();
      return;
    }
    this.run = run;
    const startedAt = Date.now();
    void run.exited.then((status) => this.exited(run, status, Date.now() - startedAt));
    this.opts.onStart?.(run);
  }

  private exited(run: ChildRun, status: ExitStatus, upMs: number): void {
    if (this.run !== run || this.stopped) return;
    this.run = undefined;
    if (upMs >= this.opts.backoff.resetAfterMs) this.crashesInARow = 0;
    this.crashed({ pid: run.pid, code: status.code, signal: status.signal, upMs });
  }

  private crashed(detail: Record<string, unknown>): void {
    if (this.stopped) return;
    const { initialMs, maxMs } = this.opts.backoff;
    const delayMs = Math.min(maxMs, initialMs * 2 ** this.crashesInARow);
    this.crashesInARow++;
    this.opts.log.error(
      { child: this.name, ...detail, restarts: this.restarts, restartInMs: delayMs },
      `SERVICE DOWN: ${this.name} ${describe(detail)}; restarting in ${delayMs} ms`,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.queue.run(() => this.relaunch());
    }, delayMs);
  }

  private async relaunch(): Promise<void> {
    if (this.stopped) return;
    this.restarts++;
    try {
      await this.launch();
      this.opts.log.warn(
        { child: this.name, pid: this.run?.pid, restarts: this.restarts },
        `${this.name} restarted`,
      );
    } catch (err) {
      this.crashed({ error: (err as Error).message });
    }
  }
}

function describe(detail: Record<string, unknown>): string {
  if (typeof detail.error === "string") return `could not be started: ${detail.error}`;
  if (detail.signal) return `was killed by ${String(detail.signal)}`;
  if (detail.code !== null && detail.code !== undefined) return `exited with code ${String(detail.code)}`;
  return "exited";
}
