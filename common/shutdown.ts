import type { Logger } from "./logger.ts";

/**
 * SIGTERM / SIGINT: run `stop` once, within `timeoutMs`, then exit 0; past the bound exit 1 so an orchestrator
 * sees a shutdown that hung. Every service ends the same way, which is what the supervisor relies on.
 */
export function exitOnSignals(log: Logger, what: string, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, what);
    const deadline = setTimeout(() => {
      log.fatal({ timeoutMs }, "shutdown took longer than its bound");
      process.exit(1);
    }, timeoutMs);
    try {
      await stop();
    } catch (err) {
      log.error({ err: (err as Error).message }, "error while stopping");
    }
    clearTimeout(deadline);
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
