import type { Tracer } from "@opentelemetry/api";
import Fastify, {
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from "fastify";
import type { Registry } from "prom-client";
import { AuthThrottle } from "../common/adminAuth.ts";
import { consulAddressText, consulClient } from "../common/consul.ts";
import { errorHandler, notFoundHandler } from "../common/httpErrors.ts";
import { fastifyTimeouts, silentConnections } from "../common/httpTimeouts.ts";
import type { LinkAddress } from "../common/links.ts";
import type { Logger } from "../common/logger.ts";
import { opsRoutes } from "../common/opsRoutes.ts";
import { installStrictInput } from "../common/strictInput.ts";
import { createMetricsRegistry } from "../common/telemetry.ts";
import { Comparator } from "./comparator.ts";
import type { ComparatorConfig } from "./config.ts";
import { comparatorMetrics } from "./metrics.ts";
import { Repairs } from "./repairs.ts";
import { auditRoutes } from "./routes/audit.ts";
import { consoleRoutes } from "./routes/console.ts";
import { linksRoutes } from "./routes/links.ts";
import { operationsRoutes } from "./routes/operations.ts";
import { repairStatusRoutes } from "./routes/repairs.ts";
import { routingRoutes } from "./routes/routing.ts";

// Wires the comparator's loop to its HTTP side. Nothing starts on its own: `listen` serves HTTP, then the
// caller starts the leader election and the probe loop (main.ts does both; tests may drive probes by hand).

export interface ComparatorOptions {
  config: ComparatorConfig;
  links: LinkAddress[];
  log: Logger;
  tracer: Tracer;
  registry?: Registry;
}

export interface BuiltComparator {
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;
  comparator: Comparator;
  registry: Registry;
  /** Listens on COMPARATOR_HOST:COMPARATOR_PORT and returns the URL. */
  listen(): Promise<string>;
  /** Stops probing, releases the leader lock, closes HTTP and every client. */
  close(): Promise<void>;
}

export async function buildComparator(opts: ComparatorOptions): Promise<BuiltComparator> {
  const { config, log } = opts;
  const registry = opts.registry ?? createMetricsRegistry("comparator", { replica: config.comparatorId });
  const consul = consulClient(config);
  const metrics = comparatorMetrics(registry, config.links);
  let url = "";
  const comparator = new Comparator({
    config,
    links: opts.links,
    consul,
    log,
    metrics,
    tracer: opts.tracer,
    url: () => url,
  });

  const app = Fastify({ loggerInstance: log.child({ part: "http" }), ...fastifyTimeouts(config) });
  const closeSilentConnections = silentConnections(app.server);
  app.addHook("preClose", async () => closeSilentConnections());
  app.setErrorHandler(errorHandler(log));
  app.setNotFoundHandler(notFoundHandler);
  installStrictInput(app);
  await app.register(opsRoutes, {
    registry,
    readiness: [{ name: "comparator", check: () => comparator.readiness() }],
  });
  const repairs = new Repairs(
    opts.links,
    {
      consulAddr: consulAddressText(config.consul),
      consulToken: config.consulToken,
      auditFile: config.auditFile,
      categoryFile: config.categoryFile,
    },
    log.child({ part: "repair" }),
  );
  await app.register(linksRoutes, { comparator, repairs });
  await app.register(repairStatusRoutes, { repairs, links: config.links });
  await app.register(routingRoutes, { comparator });
  await app.register(auditRoutes, { comparator });
  await app.register(operationsRoutes, {
    comparator,
    repairs,
    links: config.links,
    adminToken: config.adminToken,
    authThrottle: new AuthThrottle(config.authFailuresPerMinute),
    onAuthFailure: (status) => metrics.authFailures.inc({ status: String(status) }),
  });
  await app.register(consoleRoutes);

  return {
    app,
    comparator,
    registry,
    listen: async () => {
      url = await app.listen({ port: config.port, host: config.host });
      return url;
    },
    close: async () => {
      repairs.close();
      await comparator.close();
      await app.close();
      consul.destroy();
    },
  };
}
