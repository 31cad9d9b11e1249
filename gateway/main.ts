import { createLogger } from "../common/logger.ts";
import { runService } from "../common/runService.ts";
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

await runService({
  title: "Gateway",
  settings: gatewaySettings,
  helpNotes: "Plus REDIS_URL_<ID> for every link id in LINKS.",
  log,
  load: loadGatewayConfig,
  start: async (config) => {
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
    return {
      stopping: "stopping",
      stopTimeoutMs: config.shutdownTimeoutMs,
      stop: async () => {
        await app.close();
        await tracing.shutdown();
      },
    };
  },
});
