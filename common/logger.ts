import { type Logger, pino } from "pino";

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

// One JSON line per event on stdout. LOG_LEVEL is read here rather than in each service's config because
// the logger exists before the config is parsed: a config error is itself logged.
export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.LOG_LEVEL || "info",
    base: { service, pid: process.pid, ...bindings },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
