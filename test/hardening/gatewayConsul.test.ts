import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { CONSUL_KEYS } from "../../common/routing.ts";
import { type StartedGateway, useHarness, waitFor } from "../gateway/helpers.ts";

// What a gateway does with what Consul hands it: lower routing versions refused, invalid health documents
// ignored, and a watch that recovers from answers the client library gives up on (a 400, no X-Consul-Index),
// with consul_reachable saying so while it lasts. The faults come from a small proxy in front of the real
// Consul dev server, standing for a broken proxy or agent between the gateway and Consul.

type Fault = "none" | "400" | "no-index";

function faultProxy(target: () => number): { server: Server; fault: { mode: Fault; hits: number } } {
  const fault = { mode: "none" as Fault, hits: 0 };
  const server = createServer((req, res) => {
    const routingRead =
      req.method === "GET" && decodeURIComponent(req.url ?? "").startsWith(`/v1/kv/${CONSUL_KEYS.routing}`);
    if (routingRead && fault.mode === "400") {
      fault.hits += 1;
      res.writeHead(400, { "content-type": "text/plain" }).end("Bad request");
      return;
    }
    const upstream = request(
      { port: target(), host: "127.0.0.1", path: req.url, method: req.method, headers: req.headers },
      (up) => {
        const headers = { ...up.headers };
        if (routingRead && fault.mode === "no-index") {
          fault.hits += 1;
          delete headers["x-consul-index"];
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  return { server, fault };
}

describe("hardening: the gateway and the documents it reads from Consul", () => {
  const h = useHarness(["a", "b"]);
  let gw: StartedGateway;
  let proxy: ReturnType<typeof faultProxy>;

  const status = async () => (await gw.admin("/admin/routing")).json();

  before(async () => {
    proxy = faultProxy(() => h.consulServer.port);
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", r));
    const port = (proxy.server.address() as AddressInfo).port;
    await h.publishRouting({ version: 5, active: "b", standby: ["a"] });
    gw = await h.gateway({ CONSUL_HTTP_ADDR: `127.0.0.1:${port}`, GATEWAY_ID: "gw-docs" });
    await waitFor("version 5", async () => (await status()).document?.version === 5);
  });
  after(async () => {
    proxy.server.closeAllConnections();
    await new Promise((r) => proxy.server.close(r));
  });

  test("refuses a lower routing version and the same version with other content", async () => {
    const older = () =>
      gw.metric("oneservice_gateway_consul_documents_total", { key: "routing", result: "older" });
    await h.publishRouting({ version: 4, active: "a", standby: ["b"] });
    await waitFor("the lower version refused", async () => (await older()) === 1);
    await h.publishRouting({ version: 5, active: "a", standby: ["b"] });
    await waitFor("the rewritten version refused", async () => (await older()) === 2);
    assert.equal((await status()).document.active, "b");
    await h.publishRouting({ version: 6, active: "a", standby: ["b"] });
    await waitFor("version 6", async () => (await status()).document?.version === 6);
  });

  test("ignores a health document with a bad field, keeping the one it had", async () => {
    await h.publishHealth({ a: "healthy", b: "healthy" });
    await waitFor("the health document", async () => (await status()).health?.links?.a?.state === "healthy");
    const invalid = () =>
      gw.metric("oneservice_gateway_consul_documents_total", { key: "health", result: "invalid" });
    const bad = [
      { updatedAt: "now", links: {} },
      {
        updatedAt: new Date().toISOString(),
        links: { a: { state: "fine", since: new Date().toISOString(), detail: "" } },
      },
      {
        updatedAt: new Date().toISOString(),
        links: { zz: { state: "down", since: new Date().toISOString(), detail: "" } },
      },
      {
        updatedAt: new Date().toISOString(),
        links: { a: { state: "down", since: new Date().toISOString() } },
      },
    ];
    for (const [i, doc] of bad.entries()) {
      await h.consul.kv.set(CONSUL_KEYS.health, JSON.stringify(doc));
      await waitFor(`bad health document ${i} refused`, async () => (await invalid()) === i + 1);
    }
    assert.equal((await status()).health.links.a.state, "healthy");
  });

  for (const mode of ["400", "no-index"] as const) {
    test(`recovers from ${mode === "400" ? "a 400" : "answers without X-Consul-Index"}, unreachable meanwhile`, async () => {
      proxy.fault.mode = mode;
      proxy.fault.hits = 0;
      // Wake the blocking watch so that its next call meets the fault.
      const version = (await status()).document.version as number;
      await h.publishRouting({ version: version + 1, active: "b", standby: ["a"] });
      await waitFor("the fault to be met", () => proxy.fault.hits >= 2);
      await waitFor(
        "consul_reachable 0",
        async () => (await gw.metric("oneservice_gateway_consul_reachable")) === 0,
      );
      assert.equal((await status()).consulReachable, false);
      proxy.fault.mode = "none";
      await h.publishRouting({ version: version + 2, active: "a", standby: ["b"] });
      await waitFor(
        "the watch to apply a change again",
        async () => (await status()).document?.version === version + 2,
      );
      await waitFor(
        "consul_reachable 1",
        async () => (await gw.metric("oneservice_gateway_consul_reachable")) === 1,
      );
    });
  }
});
