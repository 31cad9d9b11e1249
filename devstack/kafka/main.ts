import Fastify from "fastify";
import * as koffi from "koffi";
import { ConfigError, loadConfig } from "../../common/config.ts";
import { createLogger } from "../../common/logger.ts";
import { ALL_TOPICS } from "../../common/topics.ts";
import { adminRoutes } from "./adminRoutes.ts";
import { kafkaSettings } from "./config.ts";
import { LibrdkafkaLoadError, loadLibrdkafka } from "./librdkafka.ts";
import { MockCluster } from "./mockCluster.ts";

// One link's embedded Kafka: a librdkafka mock cluster with the catalog's topics, plus its fault-injection
// endpoint. When both are up it logs one line with "event":"ready" (bootstrap, admin URL, partitions) that
// the launcher waits for. The HTTP server is what keeps the process alive; the mock runs on its own thread.

// The link label is bound before the config is parsed so that a config error is labelled too.
const log = createLogger("kafka", { link: process.env.LINK_ID || "a" });

async function main(): Promise<void> {
  const config = loadConfig(kafkaSettings);
  const lib = loadLibrdkafka(config.librdkafkaPath);
  const cluster = new MockCluster(lib, {
    brokers: config.brokers,
    partitions: config.partitions,
    topics: ALL_TOPICS,
    debug: config.debug,
  });

  const app = Fastify({ loggerInstance: log.child({ component: "admin" }) });
  await app.register(adminRoutes, { cluster, linkId: config.linkId });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await app.close();
    cluster.destroy();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  if (config.exitOnStdinEnd) {
    // The launcher holds the other end of our stdin: it closes when the parent exits, even by kill -9. Nobody
    // reads our stdout any more then, so we leave without a word (a log write could block on the dead pipe).
    process.stdin.on("end", () => {
      cluster.destroy();
      process.exit(0);
    });
    process.stdin.resume();
    dieWithParent();
  }

  const admin = await app.listen({ host: "127.0.0.1", port: config.adminPort });
  log.info(
    {
      event: "ready",
      bootstrap: cluster.bootstrap,
      admin,
      partitions: config.partitions,
      brokers: config.brokers,
      topics: ALL_TOPICS,
      librdkafka: lib.version,
    },
    "embedded kafka ready",
  );
}

/**
 * Linux: the kernel kills this process when the launcher dies. The end of stdin alone proved not enough: when
 * a launcher died abruptly, about one child in four was left behind with its main thread blocked in a futex
 * (so no handler ran, not even for SIGTERM) and had to be killed by hand.
 */
function dieWithParent(): void {
  if (process.platform !== "linux") return;
  const libc = koffi.load("libc.so.6");
  const prctl = libc.func(
    "int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)",
  );
  const PR_SET_PDEATHSIG = 1;
  const SIGKILL = 9;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // The launcher may have died before the request: then we are the init process's child already.
  if (process.ppid === 1) process.kill(process.pid, "SIGKILL");
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof LibrdkafkaLoadError) log.fatal(err.message);
  else log.fatal({ err }, "embedded kafka failed to start");
  process.exit(1);
});
