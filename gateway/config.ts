import { hostname } from "node:os";
import { credentialProblems, credentialSettings, DEV_ADMIN_TOKEN, DEV_API_KEY } from "../common/adminAuth.ts";
import {
  ConfigError,
  type ConfigOf,
  duration,
  int,
  loadConfig,
  type Setting,
  str,
} from "../common/config.ts";
import { consulSettings } from "../common/consul.ts";
import { httpTimeoutSettings } from "../common/httpTimeouts.ts";
import { type LinkAddress, loadLinkAddresses } from "../common/links.ts";
import { linksSetting, timeZoneSetting } from "../common/sharedSettings.ts";

// Everything the gateway can be told. Link addresses come from REDIS_URL_<ID> for every id in LINKS
// (common/links.ts); the gateway never needs a link's Kafka.

const APP_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const API_KEY = /^[\x21-\x7e]{6,256}$/;

/** `screen=dev-key,partner=key2`: calling application -> its API key. */
function apiKeys(): Setting<Record<string, string>> {
  return {
    env: "API_KEYS",
    default: { screen: DEV_API_KEY },
    shownDefault: '"screen=dev-api-key"',
    doc: "API keys of the calling applications, app=key[,app=key]; the app name labels logs, limits and metrics.",
    parse: (raw) => {
      const out: Record<string, string> = {};
      const seen = new Set<string>();
      for (const pair of raw.split(",")) {
        const [app = "", key = "", ...rest] = pair.trim().split("=");
        if (rest.length > 0 || !APP_NAME.test(app))
          throw new Error(`${JSON.stringify(pair)}: expected app=key`);
        if (!API_KEY.test(key)) throw new Error(`the key of ${app} must be 6-256 printable characters`);
        if (app in out) throw new Error(`application ${app} is listed twice`);
        if (seen.has(key)) throw new Error(`the key of ${app} is also another application's key`);
        out[app] = key;
        seen.add(key);
      }
      return out;
    },
  };
}

export const gatewaySettings = {
  port: int({
    env: "GATEWAY_PORT",
    default: 8080,
    min: 0,
    max: 65535,
    doc: "HTTP port; 0 picks a free one.",
  }),
  host: str({ env: "GATEWAY_HOST", default: "127.0.0.1", doc: "Address the HTTP server listens on." }),
  links: linksSetting,
  ...consulSettings,
  apiKeys: apiKeys(),
  ...credentialSettings,
  ...httpTimeoutSettings,
  rateLimitPerSecond: int({
    env: "RATE_LIMIT_PER_SECOND",
    default: 1000,
    min: 0,
    doc: "Requests per second each application may make (bursts up to one second's worth); 0 = no limit.",
  }),
  expensiveReadsPerApp: int({
    env: "EXPENSIVE_READS_PER_APP",
    default: 4,
    min: 1,
    doc: "Reads costing more than one token (a series over an hour, a ratio series) one application may have in flight at once; more get 429.",
  }),
  readTimeoutMs: duration({
    env: "READ_TIMEOUT",
    default: 150,
    min: 1,
    doc: "How long a link may take to answer a read before the next healthy standby is tried (not for a read costing more than one token: its own size, or its caller's load, is the likely cause, and a retry would spread it to every link).",
  }),
  cacheTtlMs: duration({
    env: "CACHE_TTL",
    default: 250,
    doc: "How long a value read from a link is served again without a read; 0 = no cache (reads still coalesce).",
  }),
  cacheMaxEntries: int({
    env: "CACHE_MAX_ENTRIES",
    default: 10_000,
    min: 1,
    doc: "Entries per calling application of the micro-cache and, separately, of the kept answers and of the last-known values kept for stale serving.",
  }),
  historyDays: int({
    env: "HISTORY_DAYS",
    default: 3,
    min: 0,
    max: 366,
    doc: "Days before today a date parameter may name: what the links keep (the processors' KEY_TTL_SECONDS); other dates get 400.",
  }),
  staleAfterMs: duration({
    env: "STALE_AFTER",
    default: 10_000,
    shownDefault: "10s",
    min: 1_000,
    doc: "Answers from a link whose data (its watermark) has not advanced for this long are flagged stale, with staleSince.",
  }),
  staleServeMaxMs: duration({
    env: "STALE_SERVE_MAX",
    default: 300_000,
    shownDefault: "5m",
    doc: "With every link down, last-known values at most this old are served (flagged stale); else 503.",
  }),
  noDipMaxEntries: int({
    env: "NO_DIP_MAX_ENTRIES",
    default: 100_000,
    min: 1,
    doc: "Highest served values remembered per calling application (metric, dimension, key, day) to keep cumulative values from dipping.",
  }),
  streamIntervalMs: duration({
    env: "STREAM_INTERVAL",
    default: 1_000,
    shownDefault: "1s",
    min: 10,
    doc: "How often each /v1/stream client is checked for changed values.",
  }),
  streamMaxClients: int({
    env: "STREAM_MAX_CLIENTS",
    default: 1_000,
    min: 1,
    doc: "Open /v1/stream connections at most; more get 503.",
  }),
  streamMaxClientsPerApp: int({
    env: "STREAM_MAX_CLIENTS_PER_APP",
    default: 200,
    min: 1,
    doc: "Open /v1/stream connections of one application at most, so one caller cannot take every slot; more get 503.",
  }),
  bodyLimitBytes: int({
    env: "BODY_LIMIT",
    default: 65_536,
    min: 1_024,
    doc: "Largest request body in bytes; larger gets 413.",
  }),
  routingCacheFile: str({
    env: "ROUTING_CACHE_FILE",
    default: "",
    shownDefault: ".devstack/gateway-<GATEWAY_ID>-routing.json",
    doc: "Local copy of the last applied routing document, used when Consul is unreachable at start.",
  }),
  gatewayId: str({
    env: "GATEWAY_ID",
    default: "",
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    shownDefault: "<hostname>-<GATEWAY_PORT>",
    doc: "Name of this gateway in its routing acknowledgement (Consul key oneservice/gateways/<id>).",
  }),
  timeZone: timeZoneSetting,
  shutdownTimeoutMs: duration({
    env: "SHUTDOWN_TIMEOUT",
    default: 10_000,
    shownDefault: "10s",
    doc: "Bound on closing connections and releasing the Consul session after SIGTERM.",
  }),
};

export type GatewayConfig = ConfigOf<typeof gatewaySettings> & { linkAddresses: LinkAddress[] };

/** Parses and validates everything, filling the defaults that depend on other settings. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config = loadConfig(gatewaySettings, env);
  const credentials = credentialProblems({
    host: config.host,
    hostEnv: "GATEWAY_HOST",
    devMode: config.devMode,
    secrets: [
      { env: "ADMIN_TOKEN", values: [config.adminToken], dev: DEV_ADMIN_TOKEN },
      { env: "API_KEYS", values: Object.values(config.apiKeys), dev: DEV_API_KEY },
    ],
  });
  if (credentials.length > 0) throw new ConfigError(credentials);
  const gatewayId = config.gatewayId || `${hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}-${config.port}`;
  return {
    ...config,
    gatewayId,
    routingCacheFile: config.routingCacheFile || `.devstack/gateway-${gatewayId}-routing.json`,
    linkAddresses: loadLinkAddresses(config.links, { kafka: false, redis: true }, env),
  };
}
