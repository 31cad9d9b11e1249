import { credentialSettings, DEV_API_KEY } from "../../common/adminAuth.ts";
import { bool, duration, int, str } from "../../common/config.ts";
import { kafkaPartitionsSetting, linksSetting } from "../../common/sharedSettings.ts";

// Everything `npm start` can be told. Per-link addresses are not here: `KAFKA_BROKERS_<ID>` and
// `REDIS_URL_<ID>` (common/links.ts) point a link at a real Kafka or Redis, and then the supervisor starts no
// embedded one for it and hands the given address on.

const port = (env: string, fallback: number, what: string) =>
  int({
    env,
    default: fallback,
    min: 0,
    max: 65535,
    doc: `HTTP port of ${what} on 127.0.0.1; 0 picks a free one`,
  });

export const supervisorSettings = {
  links: linksSetting,
  processorsPerLink: int({
    env: "PROCESSORS_PER_LINK",
    default: 1,
    min: 1,
    max: 16,
    doc: "processor processes per link (members of the link's consumer group)",
  }),
  kafkaPartitions: kafkaPartitionsSetting,
  generatorRate: int({
    env: "GENERATOR_RATE",
    default: 500,
    min: 0,
    doc: "events per second the generator sends to every link (0 = as fast as it can)",
  }),
  startGenerator: bool({
    env: "START_GENERATOR",
    default: true,
    doc: "start the traffic generator; false leaves the links idle for your own producer",
  }),
  dir: str({
    env: "DEVSTACK_DIR",
    default: ".devstack",
    doc: "where the stack keeps its state: stack.json, logs/, dims/, consul/, redis/<link>/",
  }),
  consulPort: port("CONSUL_PORT", 8500, "the Consul dev server"),
  gatewayPort: port("GATEWAY_PORT", 8080, "the gateway"),
  comparatorPort: port("COMPARATOR_PORT", 8081, "the comparator and its ops console"),
  apiKey: str({
    env: "DEV_API_KEY",
    default: DEV_API_KEY,
    pattern: /^[A-Za-z0-9._~-]{6,256}$/,
    doc: "API key the gateway accepts from callers, as application `screen` (dev only)",
  }),
  adminToken: credentialSettings.adminToken,
  backoffInitialMs: duration({
    env: "RESTART_BACKOFF_INITIAL",
    default: 500,
    min: 10,
    doc: "delay before restarting a crashed service the first time; doubles on each crash in a row",
  }),
  backoffMaxMs: duration({
    env: "RESTART_BACKOFF_MAX",
    default: 30_000,
    min: 10,
    doc: "longest delay between restarts; a service up this long counts as healthy and the delay resets",
  }),
  readyTimeoutMs: duration({
    env: "SERVICE_READY_TIMEOUT",
    default: 60_000,
    min: 1_000,
    doc: "how long a service may take to answer its health check after it is started",
  }),
  stopTimeoutMs: duration({
    env: "SERVICE_STOP_TIMEOUT",
    default: 15_000,
    min: 100,
    doc: "how long a service may take to exit after SIGTERM before it gets SIGKILL",
  }),
};
