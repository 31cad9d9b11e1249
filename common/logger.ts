import { type Logger, pino } from "pino";

export type { Logger };

// One JSON line per event on stdout. LOG_LEVEL is read here rather than in each service's config because
// the logger exists before the config is parsed: a config error is itself logged.
export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.LOG_LEVEL || "info",
    base: { service, pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
