import { writeSync } from "node:fs";
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

let stampedMs = Number.NaN;
let stamp = "";

/**
 * pino.stdTimeFunctions.isoTime, formatting the time once per millisecond rather than once per line: a busy
 * service logs several lines a millisecond, and the ISO string showed in its profile.
 */
function isoTime(): string {
  const ms = Date.now();
  if (ms !== stampedMs) {
    stampedMs = ms;
    stamp = `,"time":"${new Date(ms).toISOString()}"`;
  }
  return stamp;
}

/** Held lines are written once they reach this many characters, so a burst of logging is not held in memory. */
const BUFFER_CHARS = 65_536;

let bufferedStdout: DestinationStream | undefined;

/**
 * Writes all of `text` to a file descriptor, waiting out EAGAIN as a non-blocking pipe may return it. Any
 * other error (EPIPE: whoever read the output has gone) drops the text: logging must not stop the service.
 */
function writeFully(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/**
 * Standard output, written once per turn of the event loop instead of once per line. A busy gateway logs a
 * call line per request, and a write system call per line was ~5% of a cached request's CPU. A line
 * still reaches the output in the turn that logged it (a check-phase flush), before the process waits for
 * anything; on exit, a fatal log or an uncaught exception the exit handler writes what is left. Only a
 * SIGKILL can lose lines, those of the turn it interrupts.
 *
 * With `holdMs` > 0, lines are held up to that long (or until 64 KiB) instead: a gateway under load turns its
 * event loop for every few requests, and one write per turn still cost ~1.5 µs per request. A SIGKILL then
 * loses the lines of the last `holdMs`.
 */
function bufferedStdoutOnce(holdMs: number): DestinationStream {
  if (bufferedStdout) return bufferedStdout;
  let pending = "";
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (pending === "") return;
    const text = pending;
    pending = "";
    writeFully(1, text);
  };
  process.on("exit", flush);
  bufferedStdout = {
    write(line: string) {
      pending += line;
      if (pending.length >= BUFFER_CHARS) flush();
      else if (!flushScheduled) {
        flushScheduled = true;
        if (holdMs > 0) setTimeout(flush, holdMs).unref();
        else setImmediate(flush);
      }
    },
  };
  return bufferedStdout;
}

export interface LoggerOptions {
  /**
   * How long lines may be held before they are written (ms); 0, the default, writes them at the end of the
   * turn that logged them. Standard output is one per process: the process's first logger decides.
   */
  holdMs?: number;
}

// One JSON line per event on stdout. LOG_LEVEL is read here rather than in each service's config because
// the logger exists before the config is parsed: a config error is itself logged.
export function createLogger(
  service: string,
  bindings: Record<string, unknown> = {},
  options: LoggerOptions = {},
): Logger {
  return pino(
    {
      level: process.env.LOG_LEVEL || "info",
      base: { service, pid: process.pid, ...bindings },
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    bufferedStdoutOnce(options.holdMs ?? 0),
  );
}
