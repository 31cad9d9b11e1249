import { hostname } from "node:os";
import { credentialProblems, credentialSettings, DEV_ADMIN_TOKEN } from "../common/adminAuth.ts";
import { ConfigError, type ConfigOf, duration, int, loadConfig, str } from "../common/config.ts";
import { consulSettings } from "../common/consul.ts";
import { categoryFileSetting } from "../common/dimensionSettings.ts";
import { httpTimeoutSettings } from "../common/httpTimeouts.ts";
import { linksSetting, timeZoneSetting } from "../common/sharedSettings.ts";

// Everything the comparator can be told. Per-link addresses come from KAFKA_BROKERS_<ID> and REDIS_URL_<ID>
// (common/links.ts). The defaults detect a dead or stalled link and move the gateways within about 3 s.
export const comparatorSettings = {
  port: int({
    env: "COMPARATOR_PORT",
    default: 8081,
    min: 0,
    max: 65535,
    doc: "Port of the failover API, the ops console, /healthz, /readyz and /metrics; 0 picks a free one.",
  }),
  host: str({ env: "COMPARATOR_HOST", default: "127.0.0.1", doc: "Address the HTTP server listens on." }),
  links: linksSetting,
  ...consulSettings,
  ...credentialSettings,
  ...httpTimeoutSettings,
  probeIntervalMs: duration({
    env: "PROBE_INTERVAL",
    default: 250,
    min: 20,
    doc: "How often every link is probed (heartbeat, watermarks, Kafka lag, live values, digests).",
  }),
  probeTimeoutMs: duration({
    env: "PROBE_TIMEOUT",
    default: 1_000,
    min: 10,
    doc: "A Redis command of a probe that takes longer fails the probe: the link counts as unreachable.",
  }),
  heartbeatStaleMs: duration({
    env: "HEARTBEAT_STALE",
    default: 2_000,
    min: 1,
    doc: "A link whose newest processor heartbeat is older than this is down.",
  }),
  heartbeatPruneAfterMs: duration({
    env: "HEARTBEAT_PRUNE_AFTER",
    default: 600_000,
    shownDefault: "10m",
    min: 1_000,
    doc: "Heartbeat entries older than this (processors that crashed or left) and entries that are not heartbeats are deleted from the link's Redis, once a minute, by the leader.",
  }),
  lagBoundMs: duration({
    env: "LAG_BOUND_MS",
    default: 2_000,
    min: 0,
    doc: "A link whose event-time watermark is further behind the best link's than this is lagging.",
  }),
  lagBoundRecords: int({
    env: "LAG_BOUND_RECORDS",
    default: 5_000,
    min: 0,
    doc: "A link whose Kafka consumer lag exceeds the smallest link's by more records than this is lagging.",
  }),
  hysteresisProbes: int({
    env: "HYSTERESIS_PROBES",
    default: 3,
    min: 1,
    max: 1_000,
    doc: "Consecutive probes that must disagree with a link's state before the state changes.",
  }),
  gapWindow: int({
    env: "GAP_WINDOW",
    default: 8,
    min: 2,
    max: 1_000,
    doc: "Probes over which a live cumulative gap is judged: it diverges when it keeps widening (every probe of the later half further out than every probe of the earlier half) beyond what the link's lag explains.",
  }),
  failbackAfterMinutes: int({
    env: "FAILBACK_AFTER_MINUTES",
    default: 5,
    min: 0,
    doc: "Closed minutes a recovered link must stay healthy before automatic failover may pick it again.",
  }),
  scrubIntervalMs: duration({
    env: "SCRUB_INTERVAL",
    default: 1_000,
    min: 20,
    doc: "How often each link is scrubbed: its next closed minutes re-derived and one metric dimension's day values checked against its minutes (see SCRUB_MINUTES_PER_ROUND).",
  }),
  scrubMinutesPerRound: int({
    env: "SCRUB_MINUTES_PER_ROUND",
    default: 60,
    min: 1,
    max: 1_440,
    doc: "Closed minutes a scrub round re-derives: the scrub passes over the 2,880 minutes of today and yesterday in (2,880 / this) rounds, 48 s at the defaults.",
  }),
  healthRefreshMs: duration({
    env: "HEALTH_REFRESH",
    default: 3_000,
    min: 100,
    doc: "The health document is rewritten on every state change and at least this often.",
  }),
  sessionTtl: str({
    env: "COMPARATOR_SESSION_TTL",
    default: "10s",
    pattern: /^\d+(s|m|h)$/,
    doc: "TTL of the leader session (Consul allows 10s to 24h); a dead leader is replaced after about twice it.",
  }),
  lockDelay: str({
    env: "COMPARATOR_LOCK_DELAY",
    default: "1s",
    pattern: /^\d+(ms|s)$/,
    doc: "Lock-delay of the leader session: how long the lock stays free after its holder's session dies.",
  }),
  timeZone: timeZoneSetting,
  comparatorId: str({
    env: "COMPARATOR_ID",
    default: `${hostname()}-${process.pid}`,
    shownDefault: "<hostname>-<pid>",
    pattern: /^[A-Za-z0-9_.-]{1,64}$/,
    doc: "Name of this replica in routing changes, audit records and the leader lock.",
  }),
  categoryFile: categoryFileSetting,
  auditRetention: int({
    env: "AUDIT_RETENTION",
    default: 10_000,
    min: 100,
    max: 1_000_000,
    doc: "Audit records kept in Consul (the leader deletes older ones once a minute) and in the local file (which, holding that many, becomes <file>.1, replacing the previous one).",
  }),
  auditFile: str({
    env: "AUDIT_FILE",
    default: ".devstack/comparator/audit.jsonl",
    doc: "Local copy of the decisions (JSON lines), read when Consul is unreachable; rotated at AUDIT_RETENTION records.",
  }),
};

export type ComparatorConfig = ConfigOf<typeof comparatorSettings>;

/** Parses and validates every setting, the credentials against where the comparator listens included. */
export function loadComparatorConfig(env: NodeJS.ProcessEnv = process.env): ComparatorConfig {
  const config = loadConfig(comparatorSettings, env);
  const credentials = credentialProblems({
    host: config.host,
    hostEnv: "COMPARATOR_HOST",
    devMode: config.devMode,
    secrets: [{ env: "ADMIN_TOKEN", values: [config.adminToken], dev: DEV_ADMIN_TOKEN }],
  });
  if (credentials.length > 0) throw new ConfigError(credentials);
  return config;
}
