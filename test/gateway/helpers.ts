import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before } from "node:test";
import type { Tracer } from "@opentelemetry/api";
import Consul from "consul";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Registry } from "prom-client";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys, minuteField } from "../../common/keys.ts";
import {
  CONSUL_KEYS,
  type HealthDocument,
  type LinkState,
  type RoutingDocument,
} from "../../common/routing.ts";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { type RunningRedis, startRedis } from "../../devstack/redis/launcher.ts";
import { buildGateway } from "../../gateway/app.ts";
import { loadGatewayConfig } from "../../gateway/config.ts";
import { registerCompleteMetrics } from "../support/metricStates.ts";

// A gateway in-process against real links (a redis-server per link, written to in the processor's key
// layout) and the Consul dev server, with a clock the tests move by hand and a log they can read.

export const API_KEY = "test-screen-key";
export const OTHER_KEY = "test-partner-key";
export const ADMIN_TOKEN = "test-admin-token";
export const TIME_ZONE = "Asia/Shanghai";

export interface TestLink {
  id: string;
  redis: RunningRedis;
  client: Redis;
}

export interface StartedGateway {
  app: FastifyInstance;
  registry: Registry;
  /** Every log line the gateway wrote, parsed. */
  logs: Record<string, unknown>[];
  /** GET with an API key (the screen application's by default). */
  get(url: string, apiKey?: string): Promise<LightMyRequestResponse>;
  /** GET with the admin token. */
  admin(url: string): Promise<LightMyRequestResponse>;
  /** The sum of a counter's or gauge's series matching `labels` (0 when never touched). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export interface Harness {
  links: Record<string, TestLink>;
  link(id: string): TestLink;
  consulServer: ConsulDevServer;
  consul: Consul;
  dir: string;
  clock: { now: number };
  /** The business day of the harness clock. */
  today(): string;
  /** A ready gateway on this harness; env overrides the test defaults. Closed after the describe block. */
  gateway(env?: Record<string, string>, tracer?: Tracer): Promise<StartedGateway>;
  /** Stops the Consul dev server and starts it again on the same port and state (what an outage looks like). */
  restartConsul(): Promise<void>;
  /** Writes a day value into a link's Redis, for today unless a date is given. */
  setDay(
    link: string,
    metric: string,
    dim: string,
    key: string,
    value: number,
    date?: string,
  ): Promise<unknown>;
  setMinute(link: string, at: number, metric: string, value: number): Promise<unknown>;
  /** Makes `time` the link's watermark (the lowest per-partition event time). */
  setWatermark(link: string, time: number): Promise<unknown>;
  publishRouting(doc: Partial<RoutingDocument> & { version: number; active: string }): Promise<void>;
  publishHealth(states: Record<string, LinkState>): Promise<void>;
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Links, Consul and a gateway factory for the enclosing describe block. */
export function useHarness(linkIds: string[] = ["a", "b", "c"]): Harness {
  const h = { links: {}, clock: { now: Date.now() } } as Harness;
  const gateways: FastifyInstance[] = [];
  const clock = new BusinessClock(TIME_ZONE);
  let consulPort = 0;
  let gatewaySeq = 0;

  before(async () => {
    h.dir = await mkdtemp(join(tmpdir(), "gateway-test-"));
    const started = await Promise.all(
      linkIds.map((id) => startRedis({ linkId: id, dataDir: join(h.dir, `redis-${id}`) })),
    );
    for (const redis of started) {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      client.on("error", () => {}); // tests stop links on purpose
      await registerCompleteMetrics(client.multi()).exec();
      h.links[redis.linkId] = { id: redis.linkId, redis, client };
    }
    h.consulServer = await startConsulDevServer({ port: 0, dataFile: join(h.dir, "consul.json") });
    consulPort = h.consulServer.port;
    h.consul = new Consul({ host: "127.0.0.1", port: consulPort });
  });

  after(async () => {
    for (const app of gateways) await app.close();
    h.consul.destroy();
    await h.consulServer.close();
    for (const link of Object.values(h.links)) {
      link.client.disconnect();
      await link.redis.stop();
    }
    await rm(h.dir, { recursive: true, force: true });
  });

  h.link = (id) => {
    const link = h.links[id];
    if (!link) throw new Error(`no link ${id} in this harness`);
    return link;
  };
  h.today = () => clock.dateOf(h.clock.now);

  h.setDay = (link, metric, dim, key, value, date = h.today()) =>
    h.link(link).client.zadd(keys.day(date, metric, dim), value, key);
  h.setMinute = (link, at, metric, value) => {
    const b = clock.bucket(at);
    return h.link(link).client.hset(keys.minute(b.date, b.minute), minuteField(metric, "all", "all"), value);
  };
  h.setWatermark = (link, time) => h.link(link).client.hset(keys.maxEventTime, "trade.orders:0", time);

  h.publishRouting = async (doc) => {
    const full: RoutingDocument = {
      standby: [],
      mode: "auto",
      reason: "test",
      changedAt: new Date().toISOString(),
      changedBy: "test",
      ...doc,
    };
    await h.consul.kv.set(CONSUL_KEYS.routing, JSON.stringify(full));
  };
  h.publishHealth = async (states) => {
    const now = new Date().toISOString();
    const links: HealthDocument["links"] = {};
    for (const [id, state] of Object.entries(states)) links[id] = { state, since: now, detail: "test" };
    await h.consul.kv.set(CONSUL_KEYS.health, JSON.stringify({ updatedAt: now, links }));
  };

  h.restartConsul = async () => {
    await h.consulServer.close();
    h.consulServer = await startConsulDevServer({ port: consulPort, dataFile: join(h.dir, "consul.json") });
  };

  h.gateway = async (env = {}, tracer = undefined) => {
    gatewaySeq += 1;
    const config = loadGatewayConfig({
      LINKS: linkIds.join(","),
      ...Object.fromEntries(linkIds.map((id) => [`REDIS_URL_${id.toUpperCase()}`, h.link(id).redis.url])),
      CONSUL_HTTP_ADDR: `127.0.0.1:${consulPort}`,
      API_KEYS: `screen=${API_KEY},partner=${OTHER_KEY}`,
      ADMIN_TOKEN,
      GATEWAY_ID: `test-gateway-${gatewaySeq}`,
      ROUTING_CACHE_FILE: join(h.dir, `routing-${gatewaySeq}.json`),
      READ_TIMEOUT: "2s",
      // Fixtures write a watermark once; tests of stopped data set their own bound.
      STALE_AFTER: "1h",
      TIME_ZONE,
      ...env,
    });
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    const registry = new Registry();
    const app = await buildGateway({
      config,
      log: pino({ level: "debug" }, sink),
      registry,
      now: () => h.clock.now,
      tracer,
      consulRetry: { factorMs: 20, maxMs: 200 },
    });
    gateways.push(app);
    await waitFor("the gateway to be ready", async () => (await app.inject("/readyz")).statusCode === 200);
    return {
      app,
      registry,
      logs,
      get: (url, apiKey = API_KEY) => app.inject({ url, headers: { "x-api-key": apiKey } }),
      admin: (url) => app.inject({ url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      metric: (name, labels) => metricValue(registry, name, labels),
    };
  };
  return h;
}
