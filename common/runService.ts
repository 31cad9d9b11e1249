import { ConfigError, describeConfig, type SettingsSpec } from "./config.ts";
import type { Logger } from "./logger.ts";
import { exitOnSignals } from "./shutdown.ts";

// How every service process starts and ends, so they all behave alike: `--help` prints the settings table and
// exits 0; a configuration error is logged (naming every bad variable) and exits 1, as does a failure to
// start; once started, SIGTERM or SIGINT stops it within its bound (common/shutdown.ts).

export interface RunningService {
  /** Logged when a signal arrives. */
  stopping: string;
  stopTimeoutMs: number;
  stop: () => Promise<void>;
}

export interface ServiceDefinition<C> {
  /** Names the service in `--help`. */
  title: string;
  settings: SettingsSpec;
  /** Lines printed after the settings table: what the table cannot show (per-link variables). */
  helpNotes?: string;
  log: Logger;
  /** Parses and validates the environment; throws ConfigError. */
  load: (env: NodeJS.ProcessEnv) => C;
  start: (config: C) => Promise<RunningService>;
}

/** Logs why the process ends and ends it with `code`. */
export function exitWith(log: Logger, code: number, reason: string): never {
  log.fatal({ code, reason }, "exiting");
  process.exit(code);
}

export async function runService<C>(service: ServiceDefinition<C>): Promise<void> {
  const { log } = service;
  if (process.argv.includes("--help")) {
    const notes = service.helpNotes ? `\n${service.helpNotes}\n` : "";
    process.stdout.write(
      `${service.title} settings (environment variables):\n\n${describeConfig(service.settings)}\n${notes}`,
    );
    process.exit(0);
  }
  let config: C;
  try {
    config = service.load(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWith(log, 1, err.message);
  }
  let running: RunningService;
  try {
    running = await service.start(config);
  } catch (err) {
    exitWith(log, 1, `start failed: ${(err as Error).message}`);
  }
  exitOnSignals(log, running.stopping, running.stopTimeoutMs, running.stop);
}
