import { ConfigError, describeConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { exitOnSignals } from "../common/shutdown.ts";
import { createMetricsRegistry, startTracing } from "../common/telemetry.ts";
import { buildGateway } from "./app.ts";
import { gatewaySettings, loadGatewayConfig } from "./config.ts";

// The gateway process: configuration, tracing, the HTTP server, and a graceful stop. SIGTERM or SIGINT
// stops accepting, ends open streams, releases the Consul session (which deletes this gateway's routing
// acknowledgement) and exits 0; past SHUTDOWN_TIMEOUT it exits 1.

// Log lines (a call line per request) are held up to LOG_HOLD_MS rather than written every turn of the event
// loop: under load that write was ~1.5 µs of a cached read (loadtest/gatewayBench.ts).
const LOG_HOLD_MS = 20;
const log = createLogger("gateway", {}, { holdMs: LOG_HOLD_MS });

if (process.argv.includes("--help")) {
  console.log(`Gateway settings (environment variables):\n\n${describeConfig(gatewaySettings)}`);
  console.log("\nPlus REDIS_URL_<ID> for every link id in LINKS.");
  process.exit(0);
}

let config: ReturnType<typeof loadGatewayConfig>;
try {
  config = loadGatewayConfig();
} catch (err) {
  if (err instanceof ConfigError) log.fatal(err.message);
  else log.fatal({ err }, "invalid configuration");
  process.exit(1);
}

const tracing = startTracing("oneservice-gateway");
const app = await buildGateway({
  config,
  log: log.child({ gateway: config.gatewayId }),
  registry: createMetricsRegistry("gateway"),
  tracer: tracing.enabled ? tracing.tracer : undefined,
});
const address = await app.listen({ port: config.port, host: config.host });
log.info(
  {
    event: "ready",
    url: address,
    gatewayId: config.gatewayId,
    links: config.links,
    tracing: tracing.enabled,
  },
  "gateway listening",
);

exitOnSignals(log, "stopping", config.shutdownTimeoutMs, async () => {
  await app.close();
  await tracing.shutdown();
});
