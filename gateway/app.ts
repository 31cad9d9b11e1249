import { readFileSync } from "node:fs";
import { type Tracer, trace } from "@opentelemetry/api";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Registry } from "prom-client";
import { AuthThrottle } from "../common/adminAuth.ts";
import { BusinessClock } from "../common/businessTime.ts";
import { consulClient } from "../common/consul.ts";
import { errorHandler, notFoundHandler } from "../common/httpErrors.ts";
import { fastifyTimeouts, silentConnections } from "../common/httpTimeouts.ts";
import type { Logger } from "../common/logger.ts";
import { opsRoutes } from "../common/opsRoutes.ts";
import { installStrictInput } from "../common/strictInput.ts";
import { createMetricsRegistry } from "../common/telemetry.ts";
import { AnswerCache, sendKept } from "./answerCache.ts";
import { apiKeyAuth, charger, RateLimiter } from "./auth.ts";
import { holdsData, LastKnown, MicroCache } from "./cache.ts";
import { installCallLog } from "./callLog.ts";
import type { GatewayConfig } from "./config.ts";
import { ExpensiveReads } from "./expensiveReads.ts";
import { LinkPool } from "./links/linkPool.ts";
import { type LinkAnswer, LinkRouter } from "./links/linkRouter.ts";
import { MetricReader } from "./metricReader.ts";
import { gatewayMetrics } from "./metrics.ts";
import { NoDipGuard } from "./noDip.ts";
import { adminRoutes } from "./routes/admin.ts";
import { catalogRoutes } from "./routes/catalog.ts";
import { collectOpenApi, docsRoutes } from "./routes/docs.ts";
import { metricRoutes } from "./routes/metrics.ts";
import { queryRoutes } from "./routes/query.ts";
import { ROUTING_VERSION_HEADER } from "./routes/served.ts";
import { streamRoutes } from "./routes/stream.ts";
import { RoutingWatcher } from "./routing/routingWatcher.ts";
import { screenRoutes } from "./screen/screen.ts";

// The gateway as a Fastify instance: everything wired, nothing listening, so that tests run it in-process
// on port 0 and main.ts adds only the process concerns (config, signals, tracing start-up).

export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  registry?: Registry;
  /** Given when tracing is on: requests get server spans and link reads child spans. */
  tracer?: Tracer;
  /** The clock of business dates, rate limits and stale bounds (tests move it by hand). */
  now?: () => number;
  /** Retry delays of a failing Consul watch (tests shorten them). */
  consulRetry?: { factorMs: number; maxMs: number };
}

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const registry = deps.registry ?? createMetricsRegistry("gateway");
  const tracer = deps.tracer ?? trace.getTracer("oneservice-gateway");
  const metrics = gatewayMetrics(registry, config.links);
  const clock = new BusinessClock(config.timeZone);

  const consul = consulClient(config);
  const routing = new RoutingWatcher({
    consul,
    links: config.links,
    gatewayId: config.gatewayId,
    cacheFile: config.routingCacheFile,
    log: log.child({ part: "routing" }),
    metrics,
    retry: deps.consulRetry,
  });
  const pool = new LinkPool(config.linkAddresses, clock, log.child({ part: "links" }), metrics);
  const router = new LinkRouter(pool, routing, {
    readTimeoutMs: config.readTimeoutMs,
    metrics,
    tracer,
    log: log.child({ part: "router" }),
  });
  // Data that stopped is stale however it is read: frozen on the link, or the comparator judges it down.
  const stoppedSince = (link: string): number | null => {
    const health = routing.health?.links[link];
    const down = health?.state === "down" ? Date.parse(health.since) : null;
    return down ?? pool.frozenSince(link, config.staleAfterMs);
  };
  const cache = new MicroCache<LinkAnswer<unknown>>(config.cacheTtlMs, config.cacheMaxEntries, metrics, (a) =>
    holdsData(a.value),
  );
  const lastKnown = new LastKnown<LinkAnswer<unknown>>(config.cacheMaxEntries, now);
  const noDip = new NoDipGuard(config.noDipMaxEntries);
  const reader = new MetricReader({
    router,
    routing,
    cache,
    lastKnown,
    noDip,
    clock,
    staleServeMaxMs: config.staleServeMaxMs,
    metrics,
    complete: (link, metric, date) => pool.complete(link, metric, date),
    stoppedSince,
  });
  const answers = new AnswerCache(reader, now, config.cacheTtlMs, config.cacheMaxEntries);
  routing.onApply((doc, previous) => {
    if (previous?.active !== doc.active) cache.clear();
  });

  const app = Fastify({
    loggerInstance: log.child({ part: "http" }) as FastifyBaseLogger,
    // callLog.ts writes the one line per request.
    logController: new LogController({ disableRequestLogging: true }),
    // No pino child per request: the call-log line is the per-request record, and a child costs more than it.
    childLoggerFactory: (logger) => logger,
    bodyLimit: config.bodyLimitBytes,
    ...fastifyTimeouts(config),
    return503OnClosing: true,
    // Unknown parameters are refused (400 naming them) rather than silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  await collectOpenApi(app, version);
  installCallLog(app, { log, metrics, tracer: deps.tracer });
  installStrictInput(app);
  const closeSilentConnections = silentConnections(app.server);
  app.addHook("preClose", async () => closeSilentConnections());
  app.setErrorHandler(errorHandler(log));
  app.setNotFoundHandler(notFoundHandler);
  app.addHook("onClose", async () => {
    await routing.stop();
    await pool.close();
    consul.destroy();
  });

  await app.register(opsRoutes, {
    registry,
    readiness: [
      {
        name: "routing",
        check: () =>
          routing.current ? null : "no routing document yet (Consul not answered, no local copy)",
      },
      { name: "links", check: () => (pool.anyConnected() ? null : "no link's Redis is connected") },
      {
        // Every gateway serves the same links, so data that stopped is no reason to take this one out of
        // rotation (screens would get errors instead of values marked stale); it is named here and alerted on.
        name: "data",
        advisory: true,
        check: () => {
          const active = routing.current?.active;
          const since = active === undefined ? null : stoppedSince(active);
          return since === null
            ? null
            : `the serving link ${active}'s data stopped at ${new Date(since).toISOString()}: answers are marked stale`;
        },
      },
    ],
  });

  const charge = charger(new RateLimiter(config.rateLimitPerSecond, now), metrics);
  const expensiveReads = new ExpensiveReads(config.expensiveReadsPerApp);
  const dataOptions = { reader, clock, now, historyDays: config.historyDays, charge, expensiveReads };
  const authThrottle = new AuthThrottle(config.authFailuresPerMinute);
  await app.register(
    async (api) => {
      const refusal = apiKeyAuth(config.apiKeys, charge, authThrottle, metrics);
      // One hook rather than two, as each costs on every request. The routing version is set up front so
      // that refusals (401, 429, 400, 503…) also say which routing was in force; an answer replaces it
      // with the version it was served under. A read whose answer is kept is answered here, once the key
      // and the rate limit passed, in the check phase as the route sends micro-cache hits (so that the
      // answers ready in one turn of the event loop are written together).
      api.addHook("onRequest", (req, reply, done) => {
        reply.header(ROUTING_VERSION_HEADER, String(routing.current?.version ?? 0));
        const refused = refusal(req);
        if (refused !== undefined || req.method !== "GET") return done(refused);
        const kept = answers.find(req.app, req.url);
        if (kept === undefined) return done();
        setImmediate(sendKept, reply, kept);
      });
      await api.register(catalogRoutes, {
        timeZone: config.timeZone,
        incompleteThrough: (metric) => {
          const active = routing.current?.active;
          return active ? pool.incompleteThrough(active, metric) : null;
        },
        today: () => clock.dateOf(now()),
      });
      await api.register(metricRoutes, { ...dataOptions, answers });
      await api.register(queryRoutes, dataOptions);
      await api.register(streamRoutes, {
        ...dataOptions,
        intervalMs: config.streamIntervalMs,
        maxClients: config.streamMaxClients,
        maxClientsPerApp: config.streamMaxClientsPerApp,
        metrics,
        log,
      });
    },
    { prefix: "/v1" },
  );
  await app.register(adminRoutes, {
    prefix: "/admin",
    adminToken: config.adminToken,
    authThrottle,
    routing,
    router,
    pool,
    cache,
    lastKnown,
    noDip,
    answers,
    metrics,
    staleServeMaxMs: config.staleServeMaxMs,
  });
  await app.register(docsRoutes, { prefix: "/docs" });
  await app.register(screenRoutes, { prefix: "/screen" });

  await routing.start();
  return app;
}
