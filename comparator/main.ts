import { ConfigError, describeConfig } from "../common/config.ts";
import { loadLinkAddresses } from "../common/links.ts";
import { createLogger } from "../common/logger.ts";
import { exitOnSignals } from "../common/shutdown.ts";
import { startTracing } from "../common/telemetry.ts";
import { buildComparator } from "./app.ts";
import { comparatorSettings, loadComparatorConfig } from "./config.ts";

// The comparator process. SIGTERM or SIGINT: stop probing, release the leader lock (a follower takes over at
// its next attempt), close HTTP, exit 0.

if (process.argv.includes("--help")) {
  process.stdout.write(
    `${describeConfig(comparatorSettings)}\n| \`KAFKA_BROKERS_<ID>\`, \`REDIS_URL_<ID>\` | (required) | each link's addresses |\n`,
  );
  process.exit(0);
}

const log = createLogger("comparator");

function exit(code: number, reason: string): never {
  log.fatal({ code, reason }, "exiting");
  process.exit(code);
}

let config: ReturnType<typeof loadComparatorConfig>;
let links: ReturnType<typeof loadLinkAddresses>;
try {
  config = loadComparatorConfig();
  links = loadLinkAddresses(config.links, { kafka: true, redis: true });
} catch (err) {
  exit(1, err instanceof ConfigError ? err.message : String(err));
}

const tracing = startTracing("oneservice-comparator");
const built = await buildComparator({ config, links, log, tracer: tracing.tracer });
const address = await built.listen();
await built.comparator.leader.start();
built.comparator.startProbing();
log.info({ address, links: config.links, comparatorId: config.comparatorId }, "comparator started");

exitOnSignals(log, "stopping: releasing the leader lock", 10_000, async () => {
  await built.close();
  await tracing.shutdown();
});
