import { ConfigError, loadConfig } from "../../common/config.ts";
import { createLogger } from "../../common/logger.ts";
import { consulDevSettings } from "./config.ts";
import { startConsulDevServer } from "./server.ts";

// The dev stack's Consul: one process serving the Consul HTTP API. When it listens it logs one line with
// "event":"ready" and the URL (the supervisor and the benchmark wait for it); SIGTERM or SIGINT writes the
// last snapshot and exits 0.

const log = createLogger("consul-dev");

async function main(): Promise<void> {
  const config = loadConfig(consulDevSettings);
  const server = await startConsulDevServer({
    port: config.port,
    host: config.host,
    dataFile: config.dataFile,
    aclToken: config.aclToken,
    requestTimeoutMs: config.requestTimeoutMs,
    logger: log,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    try {
      await server.close();
    } catch (err) {
      log.error({ err }, "last snapshot write failed");
      process.exit(1);
    }
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));

  log.info(
    {
      event: "ready",
      url: server.url,
      port: server.port,
      dataFile: config.dataFile,
      acl: config.aclToken !== "",
    },
    "consul dev server listening",
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) log.fatal(err.message);
  else log.fatal({ err }, "consul dev server failed to start");
  process.exit(1);
});
