import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach } from "node:test";
import { trace } from "@opentelemetry/api";
import Consul from "consul";
import { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import type { LinkAddress } from "../../common/links.ts";
import { createLogger } from "../../common/logger.ts";
import { CONSUL_KEYS, type RoutingDocument } from "../../common/routing.ts";
import { type BuiltComparator, buildComparator } from "../../comparator/app.ts";
import { loadComparatorConfig } from "../../comparator/config.ts";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { registerCompleteMetrics } from "../support/metricStates.ts";

// What the comparator's integration tests share: a Consul dev server, a redis-server per link, links whose
// state a test writes straight into Redis as a processor would, and comparators built in-process.

export const ADMIN_TOKEN = "test-admin-token";
const clock = new BusinessClock("Asia/Shanghai");

export interface Stack {
  dir: string;
  consulServer: ConsulDevServer;
  consul: Consul;
  redis: Map<string, { server: RunningRedis; client: Redis; dataDir: string }>;
  stop(): Promise<void>;
}

export async function startStack(links: readonly string[]): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), "comparator-test-"));
  const consulServer = await startConsulDevServer({ port: 0 });
  const consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
  const redis = new Map<string, { server: RunningRedis; client: Redis; dataDir: string }>();
  await Promise.all(
    links.map(async (id) => {
      const dataDir = join(dir, `redis-${id}`);
      const server = await startRedis({ linkId: id, dataDir });
      const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
      client.on("error", () => {});
      redis.set(id, { server, client, dataDir });
    }),
  );
  return {
    dir,
    consulServer,
    consul,
    redis,
    async stop() {
      for (const r of redis.values()) r.client.disconnect();
      await Promise.all([...redis.values()].map((r) => r.server.stop()));
      consul.destroy();
      await consulServer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Addresses of the stack's links; Kafka points nowhere, so Kafka lag is reported unknown. */
export function addressesOf(stack: Stack, links: readonly string[]): LinkAddress[] {
  return links.map((id) => ({
    id,
    kafkaBrokers: ["127.0.0.1:1"],
    redisUrl: stack.redis.get(id)?.server.url ?? "",
  }));
}

/** A comparator in this process on a free port, watching the stack's (Kafka-less) links. */
export function buildTestComparator(
  stack: Stack,
  opts: { links: readonly string[]; env?: Record<string, string> },
): Promise<BuiltComparator> {
  return comparatorAt(stack, { ...opts, addresses: addressesOf(stack, opts.links) });
}

/** A comparator in this process on a free port, with its audit file in `where.dir`. */
export async function comparatorAt(
  where: { consulServer: { port: number }; dir: string },
  opts: { links: readonly string[]; env?: Record<string, string>; addresses: LinkAddress[] },
): Promise<BuiltComparator> {
  const env = {
    LINKS: opts.links.join(","),
    CONSUL_HTTP_ADDR: `127.0.0.1:${where.consulServer.port}`,
    COMPARATOR_PORT: "0",
    COMPARATOR_ID: "cmp-1",
    ADMIN_TOKEN,
    PROBE_INTERVAL: "50ms",
    HYSTERESIS_PROBES: "3",
    GAP_WINDOW: "4",
    AUDIT_FILE: join(where.dir, "audit.jsonl"),
    ...opts.env,
  };
  const config = loadComparatorConfig(env);
  const log = createLogger("comparator-test").child({ replica: config.comparatorId }, { level: "error" });
  const built = await buildComparator({
    config,
    links: opts.addresses,
    log,
    tracer: trace.getTracer("comparator-test"),
  });
  await built.listen();
  return built;
}

export interface LinkFixture {
  /** null: no heartbeat at all. */
  heartbeatAgeMs?: number | null;
  watermarkBehindMs?: number;
  /** Closed-minute digests of today; set `closedThrough` with them, as a processor moves it when it closes. */
  digests?: Record<string, string>;
  closedThrough?: number;
  values?: Record<string, number>;
  /** Metrics added to the link just now (common/metricState.ts): not whole for today. */
  addedNow?: string[];
}

/** Writes a link's state as its processor would: heartbeat, watermarks, closed minutes, live values. */
export async function writeLink(stack: Stack, link: string, f: LinkFixture = {}): Promise<void> {
  const client = stack.redis.get(link)?.client;
  if (!client) throw new Error(`no Redis for link ${link}`);
  const now = Date.now();
  const watermark = now - 500 - (f.watermarkBehindMs ?? 0);
  const date = clock.dateOf(now - 500);
  const tx = client.multi();
  if (f.heartbeatAgeMs === null) tx.del(keys.heartbeats);
  else tx.hset(keys.heartbeats, "member-1", JSON.stringify({ ts: now - (f.heartbeatAgeMs ?? 0), link }));
  for (const tp of ["ads.events:0", "trade.orders:0", "trade.payments:0"]) {
    tx.hset(keys.maxEventTime, tp, watermark);
    tx.hset(keys.offsets, tp, 10);
  }
  tx.set(keys.closedThrough, f.closedThrough ?? 0);
  registerCompleteMetrics(tx);
  for (const metric of f.addedNow ?? []) {
    const state = JSON.parse((await client.hget(keys.metricStates, metric)) ?? "{}") as Record<
      string,
      unknown
    >;
    tx.hset(keys.metricStates, metric, JSON.stringify({ ...state, since: { eventTime: now, offsets: {} } }));
  }
  if (f.digests) {
    tx.del(keys.digests(date));
    tx.hset(keys.digests(date), f.digests);
  }
  for (const [metric, value] of Object.entries(f.values ?? {}))
    tx.zadd(keys.day(date, metric, "all"), value, "all");
  await tx.exec();
}

/** Runs `count` probes, writing every link's state before each with `fixture(link, probe)`. */
export async function probe(
  stack: Stack,
  built: BuiltComparator,
  count: number,
  fixture: (link: string, n: number) => LinkFixture | "skip" = () => ({}),
): Promise<void> {
  for (let n = 1; n <= count; n++) {
    for (const link of stack.redis.keys()) {
      const f = fixture(link, n);
      if (f !== "skip") await writeLink(stack, link, f);
    }
    await built.comparator.tick();
  }
}

export async function readRouting(consul: Consul): Promise<RoutingDocument | null> {
  const item = await consul.kv.get(CONSUL_KEYS.routing);
  return item ? (JSON.parse(item.Value ?? "") as RoutingDocument) : null;
}

// biome-ignore lint/suspicious/noExplicitAny: assertions walk response bodies of many shapes
type Json = any;

export async function http(
  built: BuiltComparator,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; json: Json }> {
  const res = await built.app.inject({
    method,
    url: path,
    payload: body === undefined ? undefined : JSON.stringify(body),
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
  });
  return { status: res.statusCode, json: res.json() };
}

export async function metricsText(c: BuiltComparator): Promise<string> {
  return (await c.app.inject({ method: "GET", url: "/metrics" })).body;
}

/** Empties Consul's oneservice/ keys and every link's Redis, then builds a leading comparator probed 3 times. */
export async function freshComparator(
  stack: Stack,
  links: readonly string[],
  env: Record<string, string> = {},
): Promise<BuiltComparator> {
  await stack.consul.kv.del({ key: "oneservice/", recurse: true });
  for (const r of stack.redis.values()) await r.client.flushall();
  const c = await buildTestComparator(stack, { links, env });
  await c.comparator.leader.start();
  await probe(stack, c, 3);
  return c;
}

/** A stack for the enclosing describe block and, for each test, a fresh leading comparator (closed after it). */
export function useFreshComparator(
  links: readonly string[],
  env: Record<string, string> = {},
): { stack: Stack; c: BuiltComparator } {
  const h = {} as { stack: Stack; c: BuiltComparator };
  before(async () => {
    h.stack = await startStack(links);
  });
  after(() => h.stack.stop());
  beforeEach(async () => {
    h.c = await freshComparator(h.stack, links, env);
  });
  afterEach(() => h.c.close());
  return h;
}

/** Polls a repair started through the API until it ends; its last status. */
export async function repairEnded(built: BuiltComparator, link: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const status = (await http(built, "GET", `/v1/links/${link}/repair`)).json;
    if (status.state !== "running") return status;
    if (Date.now() > deadline)
      throw new Error(`the repair of link ${link} is still running: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
