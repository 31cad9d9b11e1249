import { ConfigError, describeConfig } from "../../common/config.ts";
import { createLogger } from "../../common/logger.ts";
import { generatorSettings, loadGeneratorOptions } from "./config.ts";
import { runGenerator } from "./run.ts";

// The traffic generator as a process: `npx tsx devstack/generator/main.ts` (settings from the environment,
// `--help` lists them). SIGTERM or SIGINT stops generating, sends what is in hand, disconnects, exits 0.

const logger = createLogger("generator");

if (process.argv.includes("--help")) {
  process.stdout.write(
    `${describeConfig(generatorSettings)}\n| \`KAFKA_BROKERS_<ID>\` | (required) | ` +
      "bootstrap servers (host:port,...) of each link in LINKS, e.g. KAFKA_BROKERS_A |\n",
  );
  process.exit(0);
}

let options: ReturnType<typeof loadGeneratorOptions>;
try {
  options = loadGeneratorOptions();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal({ problems: err.problems }, err.message);
  process.exit(2);
}

const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stopping: sending what is in hand");
    stop.abort();
  });
}

try {
  const result = await runGenerator({ ...options, signal: stop.signal, logger });
  const lost = result.links.some((l) => l.dropped > 0);
  logger.info({ counts: result.counts, links: result.links, lost }, "generator finished");
  process.exit(0);
} catch (err) {
  logger.fatal({ err }, "generator failed");
  process.exit(1);
}
