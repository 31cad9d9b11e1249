import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Consul from "consul";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { CONSUL_KEYS, type RoutingDocument } from "../../common/routing.ts";
import { startConsulDevServer } from "../../devstack/consul/server.ts";
import { buildGateway } from "../../gateway/app.ts";
import { loadGatewayConfig } from "../../gateway/config.ts";
import { type TestLink, waitFor } from "../../harness/links.ts";

// A gateway in-process in front of test links that real processors fill, routed by the Consul dev server to
// the first link: for tests that follow a value from Kafka to the API.

export const GATEWAY_API_KEY = "test-catalog-key";

export interface LinkGateway {
  app: FastifyInstance;
  /** GET with the API key; the parsed JSON body. */
  get(url: string): Promise<{ statusCode: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startGatewayFor(links: readonly TestLink[], timeZone: string): Promise<LinkGateway> {
  const dir = await mkdtemp(join(tmpdir(), "oneservice-gateway-"));
  const consulServer = await startConsulDevServer({ port: 0, dataFile: join(dir, "consul.json") });
  const consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
  const routing: RoutingDocument = {
    version: 1,
    active: (links[0] as TestLink).id,
    standby: links.slice(1).map((l) => l.id),
    mode: "auto",
    reason: "test",
    changedAt: new Date().toISOString(),
    changedBy: "test",
  };
  await consul.kv.set(CONSUL_KEYS.routing, JSON.stringify(routing));
  const config = loadGatewayConfig({
    LINKS: links.map((l) => l.id).join(","),
    ...Object.fromEntries(links.map((l) => [`REDIS_URL_${l.id.toUpperCase()}`, l.redis.url])),
    CONSUL_HTTP_ADDR: `127.0.0.1:${consulServer.port}`,
    API_KEYS: `test=${GATEWAY_API_KEY}`,
    ADMIN_TOKEN: "test-admin-token",
    ROUTING_CACHE_FILE: join(dir, "routing.json"),
    TIME_ZONE: timeZone,
  });
  const app = await buildGateway({ config, log: pino({ level: "silent" }) });
  await waitFor("the gateway to be ready", async () => (await app.inject("/readyz")).statusCode === 200);
  return {
    app,
    async get(url) {
      const res = await app.inject({ method: "GET", url, headers: { "x-api-key": GATEWAY_API_KEY } });
      return { statusCode: res.statusCode, body: res.json() as Record<string, unknown> };
    },
    async close() {
      await app.close();
      consul.destroy();
      await consulServer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
