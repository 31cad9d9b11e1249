import { spawnSync } from "node:child_process";
import { kafkaSettings } from "../kafka/config.ts";
import { LibrdkafkaLoadError, loadLibrdkafka } from "../kafka/librdkafka.ts";
import { INSTALL_HINT as REDIS_INSTALL_HINT } from "../redis/launcher.ts";

// What must be on the machine before anything is started, each missing piece named with how to get it, so
// that `npm start` fails in a second with the fix instead of halfway through with a child's stack trace.

export interface Needs {
  /** Some link runs the embedded Kafka (librdkafka's mock cluster). */
  embeddedKafka: boolean;
  /** Some link runs its own redis-server. */
  embeddedRedis: boolean;
}

const MIN_NODE_MAJOR = 20;

/** Every missing prerequisite, as a message that says how to get it; empty when all is there. */
export function missingPrerequisites(needs: Needs, env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR)
    missing.push(
      `Node.js ${process.versions.node} is too old: ${MIN_NODE_MAJOR} or newer is needed (https://nodejs.org, or your distribution's nodejs package)`,
    );
  if (needs.embeddedKafka) {
    try {
      loadLibrdkafka(env.LIBRDKAFKA_PATH || (kafkaSettings.librdkafkaPath.default as string));
    } catch (err) {
      if (!(err instanceof LibrdkafkaLoadError)) throw err;
      missing.push(`${err.message} (or point every link at a real Kafka with KAFKA_BROKERS_<ID>)`);
    }
  }
  if (needs.embeddedRedis) {
    const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
    if (probe.error)
      missing.push(
        `redis-server not found on PATH (${probe.error.message}): ${REDIS_INSTALL_HINT} (or point every link at a running Redis with REDIS_URL_<ID>)`,
      );
  }
  return missing;
}
