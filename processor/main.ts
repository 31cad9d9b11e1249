import Fastify from "fastify";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { loadConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { opsRoutes } from "../common/opsRoutes.ts";
import { exitWith, runService } from "../common/runService.ts";
import { createMetricsRegistry, startTracing } from "../common/telemetry.ts";
import { processorSettings } from "./config.ts";
import { EXIT, LinkProcessor } from "./linkProcessor.ts";
import { StateVersionError } from "./linkStore.ts";
import { processorMetrics } from "./metrics.ts";

const log = createLogger("processor", { link: process.env.LINK_ID ?? "a" });
const exit = (code: number, reason: string): never => exitWith(log, code, reason);

await runService({
  title: "Processor",
  settings: processorSettings,
  log,
  load: (env) => loadConfig(processorSettings, env),
  start: async (config) => {
    const tracing = startTracing("oneservice-processor");
    const registry = createMetricsRegistry("processor", { link: config.linkId });
    const redis = new Redis(config.redisUrl, {
      maxRetriesPerRequest: 2,
      retryStrategy: (n) => Math.min(n * 100, 1_000),
    });
    const kafka = new Kafka({
      clientId: `oneservice-processor-${config.linkId}`,
      brokers: config.kafkaBrokers.split(","),
      logLevel: config.kafkaLogs ? logLevel.WARN : logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    const processor = new LinkProcessor({
      config,
      kafka,
      redis,
      log,
      metrics: processorMetrics(registry),
      tracer: tracing.tracer,
      fatal: exit,
    });

    const ops = Fastify({ loggerInstance: log.child({ part: "http" }) });
    await ops.register(opsRoutes, {
      registry,
      readiness: [
        { name: "redis", check: () => (redis.status === "ready" ? null : `redis ${redis.status}`) },
        { name: "kafka group", check: () => (processor.ready ? null : "not a member of the group yet") },
      ],
    });
    const address = await ops.listen({ port: config.port, host: config.host });

    try {
      await processor.start();
    } catch (err) {
      if (err instanceof StateVersionError) exit(EXIT.incompatibleState, err.message);
      exit(EXIT.dependencyLost, `start failed: ${(err as Error).message}`);
    }
    log.info({ ops: address, link: config.linkId }, "processor started");
    return {
      stopping: "finishing the batch in hand and leaving the group",
      stopTimeoutMs: config.shutdownTimeoutMs,
      stop: async () => {
        await processor.stop();
        await ops.close();
        await redis.quit().catch(() => {});
        await tracing.shutdown();
      },
    };
  },
});
