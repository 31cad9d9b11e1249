import { loadLinkAddresses } from "../common/links.ts";
import { createLogger } from "../common/logger.ts";
import { runService } from "../common/runService.ts";
import { startTracing } from "../common/telemetry.ts";
import { buildComparator } from "./app.ts";
import { comparatorSettings, loadComparatorConfig } from "./config.ts";

// The comparator process. SIGTERM or SIGINT: stop probing, release the leader lock (a follower takes over at
// its next attempt), close HTTP, exit 0.

const log = createLogger("comparator");
const STOP_TIMEOUT_MS = 10_000;

await runService({
  title: "Comparator",
  settings: comparatorSettings,
  helpNotes: "Plus KAFKA_BROKERS_<ID> and REDIS_URL_<ID> for every link id in LINKS.",
  log,
  load: (env) => {
    const config = loadComparatorConfig(env);
    return { config, links: loadLinkAddresses(config.links, { kafka: true, redis: true }, env) };
  },
  start: async ({ config, links }) => {
    const tracing = startTracing("oneservice-comparator");
    const built = await buildComparator({ config, links, log, tracer: tracing.tracer });
    const address = await built.listen();
    await built.comparator.leader.start();
    built.comparator.startProbing();
    log.info({ address, links: config.links, comparatorId: config.comparatorId }, "comparator started");
    return {
      stopping: "stopping: releasing the leader lock",
      stopTimeoutMs: STOP_TIMEOUT_MS,
      stop: async () => {
        await built.close();
        await tracing.shutdown();
      },
    };
  },
});
